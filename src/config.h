/* SPDX-License-Identifier: GPL-2.0 */
/*
 * config.h - a --config FILE as config.c reads it (ethoswd/config.py):
 * its "key = value" entries in file order, each value as written.
 */
#ifndef ETHOSWD_CONFIG_H
#define ETHOSWD_CONFIG_H

#include <stdbool.h>

enum wd_cv_kind { WD_CV_STR = 1, WD_CV_INT, WD_CV_FLOAT, WD_CV_BOOL, WD_CV_LIST };

struct wd_cfg_value {
	int kind;   /* enum wd_cv_kind */
	char *text; /* a scalar as written ("100", "0.5", "true"), a string's value */
	int n;	    /* WD_CV_LIST: its items (scalars) */
	struct wd_cfg_value *items;
};

struct wd_cfg_entry {
	char *key;
	int line; /* where its value starts */
	struct wd_cfg_value v;
};

struct wd_cfg_file {
	int n;
	struct wd_cfg_entry *e;
};

/* Read and parse FILE: 0, or -1 with wd_fail() naming the file, the line
 * and the first construct outside the subset (nothing to free then). */
int wd_config_read(const char *path, struct wd_cfg_file *f);
void wd_config_free(struct wd_cfg_file *f);
void wd_cfg_value_free(struct wd_cfg_value *v);

/* A setting: a long option without its "--" (opts.c's table). */
struct wd_cfg_setting {
	const char *name;
	bool flag;		    /* takes true or false */
	bool list;		    /* repeatable: takes a list too */
	const char *const *choices; /* NULL-terminated, or NULL */
};
/* Called for each valid entry in file order: a flag's value is "true" or
 * "false"; a list's texts are its items ("count" lists come joined with
 * ","), a scalar's its text.  0, or -1 with wd_fail(). */
typedef int (*wd_cfg_set_fn)(void *ctx, int setting, const char *const *vals, int n);
/* wd_config_read(), then check every entry against the settings
 * (config.py settings()) and hand it to set(); the texts live in f
 * (wd_config_free() it).  0, or -1 with wd_fail(). */
int wd_config_apply(const char *path, struct wd_cfg_file *f, const struct wd_cfg_setting *defs,
		    int ndefs, wd_cfg_set_fn set, void *ctx);

#endif /* ETHOSWD_CONFIG_H */
