"""SharedReads: the polls woken by one change read their job once, and never a read begun before they woke."""

from __future__ import annotations

import threading
from itertools import count

import pytest

from app.services.shared_reads import SharedReads


def counter() -> tuple[list[int], object]:
    calls: list[int] = []
    numbers = count(1)

    def read() -> int:
        calls.append(1)
        return next(numbers)

    return calls, read


def test_callers_that_wanted_before_the_read_began_share_it():
    reads = SharedReads()
    calls, read = counter()
    with reads.want("job") as first, reads.want("job") as second, reads.want("job") as third:
        assert first(read) == 1
        assert second(read) == 1 and third(read) == 1
    assert len(calls) == 1 and len(reads) == 0


def test_a_caller_that_wants_after_the_read_began_gets_the_next_read():
    reads = SharedReads()
    values = iter([1, 2])
    later: list[int] = []

    def woken_during_the_read() -> None:  # it may miss what woke it: the read began before
        with reads.want("job") as second:
            later.append(second(lambda: next(values)))

    def read_while_a_change_comes() -> int:
        other = threading.Thread(target=woken_during_the_read)
        other.start()
        other.join(2)
        return next(values)

    with reads.want("job") as first:
        assert first(read_while_a_change_comes) == 2
    assert later == [1]  # a read of its own, begun after it wanted one
    assert len(reads) == 0


def test_keys_are_read_apart():
    reads = SharedReads()
    with reads.want("a") as a, reads.want("b") as b:
        assert a(lambda: "A") == "A" and b(lambda: "B") == "B"


def test_a_failed_read_is_not_shared():
    reads = SharedReads()

    def broken() -> int:
        raise ConnectionError("Redis went away")

    with reads.want("job") as first, reads.want("job") as second:
        with pytest.raises(ConnectionError):
            first(broken)
        assert second(lambda: 7) == 7  # read for itself
    assert len(reads) == 0


def test_nothing_is_kept_for_callers_that_left_without_reading():
    reads = SharedReads()
    with reads.want("job"), reads.want("job"):
        assert len(reads) == 1
    assert len(reads) == 0
    with pytest.raises(RuntimeError), reads.want("job"):
        raise RuntimeError("killed while waiting for its turn")
    assert len(reads) == 0


def test_threads_woken_together_read_once():
    reads, n = SharedReads(), 8
    calls, read = counter()
    wanted = threading.Barrier(n)
    release = threading.Event()
    got: list[int] = []

    def slow_read() -> int:
        release.wait(5)
        return read()  # type: ignore[operator]

    def poll() -> None:
        with reads.want("job") as shared:
            wanted.wait(5)  # every one wants it before any reads
            got.append(shared(slow_read))

    threads = [threading.Thread(target=poll) for _ in range(n)]
    for t in threads:
        t.start()
    threading.Timer(0.2, release.set).start()
    for t in threads:
        t.join(10)
    assert got == [1] * n and len(calls) == 1 and len(reads) == 0
