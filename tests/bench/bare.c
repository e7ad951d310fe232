/*
 * bare.c: the baseline for tests/bench/run: a bare libevent evhttp responder
 * that reads the POST body and answers 200 with a fixed small JSON array.
 * No parsing, no storage: the ceiling notimock is measured against.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

static void
bare_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*out = evbuffer_new();

	(void)arg;
	evbuffer_drain(evhttp_request_get_input_buffer(req),
	    evbuffer_get_length(evhttp_request_get_input_buffer(req)));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json; charset=utf-8");
	evbuffer_add_printf(out, "[]");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

int
main(int argc, char **argv)
{
	struct event_base	*base;
	struct evhttp		*http;
	int			 port = argc > 1 ? atoi(argv[1]) : 18080;

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	http = evhttp_new(base);
	evhttp_set_gencb(http, bare_cb, NULL);
	if (evhttp_bind_socket(http, "127.0.0.1", (unsigned short)port) != 0) {
		perror("bind");
		return (1);
	}
	event_base_dispatch(base);
	return (0);
}
