"""asyncio HTTP/1.1 clients for the real-time benchmark: SSE readers (per job and /events) and long polls.

Plain sockets and a tiny HTTP/1.1 parser (chunked bodies included), so one process holds thousands of
connections cheaply. Each client records change-to-client latency: receive time minus the change's own
timestamp (Redis's clock at the script that made the change, ms precision, same machine).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

THINK_S = 1.0  # a client opens its next job's stream 0-1 s after the last one ended


def epoch_ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


@dataclass
class Recorder:
    """What the clients saw; latencies only count while `measuring` is on."""

    measuring: bool = False
    sse_ms: list[float] = field(default_factory=list)
    dash_ms: list[float] = field(default_factory=list)
    poll_ms: list[float] = field(default_factory=list)
    # when each latency above was received (epoch ms, same order): the slowest are traced to what the
    # processes were doing then (realtime_bench.slowest)
    sse_at: list[float] = field(default_factory=list)
    dash_at: list[float] = field(default_factory=list)
    poll_at: list[float] = field(default_factory=list)
    # of sse_ms: events received within 1 ms of their stream's head (they reached it while it opened)
    sse_head_ms: list[float] = field(default_factory=list)
    open_ms: list[float] = field(default_factory=list)  # job stream: connect + request -> head received
    poll_timeouts: int = 0
    streams_opened: int = 0
    streams_open: int = 0
    polls_open: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


@dataclass
class Jobs:
    """The benchmark's jobs in queue order; clients walk them with a stride (each job gets its watchers)."""

    ids: list[str]
    stride: int

    def pick(self, index: int) -> tuple[int, str] | None:
        return (index, self.ids[index]) if index < len(self.ids) else None


async def _request(host: str, port: int, path: str, token: str) -> tuple[Any, Any, dict[str, str]]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
    )
    status = await reader.readline()
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    headers[":status"] = status.split()[1].decode() if len(status.split()) > 1 else "0"
    return reader, writer, headers


async def _chunks(reader: Any, headers: dict[str, str]) -> Any:
    """The body as it arrives (chunked transfer encoding undone)."""
    if headers.get("transfer-encoding") != "chunked":
        while data := await reader.read(65536):
            yield data
        return
    while True:
        size = int((await reader.readline()).strip() or b"0", 16)
        if size == 0:
            return
        yield (await reader.readexactly(size + 2))[:-2]


async def read_sse(reader: Any, headers: dict[str, str]) -> Any:
    """(receive time ms, change time ms) per SSE event: the change time is the ms part of the event's id.

    The id is the stream entry id, `<ms>-<seq>`, stamped by Redis when the change was published (the
    `timestamp` field holds the same instant); reading it avoids parsing JSON in this busy client.
    """
    buffer = b""
    async for data in _chunks(reader, headers):
        buffer += data
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            if not block.startswith(b"id: "):
                continue  # comments (keep-alives, the preamble)
            stamp = block[4 : block.index(b"-")]
            yield time.time() * 1000, float(stamp)


async def _watch(
    reader: Any, headers: dict[str, str], asked: float, rec: Recorder, stop: asyncio.Event
) -> None:
    """Read one job stream to its end; the first event is the job's state (its head), not a change."""
    head_at = None
    async for received, changed in read_sse(reader, headers):
        if head_at is None:
            head_at = received
            if rec.measuring:
                rec.open_ms.append(received - asked)
        elif rec.measuring:
            rec.sse_ms.append(received - changed)
            rec.sse_at.append(received)
            if received - head_at < 1.0:
                rec.sse_head_ms.append(received - changed)
        if stop.is_set():
            break


async def job_stream_client(
    host: str, port: int, token: str, jobs: Jobs, start: int, rec: Recorder, stop: asyncio.Event
) -> None:
    """Watch a job's /stream until it ends, then the job `stride` further on; forever until `stop`."""
    index = start
    while not stop.is_set() and (picked := jobs.pick(index)) is not None:
        _, job_id = picked
        try:
            asked = time.time() * 1000
            reader, writer, headers = await _request(host, port, f"/api/v1/jobs/{job_id}/stream", token)
        except OSError:
            rec.error("connect")
            await asyncio.sleep(0.5)
            continue
        if headers[":status"] != "200":
            rec.error(f"stream {headers[':status']}")
            writer.close()
            index += jobs.stride
            await asyncio.sleep(2.0)  # as an EventSource would (retry: 2000)
            continue
        rec.streams_opened += 1
        rec.streams_open += 1
        try:
            await _watch(reader, headers, asked, rec, stop)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            rec.error("stream read")
        finally:
            rec.streams_open -= 1
            writer.close()
        index += jobs.stride
        await asyncio.sleep(random.uniform(0, THINK_S))  # people and programs do not move in lockstep


async def dashboard_client(host: str, port: int, token: str, rec: Recorder, stop: asyncio.Event) -> None:
    """One /events reader for the whole run."""
    reader, writer, headers = await _request(host, port, "/api/v1/events", token)
    rec.streams_open += 1
    try:
        async for received, changed in read_sse(reader, headers):
            if rec.measuring:
                rec.dash_ms.append(received - changed)
                rec.dash_at.append(received)
            if stop.is_set():
                break
    except (OSError, asyncio.IncompleteReadError, ValueError):
        rec.error("events read")
    finally:
        rec.streams_open -= 1
        writer.close()


async def _get_json(reader: Any, writer: Any, host: str, path: str, token: str) -> tuple[int, Any]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, json.loads(await reader.readexactly(length)) if length else None


def _change_ms(job: dict[str, Any]) -> float | None:
    """When the job's status last changed, from its own fields (ms)."""
    stamp = job.get("completedAt") if job["status"] in ("completed", "failed", "canceled") else None
    stamp = stamp or (job.get("startedAt") if job["status"] == "running" else None)
    return epoch_ms(stamp) if stamp else None


async def poll_client(
    host: str, port: int, token: str, jobs: Jobs, start: int, rec: Recorder, stop: asyncio.Event
) -> None:
    """Long-poll a job from status to status until it ends, then the job `stride` further on."""
    reader, writer = await asyncio.open_connection(host, port)
    index = start
    try:
        while not stop.is_set() and (picked := jobs.pick(index)) is not None:
            _, job_id = picked
            status, job = await _get_json(reader, writer, host, f"/api/v1/jobs/{job_id}", token)
            while status == 200 and job["status"] not in ("completed", "failed", "canceled"):
                path = f"/api/v1/jobs/{job_id}/poll?timeout=30&currentStatus={job['status']}"
                rec.polls_open += 1
                before = job["status"]
                status, job = await _get_json(reader, writer, host, path, token)
                rec.polls_open -= 1
                changed = _change_ms(job) if status == 200 and job["status"] != before else None
                if changed is not None and rec.measuring:
                    received = time.time() * 1000
                    rec.poll_ms.append(received - changed)
                    rec.poll_at.append(received)
                elif status == 200 and job["status"] == before:
                    rec.poll_timeouts += 1
                if stop.is_set():
                    return
            index += jobs.stride
            await asyncio.sleep(random.uniform(0, THINK_S))
    except (OSError, asyncio.IncompleteReadError, ValueError):
        rec.error("poll")
    finally:
        writer.close()
