/*
 * floor.c: the physical floor under tests/bench/streams.  A bare server
 * with no HTTP parsing, no database and no JSON: it accepts N connections
 * (the same readers.c, which ask for a stream; the request is read and
 * ignored), then for SECONDS writes rounds of SSE-shaped events to all of
 * them, as fast as the readers take them: each round is one write() per
 * socket of CHUNK bytes (whole events of EVENT bytes) from one shared block,
 * the shape notimock's flush gives a stream that takes every event.  It
 * prints the bytes moved per second and its own CPU; tests/bench/streams
 * turns the bytes into POSTs (what notimock sends each reader per POST),
 * which gives the best POST rate 1,000 readers could ever see here, with
 * the POSTs costing nothing.
 *
 *   floor PORT N SECONDS EVENT CHUNK
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double
now(void)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return ((double)tv.tv_sec + tv.tv_usec / 1e6);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct epoll_event	 ev, evs[256];
	struct rusage		 ru;
	static char		 req[4096];
	char			*block;
	size_t			*off;
	int			*fds, n, i, k, ls, ep, one = 1, pending;
	size_t			 evlen, chunk, j;
	unsigned long long	 bytes = 0;
	double			 t0, secs;
	ssize_t			 w;

	if (argc != 6) {
		fprintf(stderr, "usage: floor port n seconds event chunk\n");
		return (2);
	}
	n = atoi(argv[2]);
	secs = atof(argv[3]);
	evlen = (size_t)atol(argv[4]);
	chunk = (size_t)atol(argv[5]) / evlen * evlen;
	if (evlen < 32 || chunk == 0)
		return (2);
	/* One block of events: "event: delivery\ndata: xxx...\n\n". */
	block = malloc(chunk);
	for (j = 0; j < chunk; j += evlen) {
		memset(block + j, 'x', evlen);
		memcpy(block + j, "event: delivery\ndata: ", 22);
		memcpy(block + j + evlen - 2, "\n\n", 2);
	}
	fds = calloc((size_t)n, sizeof *fds);
	off = calloc((size_t)n, sizeof *off);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[1]));
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (bind(ls, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(ls, 4096) == -1) {
		perror("floor: listen");
		return (1);
	}
	for (i = 0; i < n; i++) {
		if ((fds[i] = accept(ls, NULL, NULL)) == -1) {
			perror("floor: accept");
			return (1);
		}
		(void)read(fds[i], req, sizeof req);
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
	}
	ep = epoll_create1(0);
	getrusage(RUSAGE_SELF, &ru);
	double u0 = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	t0 = now();
	while (now() - t0 < secs) {
		/* A round: every socket gets the chunk (what it cannot take
		 * now it gets when it is writable). */
		pending = 0;
		for (i = 0; i < n; i++) {
			off[i] = 0;
			w = write(fds[i], block, chunk);
			if (w > 0)
				off[i] = (size_t)w;
			if (off[i] < chunk) {
				ev.events = EPOLLOUT;
				ev.data.u32 = (unsigned)i;
				epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
				pending++;
			}
			bytes += off[i];
		}
		while (pending > 0) {
			k = epoll_wait(ep, evs, 256, 1000);
			for (j = 0; j < (size_t)k; j++) {
				i = (int)evs[j].data.u32;
				w = write(fds[i], block + off[i], chunk - off[i]);
				if (w > 0) {
					off[i] += (size_t)w;
					bytes += (unsigned long long)w;
				}
				if (off[i] == chunk || (w == -1 &&
				    errno != EAGAIN)) {
					epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
					pending--;
				}
			}
		}
	}
	secs = now() - t0;
	getrusage(RUSAGE_SELF, &ru);
	double u1 = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("floor bytes %llu seconds %.3f cpu %.3f\n", bytes, secs,
	    u1 - u0);
	for (i = 0; i < n; i++)
		close(fds[i]);
	return (0);
}
