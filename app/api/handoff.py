"""Event streams taken over from their request greenlet: the gevent server's writer sends them.

A waiting event stream used to hold a greenlet with its stacks, gunicorn's request objects and a timer:
about 26 KB per open stream (docs/benchmarks.md), 50 MB for 2,000 of them. Here, once the app has answered
with a live change feed, the gevent worker (app/api/serving.py) sends the response head, the preamble and
the feed's head from the request's greenlet as usual, then gives the socket to the process's `Outlets`. The
greenlet ends. From then on the event hub's reader hands each batch straight to the stream's `Outlet`
(the subscription's `sink`), which renders it and sends it with one non-blocking send: no wake-up, no
greenlet switch, 3-4 KB per open stream (`python -m bench.stream_memory`).

What a greenlet used to do for a stream, an outlet does too:
- heartbeats: every quarter of the heartbeat interval one greenlet visits the outlets and sends a keep-alive
  comment to those idle for a whole interval, after a peek that notices a client that has gone (EOF);
- slow clients: what the socket does not take at once waits in a buffer that one greenlet per lagging
  client flushes; a client more than MAX_PENDING bytes or STALL_S seconds behind is cut off, and its
  EventSource reconnects with Last-Event-ID and misses nothing (the change stream keeps the history);
- the end: a job stream ends after its final event, every stream when the process drains (SIGTERM), with
  the terminating chunk, as before;
- the limit: at most `limit` streams are taken over (gunicorn's worker_connections); beyond it a stream
  stays with its greenlet, inside gunicorn's own connection limit.

Only plain HTTP/1.x sockets are taken over (not TLS, not HTTP/2); log-follow streams and long polls, which
read Redis as they go, keep their greenlet.
"""

from __future__ import annotations

import _socket
import logging
import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent import socket as gsocket

from app.api.sse import KEEPALIVE, PREAMBLE, StreamBody

log = logging.getLogger(__name__)

MAX_PENDING = 256 * 1024  # bytes a client may lag before it is cut off (it reconnects, missing nothing)
STALL_S = 30.0  # a client that takes no byte for this long is cut off
BEAT_SLICE = 64  # outlets visited by the heartbeat between two pauses for ready requests
TERMINATOR = b"0\r\n\r\n"


def _no_pause() -> None:
    pass


def _discard(items: list[Any]) -> None:
    pass


