/*
 * test_url.c: the link check against `new URL(link, base)`.
 *
 * Every expected value below was produced by Node 20.20.2 (the runtime of
 * the reference backend) running Backstage's own check,
 *	new URL(link.replace(/^\//, ''), base).protocol in {http:, https:},
 * so these rows pin our parser to what upstream answers.
 */
#include "unit.h"

#include "url.h"

#define BASE	"http://localhost:3000/"

struct link_case {
	const char	*link;
	const char	*base;
	enum url_check	 want;
};

static const struct link_case link_cases[] = {
	/* The examples of spec section 4.6 (app.baseUrl localhost:3000). */
	{ "https://x/y", BASE, URL_OK },
	{ "/catalog/default/component/my-app", BASE, URL_OK },
	{ "<no value>/applications/x", BASE, URL_OK },
	{ "//evil.com/x", BASE, URL_OK },
	{ "javascript:alert(1)", BASE, URL_NOT_HTTP },
	{ "ftp://x/y", BASE, URL_NOT_HTTP },
	{ "http://[bad", BASE, URL_INVALID },

	/* Backstage strips exactly one leading '/' before parsing. */
	{ "/javascript:alert(1)", BASE, URL_NOT_HTTP },
	{ "/http://x", BASE, URL_OK },
	{ "/https://[bad", BASE, URL_INVALID },
	{ "///evil.com/x", BASE, URL_OK },
	{ "///[bad/x", BASE, URL_INVALID },
	{ "/", BASE, URL_OK },
	{ "", BASE, URL_OK },
	{ "//", BASE, URL_OK },
	{ "///", BASE, URL_INVALID },
	{ "////x", BASE, URL_OK },

	/* Schemes that parse but are not http(s). */
	{ "mailto:a@example.com", BASE, URL_NOT_HTTP },
	{ "data:text/html,<b>x</b>", BASE, URL_NOT_HTTP },
	{ "vbscript:msgbox(1)", BASE, URL_NOT_HTTP },
	{ "JavaScript:alert(1)", BASE, URL_NOT_HTTP },
	{ "file:///etc/passwd", BASE, URL_NOT_HTTP },
	{ "ws://x/", BASE, URL_NOT_HTTP },
	{ "wss://x/", BASE, URL_NOT_HTTP },
	{ "tel:+123", BASE, URL_NOT_HTTP },
	{ "localhost:3000/x", BASE, URL_NOT_HTTP },
	{ "C:\\Windows", BASE, URL_NOT_HTTP },
	{ "a:b", BASE, URL_NOT_HTTP },
	{ "a+b-c.d:x", BASE, URL_NOT_HTTP },
	{ "view-source:http://x", BASE, URL_NOT_HTTP },
	{ "blob:http://x/y", BASE, URL_NOT_HTTP },
	{ "foo://", BASE, URL_NOT_HTTP },
	{ "foo://h:1/p", BASE, URL_NOT_HTTP },
	{ "foo:", BASE, URL_NOT_HTTP },
	{ "foo:/x", BASE, URL_NOT_HTTP },

	/* http and https: scheme case, slashes, backslashes, ports. */
	{ "HTTP://X/", BASE, URL_OK },
	{ "Https://x", BASE, URL_OK },
	{ "http:x", BASE, URL_OK },
	{ "http:/x", BASE, URL_OK },
	{ "http:\\\\evil.com", BASE, URL_OK },
	{ "\\\\evil.com", BASE, URL_OK },
	{ "https:x", BASE, URL_OK },
	{ "https:", BASE, URL_INVALID },
	{ "http:", BASE, URL_OK },
	{ "http://x:80/", BASE, URL_OK },
	{ "http://x:/", BASE, URL_OK },
	{ "http://x:0/", BASE, URL_OK },
	{ "http://x:65535/", BASE, URL_OK },
	{ "http://x:65536/", BASE, URL_INVALID },
	{ "http://x:99999/", BASE, URL_INVALID },
	{ "http://a:99999", BASE, URL_INVALID },
	{ "http://x:00000000000080/", BASE, URL_OK },
	{ "http://x:8a/", BASE, URL_INVALID },
	{ "http://x:-1/", BASE, URL_INVALID },
	{ "http://x: 80/", BASE, URL_INVALID },

	/* A special URL needs a host. */
	{ "http://", BASE, URL_INVALID },
	{ "https://", BASE, URL_INVALID },
	{ "http:///x", BASE, URL_OK },
	{ "http://?x", BASE, URL_INVALID },
	{ "http://#x", BASE, URL_INVALID },
	{ "http://:80/", BASE, URL_INVALID },
	{ "http://u@/", BASE, URL_INVALID },
	{ "http://u:p@/", BASE, URL_INVALID },
	{ "http://@x/", BASE, URL_OK },
	{ "http://u:p@x/", BASE, URL_OK },
	{ "http://a@b@c/", BASE, URL_OK },
	{ "ws://", BASE, URL_INVALID },
	{ "ftp://", BASE, URL_INVALID },
	{ "foo://@", BASE, URL_INVALID },

	/* Forbidden host and domain code points; opaque hosts. */
	{ "http://a b/", BASE, URL_INVALID },
	{ "http://a<b/", BASE, URL_INVALID },
	{ "http://a>b/", BASE, URL_INVALID },
	{ "http://a^b/", BASE, URL_INVALID },
	{ "http://a|b/", BASE, URL_INVALID },
	{ "http://a[b/", BASE, URL_INVALID },
	{ "http://a]b/", BASE, URL_INVALID },
	{ "http://a%b/", BASE, URL_INVALID },
	{ "http://a%20b/", BASE, URL_INVALID },
	{ "http://a%2fb/", BASE, URL_INVALID },
	{ "http://%41.com/", BASE, URL_OK },
	{ "http://a%00b/", BASE, URL_INVALID },
	{ "http://a\177b/", BASE, URL_INVALID },
	{ "http://\001a/", BASE, URL_INVALID },
	{ "http://!$&'()*+,;=_`{}~/", BASE, URL_OK },
	{ "http://a\"b/", BASE, URL_OK },
	{ "foo://a b/", BASE, URL_INVALID },
	{ "foo://a%20b/", BASE, URL_NOT_HTTP },
	{ "foo://a^b/", BASE, URL_INVALID },
	{ "foo://a\\b/", BASE, URL_INVALID },
	{ "foo://a\"b/", BASE, URL_NOT_HTTP },

	/* IPv4: any name that ends in a number must be an IPv4 address. */
	{ "http://127.0.0.1/", BASE, URL_OK },
	{ "http://0x7f.1/", BASE, URL_OK },
	{ "http://0177.0.0.1/", BASE, URL_OK },
	{ "http://2130706433/", BASE, URL_OK },
	{ "http://4294967295/", BASE, URL_OK },
	{ "http://4294967296/", BASE, URL_INVALID },
	{ "http://0x100000000/", BASE, URL_INVALID },
	{ "http://1.2.3.4.5/", BASE, URL_INVALID },
	{ "http://1.2.3.256/", BASE, URL_INVALID },
	{ "http://1.2.65536/", BASE, URL_INVALID },
	{ "http://1.2.65535/", BASE, URL_OK },
	{ "http://256.1.1.1/", BASE, URL_INVALID },
	{ "http://1.2.3.4./", BASE, URL_OK },
	{ "http://1.2.3.4../", BASE, URL_OK },
	{ "http://.1/", BASE, URL_INVALID },
	{ "http://foo.09/", BASE, URL_INVALID },
	{ "http://09.com/", BASE, URL_OK },
	{ "http://foo.0x4/", BASE, URL_INVALID },
	{ "http://foo.0xg/", BASE, URL_OK },
	{ "http://1.09/", BASE, URL_INVALID },
	{ "http://08/", BASE, URL_INVALID },
	{ "http://0x/", BASE, URL_OK },
	{ "http://0x.0x.0/", BASE, URL_OK },
	{ "http://999999999999999999999/", BASE, URL_INVALID },
	{ "http://%30%78%63%30%2e%30%32%35%30.01/", BASE, URL_OK },
	{ "foo://1.2.3.4.5/", BASE, URL_NOT_HTTP },
	{ "foo://999999999999/", BASE, URL_NOT_HTTP },

	/* IPv6. */
	{ "http://[::1]/", BASE, URL_OK },
	{ "http://[::1]:8080/", BASE, URL_OK },
	{ "http://[::]/", BASE, URL_OK },
	{ "http://[1:2:3:4:5:6:7:8]/", BASE, URL_OK },
	{ "http://[1:2:3:4:5:6:7:8:9]/", BASE, URL_INVALID },
	{ "http://[1:2:3:4:5:6:7]/", BASE, URL_INVALID },
	{ "http://[1::]/", BASE, URL_OK },
	{ "http://[1::2::3]/", BASE, URL_INVALID },
	{ "http://[:1]/", BASE, URL_INVALID },
	{ "http://[1:]/", BASE, URL_INVALID },
	{ "http://[::ffff:1.2.3.4]/", BASE, URL_OK },
	{ "http://[::1.2.3]/", BASE, URL_INVALID },
	{ "http://[::1.2.3.4.5]/", BASE, URL_INVALID },
	{ "http://[::1.2.3.256]/", BASE, URL_INVALID },
	{ "http://[::ffff:1.02.3.4]/", BASE, URL_INVALID },
	{ "http://[1:2:3:4:5:6:7:1.2.3.4]/", BASE, URL_INVALID },
	{ "http://[0:0:0:0:0:0:13.1.68.3]/", BASE, URL_OK },
	{ "http://[1:2:3:4:5:6:1.2.3.4]/", BASE, URL_OK },
	{ "http://[::1:2:3:4:5:1.2.3.4]/", BASE, URL_OK },
	{ "http://[::1:2:3:4:5:6:1.2.3.4]/", BASE, URL_INVALID },
	{ "http://[1:2:3:4:5:6:7:8::]/", BASE, URL_INVALID },
	{ "http://[::1:2:3:4:5:6:7:8]/", BASE, URL_INVALID },
	{ "http://[g::1]/", BASE, URL_INVALID },
	{ "http://[12345::]/", BASE, URL_INVALID },
	{ "http://[::1]x/", BASE, URL_INVALID },
	{ "http://x[::1]/", BASE, URL_INVALID },
	{ "http://[]/", BASE, URL_INVALID },
	{ "http://[/", BASE, URL_INVALID },
	{ "http://[::1/]", BASE, URL_INVALID },
	{ "http://[::1%25eth0]/", BASE, URL_INVALID },
	{ "http://[FFFF::1]/", BASE, URL_OK },
	{ "foo://[::1]/", BASE, URL_NOT_HTTP },
	{ "foo://[bad]/", BASE, URL_INVALID },
	{ "foo://[::1/", BASE, URL_INVALID },

	/* Domains: case, Punycode, IDNA mapping and disallowed code points. */
	{ "http://EXAMPLE.com/", BASE, URL_OK },
	{ "http://a..b/", BASE, URL_OK },
	{ "http://xn--ls8h.la/", BASE, URL_OK },
	{ "http://xn--/", BASE, URL_INVALID },
	{ "http://xn--a/", BASE, URL_INVALID },
	{ "http://xn--a-_/", BASE, URL_INVALID },
	{ "http://xn--bcher-kva.de/", BASE, URL_OK },
	{ "http://XN--BCHER-KVA.de/", BASE, URL_OK },
	{ "http://xn--9a0f/", BASE, URL_INVALID },	/* decodes to upper case */
	{ "http://xn--b\303\274cher.de/", BASE, URL_INVALID },
	{ "http://\303\244.example/", BASE, URL_OK },
	{ "http://b\303\274cher.de/", BASE, URL_OK },
	{ "http://\344\270\255\346\226\207.com/", BASE, URL_OK },
	{ "http://\357\275\205\357\275\230\357\275\201\357\275\215"
	    "\357\275\220\357\275\214\357\275\205.com/",
	    BASE, URL_OK },
	{ "http://a\343\200\202b/", BASE, URL_OK },
	{ "http://\357\274\220\357\275\230\357\275\203\357\274\220"
	    "\357\274\216\357\274\220\357\274\222\357\274\225\357\274"
	    "\220\357\274\216\357\274\220\357\274\221/",
	    BASE, URL_OK },
	{ "http://\357\274\205\357\274\224\357\274\221.com/",
	    BASE, URL_INVALID },
	{ "http://a\302\255b/", BASE, URL_OK },
	{ "http://\302\255/", BASE, URL_INVALID },
	{ "http://a\342\200\213b/", BASE, URL_OK },
	{ "http://\357\277\275/", BASE, URL_INVALID },
	{ "http://a%ffb/", BASE, URL_INVALID },
	{ "http://a%C3%A4b/", BASE, URL_OK },
	{ "http://a\302\240b/", BASE, URL_INVALID },
	{ "http://a\343\200\200b/", BASE, URL_INVALID },
	{ "http://\314\201a/", BASE, URL_INVALID },
	{ "http://a\302\200b/", BASE, URL_INVALID },
	{ "http://a\342\200\256b/", BASE, URL_INVALID },
	{ "http://a\342\200\215b/", BASE, URL_INVALID },
	{ "http://\356\200\200/", BASE, URL_INVALID },

	/* Outer C0 controls and spaces go; tabs and newlines anywhere. */
	{ " https://x/ ", BASE, URL_OK },
	{ "\001\037https://x/", BASE, URL_OK },
	{ "\thttps://x/", BASE, URL_OK },
	{ "ht\ttp://x/", BASE, URL_OK },
	{ "h\nt\rtp://x/", BASE, URL_OK },
	{ "java\nscript:alert(1)", BASE, URL_NOT_HTTP },
	{ "javascript\t:alert(1)", BASE, URL_NOT_HTTP },
	{ "/\t/evil.com", BASE, URL_OK },
	{ "http://a\tb/", BASE, URL_OK },
	{ "http://[::\n1]/", BASE, URL_OK },
	{ "http://x:8\t0/", BASE, URL_OK },
	{ " ", BASE, URL_OK },

	/* Relative references take the base's scheme. */
	{ "?q=1", BASE, URL_OK },
	{ "#frag", BASE, URL_OK },
	{ "..", BASE, URL_OK },
	{ "../../x", BASE, URL_OK },
	{ "./x", BASE, URL_OK },
	{ ";x", BASE, URL_OK },
	{ "%zz", BASE, URL_OK },
	{ "\303\244", BASE, URL_OK },
	{ "a b", BASE, URL_OK },
	{ "1http://x", BASE, URL_OK },
	{ "-x:y", BASE, URL_OK },
	{ "+x:y", BASE, URL_OK },
	{ "x y:z", BASE, URL_OK },
	{ "xn--:z", BASE, URL_NOT_HTTP },

	/* Other bases (the caller passes app.baseUrl with a trailing '/'). */
	{ "x", "https://backstage.example.com/", URL_OK },
	{ "//h/", "https://backstage.example.com/", URL_OK },
	{ "x", "http://h:8080/sub/", URL_OK },
	{ "https:x", "http://h/", URL_OK },
	{ "http:x", "https://h/", URL_OK },
	{ "x", "foo://h/p", URL_NOT_HTTP },
	{ "//a b/", "foo://h/p", URL_NOT_HTTP },
	{ "//h/", "foo://h/p", URL_NOT_HTTP },
	{ "x", "mailto:a@b", URL_INVALID },
	{ "#x", "mailto:a@b", URL_NOT_HTTP },
	{ "x", "file:///c/d", URL_NOT_HTTP },
	{ "//h/x", "file:///c/d", URL_NOT_HTTP },
	{ "//a b/x", "file:///c/d", URL_NOT_HTTP },
	{ "x", "not a url", URL_INVALID },
	{ "x", "", URL_INVALID },
	{ "x", "http://", URL_INVALID },
	{ "https://x/", "http://[bad/", URL_INVALID },

	/* file: URLs parse (not http) unless their host is bad. */
	{ "file://localhost/x", BASE, URL_NOT_HTTP },
	{ "file://a b/x", BASE, URL_INVALID },
	{ "file://[bad/x", BASE, URL_INVALID },
	{ "file://[::1]/x", BASE, URL_NOT_HTTP },
	{ "file://C:/x", BASE, URL_NOT_HTTP },
	{ "file://C|/x", BASE, URL_NOT_HTTP },
	{ "file:x", BASE, URL_NOT_HTTP },
	{ "file:\\\\h\\x", BASE, URL_NOT_HTTP },
	{ "file://h:80/x", BASE, URL_INVALID },
	{ "file://%41/x", BASE, URL_NOT_HTTP },
	{ NULL, NULL, URL_OK }
};

