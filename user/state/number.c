// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "number.h"

int number__parse_u32(const char *text, __u32 min, __u32 max, __u32 *out)
{
	const char *digits = "0123456789";
	unsigned long long v;
	int base = 10;
	char *end;

	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
		text += 2;
		digits = "0123456789abcdefABCDEF";
		base = 16;
	} else if (text[0] == '0' && text[1]) {
		return -EINVAL; /* 024: octal to some readers */
	}
	/* strtoull alone would take spaces, a sign and an empty string */
	if (!*text || strspn(text, digits) != strlen(text))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, base);
	if (errno || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}
