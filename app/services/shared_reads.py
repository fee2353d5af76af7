"""One read of a key shared by the requests that came to need it at the same time.

When a job changes, its long polls wake together, and each must answer with the job as it is now: read
after the change that woke it. One read that begins after all of them woke serves them all; under the
benchmark's load a woken poll used to queue ~5 ms (p50) behind the polls woken with it, each holding the
turn for its own Redis round trip (docs/benchmarks.md).

A caller says it wants the key (`want`) once it knows it needs a fresh read, then reads through the handle
it got. Every caller holding the same handle gets the one read, which starts only when the first of them
asks for it, so it always begins after each of them wanted it. A caller that wants the key after that read
began gets a new handle (the next read). A failed read is not shared: the others read for themselves.
Handles are not kept once read or released: nothing here grows with the number of jobs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class _Slot:
    """The next read of one key, and the callers waiting for it."""

    __slots__ = ("wanted", "started", "done", "value", "failed")

    def __init__(self) -> None:
        self.wanted = 0
        self.started = self.failed = False
        self.done = threading.Event()
        self.value: Any = None


class SharedReads:
    """Reads shared by the callers that wanted a key before its read began (thread- and greenlet-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, _Slot] = {}  # per key, the read not yet begun

    @contextlib.contextmanager
    def want(self, key: str) -> Iterator[Callable[[Callable[[], T]], T]]:
        """A handle `read(fn)`: the result of one `fn()` begun after this call, shared with other holders."""
        with self._lock:
            slot = self._next.get(key)
            if slot is None:
                slot = self._next[key] = _Slot()
            slot.wanted += 1
        try:
            yield lambda fn: self._read(key, slot, fn)
        finally:
            with self._lock:
                slot.wanted -= 1
                if not slot.wanted and self._next.get(key) is slot:
                    del self._next[key]  # wanted, never read: nobody waits for it

    def _read(self, key: str, slot: _Slot, fn: Callable[[], T]) -> T:
        with self._lock:
            first = not slot.started
            if first:
                slot.started = True
                if self._next.get(key) is slot:
                    del self._next[key]  # later callers want a read begun after theirs: the next one
        if first:
            try:
                slot.value = fn()
            except BaseException:
                slot.failed = True
                raise
            finally:
                slot.done.set()
            return slot.value  # type: ignore[no-any-return]
        slot.done.wait()
        if slot.failed:
            return fn()
        return slot.value  # type: ignore[no-any-return]

    def __len__(self) -> int:
        """Keys with a read wanted and not yet begun."""
        return len(self._next)