struct abs_case {
	const char	*url;
	enum url_check	 want;
};

/* url_check_absolute(): `new URL(s)` without a base, as for --base-url. */
static const struct abs_case abs_cases[] = {
	{ "http://localhost:3000", URL_OK },
	{ "http://localhost:3000/", URL_OK },
	{ "https://backstage.example.com", URL_OK },
	{ "https://backstage.example.com/sub/", URL_OK },
	{ "http://127.0.0.1:7007", URL_OK },
	{ "http://[::1]:3000", URL_OK },
	{ "localhost:3000", URL_NOT_HTTP },
	{ "backstage.example.com", URL_INVALID },
	{ "/x", URL_INVALID },
	{ "", URL_INVALID },
	{ " ", URL_INVALID },
	{ "http://", URL_INVALID },
	{ "http:", URL_INVALID },
	{ "http:x", URL_OK },
	{ "http:/x", URL_OK },
	{ "https:///x", URL_OK },
	{ "ftp://x", URL_NOT_HTTP },
	{ "mailto:x", URL_NOT_HTTP },
	{ "http://a b", URL_INVALID },
	{ "http://x:99999", URL_INVALID },
	{ "HTTPS://X", URL_OK },
	{ " http://x ", URL_OK },
	{ "file:///", URL_NOT_HTTP },
	{ "http://exa mple.com", URL_INVALID },
	{ "http//x", URL_INVALID },
	{ "javascript:alert(1)", URL_NOT_HTTP },
	{ NULL, URL_OK }
};

