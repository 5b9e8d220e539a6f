// SPDX-License-Identifier: GPL-2.0
/*
 * labels.c - the words for a backend, an action and a budget key, as the
 * options spell them (opts.c's choices) and the output prints them.
 */
#include "labels.h"

const char *wd_backend_name(int backend)
{
	switch (backend) {
	case WD_BACKEND_LSM:
		return "lsm";
	case WD_BACKEND_KPROBE:
		return "kprobe";
	case WD_BACKEND_TRACEPOINT:
		return "tracepoint";
	}
	return "auto";
}

const char *wd_action_name(int action)
{
	switch (action) {
	case WD_ACT_MONITOR:
		return "monitor";
	case WD_ACT_DENY:
		return "deny";
	case WD_ACT_THROTTLE:
		return "throttle";
	case WD_ACT_KILL:
		return "kill";
	}
	return "auto";
}

const char *wd_key_name(int key)
{
	switch (key) {
	case WD_KEY_PROCESS:
		return "process";
	case WD_KEY_TREE:
		return "tree";
	case WD_KEY_UID:
		return "uid";
	case WD_KEY_CGROUP:
		return "cgroup";
	}
	return "unset";
}
