"""
/mock/events: Server-Sent Events of new deliveries for the HTML inbox
(doc/mock-api.md): event: delivery with id: <seq>, Last-Event-ID replay,
heartbeats, reset events, filters, and clean-up when the client leaves.
"""

import time

from mock_helpers import (EventStream, cursor, get_json, mock, ref, send,
                          topic, wait_until)


def streams(srv):
    return get_json(srv, "/mock/cursor")["streams"]


def test_stream_sends_new_deliveries(server):
    base = streams(server)
    es = EventStream(server)
    try:
        assert es.status == 200
        assert es.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert es.headers["cache-control"] == "no-cache"
        assert es.next_block() == "retry: 2000"
        wait_until(lambda: streams(server) == base + 1, what="the stream")
        e = ref("sse")
        t0 = time.monotonic()
        send(server, entity=e, title="live")
        ev = es.next_event()
        print("\nSSE event %.2f ms after sending the POST" %
              ((time.monotonic() - t0) * 1000))
        assert ev["event"] == "delivery"
        assert int(ev["id"]) == ev["json"]["seq"] == cursor(server)
        assert ev["json"]["entities"] == [e]
        assert ev["json"]["title"] == "live"
        # The summary: no headers or body in the stream.
        assert "headers" not in ev["json"] and "body" not in ev["json"]
    finally:
        es.close()
    wait_until(lambda: streams(server) == base, what="the stream's end")


def test_filters_apply_to_the_stream(server):
    t = topic("only")
    es = EventStream(server, {"topic": t})
    try:
        es.next_block()
        send(server, entity=ref("f"), topic=topic("noise"))
        send(server, entity=ref("f"), topic=t, title="wanted")
        ev = es.next_event()
        assert ev["json"]["title"] == "wanted"
    finally:
        es.close()


def test_last_event_id_replays(server):
    since = cursor(server)
    e = ref("replay")
    send(server, entity=e, title="one")
    send(server, entity=e, title="two")
    send(server, entity=e, title="three")
    es = EventStream(server, {"entity": e},
                     headers=[("Last-Event-ID", str(since + 1))])
    try:
        es.next_block()
        got = [es.next_event() for _ in range(2)]
        assert [int(g["id"]) for g in got] == [since + 2, since + 3]
        assert [g["json"]["title"] for g in got] == ["two", "three"]
        send(server, entity=e, title="four")
        assert es.next_event()["json"]["title"] == "four"
    finally:
        es.close()
    # since= does the same for a first connection.
    es = EventStream(server, {"entity": e, "since": since + 2})
    try:
        es.next_block()
        assert es.next_event()["json"]["title"] == "three"
    finally:
        es.close()


def test_heartbeat(server):
    es = EventStream(server, {"heartbeat": "200ms"})
    try:
        es.next_block()
        t0 = time.monotonic()
        assert es.next_event(timeout=5) == {"comment": "heartbeat"}
        assert es.next_event(timeout=5) == {"comment": "heartbeat"}
        assert 0.3 < time.monotonic() - t0 < 3
    finally:
        es.close()


def test_reset_event(own_server):
    srv = own_server()
    send(srv, entity=ref("r"))
    es = EventStream(srv)
    try:
        es.next_block()
        assert mock(srv, "DELETE", "/mock/deliveries").status == 200
        ev = es.next_event()
        assert ev["event"] == "reset"
        assert ev["json"] == {"deleted": 1, "notificationsDeleted": 0,
                              "cursor": 1}
    finally:
        es.close()


def test_shutdown_ends_streams(own_server):
    srv = own_server()
    es = EventStream(srv)
    try:
        es.next_block()
        srv.stop()
        try:
            while True:
                es.next_block(timeout=5)
        except EOFError:
            pass
    finally:
        es.close()