static const char *
check_name(enum url_check c)
{
	switch (c) {
	case URL_OK:
		return ("URL_OK");
	case URL_NOT_HTTP:
		return ("URL_NOT_HTTP");
	case URL_INVALID:
		return ("URL_INVALID");
	}
	return ("?");
}

static void
test_link_table(void)
{
	const struct link_case	*c;
	enum url_check		 got;
	int			 bad = 0;

	for (c = link_cases; c->link != NULL; c++) {
		got = url_check_link(c->link, c->base);
		if (got != c->want) {
			fprintf(stderr, "# link \"%s\" base \"%s\": got %s, "
			    "expected %s\n", c->link, c->base, check_name(got),
			    check_name(c->want));
			bad++;
		}
	}
	CHECK_INT(bad, 0);
end:	;
}

static void
test_absolute_table(void)
{
	const struct abs_case	*c;
	enum url_check		 got;
	int			 bad = 0;

	for (c = abs_cases; c->url != NULL; c++) {
		got = url_check_absolute(c->url);
		if (got != c->want) {
			fprintf(stderr, "# url \"%s\": got %s, expected %s\n",
			    c->url, check_name(got), check_name(c->want));
			bad++;
		}
	}
	CHECK_INT(bad, 0);
end:	;
}

/* The two error bodies of the spec (4.6) hinge on these three answers. */
static void
test_spec_examples(void)
{
	CHECK_INT(url_check_link("javascript:alert(1)", BASE), URL_NOT_HTTP);
	CHECK_INT(url_check_link("ftp://x/y", BASE), URL_NOT_HTTP);
	CHECK_INT(url_check_link("http://[bad", BASE), URL_INVALID);
	CHECK_INT(url_check_link("https://x/y", BASE), URL_OK);
end:	;
}

