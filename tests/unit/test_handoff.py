"""Event streams taken over by the gevent server's writer (app/api/handoff.py), on real socket pairs.

The writer sends what the hub's reader hands it with non-blocking sends; these tests drive it as the reader
and the heartbeat would, and read what a client would receive.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import fakeredis
import gevent
import pytest
from gevent import socket as gsocket

from app.api import handoff
from app.api.handoff import Outlets
from app.api.sse import KEEPALIVE, PREAMBLE, StreamBody, encoder
from app.models import ChangeEvent
from app.services.hub import EventHub
from app.services.realtime import Burst, Cursor, Feed
from app.store.events import EventStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(entry_id: str, status: str = "running", job_id: str = "a") -> ChangeEvent:
    return ChangeEvent(entry_id, job_id, "q1", status, None, None, T0)


def render(item: Any) -> bytes:
    return f"id: {item.entry_id}\ndata: {item.status}\n\n".encode()


class FakeReq:
    def __init__(self, version: tuple[int, int]) -> None:
        self.version = version


class FakeResp:
    """What the writer uses of gunicorn's Response: status, version, force_close, chunked, write."""

    def __init__(self, sock: Any, status: str = "200 OK", version: tuple[int, int] = (1, 1)) -> None:
        self.sock, self.status, self.req = sock, status, FakeReq(version)
        self.chunked = version >= (1, 1)
        self.closing = False

    def force_close(self) -> None:
        self.closing = True

    def write(self, data: bytes) -> None:
        self.sock.sendall(b"HEAD\r\n\r\n" + (b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data))


@pytest.fixture
def hub():
    hub = EventHub(EventStore(fakeredis.FakeRedis()), block_ms=50)
    yield hub
    hub.stop()


