"""
An Argo CD-shaped sender for the fault tests: the notifications webhook
service's client as go-retryablehttp drives it (hashicorp/go-retryablehttp,
client.go: DefaultRetryPolicy, DefaultBackoff), with the waits shortened.

- up to 1 + retry_max attempts, each on a new connection, each the very
  same bytes (method, URL, headers, body);
- retry on a connection error (refused, reset, closed without an answer,
  timed out), on 429, and on 5xx except 501;
- wait min * 2**attempt, capped at max, between attempts, except that a
  429 or 503 with a numeric Retry-After waits that many seconds.

Standard library only.
"""

import http.client
import socket
import time


class Attempt:
    """What one attempt saw: status (None: connection error), error
    text, Retry-After, and when it started and ended (monotonic)."""

    def __init__(self, started):
        self.started = started
        self.ended = None
        self.status = None
        self.error = None
        self.retry_after = None
        self.body = None

    def __repr__(self):
        return "Attempt(status=%r, error=%r)" % (self.status, self.error)


def retryable(a):
    if a.status is None:
        return True
    return a.status == 429 or (a.status >= 500 and a.status != 501)


def backoff(a, n, wait_min, wait_max):
    """The wait after attempt number n (0-based), DefaultBackoff's way."""
    if a.status in (429, 503) and a.retry_after is not None:
        try:
            return float(int(a.retry_after))
        except ValueError:
            pass
    return min(wait_max, wait_min * (2 ** n))


def send(host, port, path, body, token, retry_max=3, wait_min=0.05,
         wait_max=0.2, timeout=10.0, user_agent="Go-http-client/1.1"):
    """POST body (bytes) as Argo CD's webhook service does (no
    Content-Type unless configured); returns the list of Attempts."""
    attempts = []
    for n in range(retry_max + 1):
        a = Attempt(time.monotonic())
        attempts.append(a)
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.putrequest("POST", path, skip_accept_encoding=True)
            conn.putheader("User-Agent", user_agent)
            conn.putheader("Content-Length", str(len(body)))
            conn.putheader("Authorization", "Bearer " + token)
            conn.putheader("Content-Type", "application/json")
            conn.endheaders()
            conn.send(body)
            resp = conn.getresponse()
            a.status = resp.status
            a.retry_after = resp.getheader("Retry-After")
            a.body = resp.read()
        except (OSError, http.client.HTTPException) as e:
            a.error = "%s: %s" % (type(e).__name__, e)
        finally:
            conn.close()
            a.ended = time.monotonic()
        if not retryable(a) or n == retry_max:
            break
        time.sleep(backoff(a, n, wait_min, wait_max))
    return attempts
