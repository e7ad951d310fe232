/* fuzz_catalog: a catalog file (entities YAML) loaded and resolved. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "catalog.h"
#include "fuzz.h"
#include "util.h"

FUZZ_QUIET()

static char	fuzz_path[64];

static void
fuzz_cleanup(void)
{
	unlink(fuzz_path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static int	 fd = -1;
	struct catalog	*cat;
	char		*cause = NULL, **users, *file;
	const char	*refs[] = { "group:default/team", "component:default/x",
			    "user:default/alice" };
	size_t		 n;

	/* One scratch file, rewritten for every input (catalog.c resolves
	 * the path, so an unnamed memfd will not do). */
	if (fd == -1) {
		snprintf(fuzz_path, sizeof fuzz_path,
		    "/tmp/fuzz_catalog.XXXXXX");
		if ((fd = mkstemp(fuzz_path)) == -1)
			abort();
		atexit(fuzz_cleanup);
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, len, 0) != (ssize_t)len)
		abort();
	file = fuzz_path;
	if ((cat = catalog_load(&file, 1, &cause)) != NULL) {
		users = catalog_resolve(cat, refs, 3, NULL, 0, &n);
		strv_free(users, n);
		catalog_free(cat);
	}
	free(cause);
	return (0);
}
