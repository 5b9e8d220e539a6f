/* SPDX-License-Identifier: GPL-2.0 */
/*
 * policy_json.h - the policy as JSON (policy_json.c).
 */
#ifndef ETHOSWD_POLICY_JSON_H
#define ETHOSWD_POLICY_JSON_H

struct wd_policy;

/* Policy.as_dict() as JSON text (malloc'ed): profile, count, filesystems
 * {name: magic}, files and exclude_exe [{path, dev, ino}], key, per_user,
 * fallback ({key, when} or null), max_calls, window_ms. */
char *wd_policy_json(const struct wd_policy *p);

#endif /* ETHOSWD_POLICY_JSON_H */
