/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Why a request failed, as the engine says it: a result code, a sentence
 * for people, and the facts a program needs (which device, which domain,
 * which lease, which step and errno).  The engine never names a wire
 * error: wire/errors.c holds the one table from these codes to Varlink
 * error names and renders the facts each error declares, so rewording a
 * message can never change the error a client receives.
 */
#ifndef ASSIGND_FAILURE_H
#define ASSIGND_FAILURE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"
#include "util.h"

enum failure_code {
        FAILURE_NONE = 0,
        FAILURE_DEVICE_NOT_FOUND,       /* path */
        FAILURE_DEVICE_NOT_ASSIGNABLE,  /* path, reason */
        FAILURE_DEVICE_BUSY,            /* path, domid, state, lease */
        FAILURE_GROUP_INCOMPLETE,       /* path, missing */
        FAILURE_INTERRUPT_NOT_ROUTABLE, /* path, interrupt */
        FAILURE_UNPROTECTED_DEVICE,     /* path, coverage, dma */
        FAILURE_DOMAIN_NOT_FOUND,       /* domain */
        FAILURE_DOMAIN_NOT_READY,       /* domain, domid */
        FAILURE_IOMMU_NOT_ENABLED,      /* domid, path */
        FAILURE_GUEST_ADDRESS_CONFLICT, /* path */
        FAILURE_NOT_ASSIGNED,           /* path, domain */
        FAILURE_HYPERVISOR_ERROR,       /* step, path (the device), error, hv_reason, lease */
        FAILURE_RESERVATION_EXISTS,     /* domain, lease */
        FAILURE_RESERVATION_NOT_FOUND,  /* domain, lease */
        FAILURE_RESYNC_REQUIRED,        /* oldest, latest, boot_id */
        FAILURE_MONITOR_OVERFLOW,       /* latest, boot_id */
        FAILURE_INVALID_ARGUMENT,       /* field */
        FAILURE_PERMISSION_DENIED,      /* (the message names the method) */
        FAILURE_INTERNAL_ERROR,
        FAILURE_STORAGE_ERROR,          /* file, error */
        /* The simulator's control interface. */
        FAILURE_SIM_DOMAIN_NOT_FOUND,   /* domid */
        FAILURE_SIM_DOMAIN_EXISTS,      /* domain (its name) */
        FAILURE_SIM_INVALID_ARGUMENT,   /* field */
        FAILURE_SIM_IOMMU_NOT_AVAILABLE,
        FAILURE_SIM_ERROR,              /* error */
        FAILURE__MAX,
};

/*
 * The code's name ("DeviceBusy"; "ok" for FAILURE_NONE, "invalid" out of
 * range), as audit rows and logs record it.  wire/errors.c checks that it
 * is the short name of the Varlink error the code is sent as, so the audit
 * log names the error the client received.
 */
const char *failure_code_name(enum failure_code c);

struct failure {
        enum failure_code code;
        char *message;
        /* The facts; which ones a code carries is listed above. */
        char *path;             /* the device concerned */
        char *reason;           /* why it may not be assigned */
        char *domain;           /* the domain as named, or a simulated domain's name */
        char *field;            /* the request field that is wrong */
        char *interrupt;        /* an interrupt that is not an SPI, in words */
        char *boot_id;
        char *file;             /* a file the daemon could not read or write */
        const char *coverage;   /* static names */
        const char *dma;
        const char *state;      /* a lease state */
        int64_t domid;          /* -1: none */
        int64_t lease;          /* -1: none */
        int64_t oldest, latest; /* event numbers */
        char **missing;         /* group members the request left out */
        size_t n_missing;
        enum hv_step step;      /* a hypervisor call that failed */
        int error;              /* its errno (positive) */
        enum hv_reason hv_reason;
};

/* An empty failure (no code, no facts). */
#define FAILURE_INIT ((struct failure){ .domid = -1, .lease = -1 })

void failure_clear(struct failure *f);
DEFINE_FREE_FUNC(struct failure, failure_clear)

/*
 * Set code and message (the facts are reset) and return r, a negative
 * errno, for "return failure_set(f, -ENOENT, FAILURE_DEVICE_NOT_FOUND,
 * ...)".  f may be NULL (nothing is recorded).
 */
_printf_(4, 5) int failure_set(struct failure *f, int r, enum failure_code code, const char *fmt,
                               ...);
_printf_(4, 0) int failure_vset(struct failure *f, int r, enum failure_code code,
                               const char *fmt, va_list ap);
/* The same with the path of the device concerned. */
_printf_(5, 6) int failure_set_path(struct failure *f, int r, enum failure_code code,
                                    const char *path, const char *fmt, ...);
/* InvalidArgument naming the request field. */
_printf_(3, 4) int failure_invalid(struct failure *f, const char *field, const char *fmt, ...);
/* Out of memory, as InternalError. */
int failure_oom(struct failure *f);

/* Copy a string fact into *slot (replacing it); an allocation failure leaves NULL. */
void failure_fact(char **slot, const char *s);
/* Copy the missing group members. */
void failure_missing(struct failure *f, const char *const *paths, size_t n);

/* Move src into dst (dst cleared first; src left empty). */
void failure_move(struct failure *dst, struct failure *src);

#endif