class Client:
    """The client's end of a socket pair, reading without blocking the test for long."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(2)

    def read(self, at_least: int = 1) -> bytes:
        data = b""
        while len(data) < at_least:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data

    def read_all(self) -> bytes:
        data = b""
        while chunk := self.sock.recv(65536):
            data += chunk
        return data


def open_stream(
    hub: EventHub, outlets: Outlets, head: list[Any], closes: bool = True, sndbuf: int = 0, **resp: Any
):
    """A subscribed job feed answered as the app would, taken over by `outlets`: (client, feed)."""
    sub = hub.subscribe_job("a")
    feed = Feed(sub, iter(head), head, Cursor("1-0", closes=closes))
    body = StreamBody(iter([PREAMBLE]), feed, encoder(render))
    server_end, client_end = gsocket.socketpair()
    if sndbuf:
        server_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    assert outlets.adopt(body, FakeResp(server_end, **resp), server_end)
    return Client(socket.socket(fileno=client_end.detach())), feed


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def test_a_taken_over_stream_gets_its_head_then_each_batch_as_one_chunk(hub):
    outlets = Outlets(heartbeat_s=15, limit=10)
    client, feed = open_stream(hub, outlets, [event("1-0", "pending")])
    assert client.read() == b"HEAD\r\n\r\n" + chunk(PREAMBLE + b"id: 1-0\ndata: pending\n\n")
    assert feed.sub.sink is not None and len(outlets) == 1

    hub.dispatch([event("2-0"), event("3-0"), event("2-0", job_id="b")], [])
    assert client.read() == chunk(b"id: 2-0\ndata: running\n\nid: 3-0\ndata: running\n\n")
    hub.dispatch([event("3-0")], [])  # already sent: nothing goes out
    hub.dispatch([event("4-0", "completed")], [])
    # The final event, the terminating chunk, then the server closes; the subscription is gone.
    assert client.read_all() == chunk(b"id: 4-0\ndata: completed\n\n") + b"0\r\n\r\n"
    assert len(outlets) == 0 and hub.subscriptions == 0
    assert getattr(feed.sub.sink, "__self__", None) is None  # no outlet <-> subscription cycle left for gc


def test_events_that_came_before_the_takeover_go_out_first_in_order(hub):
    outlets = Outlets(heartbeat_s=15, limit=10)
    sub = hub.subscribe_job("a")
    hub.dispatch([event("2-0")], [])  # reaches the inbox while the request greenlet still has the stream
    feed = Feed(sub, iter(()), [], Cursor("1-0", closes=True))
    server_end, client_end = gsocket.socketpair()
    outlets.adopt(StreamBody(iter(()), feed, encoder(render)), FakeResp(server_end), server_end)
    hub.dispatch([event("3-0")], [])
    client = Client(socket.socket(fileno=client_end.detach()))
    expected = b"HEAD\r\n\r\n" + chunk(PREAMBLE) + chunk(b"id: 2-0\ndata: running\n\n")
    expected += chunk(b"id: 3-0\ndata: running\n\n")
    assert client.read(len(expected)) == expected


def test_an_http_1_0_stream_is_not_chunked_and_ends_by_closing(hub):
    outlets = Outlets(heartbeat_s=15, limit=10)
    client, _ = open_stream(hub, outlets, [], version=(1, 0))
    hub.dispatch([event("2-0", "failed")], [])
    assert client.read_all() == b"HEAD\r\n\r\n" + PREAMBLE + b"id: 2-0\ndata: failed\n\n"


def test_streams_it_cannot_take_are_left_to_their_greenlet(hub):
    outlets = Outlets(heartbeat_s=15, limit=1)
    server_end, _ = gsocket.socketpair()

    def body(cursor: Cursor | None) -> StreamBody:
        return StreamBody(iter(()), Feed(hub.subscribe_job("a"), iter(()), [], cursor), encoder(render))

    assert not outlets.adopt(body(None), FakeResp(server_end), server_end)  # a log feed: no cursor
    assert not outlets.adopt(body(Cursor("1-0", True)), FakeResp(server_end, status="500 X"), server_end)
    assert not outlets.adopt(body(Cursor("1-0", True)), FakeResp(server_end), socket.socket())  # not gevent's
    assert not outlets.adopt(body(Cursor("1-0", True)), FakeResp(server_end, version=(2, 0)), server_end)
    open_stream(hub, outlets, [])
    assert not outlets.adopt(body(Cursor("1-0", True)), FakeResp(server_end), server_end)  # at the limit


def test_heartbeats_go_to_idle_streams_only_and_find_clients_that_left(hub):
    now = [100.0]
    outlets = Outlets(heartbeat_s=10, limit=10, clock=lambda: now[0])
    idle, _ = open_stream(hub, outlets, [], closes=False)
    idle.read()
    gone, gone_feed = open_stream(hub, outlets, [], closes=False)
    gone.read()
    gone.sock.close()
    now[0] += 5
    busy, _ = open_stream(hub, outlets, [], closes=False)
    busy.read()
    now[0] += 6  # idle (and gone) for 11 s, busy for 6 s
    outlets.beat()
    assert idle.read() == chunk(KEEPALIVE)
    busy.sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        busy.read()
    assert len(outlets) == 2 and gone_feed.sub.closed  # noticed at its first heartbeat, not at a failed write


def test_a_stream_whose_client_went_is_closed_at_the_next_write(hub):
    outlets = Outlets(heartbeat_s=15, limit=10)
    client, feed = open_stream(hub, outlets, [], closes=False)
    client.sock.close()
    for n in range(2, 5):  # the first send may still succeed (the peer answers it with a reset)
        hub.dispatch([event(f"{n}-0")], [])
    assert len(outlets) == 0 and feed.sub.closed


def test_a_slow_client_is_caught_up_as_it_reads(hub):
    outlets = Outlets(heartbeat_s=15, limit=10)
    client, _ = open_stream(hub, outlets, [], closes=False, sndbuf=4096)
    client.read()
    big = "x" * 8_000
    batches = [ChangeEvent(f"{n}-0", "a", "q1", big, None, None, T0) for n in range(2, 30)]
    for e in batches:
        hub.dispatch([e], [])  # never blocks, whatever the client does
    outlet = next(iter(outlets._open))
    assert outlet.pending  # the socket did not take it all
    received = b""
    while received.count(b"data: ") < len(batches):
        assert outlets._open, "cut off"
        gevent.sleep(0.01)  # the flusher greenlet runs
        received += client.sock.recv(1 << 20)
    assert [line for line in received.split(b"\n") if line.startswith(b"id: ")] == [
        f"id: {n}-0".encode() for n in range(2, 30)
    ]


def test_a_client_too_far_behind_is_cut_off_and_reconnects(hub, monkeypatch):
    monkeypatch.setattr(handoff, "MAX_PENDING", 50_000)
    outlets = Outlets(heartbeat_s=15, limit=10)
    client, feed = open_stream(hub, outlets, [], closes=False)
    outlet = next(iter(outlets._open))
    big = "x" * 20_000
    for n in range(2, 200):
        hub.dispatch([ChangeEvent(f"{n}-0", "a", "q1", big, None, None, T0)], [])
        if feed.sub.closed:
            break
    assert feed.sub.closed and len(outlets) == 0
    assert outlet.flusher is not None  # it still waits on the socket: the socket stays open until it stops
    gevent.sleep(0.05)
    assert outlet.flusher is None and outlet.sock.fileno() == -1


def test_a_client_that_takes_nothing_is_cut_off_after_the_stall_time(hub, monkeypatch):
    monkeypatch.setattr(handoff, "STALL_S", 0.2)
    outlets = Outlets(heartbeat_s=15, limit=10)
    client, feed = open_stream(hub, outlets, [], closes=False)
    n = 2
    while not next(iter(outlets._open)).pending:
        hub.dispatch([ChangeEvent(f"{n}-0", "a", "q1", "x" * 20_000, None, None, T0)], [])
        n += 1
    outlet = next(iter(outlets._open))
    gevent.sleep(0.5)
    assert feed.sub.closed and len(outlets) == 0 and outlet.sock.fileno() == -1


def test_draining_ends_taken_over_streams_with_the_terminating_chunk(hub):
    outlets = Outlets(heartbeat_s=15, limit=10)
    client, feed = open_stream(hub, outlets, [], closes=False)
    hub.drain()
    assert client.read_all() == b"HEAD\r\n\r\n" + chunk(PREAMBLE) + b"0\r\n\r\n"
    assert feed.sub.closed and len(outlets) == 0
    late, _ = open_stream(hub, outlets, [event("1-0", "pending")])  # taken over while draining: ends at once
    assert late.read_all().endswith(b"0\r\n\r\n")


def test_a_burst_from_the_head_leaves_in_the_first_write(hub):
    outlets = Outlets(heartbeat_s=15, limit=10)
    client, _ = open_stream(hub, outlets, [Burst([event("1-0"), event("2-0")])], closes=False)
    assert client.read() == b"HEAD\r\n\r\n" + chunk(
        PREAMBLE + b"id: 1-0\ndata: running\n\nid: 2-0\ndata: running\n\n"
    )
