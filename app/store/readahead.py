"""Reads that ride in another read's pipeline: a request's auth lookup and its first read, one round trip."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from redis.client import Pipeline

T = TypeVar("T")


class ReadAhead(Generic[T]):
    """One read command queued in someone else's pipeline, and its decoded reply once that pipeline ran.

    The API reads a request's object (say, the job of `GET /jobs/{id}`) in the same round trip as the
    caller's session: under load every round trip is one more wait behind other work. The reply is only
    kept for the request's view; when the auth check fails, nothing of it is shown.
    """

    __slots__ = ("_queue", "_decode", "done", "value")

    def __init__(self, queue: Callable[[Pipeline], Any], decode: Callable[[Any], T]) -> None:
        self._queue, self._decode = queue, decode
        self.done = False
        self.value: T | None = None

    def join(self, pipe: Pipeline) -> None:
        """Queue the read (exactly one command) in `pipe`."""
        self._queue(pipe)

    def take(self, reply: Any) -> None:
        self.value, self.done = self._decode(reply), True


def run_with(pipe: Pipeline, riders: Sequence[ReadAhead[Any]]) -> list[Any]:
    """Execute `pipe` with `riders` queued after its own commands; the own commands' replies."""
    for rider in riders:
        rider.join(pipe)
    replies = pipe.execute()
    own = len(replies) - len(riders)
    for rider, reply in zip(riders, replies[own:], strict=True):
        rider.take(reply)
    return replies[:own]
