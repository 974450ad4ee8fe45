/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simulator's insides, shared by its files and by nothing else: the
 * model of one domain (hv-sim-domain.c), the machine's state with its
 * persistence and JSON form (hv-sim-state.c), the hypercalls and the ops
 * table (hv-sim.c) and the controls of hv-sim.h (hv-sim-control.c).  The
 * state hangs off the hv as the backend's private pointer; only code that
 * has checked the hv is the simulator may call sim_of().
 */
#ifndef ASSIGND_HV_SIM_PRIVATE_H
#define ASSIGND_HV_SIM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hv-backend.h"
#include "hv-sim.h"

struct json_object;

#define SIM_FORMAT 1
#define SIM_DOMID_FIRST_RESERVED 0x7FF0u
#define SIM_NR_IRQS 1024u               /* Arm NR_IRQS: dom0's nr_pirqs */
#define SIM_PADDR_BITS 48u
#define SIM_STATE_MAX (64u << 20)       /* refuse absurd state files */
#define SIM_STATE_IN_PLACE_MAX 4096u    /* a state file this small is rewritten in place */
#define SIM_STATE_ROOM 1024u            /* a replaced file's length: a multiple of this */

struct sim_range {
        uint64_t s, e;                  /* inclusive */
};

struct sim_rangeset {
        struct sim_range *v;
        size_t n, cap;
};

struct sim_mapping {
        uint64_t gfn, mfn, nr;
};

struct sim_domain {
        uint32_t domid;
        char name[HV_NAME_MAX + 1];
        bool passthrough;
        bool populated;
        bool paused;
        bool has_run;
        bool dying;
        bool building;                  /* no vCPU yet (hv_sim_create_building_domain) */
        unsigned nr_spis;
        struct sim_rangeset iomem;
        struct sim_rangeset irqs;
        struct sim_mapping *maps;
        size_t n_maps, cap_maps;
        uint32_t *spis;
        size_t n_spis, cap_spis;
        char **dt;
        size_t n_dt, cap_dt;
};

struct sim {
        char *state_path;
        unsigned major, minor;
        bool iommu;
        char **protected;
        size_t n_protected;
        unsigned platform_spis;
        unsigned default_nr_spis;
        uint32_t rover;
        struct sim_domain **doms;
        size_t n_doms, cap_doms;
        int efd;
        uint64_t writes;                /* hv_sim_state_writes() */
        char *saved;                    /* the text last written or read: what a failed write restores */
        size_t file_len;                /* the state file's length, blanks after the text included */
};

static inline struct sim *sim_of(struct hv *hv)
{
        return hv_priv(hv);
}

/* ---- hv-sim-domain.c: one domain ---- */

struct sim_domain *hv_sim_domain_new(uint32_t domid, const char *name);
void hv_sim_domain_free(struct sim_domain *d);
DEFINE_FREE_FUNC(struct sim_domain, hv_sim_domain_free)
/* Ranges are inclusive [s, e]; touching ones merge. */
int hv_sim_domain_range_add(struct sim_rangeset *rs, uint64_t s, uint64_t e);
int hv_sim_domain_range_remove(struct sim_rangeset *rs, uint64_t s, uint64_t e);
bool hv_sim_domain_range_contains(const struct sim_rangeset *rs, uint64_t s, uint64_t e);
/* Whether the domain has iomem permission for all of [mfn, mfn + nr). */
bool hv_sim_domain_iomem_covers(const struct sim_domain *d, uint64_t mfn, uint64_t nr);
int hv_sim_domain_map_add(struct sim_domain *d, uint64_t gfn, uint64_t mfn, uint64_t nr);
/* Whether guest frames [gfn, gfn + nr) are all mapped to [mfn, mfn + nr). */
bool hv_sim_domain_mapped(const struct sim_domain *d, uint64_t gfn, uint64_t mfn, uint64_t nr);
int hv_sim_domain_map_remove(struct sim_domain *d, uint64_t gfn, uint64_t nr);
bool hv_sim_domain_spi_routed(const struct sim_domain *d, uint32_t irq);
int hv_sim_domain_spi_add(struct sim_domain *d, uint32_t irq);
void hv_sim_domain_spi_remove(struct sim_domain *d, uint32_t irq);
ssize_t hv_sim_domain_dt_index(const struct sim_domain *d, const char *path);
int hv_sim_domain_dt_add(struct sim_domain *d, const char *path);

/* ---- hv-sim-state.c: the machine ---- */

void hv_sim_state_free_domains(struct sim_domain **doms, size_t n);
struct sim_domain *hv_sim_state_find(struct sim *s, uint32_t domid);
/* As hv_sim_state_find, or NULL with *r = -ESRCH, a message and the reason. */
struct sim_domain *hv_sim_state_get(struct hv *hv, uint32_t domid, char **err, int *r);
bool hv_sim_state_is_protected(const struct sim *s, const char *path);
struct sim_domain *hv_sim_state_dt_owner(struct sim *s, const char *path);
struct sim_domain *hv_sim_state_spi_owner(struct sim *s, uint32_t irq);
/* Sort the domains by domid (the order of the state file, GetState and lists). */
void hv_sim_state_sort(struct sim *s);
/* Write the state file atomically, without syncing it (nothing without a state path). */
int hv_sim_state_save(struct sim *s, char **err);
/* Load the state file into fresh arrays; -ENOENT if there is none. */
int hv_sim_state_load(struct sim *s, char **err);
/* A kill -9 inside hv_sim_state_save() can leave its temp file: remove such. */
void hv_sim_state_remove_stale_temps(const char *state_path);
/*
 * Persist after a change; if that fails, go back to the state last
 * written (kept in memory: reading the file could fail for the same
 * reason), so that memory never claims what a restart would not find.
 */
int hv_sim_state_commit(struct hv *hv, char **err);
/* The JSON of hv_sim_get_state_json(). */
int hv_sim_state_to_json(struct sim *s, struct json_object **ret, char **err);

#endif
