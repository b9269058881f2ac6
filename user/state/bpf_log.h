/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libbpf's own messages. With -v they go to stderr as they come. Without,
 * libbpf's warnings are kept (their last BPF_LOG_KEEP bytes: a refused
 * program's verifier log ends with the reason) and printed only when a
 * load fails, so that the operator sees why without asking for -v.
 */
#ifndef LB_BPF_LOG_H
#define LB_BPF_LOG_H

#include <stdio.h>

#define BPF_LOG_KEEP 4096

/* Install the print callback for libbpf. */
void bpf_log__init(int verbose);
/* Forget what was kept (before a load). */
void bpf_log__reset(void);
/* Print what was kept, whole lines, under a heading; then forget it. */
void bpf_log__dump(FILE *f);

#endif /* LB_BPF_LOG_H */
