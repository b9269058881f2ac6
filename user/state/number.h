/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Numbers in the agent's config and on lbctl's command line: decimal, or
 * hexadecimal after 0x (YAML 1.1 and 1.2 agree on both). A leading zero is
 * refused: strtoul(s, .., 0) and YAML 1.1 read 024 as octal 20, YAML 1.2
 * as 24, so it would mean whatever the reader guesses. Signs, spaces and
 * empty strings are refused too.
 */
#ifndef LB_NUMBER_H
#define LB_NUMBER_H

#include <linux/types.h>

/* 0; -EINVAL if text is not such a number; -ERANGE if outside min..max. */
int number__parse_u32(const char *text, __u32 min, __u32 max, __u32 *out);

#endif /* LB_NUMBER_H */
