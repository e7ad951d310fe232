/*
 * dispatch.h: the top-level route table (dispatch.c).
 */
#ifndef NOTIMOCK_DISPATCH_H
#define NOTIMOCK_DISPATCH_H

struct req;

/* Hand a parsed request to the module its path belongs to (http_start's
 * app).  reserve: the connection is over --max-connections, so only the
 * health routes answer; everything else gets a 503. */
void	dispatch(struct req *, int reserve);

#endif
