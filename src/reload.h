/* SPDX-License-Identifier: GPL-2.0 */
/*
 * reload.h - SIGHUP with --config (reload.c; ethoswd/reload.py): what a
 * reload needs of the running watchdog.
 */
#ifndef ETHOSWD_RELOAD_H
#define ETHOSWD_RELOAD_H

#include "opts.h"
#include "report.h"
#include "loader.h"
#include "wdfeatures.h"

struct wd_reload {
	int argc;
	char **argv;			 /* the command line, parsed again */
	struct wd_opts *o;		 /* the running options: updated in place */
	struct wd_probe *probe;		 /* its maps take the live changes */
	struct wd_report *rep;		 /* the `reload` event */
	const struct wd_features *feats; /* to choose a new backend/action */
	int backend, action;		 /* attached */
};

/* Re-read the file, apply or refuse, report (ctx: a struct wd_reload). */
void wd_reload(void *ctx);

#endif /* ETHOSWD_RELOAD_H */
