/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * assignd's entry point: load the configuration (files and command line),
 * set up logging, and run the manager, which owns and wires everything
 * else (manager.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "manager.h"

int main(int argc, char **argv)
{
        _cleanup_(manager_freep) struct manager *m = NULL;
        _cleanup_(config_clear) struct config cfg = { 0 };
        int r;

        r = config_load(&cfg, argc, argv);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        if (cfg.print_config) {
                config_print(&cfg, stdout);
                return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        }
        log_set_level(cfg.log_level);
        log_open(cfg.foreground);

        if (manager_new(&cfg, argc, argv, &m) < 0)
                return EXIT_FAILURE;
        return manager_run(m) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
