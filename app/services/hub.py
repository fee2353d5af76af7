"""One shared reader of the change stream per process, fanning events out to the requests waiting in it.

Every long poll, event stream and log follower of an API process subscribes here; a single background
thread blocks in XREAD on the change stream (and the log feed) and hands each entry to the subscriptions
that want it. Redis sees one blocked reader per process however many clients wait. The code uses plain
`threading` primitives, which gunicorn's gevent worker turns into greenlet-friendly ones.

A batch read from Redis wakes each subscription once, with all its entries (a stream writes them in one
go), and the wake-ups go out in small groups with a `pause` between them, in which the gevent server lets
ready requests run first: a fan-out to a hundred streams does not hold up a plain GET for its duration.
The pauses of one batch wait `pause_budget_s` in all; after that each lets ready requests in for at most
PAUSE_FLOOR_S. The next batch is read only once this one is out, so an unbounded fan-out would delay the
next change for everyone (traced: 4 pauses of up to 10 ms each, fan-out p99 18 ms, docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from redis.exceptions import RedisError

from app import keys
from app.models import ChangeEvent
from app.store.events import EventStore, LogNotice

log = logging.getLogger(__name__)
Item = ChangeEvent | LogNotice


PAUSE_FLOOR_S = 0.0005  # the longest a pause waits once its batch's pause budget is spent


def _no_pause(max_s: float) -> None:
    pass


class Subscription:
    """The inbox of one waiting request: events for one job, or for every job of some queues."""

    __slots__ = (
        "hub", "job_id", "queues", "logs", "capacity", "first", "overflowed", "_items", "_ready", "sink",
        "closed", "ended",
    )  # fmt: skip

    def __init__(
        self,
        hub: EventHub,
        job_id: str | None,
        queues: frozenset[str] | None,
        logs: bool,
        capacity: int,
        first: bool = False,
    ) -> None:
        self.hub, self.job_id, self.queues, self.logs = hub, job_id, queues, logs
        self.capacity = capacity
        self.first = first  # woken before the others of a batch (a long poll: it still has a read to make)
        self.overflowed = False  # items were dropped: the consumer must resynchronise
        self._items: deque[Item] = deque()
        self._ready: threading.Event | None = threading.Event()  # None once a sink has taken over
        # Set once a server's writer has taken the request over: items go straight to it, from the reader.
        self.sink: Callable[[list[Item]], None] | None = None
        self.closed = False
        self.ended = False  # the process is stopping: the request should answer and go

    def wants(self, event: ChangeEvent) -> bool:
        return self.queues is None or event.queue in self.queues

    def push_all(self, items: list[Item]) -> None:
        """Called by the reader thread; never blocks (a full inbox drops its oldest item). Several items,
        one wake-up (the consumer takes them together)."""
        if self.sink is not None:
            self.sink(items)
            return
        for item in items:
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self.overflowed = True
            self._items.append(item)
        if self._ready is not None:
            self._ready.set()

    def take(self, timeout_s: float) -> list[Item]:
        """Everything received so far, waiting up to `timeout_s` for the first item; [] on timeout."""
        ready = self._ready
        if ready is not None:
            if not self._items and not self.ended:
                ready.wait(max(0.0, timeout_s))
            ready.clear()  # clear before draining: an item pushed meanwhile sets it again
        items = []
        while self._items:
            items.append(self._items.popleft())
        return items

    def attach(self, sink: Callable[[list[Item]], None]) -> list[Item]:
        """From now on hand every item to `sink` (called from the reader; it must never block); returns the
        items received so far, which the caller handles first. No yield in between: nothing is reordered.
        The inbox's event is not needed any more and goes (about 2 KB per stream taken over)."""
        items = self.take(0) if self._items else []
        self.sink, self._ready = sink, None
        return items

    def end(self) -> None:
        self.ended = True
        if self.sink is not None:
            self.sink([])  # the sink sees `ended` and finishes
        elif self._ready is not None:
            self._ready.set()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.hub.unsubscribe(self)


