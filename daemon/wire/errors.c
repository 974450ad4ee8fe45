/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Failure codes to Varlink errors (see errors.h).  Each row names the
 * error and the facts it carries; tests/unit/test-api.c checks every code
 * has exactly one row, that each error is declared by its interface, and
 * that what each row renders is what the declaration says (but the message,
 * which org.varlink.service's errors do not carry on the wire).
 */
#include <string.h>
#include <syslog.h>

#include "errors.h"
#include "jv.h"

enum {
        F_PATH = 1u << 0,
        F_REASON = 1u << 1,
        F_DOMID = 1u << 2,
        F_STATE = 1u << 3,
        F_LEASE = 1u << 4,
        F_MISSING = 1u << 5,
        F_INTERRUPT = 1u << 6,
        F_COVERAGE = 1u << 7,
        F_DMA = 1u << 8,
        F_DOMAIN = 1u << 9,
        F_STEP = 1u << 10,              /* step, device, errno, errno_name, reason */
        F_OLDEST = 1u << 11,
        F_LATEST = 1u << 12,
        F_BOOT_ID = 1u << 13,
        F_FIELD = 1u << 14,
        F_NAME = 1u << 15,              /* the domain fact, as "name" */
        F_ERRNO_NAME = 1u << 16,        /* the error fact's name, as "errno" */
        F_FILE = 1u << 17,              /* file, errno, errno_name */
};

static const struct error_row {
        enum failure_code code;
        const char *name;
        unsigned facts;
        int level;
} rows[] = {
        { FAILURE_DEVICE_NOT_FOUND, "io.assignd.Broker.DeviceNotFound", F_PATH, LOG_INFO },
        { FAILURE_DEVICE_NOT_ASSIGNABLE, "io.assignd.Broker.DeviceNotAssignable",
          F_PATH | F_REASON, LOG_INFO },
        { FAILURE_DEVICE_BUSY, "io.assignd.Broker.DeviceBusy",
          F_PATH | F_DOMID | F_STATE | F_LEASE, LOG_INFO },
        { FAILURE_GROUP_INCOMPLETE, "io.assignd.Broker.GroupIncomplete", F_PATH | F_MISSING,
          LOG_INFO },
        { FAILURE_INTERRUPT_NOT_ROUTABLE, "io.assignd.Broker.InterruptNotRoutable",
          F_PATH | F_INTERRUPT, LOG_INFO },
        { FAILURE_UNPROTECTED_DEVICE, "io.assignd.Broker.UnprotectedDevice",
          F_PATH | F_COVERAGE | F_DMA, LOG_INFO },
        { FAILURE_DOMAIN_NOT_FOUND, "io.assignd.Broker.DomainNotFound", F_DOMAIN, LOG_INFO },
        { FAILURE_DOMAIN_NOT_READY, "io.assignd.Broker.DomainNotReady", F_DOMAIN | F_DOMID,
          LOG_INFO },
        { FAILURE_IOMMU_NOT_ENABLED, "io.assignd.Broker.IommuNotEnabled", F_DOMID | F_PATH,
          LOG_INFO },
        { FAILURE_GUEST_ADDRESS_CONFLICT, "io.assignd.Broker.GuestAddressConflict", F_PATH,
          LOG_INFO },
        { FAILURE_NOT_ASSIGNED, "io.assignd.Broker.NotAssigned", F_PATH | F_DOMAIN, LOG_INFO },
        { FAILURE_HYPERVISOR_ERROR, "io.assignd.Broker.HypervisorError", F_STEP | F_LEASE,
          LOG_INFO },
        { FAILURE_RESERVATION_EXISTS, "io.assignd.Broker.ReservationExists",
          F_DOMAIN | F_LEASE, LOG_INFO },
        { FAILURE_RESERVATION_NOT_FOUND, "io.assignd.Broker.ReservationNotFound",
          F_DOMAIN | F_LEASE, LOG_INFO },
        { FAILURE_RESYNC_REQUIRED, "io.assignd.Broker.ResyncRequired",
          F_OLDEST | F_LATEST | F_BOOT_ID, LOG_INFO },
        { FAILURE_MONITOR_OVERFLOW, "io.assignd.Broker.MonitorOverflow", F_LATEST | F_BOOT_ID,
          LOG_INFO },
        { FAILURE_INVALID_ARGUMENT, "io.assignd.Broker.InvalidArgument", F_FIELD, LOG_INFO },
        /*
         * The standard error: generic clients know it.  It declares no
         * parameters, so the dispatcher sends it without the message (which
         * goes to the log line).
         */
        { FAILURE_PERMISSION_DENIED, "org.varlink.service.PermissionDenied", 0, LOG_NOTICE },
        { FAILURE_INTERNAL_ERROR, "io.assignd.Broker.InternalError", 0, LOG_ERR },
        { FAILURE_STORAGE_ERROR, "io.assignd.Broker.StorageError", F_FILE, LOG_ERR },
        { FAILURE_SIM_DOMAIN_NOT_FOUND, "io.assignd.Simulator.DomainNotFound", F_DOMID,
          LOG_INFO },
        { FAILURE_SIM_DOMAIN_EXISTS, "io.assignd.Simulator.DomainExists", F_NAME, LOG_INFO },
        { FAILURE_SIM_INVALID_ARGUMENT, "io.assignd.Simulator.InvalidArgument", F_FIELD,
          LOG_INFO },
        { FAILURE_SIM_IOMMU_NOT_AVAILABLE, "io.assignd.Simulator.IommuNotAvailable", 0,
          LOG_INFO },
        { FAILURE_SIM_ERROR, "io.assignd.Simulator.SimulatorError", F_ERRNO_NAME, LOG_INFO },
};

static const struct error_row *row_of(enum failure_code code)
{
        for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
                if (rows[i].code == code)
                        return &rows[i];
        /* FAILURE_NONE and anything unknown: a bug, reported as such. */
        return row_of(FAILURE_INTERNAL_ERROR);
}

const char *errors_name(enum failure_code code)
{
        return row_of(code)->name;
}

int errors_log_level(enum failure_code code)
{
        return row_of(code)->level;
}

/* An integer fact: null when unset (negative). */
static int set_id(struct json_object *o, const char *key, int64_t v)
{
        return v >= 0 ? jv_set_int(o, key, v) : jv_set_null(o, key);
}

struct json_object *errors_params(const struct failure *f)
{
        const struct error_row *row = row_of(f->code);
        struct json_object *o = json_object_new_object();
        unsigned m = row->facts;
        int r = 0;

        r |= jv_set_str(o, "message", f->message ? f->message : "(no message)");
        if (m & F_PATH)
                r |= jv_set_str(o, "path", f->path);
        if (m & F_REASON)
                r |= jv_set_str(o, "reason", f->reason);
        if (m & F_DOMID)
                r |= set_id(o, "domid", f->domid);
        if (m & F_STATE)
                r |= jv_set_str(o, "state", f->state);
        if (m & F_LEASE)
                r |= set_id(o, "lease", f->lease);
        if (m & F_MISSING)
                r |= jv_set_strv(o, "missing", (const char *const *)f->missing, f->n_missing);
        if (m & F_INTERRUPT)
                r |= jv_set_str(o, "interrupt", f->interrupt);
        if (m & F_COVERAGE)
                r |= jv_set_str(o, "coverage", f->coverage);
        if (m & F_DMA)
                r |= jv_set_str(o, "dma", f->dma);
        if (m & F_DOMAIN)
                r |= jv_set_str(o, "domain", f->domain);
        if (m & F_STEP) {
                const char *ename = f->error > 0 ? strerrorname_np(f->error) : NULL;

                r |= jv_set_str(o, "step", hv_step_name(f->step));
                r |= jv_set_str(o, "device", f->path);
                r |= jv_set_int(o, "errno", f->error);
                r |= jv_set_str(o, "errno_name", ename ? ename : "?");
                r |= jv_set_str(o, "reason", hv_reason_name(f->hv_reason));
        }
        if (m & F_OLDEST)
                r |= jv_set_int(o, "oldest", f->oldest);
        if (m & F_LATEST)
                r |= jv_set_int(o, "latest", f->latest);
        if (m & F_BOOT_ID)
                r |= jv_set_str(o, "boot_id", f->boot_id);
        if (m & F_FIELD)
                r |= jv_set_str(o, "field", f->field);
        if (m & F_NAME)
                r |= jv_set_str(o, "name", f->domain);
        if (m & F_FILE) {
                const char *ename = f->error > 0 ? strerrorname_np(f->error) : NULL;

                r |= jv_set_str(o, "file", f->file);
                r |= jv_set_int(o, "errno", f->error);
                r |= jv_set_str(o, "errno_name", ename ? ename : "?");
        }
        if (m & F_ERRNO_NAME) {
                const char *ename = f->error > 0 ? strerrorname_np(f->error) : NULL;

                r |= jv_set_str(o, "errno", ename ? ename : "EIO");
        }
        if (r) {
                json_object_put(o);
                return NULL;
        }
        return o;
}
