/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The reference both benchmarks measure against: an XDP program that only
 * returns XDP_PASS, loaded from two instructions (no object file). */
#ifndef LB_BENCH_FLOOR_PROG_H
#define LB_BENCH_FLOOR_PROG_H

#include <linux/bpf.h>
#include <linux/filter.h>
#include <bpf/bpf.h>

static inline int floor_prog_load(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K,
		  .dst_reg = BPF_REG_0,
		  .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "xdp_floor", "GPL", insns, 2,
			     NULL);
}

#endif /* LB_BENCH_FLOOR_PROG_H */
