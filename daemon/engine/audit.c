/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Writing the audit log (see audit.h) over db/.
 */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"
#include "strbuf.h"

int audit_append(struct db *db, const struct engine_caller *who, const char *action,
                 const char *target, const char *result, const char *detail, bool warning)
{
        struct db_audit a = {
                .uid = who ? (uint32_t)who->uid : 0,
                .pid = who ? (int32_t)who->pid : (int32_t)getpid(),
                .action = (char *)action,
                .target = (char *)target,
                .result = (char *)result,
                .detail = (char *)detail,
                .severity = warning ? "warning" : "info",
        };
        int r = db_audit_append(db, &a);

        if (r < 0) {
                struct log_fields lf = LOG_FIELDS_INIT;

                log_fields_add(&lf, LOG_FIELD_ERROR, strerror(-r));
                log_event(LOG_ERR, LOG_MESSAGE_STORAGE_ERROR, &lf,
                          "cannot append to the audit log (%s %s): %s", action,
                          target ? target : "", strerror(-r));
        }
        return r;
}

void audit_storage_error(int64_t id, const struct db_lease *l, const char *what, int r)
{
        struct log_fields lf = LOG_FIELDS_INIT;

        audit_lease_fields(&lf, l, NULL);
        if (!l)
                log_fields_add_int(&lf, LOG_FIELD_LEASE, id);
        log_fields_add(&lf, LOG_FIELD_ERROR, strerror(-r));
        log_event(LOG_ERR, LOG_MESSAGE_STORAGE_ERROR, &lf, "lease %" PRId64 ": cannot record %s: %s",
                  id, what, strerror(-r));
}

void audit_lease_fields(struct log_fields *lf, const struct db_lease *l,
                        const struct engine_caller *who)
{
        for (size_t i = 0; l && i < l->n_devices; i++)
                log_fields_add(lf, LOG_FIELD_DEVICE, l->devices[i]);
        if (l && l->domid >= 0)
                log_fields_add_int(lf, LOG_FIELD_DOMID, l->domid);
        if (l)
                log_fields_add(lf, LOG_FIELD_DOMAIN, l->domain_name);
        if (l && l->id > 0)
                log_fields_add_int(lf, LOG_FIELD_LEASE, l->id);
        if (who)
                log_fields_add_int(lf, LOG_FIELD_UID, who->uid);
}

void audit_request(struct db *db, const struct engine_caller *who, const char *action,
                   const char *domain, const char *const *paths, size_t n, int r,
                   const struct failure *f, const char *ok_detail)
{
        _cleanup_free_ char *devs = strv_join(paths, n, " ");
        _cleanup_free_ char *target = strdup_printf("domain %s%s%s", domain ? domain : "?",
                                                    n ? ": " : "", devs ? devs : "");
        const char *result = "ok";

        if (r < 0)
                result = f && f->code != FAILURE_NONE ? failure_code_name(f->code)
                                                      : "InternalError";
        audit_append(db, who, action, target, result, r < 0 ? (f ? f->message : NULL) : ok_detail,
                     false);
        if (r < 0) {
                struct log_fields lf = LOG_FIELDS_INIT;

                for (size_t i = 0; i < n; i++)
                        log_fields_add(&lf, LOG_FIELD_DEVICE, paths[i]);
                log_fields_add(&lf, LOG_FIELD_DOMAIN, domain);
                if (who)
                        log_fields_add_int(&lf, LOG_FIELD_UID, who->uid);
                log_fields_add(&lf, LOG_FIELD_ERROR, result);
                log_event(LOG_NOTICE, LOG_MESSAGE_REFUSED, &lf, "%s refused for uid %u: %s: %s",
                          action, who ? (unsigned)who->uid : 0u, result,
                          f && f->message ? f->message : strerror(-r));
        }
}
