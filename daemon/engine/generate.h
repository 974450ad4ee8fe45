/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Generating a guest's side from the host DTB the inventory was scanned
 * from: its partial DTB, xl.cfg fragment or ImageBuilder fragment.  Makes
 * every check of Assign that needs no domain (unknown device, not
 * assignable, group incomplete, interrupt not an SPI, unprotected without
 * force, guest address conflict in the identity layout), but not
 * DeviceBusy: nothing is reserved.
 */
#ifndef ASSIGND_GENERATE_H
#define ASSIGND_GENERATE_H

#include <stdbool.h>
#include <stddef.h>

#include "check.h"
#include "engine.h"
#include "guestcfg.h"
#include "place.h"

enum generate_what {
        GENERATE_DTB,                   /* the partial DTB */
        GENERATE_XL,                    /* and the xl.cfg fragment */
        GENERATE_IMAGEBUILDER,          /* and the ImageBuilder fragment */
};

/* The highest dom0less domU number ImageBuilder fragments are made for. */
#define GENERATE_MAX_DOMU 255
/* The name DOMU_PASSTHROUGH_DTB[n] gives the partial DTB when the request names none. */
#define GENERATE_DTB_FILE_FORMAT "domU%u-passthrough.dtb"

struct generate_request {
        const char *const *devices;
        size_t n_devices;
        bool force_unprotected;
        enum guestcfg_mode layout;
        const struct guestcfg_target *target;   /* NULL: the hypervisor's release */
        bool dom0less;                  /* DTB: the dom0less flavour */
        const char *name;               /* XL: name = "..." line, or NULL */
        const char *device_tree;        /* XL: device_tree = "..." line, or NULL */
        unsigned index;                 /* ImageBuilder: DOMU index, 0..GENERATE_MAX_DOMU */
        const char *dtb_file;           /* ImageBuilder: DOMU_PASSTHROUGH_DTB (NULL: the default) */
        const char *host_dtb_file;      /* ImageBuilder: host DTB named in the fdtput hints */
};

struct generate_output {
        struct guestcfg_layout *layout;
        void *dtb;
        size_t dtb_len;
        char *notes;                    /* "path: why" lines, or NULL */
        char *config;                   /* the text fragment; NULL for GENERATE_DTB */
};
void generate_output_clear(struct generate_output *o);

int generate_guest(struct engine *e, enum generate_what what,
                   const struct generate_request *req, struct generate_output *ret,
                   struct failure *f);

/*
 * The device checks (c->busy as the caller needs) and the placement around
 * taken (may be NULL), for Reserve.
 */
int generate_layout(struct engine *e, const struct check_request *c, enum guestcfg_mode mode,
                    const struct guestcfg_target *target, const struct place_taken *taken,
                    struct guestcfg_layout **ret, bool *forced, struct failure *f);
/* The partial DTB of a layout from the host blob the inventory was scanned from. */
int generate_dtb(struct engine *e, const struct guestcfg_layout *l, bool dom0less, void **blob,
                 size_t *len, char **notes, struct failure *f);

#endif
