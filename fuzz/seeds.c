/*
 * seeds.c: a main() for a fuzz harness in an ordinary build, so that
 * `make check` runs every harness over its seed corpus (fuzz/corpus/NAME,
 * NAME from the program's name, fuzz/seeds_NAME) as a TAP test: a harness
 * that no longer builds against src/, or a seed that crashes, fails there
 * and not first in CI's fuzzing step.  Files given as arguments are run
 * instead (a reproducer from fuzz-artifacts/).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int
seeds_run(const char *path, const char *name, int n)
{
	FILE		*f;
	uint8_t		*buf;
	long		 len;

	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) == -1 ||
	    (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) == -1 ||
	    (buf = malloc((size_t)len + 1)) == NULL ||
	    fread(buf, 1, (size_t)len, f) != (size_t)len) {
		printf("not ok %d - %s: %s\n", n, name, strerror(errno));
		if (f != NULL)
			fclose(f);
		return (1);
	}
	fclose(f);
	(void)LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	printf("ok %d - %s\n", n, name);
	fflush(stdout);
	return (0);
}

static int
seeds_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

int
main(int argc, char **argv)
{
	const char	*name, *top;
	char		 dir[4096], path[8192], **files = NULL;
	struct dirent	*de;
	DIR		*d;
	size_t		 n = 0, i;
	int		 fails = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	(void)LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		printf("1..%d\n", argc - 1);
		for (i = 1; i < (size_t)argc; i++)
			fails += seeds_run(argv[i], argv[i], (int)i);
		return (fails > 0);
	}
	name = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 :
	    argv[0];
	if (strncmp(name, "seeds_", 6) == 0)
		name += 6;
	if ((top = getenv("NOTIMOCK_SRCDIR")) == NULL)
		top = ".";
	snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", top, name);
	if ((d = opendir(dir)) == NULL) {
		printf("1..0\nBail out! %s: %s\n", dir, strerror(errno));
		return (1);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((files = realloc(files, (n + 1) * sizeof *files)) == NULL ||
		    (files[n++] = strdup(de->d_name)) == NULL)
			abort();
	}
	closedir(d);
	qsort(files, n, sizeof *files, seeds_cmp);
	printf("1..%zu\n", n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		fails += seeds_run(path, files[i], (int)i + 1);
		free(files[i]);
	}
	free(files);
	return (fails > 0);
}
