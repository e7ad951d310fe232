/*
 * readers.c: N /mock/events readers for tests/bench/streams.  Opens N
 * connections, asks each for the stream, then reads and discards with one
 * epoll, counting bytes and events, until SIGTERM or SIGINT.  After the
 * signal it goes on reading until nothing has arrived for a second (what
 * notimock still had buffered is part of the work the POSTs caused), then
 * prints
 *
 *	readers N open M bytes B events E closed C last_ms T
 *
 * T: the wall-clock time (ms since the epoch) the last byte arrived, so
 * that the bench can count the POST rate up to when the readers had
 * every event, not only up to the last POST's answer.
 *
 * The readers share the machine with the server, so they are written to
 * cost little: one read per ready socket and wake-up (a short read means
 * the socket is empty; level-triggered epoll reports the rest), a large
 * buffer, and events counted with memmem, carrying the last bytes of each
 * read over so that a read boundary never hides one.
 *
 *   readers HOST PORT N PATH-AND-QUERY
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MARK		"event: "
#define MARKLEN		(sizeof MARK - 1)
#define MAXFD		65536

static volatile sig_atomic_t stop;

/* The last MARKLEN - 1 bytes each socket read, for a mark split across two
 * reads. */
static char	tails[MAXFD][MARKLEN - 1];
static unsigned char tlen[MAXFD];

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static unsigned long long
now_ms(void)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return ((unsigned long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

/* Marks in buf[0..got), and those that start in fd's tail and end in buf. */
static unsigned long long
count(int fd, const char *buf, size_t got)
{
	char			 joint[2 * (MARKLEN - 1)];
	const char		*p;
	unsigned long long	 n = 0;
	size_t			 t = tlen[fd], k, i;

	k = got < MARKLEN - 1 ? got : MARKLEN - 1;
	memcpy(joint, tails[fd], t);
	memcpy(joint + t, buf, k);
	for (i = 0; i < t && i + MARKLEN <= t + k; i++)
		if (memcmp(joint + i, MARK, MARKLEN) == 0)
			n++;
	for (p = buf; (p = memmem(p, (size_t)(buf + got - p), MARK,
	    MARKLEN)) != NULL; p += MARKLEN)
		n++;
	/* The new tail: the last bytes of tail + buf. */
	if (got >= MARKLEN - 1) {
		memcpy(tails[fd], buf + got - (MARKLEN - 1), MARKLEN - 1);
		tlen[fd] = MARKLEN - 1;
	} else {
		i = t + got > MARKLEN - 1 ? t + got - (MARKLEN - 1) : 0;
		memmove(tails[fd], joint + i, t + got - i);
		tlen[fd] = (unsigned char)(t + got - i);
	}
	return (n);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct epoll_event	 ev, evs[256];
	static char		 buf[1 << 18];
	char			 req[1024];
	unsigned long long	 bytes = 0, events = 0, last_ms = 0, quiet = 0;
	unsigned long long	 before;
	int			 n, i, k, fd, ep, open_ = 0, closed = 0, len;
	ssize_t			 got;

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
		    fd >= MAXFD ||
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
	for (;;) {
		if ((k = epoll_wait(ep, evs, 256, 200)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		before = events;
		for (i = 0; i < k; i++) {
			fd = evs[i].data.fd;
			got = read(fd, buf, sizeof buf);
			if (got > 0) {
				bytes += (unsigned long long)got;
				events += count(fd, buf, (size_t)got);
			} else if (got == 0 || errno != EAGAIN) {
				close(fd);
				closed++;
			}
		}
		/* Only events count as arriving: heartbeats go on for ever. */
		if (events > before) {
			last_ms = now_ms();
			quiet = 0;
		} else if (stop) {
			if (quiet == 0)
				quiet = now_ms();
			else if (now_ms() - quiet >= 1000)
				break;
		}
	}
	printf("readers %d open %d bytes %llu events %llu closed %d "
	    "last_ms %llu\n", n, open_, bytes, events, closed, last_ms);
	return (0);
}