class EventHub:
    """The per-process reader: started on first use, reading on from where it was after a Redis outage."""

    def __init__(
        self,
        store: EventStore,
        block_ms: int = 1000,
        batch: int = 1000,
        capacity: int = 1000,
        retry_s: float = 1.0,
        wake_group: int = 4,
        sink_budget_s: float = 0.0005,
        pause_budget_s: float = 0.004,
    ) -> None:
        self.store = store
        self.block_ms, self.batch, self.capacity, self.retry_s = block_ms, batch, capacity, retry_s
        self.wake_group, self.sink_budget_s, self.pause_budget_s = wake_group, sink_budget_s, pause_budget_s
        # Called between two groups of wake-ups with the longest it may wait; the gevent server sets one that
        # waits for ready requests (app/api/serving.py), so a fan-out to thousands of streams never holds up
        # a plain GET for long, nor the next change for long.
        self.pause: Callable[[float], None] = _no_pause
        self._lock = threading.Lock()
        self._by_job: dict[str, set[Subscription]] = {}
        self._all: set[Subscription] = set()
        self._positions: dict[str, str] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.draining = False
        self.reads = 0
        self.delivered = 0

    # --- subscriptions ---------------------------------------------------------------------------------
    def subscribe_job(self, job_id: str, logs: bool = False, first: bool = False) -> Subscription:
        """Events of one job (and its log notices with `logs`), from now on; `first`: woken before the
        other subscriptions of a batch."""
        sub = Subscription(self, job_id, None, logs, self.capacity, first)
        self._add(sub)
        return sub

    def subscribe_all(self, queues: Iterable[str] | None = None) -> Subscription:
        """Events of every job (of `queues` only, when given), from now on."""
        sub = Subscription(
            self, None, frozenset(queues) if queues is not None else None, False, self.capacity
        )
        self._add(sub)
        return sub

    def _add(self, sub: Subscription) -> None:
        self.start()  # before the caller reads any state: every later change reaches `sub`
        with self._lock:
            if self.draining:
                sub.end()
            if sub.job_id is None:
                self._all.add(sub)
            else:
                self._by_job.setdefault(sub.job_id, set()).add(sub)

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub.job_id is None:
                self._all.discard(sub)
                return
            subs = self._by_job.get(sub.job_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_job[sub.job_id]

    def drain(self) -> None:
        """The process is stopping: every waiting request answers now (streams close; clients reconnect)."""
        with self._lock:
            self.draining = True
            subs = [*self._all, *(s for group in self._by_job.values() for s in group)]
        for sub in subs:
            sub.end()
        log.info("event hub: ended %d waiting requests (shutting down)", len(subs))

    @property
    def subscriptions(self) -> int:
        with self._lock:
            return len(self._all) + sum(len(s) for s in self._by_job.values())

    # --- fan-out ---------------------------------------------------------------------------------------
    def dispatch(self, events: list[ChangeEvent], notices: list[LogNotice]) -> None:
        """Hand entries read from Redis to the subscriptions that want them, in order, each subscription
        woken once per batch; `pause(max_s)` runs after `wake_group` wake-ups or `sink_budget_s` of sending,
        and may wait `pause_budget_s` in all per batch (then PAUSE_FLOOR_S each time)."""
        inbox = self._inbox(events, notices)
        # Long polls first: each still reads the job and answers, so its round trip overlaps the fan-out.
        # Streams a server's writer has taken over (a `sink`) get their bytes sent right here, which costs
        # far less than a wake-up; they count against a time budget instead of the group size.
        order = sorted(inbox.items(), key=lambda pair: not pair[0].first)
        woken, since, left = 0, time.perf_counter(), self.pause_budget_s
        for n, (sub, items) in enumerate(order):
            if n and (woken >= self.wake_group or time.perf_counter() - since >= self.sink_budget_s):
                paused = time.perf_counter()
                self.pause(max(PAUSE_FLOOR_S, left))
                woken, since = 0, time.perf_counter()
                left -= since - paused
            if sub.sink is None:
                woken += 1
            try:
                sub.push_all(items)
            except Exception:  # one broken consumer must not keep the batch from the others
                log.exception("event hub: delivering to a subscription failed")
        self.delivered += len(events) + len(notices)

    def _inbox(self, events: list[ChangeEvent], notices: list[LogNotice]) -> dict[Subscription, list[Item]]:
        """Each subscription's share of a batch, in order. The subscriptions to all jobs share one list per
        queue filter (read only), so a batch costs one pass per filter, not one per dashboard."""
        inbox: dict[Subscription, list[Item]] = {}
        with self._lock:
            shared: dict[frozenset[str] | None, list[Item]] = {}
            for sub in self._all:
                items = shared.get(sub.queues)
                if items is None:
                    items = shared[sub.queues] = [e for e in events if sub.wants(e)]
                if items:
                    inbox[sub] = items
            for event in events:
                for sub in self._by_job.get(event.job_id, ()):
                    inbox.setdefault(sub, []).append(event)
            for notice in notices:
                for sub in self._by_job.get(notice.job_id, ()):
                    if sub.logs:
                        inbox.setdefault(sub, []).append(notice)
        return inbox

    # --- the reader thread -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the reader unless running; the stream positions are read here, in the caller's thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._positions = self._positions or self.store.tail_ids()
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="jobline-event-hub", daemon=True)
            self._thread.start()
            log.info("event hub: reading %s from %s", keys.EVENTS, self._positions.get(keys.EVENTS))

    def stop(self) -> None:
        self._stopping = True
        thread = self._thread
        if thread is not None:
            thread.join(timeout=self.block_ms / 1000 + 2)

    def _run(self) -> None:
        while not self._stopping:
            try:
                events, notices, self._positions = self.store.read(self._positions, self.block_ms, self.batch)
            except RedisError as e:
                log.warning("event hub: Redis unreachable (%s); reading on in %.0f s", e, self.retry_s)
                time.sleep(self.retry_s)
                continue
            except Exception:  # a bug must not silently end real time for the whole process
                log.exception("event hub: unexpected error; reading on in %.0f s", self.retry_s)
                time.sleep(self.retry_s)
                continue
            self.reads += 1
            if events or notices:
                self.dispatch(events, notices)

    def stats(self) -> dict[str, Any]:
        return {
            "subscriptions": self.subscriptions,
            "reads": self.reads,
            "delivered": self.delivered,
            "position": self._positions.get(keys.EVENTS),
        }