class Outlet:
    """One event stream after its greenlet has gone: the socket, the subscription and cursor of its feed, and
    what is still unsent."""

    __slots__ = (
        "outlets", "sock", "sub", "cursor", "encode", "chunked", "pending", "flusher", "last_write",
        "closing", "closed",
    )  # fmt: skip

    def __init__(self, outlets: Outlets, sock: Any, body: StreamBody, chunked: bool) -> None:
        # Only what later batches need: the feed itself (its head, its unstarted generator) can go.
        assert body.feed.cursor is not None
        self.outlets, self.sock, self.sub, self.cursor = outlets, sock, body.feed.sub, body.feed.cursor
        self.encode, self.chunked = body.encode, chunked
        self.pending: bytearray | None = None  # set while the client lags: the flusher greenlet sends it
        self.flusher: Any = None  # that greenlet; while it runs, it owns the socket (it waits on it)
        self.last_write = outlets.clock()
        self.closing = self.closed = False

    # --- called by the event hub's reader (the subscription's sink): must never block ------------------
    def deliver(self, items: list[Any]) -> None:
        if self.closing:
            return
        if items:
            data = b"".join(map(self.encode, self.cursor.step(items)))
            if data:
                self.write(data)
            if self.cursor.done:
                self.finish()
                return
        if (
            self.sub.ended or self.sub.overflowed
        ):  # the process drains, or the inbox overflowed before takeover
            self.finish()

    def write(self, data: bytes) -> None:
        if self.chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self._send(data)

    def finish(self) -> None:
        """End the response (the terminating chunk) and close once everything has gone out."""
        if self.closing:
            return
        self.closing = True
        if self.chunked:
            self._send(TERMINATOR)
        if self.pending is None:
            self.close()

    def heartbeat(self, now: float) -> None:
        """A keep-alive comment after a heartbeat interval without a write, unless the client has gone."""
        if self.closing or self.pending is not None or now - self.last_write < self.outlets.heartbeat_s:
            return
        try:
            if self.sock.recv(1, _socket.MSG_PEEK) == b"":
                self.close()  # the client closed its end: no need to wait for a failing write
                return
        except BlockingIOError:
            pass  # nothing to read: the usual case
        except OSError:
            self.close()
            return
        self.write(KEEPALIVE)

    # --- sending -----------------------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        if self.closed:
            return
        if self.pending is not None:
            self.pending += data
            if len(self.pending) > MAX_PENDING:
                log.warning("event stream cut off: the client is %d bytes behind", len(self.pending))
                self.close()
            return
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:  # the client has gone
            self.close()
            return
        self.last_write = self.outlets.clock()
        if sent < len(data):
            self.pending = bytearray(data[sent:])
            self.flusher = gevent.spawn(self._flush)

    def _flush(self) -> None:
        """A greenlet, only while the client lags: send what waits as the socket takes it."""
        try:
            while self.pending and not self.closed:
                gsocket.wait_write(self.sock.fileno(), timeout=STALL_S)
                sent = self.sock.send(self.pending)
                del self.pending[:sent]
                self.last_write = self.outlets.clock()
        except TimeoutError:
            log.warning("event stream cut off: the client took nothing for %.0f s", STALL_S)
            self.close()
        except OSError:  # the client has gone
            self.close()
        else:
            if not self.closed:
                self.pending = None  # caught up
                if self.closing:
                    self.close()
        finally:
            self.flusher = None

    def close(self) -> None:
        """Release the stream: unsubscribe, and close the socket, at once or (while the flusher waits on it)
        as soon as the flusher has stopped waiting."""
        if not self.closed:
            self.closed = self.closing = True
            self.outlets.discard(self)
            self.sub.close()
            self.sub.sink = _discard  # no cycle left between the two: refcounting frees both
        flusher = self.flusher
        if flusher is not None and flusher is not gevent.getcurrent():
            flusher.rawlink(self._released)  # runs once it is dead, even if killed before it ever ran
            flusher.kill(block=False)
        else:
            self.sock.close()

    def _released(self, flusher: Any) -> None:
        self.flusher = None
        self.sock.close()


class Outlets:
    """The event streams a gevent API process has taken over, and the heartbeat that visits them."""

    def __init__(
        self,
        heartbeat_s: float,
        limit: int,
        pause: Callable[[], None] = _no_pause,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.heartbeat_s, self.limit, self.pause, self.clock = heartbeat_s, limit, pause, clock
        self._open: set[Outlet] = set()
        self._beating: Any = None

    def __len__(self) -> int:
        return len(self._open)

    def adopt(self, body: StreamBody, resp: Any, sock: Any) -> bool:
        """Take over the stream `body` answered with; False (and nothing done) when it can't be.

        Called in the request's greenlet with gunicorn's response `resp` for `sock`: sends the head and the
        first bytes (blocking, as gunicorn would), then detaches the socket from gunicorn.
        """
        feed = body.feed
        if feed.cursor is None or type(sock) is not gsocket.socket or len(self._open) >= self.limit:
            return False
        if not str(resp.status).startswith("200") or resp.req.version not in ((1, 0), (1, 1)):
            return False
        resp.force_close()  # the connection ends with the stream
        try:
            resp.write(PREAMBLE + b"".join(map(body.encode, feed.head)))
        except BaseException:
            feed.close()
            raise
        raw = _socket.socket(fileno=sock.detach())
        raw.setblocking(False)
        outlet = Outlet(self, raw, body, resp.chunked)
        self._open.add(outlet)
        items = feed.sub.attach(outlet.deliver)
        outlet.deliver(items)  # what came since the feed was read; finishes at once if the process drains
        if self._beating is None:
            self._beating = gevent.spawn(self._beat)
        return True

    def discard(self, outlet: Outlet) -> None:
        self._open.discard(outlet)

    def _beat(self) -> None:
        while True:
            gevent.sleep(self.heartbeat_s / 4)
            try:
                self.beat()
            except Exception:  # keep beating: a bug here must not end keep-alives for the process
                log.exception("event streams: heartbeat failed")

    def beat(self) -> None:
        """One visit: a keep-alive to every outlet idle for a whole interval."""
        now = self.clock()
        for n, outlet in enumerate(list(self._open)):
            if n and n % BEAT_SLICE == 0:
                self.pause()
            outlet.heartbeat(now)