/* Only one '/' is stripped: "//x" is a path, "///x" a host. */
static void
test_one_slash_only(void)
{
	CHECK_INT(url_check_link("//evil.com/x", BASE), URL_OK);
	CHECK_INT(url_check_link("///a b/x", BASE), URL_INVALID);
	CHECK_INT(url_check_link("//a b/x", BASE), URL_OK);
end:	;
}

/* A relative link inherits the base's scheme, whatever that is. */
static void
test_relative_takes_base_scheme(void)
{
	CHECK_INT(url_check_link("x/y", "https://h/"), URL_OK);
	CHECK_INT(url_check_link("x/y", "ftp://h/"), URL_NOT_HTTP);
	CHECK_INT(url_check_link("x/y", "wss://h/"), URL_NOT_HTTP);
end:	;
}

/* A bad base fails every link, as `new URL(link, base)` throws. */
static void
test_bad_base(void)
{
	CHECK_INT(url_check_link("https://x/", "http://a b/"), URL_INVALID);
	CHECK_INT(url_check_link("https://x/", "relative/"), URL_INVALID);
end:	;
}

/* Big inputs: long hosts, long ports, deep IPv4 numbers, no overflow. */
static void
test_long_inputs(void)
{
	char	*s;
	size_t	 n = 100000;

	s = malloc(n + 32);
	CHECK(s != NULL);
	memcpy(s, "http://", 7);
	memset(s + 7, 'a', n);
	strcpy(s + 7 + n, "/x");
	CHECK_INT(url_check_link(s, BASE), URL_OK);
	memcpy(s, "http://a:", 9);
	memset(s + 9, '9', n);
	strcpy(s + 9 + n, "/");
	CHECK_INT(url_check_link(s, BASE), URL_INVALID);
	memset(s + 9, '0', n);
	CHECK_INT(url_check_link(s, BASE), URL_OK);
	memcpy(s, "http://0x", 9);
	memset(s + 9, 'f', n);
	strcpy(s + 9 + n, "/");
	CHECK_INT(url_check_link(s, BASE), URL_INVALID);
	memset(s + 9, '0', n);
	CHECK_INT(url_check_link(s, BASE), URL_OK);
end:
	free(s);
}

static const struct unit_test tests[] = {
	{ "spec 4.6 examples", test_spec_examples },
	{ "only one leading slash is stripped", test_one_slash_only },
	{ "relative links take the base's scheme",
	    test_relative_takes_base_scheme },
	{ "a bad base fails every link", test_bad_base },
	{ "long inputs", test_long_inputs },
	{ "link table (Node 20 answers)", test_link_table },
	{ "absolute table (Node 20 answers)", test_absolute_table },
	{ NULL, NULL }
};

UNIT_MAIN(tests)