def test_stream_carries_backstage_signals(user_server):
    """Backstage's signals channel 'notifications': new_notification to
    the recipient (null: everyone) with the stored id, and
    notification_read to the user after an update."""
    srv = user_server
    es = EventStream(srv)
    try:
        es.next_block()
        r = send(srv, entity="user:default/alice", title="signalled")
        nid = r.json()[0]["id"]
        got = {}
        while "notifications" not in got:
            ev = es.next_event()
            got[ev["event"]] = ev["json"]
        assert got["notifications"] == {
            "channel": "notifications", "recipient": "user:default/alice",
            "message": {"action": "new_notification",
                        "notification_id": nid}}
        send(srv, broadcast=True, title="to everyone")
        while True:
            ev = es.next_event()
            if ev["event"] == "notifications":
                break
        assert ev["json"]["recipient"] is None
        assert ev["json"]["message"]["action"] == "new_notification"
        u = srv.req("POST", "/api/notifications/notifications/update",
                    '{"ids":["%s"],"read":true}' % nid,
                    [("Content-Type", "application/json")],
                    token=srv.user_token)
        assert u.status == 200
        while True:
            ev = es.next_event()
            if ev["event"] == "notifications":
                break
        assert ev["json"] == {
            "channel": "notifications", "recipient": "user:default/alice",
            "message": {"action": "notification_read",
                        "notification_ids": [nid]}}
    finally:
        es.close()


def test_filters_apply_to_signals(user_server):
    """Filters pass a signal only when they could match one: a stream with
    no filter gets them all, an entity filter those to its user (and
    broadcasts), a filter on deliveries (topic) none (issue 15)."""
    srv = user_server
    t = topic("sig")
    alice, bob = "user:default/alice", "user:default/bob"
    every = EventStream(srv)
    by_topic = EventStream(srv, {"topic": t})
    to_alice = EventStream(srv, {"entity": alice})
    to_bob = EventStream(srv, {"entity": bob})
    streams_ = (every, by_topic, to_alice, to_bob)
    try:
        for es in streams_:
            es.next_block()
        send(srv, entity=alice, topic=t, title="for alice")
        send(srv, broadcast=True, topic=t, title="for everyone")

        def kinds(es, n):
            got = []
            for _ in range(n):
                ev = es.next_event()
                got.append((ev["event"], ev["json"].get("recipient",
                                                        ev["json"].get(
                                                            "title"))))
            return got

        assert kinds(every, 4) == [
            ("notifications", alice), ("delivery", "for alice"),
            ("notifications", None), ("delivery", "for everyone")]
        assert kinds(by_topic, 2) == [("delivery", "for alice"),
                                      ("delivery", "for everyone")]
        assert kinds(to_alice, 3) == [
            ("notifications", alice), ("delivery", "for alice"),
            ("notifications", None)]
        assert kinds(to_bob, 1) == [("notifications", None)]
        # Nothing else is queued: the next event everywhere is this one.
        send(srv, entity=bob, topic=t, title="for bob")
        assert kinds(by_topic, 1) == [("delivery", "for bob")]
        assert kinds(to_bob, 2) == [("notifications", bob),
                                    ("delivery", "for bob")]
    finally:
        for es in streams_:
            es.close()


class _ChunkReader:
    """One raw /mock/events reader: the HTTP chunks of its reply, as they
    came, so that a test can see how the events were written."""

    def __init__(self, srv):
        import socket
        self.sock = socket.create_connection((srv.host, srv.port), timeout=10)
        self.sock.sendall(b"GET /mock/events HTTP/1.1\r\nHost: t\r\n"
                          b"Accept: text/event-stream\r\n\r\n")
        self.sock.setblocking(False)
        self.buf = b""
        self.head = None
        self.chunks = []

    def feed(self):
        try:
            data = self.sock.recv(1 << 16)
        except BlockingIOError:
            return
        assert data, "the server closed a stream"
        self.buf += data
        if self.head is None:
            if b"\r\n\r\n" not in self.buf:
                return
            self.head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            assert self.head.startswith(b"HTTP/1.1 200"), self.head
        while b"\r\n" in self.buf:
            size, rest = self.buf.split(b"\r\n", 1)
            n = int(size, 16)
            if len(rest) < n + 2:
                return
            self.chunks.append(rest[:n].decode())
            self.buf = rest[n + 2:]

    def events(self):
        text = "".join(self.chunks)
        return [b for b in text.split("\n\n") if b.startswith("event: ")]


