/* fuzz_catalog: a catalog file (entities YAML) loaded and resolved. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/mman.h>
#include <stdio.h>
#include <unistd.h>

#include "catalog.h"
#include "fuzz.h"
#include "util.h"

FUZZ_QUIET()

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static int	 fd = -1;
	static char	 path[64];
	struct catalog	*cat;
	char		*cause = NULL, **users, *file;
	char		*refs[] = { "group:default/team", "component:default/x",
			    "user:default/alice" };
	size_t		 n;

	/* One in-memory file, rewritten for every input. */
	if (fd == -1) {
		if ((fd = memfd_create("catalog.yaml", 0)) == -1)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, len, 0) != (ssize_t)len)
		abort();
	file = path;
	if ((cat = catalog_load(&file, 1, &cause)) != NULL) {
		users = catalog_resolve(cat, refs, 3, NULL, 0, &n);
		strv_free(users, n);
		catalog_free(cat);
	}
	free(cause);
	return (0);
}
