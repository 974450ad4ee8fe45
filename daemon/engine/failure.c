/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine's failures (see failure.h): filling and freeing them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "failure.h"

static const char *const code_names[FAILURE__MAX] = {
        [FAILURE_NONE] = "ok",
        [FAILURE_DEVICE_NOT_FOUND] = "DeviceNotFound",
        [FAILURE_DEVICE_NOT_ASSIGNABLE] = "DeviceNotAssignable",
        [FAILURE_DEVICE_BUSY] = "DeviceBusy",
        [FAILURE_GROUP_INCOMPLETE] = "GroupIncomplete",
        [FAILURE_INTERRUPT_NOT_ROUTABLE] = "InterruptNotRoutable",
        [FAILURE_UNPROTECTED_DEVICE] = "UnprotectedDevice",
        [FAILURE_DOMAIN_NOT_FOUND] = "DomainNotFound",
        [FAILURE_DOMAIN_NOT_READY] = "DomainNotReady",
        [FAILURE_IOMMU_NOT_ENABLED] = "IommuNotEnabled",
        [FAILURE_GUEST_ADDRESS_CONFLICT] = "GuestAddressConflict",
        [FAILURE_NOT_ASSIGNED] = "NotAssigned",
        [FAILURE_HYPERVISOR_ERROR] = "HypervisorError",
        [FAILURE_RESERVATION_EXISTS] = "ReservationExists",
        [FAILURE_RESERVATION_NOT_FOUND] = "ReservationNotFound",
        [FAILURE_RESYNC_REQUIRED] = "ResyncRequired",
        [FAILURE_MONITOR_OVERFLOW] = "MonitorOverflow",
        [FAILURE_INVALID_ARGUMENT] = "InvalidArgument",
        [FAILURE_PERMISSION_DENIED] = "PermissionDenied",
        [FAILURE_INTERNAL_ERROR] = "InternalError",
        [FAILURE_STORAGE_ERROR] = "StorageError",
        [FAILURE_SIM_DOMAIN_NOT_FOUND] = "DomainNotFound",
        [FAILURE_SIM_DOMAIN_EXISTS] = "DomainExists",
        [FAILURE_SIM_INVALID_ARGUMENT] = "InvalidArgument",
        [FAILURE_SIM_IOMMU_NOT_AVAILABLE] = "IommuNotAvailable",
        [FAILURE_SIM_ERROR] = "SimulatorError",
};

const char *failure_code_name(enum failure_code c)
{
        if ((unsigned)c >= FAILURE__MAX || !code_names[c])
                return "invalid";
        return code_names[c];
}

void failure_clear(struct failure *f)
{
        if (!f)
                return;
        free(f->message);
        free(f->path);
        free(f->reason);
        free(f->domain);
        free(f->field);
        free(f->interrupt);
        free(f->boot_id);
        free(f->file);
        for (size_t i = 0; i < f->n_missing; i++)
                free(f->missing[i]);
        free(f->missing);
        *f = FAILURE_INIT;
}

void failure_move(struct failure *dst, struct failure *src)
{
        failure_clear(dst);
        *dst = *src;
        *src = FAILURE_INIT;
}

void failure_fact(char **slot, const char *s)
{
        free(*slot);
        *slot = s ? strdup(s) : NULL;
}

void failure_missing(struct failure *f, const char *const *paths, size_t n)
{
        char **v = calloc(n + 1, sizeof(*v));

        if (!v)
                return;
        for (size_t i = 0; i < n; i++) {
                v[i] = strdup(paths[i]);
                if (!v[i]) {
                        for (size_t j = 0; j < i; j++)
                                free(v[j]);
                        free(v);
                        return;
                }
        }
        for (size_t i = 0; i < f->n_missing; i++)
                free(f->missing[i]);
        free(f->missing);
        f->missing = v;
        f->n_missing = n;
}

int failure_vset(struct failure *f, int r, enum failure_code code, const char *fmt, va_list ap)
{
        char *msg = NULL;

        if (!f)
                return r;
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        failure_clear(f);
        f->code = code;
        f->message = msg;
        return r;
}

int failure_set(struct failure *f, int r, enum failure_code code, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        r = failure_vset(f, r, code, fmt, ap);
        va_end(ap);
        return r;
}

int failure_set_path(struct failure *f, int r, enum failure_code code, const char *path,
                     const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        r = failure_vset(f, r, code, fmt, ap);
        va_end(ap);
        if (f)
                failure_fact(&f->path, path);
        return r;
}

int failure_invalid(struct failure *f, const char *field, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = failure_vset(f, -EINVAL, FAILURE_INVALID_ARGUMENT, fmt, ap);
        va_end(ap);
        if (f)
                failure_fact(&f->field, field);
        return r;
}

int failure_oom(struct failure *f)
{
        return failure_set(f, -ENOMEM, FAILURE_INTERNAL_ERROR, "out of memory");
}