def test_many_readers_get_every_event_each_commit_in_one_write(own_server):
    """Issue 15: 200 readers taking every event each get all of them, in
    order, exactly once; and a commit's events (the delivery and its
    Backstage signal) reach a reader in one chunk, built once and shared,
    not one write per event per reader (which made POSTs crawl)."""
    import selectors
    srv = own_server()
    readers = [_ChunkReader(srv) for _ in range(200)]
    sel = selectors.DefaultSelector()
    for rd in readers:
        sel.register(rd.sock, selectors.EVENT_READ, rd)
    try:
        wait_until(lambda: streams(srv) == len(readers), what="the streams")
        n = 20
        for i in range(n):
            assert send(srv, broadcast=True, title="to all %d" % i).status \
                == 200
        deadline = time.monotonic() + 60
        while any(len(rd.events()) < 2 * n for rd in readers):
            assert time.monotonic() < deadline, "events missing"
            for key, _ in sel.select(timeout=1):
                key.data.feed()
        for rd in readers:
            evs = rd.events()
            assert len(evs) == 2 * n, evs
            seqs = [int(e.split("\nid: ")[1].split("\n")[0])
                    for e in evs if e.startswith("event: delivery")]
            assert seqs == sorted(seqs) and len(set(seqs)) == n, seqs
            assert sum(e.startswith("event: notifications")
                       for e in evs) == n
            # Each delivery came with its signal: at most one chunk
            # carrying events per delivery, where every event was a
            # chunk of its own before.
            with_events = [c for c in rd.chunks if "event: " in c]
            assert len(with_events) <= n, len(with_events)
    finally:
        sel.close()
        for rd in readers:
            rd.sock.close()


def test_every_kind_of_reader_gets_its_own_share(own_server):
    """Issue 15: a stream with no filter is sent a flush's whole block at
    once, without looking at each event; the others still look.  Readers
    of every kind on one server, sends arriving together (several commits
    per flush): each gets exactly its share, in order, once."""
    import concurrent.futures
    srv = own_server()
    c0 = cursor(srv)
    t = topic("kind")
    plain = [EventStream(srv) for _ in range(40)]
    ahead = EventStream(srv, {"since": c0 + 5})	# since not reached yet
    only = EventStream(srv, {"topic": t})
    # Like the one before but for since: not the same events.
    only_ahead = EventStream(srv, {"topic": t, "since": c0 + 6})
    everyone = plain + [ahead, only, only_ahead]
    try:
        for es in everyone:
            es.next_block()
        wait_until(lambda: streams(srv) == len(everyone), what="the streams")
        n = 12

        def one(i):
            return send(srv, broadcast=True, title="k%d" % i,
                        topic=t if i % 3 == 0 else None).status

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            assert list(pool.map(one, range(n))) == [200] * n
        # A reader that joins late with Last-Event-ID: the replay, then
        # the live events with the others.
        late = EventStream(srv, headers=[("Last-Event-ID", str(c0 + 10))])
        late.next_block()
        assert one(n) == 200
        everyone.append(late)
        seqs = list(range(c0 + 1, c0 + n + 2))

        def deliveries(es, count):
            got = []
            while len(got) < count:
                ev = es.next_event()
                if ev.get("event") == "delivery":
                    got.append(ev)
                else:
                    assert ev.get("event") == "notifications", ev
            return got

        for es in plain:
            evs = []
            while len([e for e in evs if e.get("event") == "delivery"]) \
                    < n + 1:
                evs.append(es.next_event())
            assert [int(e["id"]) for e in evs
                    if e["event"] == "delivery"] == seqs
            assert sum(e["event"] == "notifications" for e in evs) == n + 1
        assert [int(e["id"]) for e in deliveries(ahead, n + 1 - 5)] == \
            seqs[5:]
        # (the sends ran in parallel: which seq each got is not known)
        # k0, k3, k6, k9 and k12 (the late one) have the topic.
        got = [only.next_event() for _ in range(0, n + 1, 3)]
        ids = [int(e["id"]) for e in got]
        assert ids == sorted(set(ids)), ids
        assert sorted(e["json"]["title"] for e in got) == \
            sorted("k%d" % i for i in range(0, n + 1, 3))
        assert all(e["json"]["topic"] == t for e in got)
        got = [only_ahead.next_event() for i in ids if i > c0 + 6]
        assert [int(e["id"]) for e in got] == [i for i in ids if i > c0 + 6]
        assert [int(e["id"]) for e in deliveries(late, 3)] == seqs[10:]
        # Nothing more for anyone: one last send shows up next.
        assert one(100) == 200
        for es in everyone:
            if es in (only, only_ahead):
                continue
            ev = es.next_event()
            while ev.get("event") == "notifications":
                ev = es.next_event()
            assert ev["json"]["title"] == "k100", ev
        # The topic readers: k100 has no topic, so nothing; the server has
        # not sent them anything else either (the next event times out).
        for es in (only, only_ahead):
            try:
                ev = es.next_event(timeout=0.5)
                assert False, ev
            except OSError:
                pass
    finally:
        for es in everyone:
            es.close()
