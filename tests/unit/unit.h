/*
 * unit.h: a tiny TAP test harness for the C unit tests.
 *
 * A test file defines `static void test_x(void)` functions that use the
 * CHECK macros (which jump to `end:` on failure, for cleanup), and a table:
 *
 *	static const struct unit_test tests[] = {
 *		{ "parses empty ref", test_empty },
 *		{ NULL, NULL }
 *	};
 *	UNIT_MAIN(tests)
 *
 * Each case runs in a forked child under a 10 s alarm, so a crash or a hang
 * fails that case only.  Output is TAP for automake's tap-driver.sh.
 *
 * Every binary also runs some cases only, so that a failure can be rerun
 * alone (or under gdb, `set follow-fork-mode child`):
 *
 *	tests/unit/test_json --list		number and name of each case
 *	tests/unit/test_json 3 hello		case 3, and every case whose
 *						name contains "hello"
 *	make check TESTS=tests/unit/test_json UNIT_CASES='3|hello'
 *
 * A selector is a case's number (as --list prints it), its exact name, or
 * else a part of its name in any letter case; UNIT_CASES holds selectors
 * separated by `|` (no case name contains one) and is read only when there
 * are no arguments.  A selector that matches no case is an error ("Bail
 * out!"), so a typo never passes as an empty run.  The selected cases run
 * in the table's order, once each, numbered 1..n in the TAP output.
 */
#ifndef NOTIMOCK_UNIT_H
#define NOTIMOCK_UNIT_H

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct unit_test {
	const char	*name;
	void		(*fn)(void);
};

extern int unit_failed;
int unit_failed;

#define UNIT_FAIL(...) do {						\
	fprintf(stderr, "# %s:%d: ", __FILE__, __LINE__);		\
	fprintf(stderr, __VA_ARGS__);					\
	fprintf(stderr, "\n");						\
	unit_failed = 1;						\
	goto end;							\
} while (0)

#define CHECK(cond) do {						\
	if (!(cond))							\
		UNIT_FAIL("check failed: %s", #cond);			\
} while (0)

#define CHECK_INT(a, b) do {						\
	long long _a = (long long)(a), _b = (long long)(b);		\
	if (_a != _b)							\
		UNIT_FAIL("%s == %lld, expected %lld", #a, _a, _b);	\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *_a = (a), *_b = (b);				\
	if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0)		\
		UNIT_FAIL("%s:\n#   got      \"%s\"\n#   expected \"%s\"",\
		    #a, _a ? _a : "(null)", _b ? _b : "(null)");	\
} while (0)

/* Run one case in a child and print its TAP line; 1 if it failed. */
static int
unit_run_one(const struct unit_test *t, int i)
{
	int	 status;
	pid_t	 pid;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		alarm(10);
		t->fn();
		_exit(unit_failed ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) == -1)
		status = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok %d - %s\n", i, t->name);
		return (0);
	}
	if (WIFSIGNALED(status))
		printf("not ok %d - %s (signal %d)\n", i, t->name,
		    WTERMSIG(status));
	else
		printf("not ok %d - %s\n", i, t->name);
	return (1);
}

/* Whether part occurs in name, ignoring ASCII case. */
static int
unit_contains(const char *name, const char *part)
{
	size_t	 i, len = strlen(part);

	for (; *name != '\0'; name++) {
		for (i = 0; i < len; i++)
			if (tolower((unsigned char)name[i]) !=
			    tolower((unsigned char)part[i]))
				break;
		if (i == len)
			return (1);
	}
	return (0);
}

/*
 * Mark in sel[] the cases that selector s picks: a number, the exact name,
 * or else every name containing it in any case.  Returns how many it
 * picked.
 */
static int
unit_select(const struct unit_test *tests, int n, const char *s, char *sel)
{
	int	 i, picked = 0;
	char	*end;
	long	 num;

	if (*s == '\0')
		return (0);
	num = strtol(s, &end, 10);
	if (*end == '\0') {
		if (num < 1 || num > n)
			return (0);
		sel[num - 1] = 1;
		return (1);
	}
	for (i = 0; i < n; i++)
		if (strcmp(tests[i].name, s) == 0) {
			sel[i] = 1;
			return (1);
		}
	for (i = 0; i < n; i++)
		if (unit_contains(tests[i].name, s)) {
			sel[i] = 1;
			picked++;
		}
	return (picked);
}

/* Select from a `|`-separated list (UNIT_CASES); -1 names a bad one. */
static int
unit_select_list(const struct unit_test *tests, int n, const char *list,
    char *sel)
{
	char	*copy, *s, *next;
	int	 rc = 0;

	if ((copy = strdup(list)) == NULL) {
		perror("strdup");
		exit(1);
	}
	for (s = copy; s != NULL; s = next) {
		if ((next = strchr(s, '|')) != NULL)
			*next++ = '\0';
		if (unit_select(tests, n, s, sel) == 0) {
			printf("Bail out! UNIT_CASES: no case matches "
			    "\"%s\" (see --list)\n", s);
			rc = -1;
			break;
		}
	}
	free(copy);
	return (rc);
}

static int
unit_main(const struct unit_test *tests, int argc, char **argv)
{
	const char	*env;
	char		*sel;
	int		 n = 0, i, k = 0, run = 0, bad = 0, all;

	for (n = 0; tests[n].name != NULL; n++)
		;
	if (argc > 1 && (strcmp(argv[1], "--list") == 0 ||
	    strcmp(argv[1], "-l") == 0)) {
		for (i = 0; i < n; i++)
			printf("%d\t%s\n", i + 1, tests[i].name);
		return (0);
	}
	if (argc > 1 && argv[1][0] == '-') {
		fprintf(stderr, "usage: %s [--list] [number | name | "
		    "part-of-name ...]\n", argv[0]);
		return (2);
	}
	if ((sel = calloc(n + 1, 1)) == NULL) {
		perror("calloc");
		return (1);
	}
	env = getenv("UNIT_CASES");
	all = argc <= 1 && (env == NULL || *env == '\0');
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (unit_select(tests, n, argv[i], sel) == 0) {
				printf("Bail out! no case matches \"%s\" "
				    "(see --list)\n", argv[i]);
				free(sel);
				return (1);
			}
	} else if (!all && unit_select_list(tests, n, env, sel) == -1) {
		free(sel);
		return (1);
	}
	for (i = 0; i < n; i++)
		if (all || sel[i])
			run++;
	printf("1..%d\n", run);
	for (i = 0; i < n; i++)
		if (all || sel[i])
			bad += unit_run_one(&tests[i], ++k);
	fflush(stdout);
	free(sel);
	return (bad ? 1 : 0);
}

/* Remove a test's store (path, its -wal, -shm and -reserve) and its
 * directory.  Inline: a test that has no store does not warn. */
static inline void
unit_rm_store(const char *dir, const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-reserve" };
	char	aux[4096];
	size_t	i;

	for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		snprintf(aux, sizeof aux, "%s%s", path, sfx[i]);
		unlink(aux);
	}
	rmdir(dir);
}

#define UNIT_MAIN(table)						\
int main(int argc, char **argv) { return (unit_main(table, argc, argv)); }

#endif
