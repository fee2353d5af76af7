"""Real time for clients: long polls, change feeds (per job or all jobs) and captured job logs.

Every waiting request subscribes to the process's EventHub *before* it reads any state, and reads that
state together with the id of the last change event (one atomic snapshot). Events up to that id are
already in the state and are skipped; every later one reaches the subscription. So nothing is missed
and nothing is counted twice, whatever the interleaving.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from app.errors import NotFoundError
from app.models import ChangeEvent, Job, JobStatus, LogChunk, LogLine
from app.services.hub import EventHub, Subscription
from app.services.jobs import JobService, valid_id
from app.services.shared_reads import SharedReads
from app.store.events import EventStore, entry_key, valid_entry_id
from app.store.logs import LogStore


@dataclass(frozen=True)
class Heartbeat:
    """Nothing happened for a while: the transport should send a keep-alive."""


@dataclass(frozen=True)
class Reset:
    """The client's Last-Event-ID is older than the stream keeps: it should reload, then read on from here."""

    entry_id: str


class Burst(tuple[ChangeEvent, ...]):
    """Several events that reached a subscription together: a transport sends them in one write."""


HEARTBEAT = Heartbeat()
FeedItem = ChangeEvent | LogLine | Heartbeat | Reset | Burst
MaySee = Callable[[str], bool]  # may the caller see jobs of this queue?


def _anyone(queue: str) -> bool:
    return True


def _no_wait(urgent: bool = False, then: Callable[[], Any] | None = None) -> Any:
    return then() if then is not None else None


class Cursor:
    """Where a live change feed stands: the last entry sent, and whether a final event ends it.

    `step` turns the items that reached the subscription into what to send; both transports use it (a
    greenlet iterating the feed, and the gevent server's writer once it has taken the stream over).
    """

    __slots__ = ("last_id", "closes", "done")

    def __init__(self, last_id: str, closes: bool) -> None:
        self.last_id, self.closes, self.done = last_id, closes, False

    def step(self, items: list[Any]) -> list[Any]:
        """The fresh events among `items`, as one item (a Burst when several) or none; sets `done` after a
        final one when the feed closes."""
        fresh = _fresh(items, self.last_id, self.closes)
        if fresh:
            self.last_id = fresh[-1].entry_id
            self.done = self.closes and fresh[-1].final
        return _together(fresh)


class Feed:
    """An open stream of items for one client; iterate it, and close it when the client goes.

    A live change feed also exposes its parts: `head` (what to send at once) and `cursor` (where it
    stands), so a server may deliver the rest without a greenlet per client (app/api/handoff.py).
    """

    def __init__(
        self,
        sub: Subscription,
        items: Iterator[Any],
        head: list[Any] | None = None,
        cursor: Cursor | None = None,
    ) -> None:
        self.sub, self._items = sub, items
        self.head, self.cursor = head or [], cursor
        self.ended = False  # nothing to send, ever: the client saw the end before it reconnected

    @classmethod
    def finished(cls, sub: Subscription) -> Feed:
        sub.close()
        feed = cls(sub, iter(()))
        feed.ended = True
        return feed

    def __iter__(self) -> Iterator[Any]:
        """Item by item (a Burst's events one after the other)."""
        for item in self._items:
            if isinstance(item, Burst):
                yield from item
            else:
                yield item

    def chunks(self) -> Iterator[Any]:
        """As the items come: events that arrived together stay together in one Burst."""
        return self._items

    def close(self) -> None:
        self.sub.close()
        # ValueError: still running in another thread, where it ends at its next step.
        with contextlib.suppress(ValueError, AttributeError):
            self._items.close()  # type: ignore[attr-defined]


def _after(event: ChangeEvent, entry_id: str) -> bool:
    return entry_key(event.entry_id) > entry_key(entry_id)


def _fresh(items: list[Any], last_id: str, closes: bool) -> list[ChangeEvent]:
    """The change events among `items` that come after `last_id`, up to a final one if `closes`."""
    fresh: list[ChangeEvent] = []
    for item in items:
        if isinstance(item, ChangeEvent) and _after(item, last_id):
            last_id = item.entry_id
            fresh.append(item)
            if closes and item.final:
                break
    return fresh


def _together(events: list[ChangeEvent]) -> list[Any]:
    """Events to send at once: one item (a Burst when several), or none."""
    if len(events) > 1:
        return [Burst(events)]
    return list(events)


