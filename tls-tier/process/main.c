// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbtls: TLS-terminating HTTP/1.1 reverse proxy. Command line only; the
 * master (master.c) does the work.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setns */
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "discover.h"
#include "master.h"
#include "priv.h"
#include "tls.h"

#define DEFAULT_CONFIG "/etc/lbtls/lbtls.yaml"
#define NETNS_RUN_DIR "/var/run/netns" /* where `ip netns add` puts them */

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "test", no_argument, NULL, 't' },
	{ "workers", required_argument, NULL, 'w' },
	{ "netns", required_argument, NULL, 'n' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char *const opt_help[] = {
	"FILE  configuration file (default " DEFAULT_CONFIG ")",
	"      check the configuration and certificates, then exit",
	"N     worker processes, 1..256 (default: the file's, else one per CPU)",
	"NAME  run in the network namespace " NETNS_RUN_DIR "/NAME (ip netns)",
	"      print the TLS library lbtls was built with, then exit",
	"      show this help",
};

static void usage(FILE *f)
{
	unsigned i;

	fprintf(f, "Usage: lbtls [-tV] [-c FILE] [--workers N] [--netns NAME]\n"
		   "       lbtls discover [-c FILE]\n"
		   "TLS-terminating HTTP/1.1 reverse proxy.\n\n");
	for (i = 0; long_opts[i].name; i++)
		fprintf(f, "  -%c, --%-8s %s\n",
			long_opts[i].val == 'w' ? 'w' : long_opts[i].val,
			long_opts[i].name, opt_help[i]);
	fprintf(f, "\nSignals: HUP reloads, TERM/INT/QUIT stop gracefully.\n");
	fprintf(f,
		"\n'lbtls discover' is the discovery process: it watches the Docker\n"
		"Engine API as upstream.docker says and writes the healthy\n"
		"containers' addresses to upstream.file, which lbtls reads. It\n"
		"needs the engine's socket; lbtls itself does not.\n");
}

/*
 * --netns NAME: move into the named network namespace before anything else
 * (configuration, sockets, workers), as `ip netns exec NAME` would, but
 * without its mount namespace: lbtls only needs the network. The same as
 * lbctl's --netns (user/instance.c), kept local to the command line.
 */
static int enter_netns(const char *name)
{
	char path[PATH_MAX];
	int fd, err;

	if (!*name || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, "..")) {
		fprintf(stderr,
			"lbtls: --netns expects a name from 'ip netns list', got '%s'\n",
			name);
		return -EINVAL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR,
			     name) >= sizeof(path)) {
		fprintf(stderr,
			"lbtls: network namespace name too long: '%s'\n", name);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		fprintf(stderr,
			"lbtls: cannot open network namespace '%s' (%s): %s\n",
			name, path, strerror(err));
		return -err;
	}
	if (setns(fd, CLONE_NEWNET)) {
		err = errno;
		fprintf(stderr,
			"lbtls: cannot enter network namespace '%s' (%s): %s%s\n",
			name, path, strerror(err),
			err == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
		close(fd);
		return -err;
	}
	close(fd);
	return 0;
}

/* lbtls discover [-c FILE]: its own few options. */
static int discover_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_CONFIG;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			printf("Usage: lbtls discover [-c FILE]\n"
			       "Write the servers found by upstream.docker to upstream.file.\n\n"
			       "  -c, --config FILE  configuration file (default " DEFAULT_CONFIG
			       ")\n"
			       "  -h, --help         show this help\n");
			return 0;
		default:
			fprintf(stderr,
				"lbtls discover: unknown or incomplete option '%s' (see lbtls discover --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"lbtls discover: unexpected argument '%s' (see lbtls discover --help)\n",
			argv[optind]);
		return 2;
	}
	return discover__run(path);
}

static int test_config(const char *path)
{
	static struct lbtls_config cfg;
	struct tls_ticket_key key;
	struct tls_ctx *tls = NULL;
	int err;

	err = config__load(&cfg, path, stderr);
	if (!err && !tls__random_key(&key))
		err = tls__ctx_new(&cfg, &key, &tls, stderr);
	tls__ctx_free(tls);
	config__free(&cfg);
	if (err) {
		fprintf(stderr, "lbtls: configuration file %s test failed\n",
			path);
		return 1;
	}
	fprintf(stderr, "lbtls: configuration file %s test is successful\n",
		path);
	return 0;
}

int main(int argc, char **argv)
{
	struct master_opts opts = { .config_path = DEFAULT_CONFIG };
	const char *netns = NULL;
	bool test = false;
	char why[160];
	unsigned long n;
	char *end;
	int c;

	if (argc > 1 && !strcmp(argv[1], "discover"))
		return discover_main(argc - 1, argv + 1);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:tw:n:Vh", long_opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'c':
			opts.config_path = optarg;
			break;
		case 't':
			test = true;
			break;
		case 'w':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (!*optarg || *end || errno || n < 1 ||
			    n > CFG_MAX_WORKERS) {
				fprintf(stderr,
					"lbtls: --workers expects 1..%d, got '%s'\n",
					CFG_MAX_WORKERS, optarg);
				return 2;
			}
			opts.workers = n;
			break;
		case 'n':
			netns = optarg;
			break;
		case 'V':
			printf("lbtls: TLS library %s\n", tlscompat__version());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr,
				"lbtls: option '%s' needs a value (see lbtls --help)\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr,
				"lbtls: unknown option '%s' (see lbtls --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"lbtls: unexpected argument '%s' (see lbtls --help)\n",
			argv[optind]);
		return 2;
	}
	if (netns && enter_netns(netns))
		return 1;
	/* setns() was the one step that needed it (Docker grants it to the
	 * container whether --netns is used or not): nothing after this, a
	 * reload included, can use it */
	if (priv__give_up_sys_admin(why, sizeof(why))) {
		fprintf(stderr, "lbtls: cannot give up CAP_SYS_ADMIN: %s\n",
			why);
		return 1;
	}
	if (test)
		return test_config(opts.config_path);
	return master__run(&opts);
}
