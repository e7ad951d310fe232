/*
 * client.h: the assertion API from the command line (README.md, "Asserting deliveries"):
 * `notimock wait`, `list`, `reset` and `cursor` talk to a running notimock
 * over HTTP(S) with libevent's HTTP client.
 *
 * Each takes argv from its command word on and returns the exit status:
 * 0 success, 1 (wait only) timed out, 2 usage, connection or server errors.
 */
#ifndef NOTIMOCK_CLIENT_H
#define NOTIMOCK_CLIENT_H

int	client_wait(int argc, char **argv);
int	client_list(int argc, char **argv);
int	client_reset(int argc, char **argv);
int	client_cursor(int argc, char **argv);
/* `notimock ready`: 0 ready, 1 answered but not ready, 2 usage/connection. */
int	client_ready(int argc, char **argv);
/* `notimock ca`: print the running server's CA (GET /mock/ca.pem). */
int	client_ca(int argc, char **argv);
/* The CA PEM of the server at url (GET /mock/ca.pem), for other commands;
 * caller frees.  NULL after printing why, as "notimock <name>: ...". */
char	*client_get_ca(const char *name, const char *url, const char *cacert,
	    const char *token);
/* `notimock fault add | list | clear`: /mock/faults (fault.c). */
int	client_fault(int argc, char **argv);

#endif