class RealtimeService:
    """Long polls, change feeds and logs, all woken by the process's one shared stream reader."""

    def __init__(
        self,
        jobs: JobService,
        events: EventStore,
        logs: LogStore,
        hub: EventHub,
        heartbeat_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        log_batch: int = 500,
    ) -> None:
        self.jobs, self.events, self.logs, self.hub = jobs, events, logs, hub
        self.heartbeat_s, self.clock, self.log_batch = heartbeat_s, clock, log_batch
        # Lets ready requests go first, where many waiting requests wake together; the gevent server sets
        # one (app/api/serving.py), elsewhere there is nothing to wait for.
        self.wait_turn: Callable[..., Any] = _no_wait  # returns what its `then` returns
        self.woken_reads = SharedReads()  # the polls woken by one change read their job once

    def _open(
        self, job_id: str, may_see: MaySee, logs: bool = False, first: bool = False
    ) -> tuple[Subscription, ChangeEvent]:
        """Subscribe to a job, then read its state; NotFoundError (and no subscription) when not visible.

        A job's watchers come together (its streams reconnect when it ends, its polls when it changes), so
        the read and what follows it each wait their turn: ready requests go first."""
        if not valid_id(job_id):
            raise NotFoundError("Job not found")
        sub = self.hub.subscribe_job(job_id, logs=logs, first=first)
        try:
            self.wait_turn()
            state = self.events.state(job_id)
        except BaseException:
            sub.close()
            raise
        if state is None or not may_see(state.queue):
            sub.close()
            raise NotFoundError("Job not found")
        self.wait_turn()
        return sub, state

    # --- long poll -------------------------------------------------------------------------------------
    def poll(
        self, job_id: str, timeout_s: float, current: JobStatus | None, may_see: MaySee = _anyone
    ) -> Job:
        """The job once its status differs from `current` (at once if it does already), or at the timeout."""
        sub, state = self._open(job_id, may_see, first=True)
        try:
            if current is not None and state.status == current:
                self._wait_for_change(sub, state, current, timeout_s)
                # Woken with the other watchers of the job: requests that are ready go first, then it reads
                # the job in the same turn (app/api/serving.py: the gevent server) and answers; the polls
                # woken with it share that read. NotFoundError when the change was its deletion.
                with self.woken_reads.want(job_id) as read:
                    job: Job = self.wait_turn(urgent=True, then=lambda: read(lambda: self.jobs.get(job_id)))
                return job
            return self.jobs.get(job_id)
        finally:
            sub.close()

    def _wait_for_change(self, sub: Subscription, state: ChangeEvent, current: str, timeout_s: float) -> None:
        deadline = self.clock() + timeout_s
        while (left := deadline - self.clock()) > 0 and not sub.ended:
            for item in sub.take(left):
                if isinstance(item, ChangeEvent) and _after(item, state.entry_id) and item.status != current:
                    return

    # --- change feeds ----------------------------------------------------------------------------------
    def job_feed(self, job_id: str, last_event_id: str | None = None, may_see: MaySee = _anyone) -> Feed:
        """The job's state at once (or what the client missed since `last_event_id`), then every change."""
        sub, state = self._open(job_id, may_see)
        replay = None
        if valid_entry_id(last_event_id) and entry_key(last_event_id or "") <= entry_key(state.entry_id):
            replay = self.events.since(last_event_id or "", state.entry_id, job_id)
            if replay.complete and not replay.events and state.final:
                return Feed.finished(sub)
        if replay is None or not replay.complete:
            head: list[Any] = [state]
        else:
            head = _together(replay.events)  # all of them: a retried job may have ended more than once
        if state.final:
            sub.close()  # nothing can follow
            return Feed(sub, iter(head))
        return self._live_feed(sub, head, Cursor(state.entry_id, closes=True))

    def all_feed(self, queues: frozenset[str] | None, last_event_id: str | None = None) -> Feed:
        """Every change (of `queues`, when given) from now on, or from `last_event_id` while still kept."""
        sub = self.hub.subscribe_all(queues)
        try:
            last_id = self.events.last_id()
        except BaseException:
            sub.close()
            raise
        replay = None
        if valid_entry_id(last_event_id) and entry_key(last_event_id or "") <= entry_key(last_id):
            replay = self.events.since(last_event_id or "", last_id)
        head: list[Any] = []
        if replay is not None and not replay.complete:
            head = [Reset(last_id)]
        elif replay is not None:
            head = _together([e for e in replay.events if sub.wants(e)])
        return self._live_feed(sub, head, Cursor(last_id, closes=False))

    def _live_feed(self, sub: Subscription, head: list[Any], cursor: Cursor) -> Feed:
        # C-level chaining rather than a generator around _live: a waiting stream's stack stays shallower
        return Feed(sub, chain(head, self._live(sub, cursor)), head, cursor)

    def _live(self, sub: Subscription, cursor: Cursor) -> Iterator[Any]:
        """Events after the cursor as they come (those that came together as one Burst); heartbeats when
        idle; ends after a final one if the cursor closes. Its end closes the subscription."""
        try:
            while True:
                items = sub.take(self.heartbeat_s)
                if sub.overflowed:  # the client reads slower than changes come: catch up from a fresh state
                    sub.overflowed = False
                    items = []
                    cursor.last_id = yield from self._resync(sub, cursor.last_id)
                yield from cursor.step(items)
                if cursor.done or sub.ended:
                    return  # ended, or the process is stopping: the client reconnects with Last-Event-ID
                if not items:
                    yield HEARTBEAT
        finally:
            sub.close()

    def _resync(self, sub: Subscription, last_id: str) -> Generator[Any, None, str]:
        if sub.job_id is None:
            last_id = self.events.last_id()
            yield Reset(last_id)
            return last_id
        state = self.events.state(sub.job_id)
        if state is None:
            return last_id
        yield state
        return state.entry_id

    # --- logs ------------------------------------------------------------------------------------------
    def read_logs(self, job_id: str, offset: int, limit: int) -> LogChunk:
        return self.logs.read(job_id, offset, limit)

    def log_feed(self, job_id: str, offset: int, may_see: MaySee = _anyone) -> Feed:
        """The job's log lines from `offset`, then each new one, until the job has ended."""
        sub, state = self._open(job_id, may_see, logs=True)
        if state.final and not self.logs.read(job_id, offset, 1).lines:
            return Feed.finished(sub)
        return Feed(sub, self._log_items(sub, state, offset))

    def _log_items(self, sub: Subscription, state: ChangeEvent, offset: int) -> Iterator[Any]:
        ended = state.final
        try:
            while True:
                chunk = self.logs.read(state.job_id, offset, self.log_batch)
                yield from chunk.lines
                offset = chunk.next_offset
                if len(chunk.lines) >= self.log_batch:
                    continue
                if ended:
                    return  # the worker stores every line before it reports the end: none can follow
                items = sub.take(self.heartbeat_s)
                if sub.ended:
                    return
                if not items:
                    yield HEARTBEAT
                ended = any(
                    isinstance(i, ChangeEvent) and _after(i, state.entry_id) and i.final for i in items
                )
        finally:
            sub.close()
