/* SPDX-License-Identifier: GPL-2.0 */
/*
 * detach.h - take every link of the probe down at once (detach.c).
 */
#ifndef ETHOSWD_DETACH_H
#define ETHOSWD_DETACH_H

#define WD_MAX_LINKS 24

struct bpf_link;
/* Destroy links[0..n-1], all at once; every one is gone on return. */
void wd_probe_detach(struct bpf_link **links, int n);

#endif /* ETHOSWD_DETACH_H */
