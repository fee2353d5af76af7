"""Real time end to end: gunicorn (`jobline api`) and `jobline worker` processes on a private redis-server.

Long polls, event streams with Last-Event-ID, and captured logs, as an HTTP client sees them.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from app import keys
from app.redis_server import free_port
from tests.conftest import ADMIN_PASSWORD, poll_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
TASKS = "tests.e2e.realtime_tasks"


class Api:
    """A running `jobline api` and an admin session against it."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        reply = requests.post(
            f"{base}/api/v1/auth/login", json={"login": "admin", "password": ADMIN_PASSWORD}, timeout=10
        )
        self.http.headers["Authorization"] = f"Bearer {reply.json()['token']}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.base + path, timeout=kwargs.pop("timeout", 30), **kwargs)

    def submit(self, task: str, queue: str, **params: Any) -> str:
        reply = self.http.post(
            f"{self.base}/api/v1/jobs", json={"task": task, "queue": queue, "params": params}, timeout=10
        )
        assert reply.status_code == 201, reply.text
        return reply.json()["id"]

    def stream(self, path: str, **headers: str) -> requests.Response:
        reply = self.http.get(self.base + path, headers=headers, stream=True, timeout=60)
        assert reply.status_code == 200, reply.text
        assert reply.headers["Content-Type"].startswith("text/event-stream")
        return reply

    def wait_status(self, job_id: str, status: str) -> dict[str, Any]:
        return poll_until(lambda: _if(self.get(f"/api/v1/jobs/{job_id}").json(), status), timeout_s=60)


def _if(job: dict[str, Any], status: str) -> dict[str, Any] | None:
    return job if job["status"] == status else None


def sse(reply: requests.Response) -> Iterator[dict[str, Any]]:
    """The events of a streaming response as they arrive: {'id', 'data'} (comments skipped)."""
    event: dict[str, Any] = {}
    for line in reply.iter_lines(chunk_size=None, decode_unicode=True):
        if not line:
            if "data" in event:
                yield event
            event = {}
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])
        elif line.startswith("id: "):
            event["id"] = line[4:]


@pytest.fixture
def worker_class() -> str:
    return "gevent"


@pytest.fixture
def api(processes, worker_class) -> Iterator[Api]:
    port = free_port()
    env = {
        "JOBLINE_API_WORKERS": "1",
        "JOBLINE_API_WORKER_CLASS": worker_class,
        "JOBLINE_SSE_HEARTBEAT": "1",
        "JOBLINE_TASK_MODULES": TASKS,
    }
    processes.start("api", "--host", "127.0.0.1", "--port", str(port), env=env)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    poll_until(up, timeout_s=60, interval_s=0.2)
    client = Api(base)
    yield client
    client.http.close()  # an idle keep-alive connection would hold gunicorn's shutdown for 5 s


def start_worker(processes, queue: str) -> None:
    processes.worker("--queues", queue, env={"JOBLINE_TASK_MODULES": TASKS})


# --- long poll -------------------------------------------------------------------------------------------


def test_poll_answers_at_once_when_the_status_already_differs(api):
    job_id = api.submit("demo.noop", "rt-idle")
    started = time.monotonic()
    reply = api.get(f"/api/v1/jobs/{job_id}/poll?timeout=120&currentStatus=running", timeout=150)
    assert reply.status_code == 200 and reply.json()["status"] == "pending"
    assert time.monotonic() - started < 60  # far from the 120 s it would wait otherwise


def test_poll_answers_when_the_status_changes(api, processes):
    job_id = api.submit("demo.sleep", "rt-change", seconds=2)
    result: dict[str, Any] = {}

    def poll() -> None:
        started = time.monotonic()
        reply = api.get(f"/api/v1/jobs/{job_id}/poll?timeout=120&currentStatus=pending", timeout=150)
        result.update(reply=reply, elapsed=time.monotonic() - started)

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(1.0)
    assert thread.is_alive()  # still waiting: nothing changed yet
    start_worker(processes, "rt-change")
    thread.join(timeout=150)
    assert result["reply"].status_code == 200
    assert result["reply"].json()["status"] in ("running", "completed")
    assert result["elapsed"] < 90  # woken by the change, not by the 120 s timeout


def test_poll_returns_the_job_unchanged_at_the_timeout(api):
    job_id = api.submit("demo.noop", "rt-idle")
    started = time.monotonic()
    reply = api.get(f"/api/v1/jobs/{job_id}/poll?timeout=1&current_status=pending")
    assert reply.status_code == 200 and reply.json()["status"] == "pending"
    assert time.monotonic() - started >= 1.0
    assert api.get(f"/api/v1/jobs/{job_id}/poll?timeout=301").status_code == 400


