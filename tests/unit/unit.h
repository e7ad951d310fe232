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
 */
#ifndef NOTIMOCK_UNIT_H
#define NOTIMOCK_UNIT_H

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

static int
unit_run(const struct unit_test *tests)
{
	const struct unit_test	*t;
	int			 n = 0, i = 0, bad = 0, status;
	pid_t			 pid;

	for (t = tests; t->name != NULL; t++)
		n++;
	printf("1..%d\n", n);
	fflush(stdout);
	for (t = tests; t->name != NULL; t++) {
		i++;
		if ((pid = fork()) == -1) {
			perror("fork");
			return (1);
		}
		if (pid == 0) {
			alarm(10);
			t->fn();
			_exit(unit_failed ? 1 : 0);
		}
		if (waitpid(pid, &status, 0) == -1)
			status = -1;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			printf("ok %d - %s\n", i, t->name);
		else {
			bad++;
			if (WIFSIGNALED(status))
				printf("not ok %d - %s (signal %d)\n", i,
				    t->name, WTERMSIG(status));
			else
				printf("not ok %d - %s\n", i, t->name);
		}
		fflush(stdout);
	}
	return (bad ? 1 : 0);
}

#define UNIT_MAIN(table)						\
int main(void) { return (unit_run(table)); }

#endif
