/*
 * readers.c: N /mock/events readers for tests/bench/streams.  Opens N
 * connections, asks each for the stream, then reads and discards with
 * epoll, counting bytes and events, until SIGTERM or SIGINT; prints
 * "readers N open M bytes B events E closed C" on exit.
 *
 *   readers HOST PORT N PATH-AND-QUERY
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct epoll_event	 ev, evs[256];
	static char		 buf[1 << 16];
	char			 req[1024];
	unsigned long long	 bytes = 0, events = 0;
	int			 n, i, k, fd, ep, open_ = 0, closed = 0, len;
	ssize_t			 got;
	char			*p;

	if (argc != 5) {
		fprintf(stderr, "usage: readers host port n path\n");
		return (2);
	}
	n = atoi(argv[3]);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &sin.sin_addr);
	len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: bench\r\n"
	    "Accept: text/event-stream\r\n\r\n", argv[4]);
	if ((ep = epoll_create1(0)) == -1)
		return (1);
	for (i = 0; i < n; i++) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
		    write(fd, req, (size_t)len) != len) {
			perror("readers: connect");
			break;
		}
		fcntl(fd, F_SETFL, O_NONBLOCK);
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		open_++;
	}
	fprintf(stderr, "readers: %d open\n", open_);
	while (!stop) {
		if ((k = epoll_wait(ep, evs, 256, 200)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < k; i++) {
			fd = evs[i].data.fd;
			while ((got = read(fd, buf, sizeof buf)) > 0) {
				bytes += (unsigned long long)got;
				/* Events start lines; a boundary may split one
				 * now and then, which a figure can bear. */
				for (p = buf; (p = memmem(p, (size_t)(buf +
				    got - p), "event: ", 7)) != NULL; p += 7)
					events++;
			}
			if (got == 0 || (got == -1 && errno != EAGAIN)) {
				close(fd);
				closed++;
			}
		}
	}
	printf("readers %d open %d bytes %llu events %llu closed %d\n", n,
	    open_, bytes, events, closed);
	return (0);
}