def test_polls_woken_together_all_answer_with_the_change(api):
    """Twenty long polls of one job on one gevent process, each its own connection: one change wakes them
    together, they share one read of the job (app/services/shared_reads.py), and each answers with it."""
    job_id = api.submit("demo.noop", "rt-herd")  # no worker takes it: it stays pending
    token = api.http.headers["Authorization"]
    answers: list[tuple[int, str]] = []

    def poll() -> None:
        reply = requests.get(
            f"{api.base}/api/v1/jobs/{job_id}/poll?timeout=60&currentStatus=pending",
            headers={"Authorization": token},
            timeout=90,
        )
        answers.append((reply.status_code, reply.json()["status"]))

    polls = [threading.Thread(target=poll) for _ in range(20)]
    for thread in polls:
        thread.start()
    time.sleep(1.0)  # all waiting (one that came later would answer at once, with the same status)
    assert not answers
    assert api.http.post(f"{api.base}/api/v1/jobs/{job_id}/cancel", timeout=10).status_code == 200
    for thread in polls:
        thread.join(timeout=60)
    assert answers == [(200, "canceled")] * 20


# --- event streams ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("worker_class", ["gevent", "gthread"])
def test_stream_of_demo_progress_shows_rising_progress_and_ends_completed(api, processes):
    job_id = api.submit("demo.progress", "rt-stream", steps=5, delay=0.2)
    reply = api.stream(f"/api/v1/jobs/{job_id}/stream")
    events = sse(reply)
    first = next(events)
    assert first["data"]["status"] == "pending" and first["data"]["id"] == job_id
    start_worker(processes, "rt-stream")
    rest = list(events)  # the server closes the stream after the terminal status
    statuses = [e["data"]["status"] for e in rest]
    assert statuses[-1] == "completed" and set(statuses[:-1]) == {"running"}
    progress = [e["data"]["progress"] for e in rest]
    assert progress == sorted(progress)
    assert {20.0, 40.0, 60.0, 80.0, 100.0} <= set(progress)
    assert rest[-2]["data"]["currentStep"] == "Step 5 of 5"


def test_a_reconnect_with_last_event_id_misses_nothing(api, processes, real_redis):
    job_id = api.submit("demo.progress", "rt-resume", steps=6, delay=0.3)
    reply = api.stream(f"/api/v1/jobs/{job_id}/stream")
    events = sse(reply)
    before = [next(events)]
    start_worker(processes, "rt-resume")
    before += [next(events), next(events)]
    reply.close()  # the client drops off mid-job
    api.wait_status(job_id, "completed")
    again = api.stream(f"/api/v1/jobs/{job_id}/stream", **{"Last-Event-ID": before[-1]["id"]})
    after = list(sse(again))
    published = [
        entry_id.decode()
        for entry_id, fields in real_redis.xrange(keys.EVENTS)
        if fields[b"id"].decode() == job_id and entry_id.decode() > before[0]["id"]
    ]
    got = [e["id"] for e in before[1:] + after]
    assert got == published  # every change after the first snapshot, once, in order
    assert after[-1]["data"]["status"] == "completed"
    done = api.get(f"/api/v1/jobs/{job_id}/stream", headers={"Last-Event-ID": after[-1]["id"]})
    assert done.status_code == 204  # it saw the end: an EventSource stops reconnecting


def test_a_last_event_id_older_than_the_stream_gets_the_current_state(api, processes):
    start_worker(processes, "rt-old")
    job_id = api.submit("demo.noop", "rt-old")
    api.wait_status(job_id, "completed")
    events = list(sse(api.stream(f"/api/v1/jobs/{job_id}/stream", **{"Last-Event-ID": "1-0"})))
    assert [e["data"]["status"] for e in events] == ["completed"]


def test_events_stream_the_changes_of_one_queue(api):
    reply = api.stream("/api/v1/events?queue=rt-dash")
    events = sse(reply)
    api.submit("demo.noop", "rt-other")
    job_id = api.submit("demo.noop", "rt-dash")
    event = next(events)
    reply.close()
    assert event["data"]["id"] == job_id
    assert event["data"]["queue"] == "rt-dash" and event["data"]["status"] == "pending"


def test_idle_streams_taken_over_by_the_writer_get_keep_alives(api):
    job_id = api.submit("demo.noop", "rt-beat")  # no worker: it stays pending
    reply = api.stream(f"/api/v1/jobs/{job_id}/stream")
    # gevent's writer took the stream over (a stream kept by its greenlet would say keep-alive)
    assert reply.headers["Connection"] == "close"
    started = time.monotonic()
    lines = reply.iter_lines(chunk_size=None, decode_unicode=True)
    assert next(line for line in lines if line.startswith(": keepalive"))
    assert time.monotonic() - started < 5  # JOBLINE_SSE_HEARTBEAT=1 here
    reply.close()


