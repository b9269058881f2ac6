// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Replays a fuzz corpus without libFuzzer: runs LLVMFuzzerTestOneInput over
 * every regular file in the directory argv[1], each in a child process so a
 * crash counts as one failed input and the others still run. Ends with
 * "N passed, N failed"; a missing or empty directory is a failure.
 *
 * Usage: replay_NAME CORPUS_DIR
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *nbuf;
	size_t len = 0, cap = 0, n;

	if (!f)
		return -errno;
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 4096;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = nbuf;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*data = buf;
	*size = len;
	return 0;
}

/* Run one input in a child: 0 when it returned, -1 otherwise. */
static int run_one(const char *path)
{
	uint8_t *data;
	size_t size;
	int status, err;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "replay: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		err = read_file(path, &data, &size);
		if (err) {
			fprintf(stderr, "replay: cannot read '%s': %s\n", path,
				strerror(-err));
			_exit(2);
		}
		LLVMFuzzerTestOneInput(data, size);
		free(data);
		exit(0); /* not _exit: let atexit hooks (LSan, coverage) run */
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		fprintf(stderr, "replay: FAIL %s (signal %d)\n", path,
			WTERMSIG(status));
	else
		fprintf(stderr, "replay: FAIL %s (exit %d)\n", path,
			WEXITSTATUS(status));
	return -1;
}

static int regular_file(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

int main(int argc, char **argv)
{
	struct dirent **names;
	int n, i, passed = 0, failed = 0;
	char path[4096];
	struct stat st;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		printf("0 passed, 1 failed\n");
		return 2;
	}
	n = scandir(argv[1], &names, regular_file, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", argv[1],
			strerror(errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", argv[1],
			 names[i]->d_name);
		free(names[i]);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (run_one(path))
			failed++;
		else
			passed++;
	}
	free(names);
	if (!passed && !failed) {
		fprintf(stderr, "replay: '%s' holds no input\n", argv[1]);
		failed = 1;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
