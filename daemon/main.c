/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * assignd's entry point: parse the command line, set up logging, and run
 * the manager, which owns and wires everything else (manager.c).
 */
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "manager.h"

int main(int argc, char **argv)
{
        _cleanup_(manager_freep) struct manager *m = NULL;
        struct config cfg;
        int r;

        config_init(&cfg);
        r = config_parse_args(&cfg, argc, argv);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        log_set_level(cfg.log_level);
        log_set_journal_prefix(!cfg.foreground && getenv("JOURNAL_STREAM"));

        if (manager_new(&cfg, &m) < 0)
                return EXIT_FAILURE;
        return manager_run(m) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