def test_a_change_reaches_every_one_of_many_streams(api):
    """200 event streams on one gevent process, each its own connection, all sent by the one writer."""
    host, port = api.base.removeprefix("http://").split(":")
    token = api.http.headers["Authorization"]
    request = f"GET /api/v1/events?queue=rt-many HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n"
    clients = []
    for _ in range(200):
        client = socket.create_connection((host, int(port)), timeout=30)
        client.sendall(request.encode())
        clients.append(client)
    for client in clients:  # every stream has started (its preamble came) before the change
        assert b": connected" in _read_until(client, b": connected")
    job_id = api.submit("demo.noop", "rt-many")
    for client in clients:
        assert job_id.encode() in _read_until(client, job_id.encode())
        client.close()


def _read_until(client: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = client.recv(65536)
        assert chunk, data
        data += chunk
    return data


# --- logs ------------------------------------------------------------------------------------------------


def test_logs_of_demo_progress_show_its_lines_in_order(api, processes, real_redis):
    job_id = api.submit("demo.progress", "rt-logs", steps=5, delay=0.2)
    follow = api.stream(f"/api/v1/jobs/{job_id}/logs?follow=true")
    start_worker(processes, "rt-logs")
    followed = [e["data"] for e in sse(follow)]  # closes after the job ends
    expected = [f"finished step {i} of 5" for i in range(1, 6)]
    assert [line["message"] for line in followed] == expected
    assert [line["offset"] for line in followed] == [0, 1, 2, 3, 4]
    assert {line["level"] for line in followed} == {"INFO"}
    stored = api.get(f"/api/v1/jobs/{job_id}/logs").json()
    assert stored == {"lines": followed, "nextOffset": 5}
    assert api.get(f"/api/v1/jobs/{job_id}/logs?offset=3").json()["lines"] == followed[3:]
    assert "finished step 1 of 5" not in processes.logs()  # the worker's own output: warnings only
    # Logs live exactly as long as their job (retention trims jobs, and their logs with them).
    assert real_redis.ttl(keys.logs(job_id)) == real_redis.ttl(keys.job(job_id))


def test_print_and_stderr_are_captured_with_logging(api, processes):
    start_worker(processes, "rt-chatty")
    job_id = api.submit("test.chatty", "rt-chatty", lines=2)
    api.wait_status(job_id, "completed")
    lines = api.get(f"/api/v1/jobs/{job_id}/logs").json()["lines"]
    assert [(line["level"], line["message"]) for line in lines] == [
        ("STDOUT", "printed 0"),
        ("WARNING", "logged 0"),
        ("STDOUT", "printed 1"),
        ("WARNING", "logged 1"),
        ("STDERR", "to stderr"),
    ]
    assert "logged 1" in processes.logs()  # warnings also reach the worker's own output


def test_a_deleted_jobs_logs_are_gone(api, processes, real_redis):
    start_worker(processes, "rt-delete")
    job_id = api.submit("demo.progress", "rt-delete", steps=2, delay=0.05)
    api.wait_status(job_id, "completed")
    assert api.get(f"/api/v1/jobs/{job_id}/logs").json()["lines"]
    assert api.http.delete(f"{api.base}/api/v1/jobs/{job_id}", timeout=10).status_code == 204
    assert api.get(f"/api/v1/jobs/{job_id}/logs").status_code == 404
    assert not real_redis.exists(keys.logs(job_id))


def test_stopping_the_api_ends_open_streams_at_once(api, processes):
    job_id = api.submit("demo.noop", "rt-idle")
    reply = api.stream(f"/api/v1/jobs/{job_id}/stream")
    events = sse(reply)
    assert next(events)["data"]["status"] == "pending"
    api.http.close()
    server = processes.procs[0]
    server.terminate()
    assert list(events) == []  # the stream ended cleanly (the client would reconnect elsewhere)
    server.wait(timeout=30)
    assert "graceful timeout" not in processes.logs()  # nobody was cut off after gunicorn's 10 s


def test_a_job_trimmed_by_retention_takes_its_logs_along(api, processes, real_redis):
    processes.worker("--queues", "rt-trim", env={"JOBLINE_KEEP_COMPLETED": "1"})
    first = api.submit("demo.progress", "rt-trim", steps=1, delay=0)
    api.wait_status(first, "completed")
    assert real_redis.exists(keys.logs(first))
    second = api.submit("demo.progress", "rt-trim", steps=1, delay=0)
    api.wait_status(second, "completed")  # the queue keeps 1 completed job: the first one goes
    poll_until(lambda: not real_redis.exists(keys.job(first)), timeout_s=30)
    assert not real_redis.exists(keys.logs(first))
    assert real_redis.exists(keys.logs(second))
