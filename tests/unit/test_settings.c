/* test_settings.c: the settings table's layers (default < Backstage config <
 * notimock: section < environment < flags), lists, and config merging. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "settings.h"
#include "unit.h"

static char dir[] = "/tmp/notimock-settings-XXXXXX";

/* Write a file in the test's directory; returns its path (static). */
static const char *
write_file(const char *name, const char *text)
{
	static char	 path[4][256];
	static int	 n;
	char		*p = path[n++ % 4];
	FILE		*f;

	snprintf(p, 256, "%s/%s", dir, name);
	f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	return (p);
}

static struct config *
load(struct settings *s, char **argv, char **cause)
{
	int	argc = 0;

	while (argv[argc] != NULL)
		argc++;
	return (settings_load(s, argc, argv, cause));
}

/* Remove the test's directory and the files write_file() left in it. */
static void
cleanup(void)
{
	DIR		*d;
	struct dirent	*e;
	char		 path[512];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void
setup(void)
{
	if (mkdtemp(dir) == NULL)
		abort();
	unsetenv("NOTIMOCK_LISTEN");
	unsetenv("NOTIMOCK_TOKEN");
	unsetenv("NOTIMOCK_CONFIG");
}

static void
test_defaults(void)
{
	struct settings	 s;
	struct config	*cfg;
	char		*cause = NULL;
	char		*argv[] = { "notimock", NULL };

	setup();
	cfg = load(&s, argv, &cause);
	CHECK(cfg != NULL);
	CHECK_STR(s.listen, "127.0.0.1:7007");
	CHECK_STR(s.tls_listen, "127.0.0.1:7443");
	CHECK_STR(s.db, "notimock.db");
	CHECK_STR(s.base_url, "http://localhost:3000");
	CHECK_INT(s.max_body, 4194304);
	CHECK_INT(s.idle_timeout, 30);
	CHECK_INT(s.tokens.n, 0);
end:
	cleanup();
}

static void
test_layers(void)
{
	struct settings	 s;
	struct config	*cfg;
	char		*cause = NULL;
	const char	*yaml;
	char		*argv[] = { "notimock", "-f", NULL, "--db", "flag.db",
	    "--token", "flag-token-123", NULL };

	setup();
	yaml = write_file("a.yaml",
	    "app:\n  baseUrl: http://backstage.example:3000\n"
	    "notimock:\n  listen: 127.0.0.1:9000\n  db: yaml.db\n"
	    "  idle-timeout: 2m\n  token:\n    - yaml-token-1234\n"
	    "    - yaml-token-5678\n");
	argv[2] = (char *)yaml;
	setenv("NOTIMOCK_LISTEN", "127.0.0.1:9001", 1);
	cfg = load(&s, argv, &cause);
	CHECK(cfg != NULL);
	CHECK_STR(s.base_url, "http://backstage.example:3000");	/* app.baseUrl */
	CHECK_STR(s.listen, "127.0.0.1:9001");	/* env beats YAML */
	CHECK_STR(s.db, "flag.db");		/* flag beats YAML */
	CHECK_INT(s.idle_timeout, 120);
	/* A list set by flags replaces the YAML's, it does not add to it. */
	CHECK_INT(s.tokens.n, 1);
	CHECK_STR(s.tokens.v[0], "flag-token-123");
end:
	cleanup();
}

static void
test_env_list_and_bad_values(void)
{
	struct settings	 s;
	struct config	*cfg;
	char		*cause = NULL;
	char		*argv[] = { "notimock", NULL };
	char		*bad[] = { "notimock", "--max-body", "12", NULL };
	char		*bad2[] = { "notimock", "--log-format", "xml", NULL };

	setup();
	setenv("NOTIMOCK_TOKEN", "env-token-1111,env-token-2222", 1);
	cfg = load(&s, argv, &cause);
	CHECK(cfg != NULL);
	CHECK_INT(s.tokens.n, 2);
	CHECK_STR(s.tokens.v[1], "env-token-2222");
	unsetenv("NOTIMOCK_TOKEN");

	cfg = load(&s, bad, &cause);
	CHECK(cfg == NULL);
	CHECK(strstr(cause, "max-body is too small: 12") != NULL);
	free(cause);
	cfg = load(&s, bad2, &cause);
	CHECK(cfg == NULL);
	CHECK(strstr(cause, "log-format must be one of text|json") != NULL);
end:
	cleanup();
}

static void
test_unknown_yaml_setting(void)
{
	struct settings	 s;
	char		*cause = NULL;
	char		*argv[] = { "notimock", "-f", NULL, NULL };

	setup();
	argv[2] = (char *)write_file("b.yaml", "notimock:\n  lisen: x\n");
	CHECK(load(&s, argv, &cause) == NULL);
	CHECK(strstr(cause, "unknown setting 'notimock.lisen'") != NULL);
end:
	cleanup();
}

static void
test_config_merge_and_substitution(void)
{
	struct config	*cfg = NULL;
	char		*cause = NULL;
	char		*files[2];

	setup();
	files[0] = (char *)write_file("c1.yaml",
	    "backend:\n  auth:\n    externalAccess:\n"
	    "      - type: static\n        options:\n"
	    "          token: ${NM_TEST_TOKEN}\n          subject: a\n"
	    "  baseUrl: http://one\nlit: $${NOT_A_VAR}\n"
	    "gone: ${NM_TEST_UNSET}\nenvkey:\n  $env: NM_TEST_TOKEN\n");
	files[1] = (char *)write_file("c2.yaml",
	    "backend:\n  baseUrl: http://two\n");
	setenv("NM_TEST_TOKEN", "from-the-environment", 1);
	unsetenv("NM_TEST_UNSET");
	cfg = config_load(files, 2, &cause);
	CHECK(cfg != NULL);
	/* Maps merge key by key; the later file wins. */
	CHECK_STR(config_scalar(config_get(cfg, "backend.baseUrl")),
	    "http://two");
	CHECK(config_get(cfg, "backend.auth.externalAccess") != NULL);
	CHECK_STR(config_scalar(config_child(config_child(config_at(
	    config_get(cfg, "backend.auth.externalAccess"), 0), "options"),
	    "token")), "from-the-environment");
	CHECK_STR(config_scalar(config_get(cfg, "lit")), "${NOT_A_VAR}");
	CHECK(config_get(cfg, "gone") == NULL);	/* unset: undefined */
	CHECK_STR(config_scalar(config_get(cfg, "envkey")),
	    "from-the-environment");
end:
	config_free(cfg);
	cleanup();
}

static void
test_config_errors(void)
{
	char	*cause = NULL;
	char	*files[1];

	setup();
	files[0] = (char *)write_file("bad.yaml", "a: [1, 2\n");
	CHECK(config_load(files, 1, &cause) == NULL);
	CHECK(strstr(cause, "bad.yaml:") != NULL);
	free(cause);
	files[0] = "/nonexistent/app-config.yaml";
	CHECK(config_load(files, 1, &cause) == NULL);
	CHECK(strstr(cause, "No such file") != NULL);
end:
	cleanup();
}

static const struct unit_test tests[] = {
	{ "defaults", test_defaults },
	{ "layers: default < app.baseUrl < notimock: < env < flags", test_layers },
	{ "environment lists and bad values", test_env_list_and_bad_values },
	{ "unknown notimock: setting", test_unknown_yaml_setting },
	{ "config merge and ${VAR} substitution", test_config_merge_and_substitution },
	{ "config errors name the file", test_config_errors },
	{ NULL, NULL }
};
UNIT_MAIN(tests)
