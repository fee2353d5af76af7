"""The worker's pre-started child process: killed and replaced without losing the next job."""

from __future__ import annotations

import pytest

from tests.conftest import make_settings
from tests.integration.conftest import pid_alive
from workers.child import ChildProcess

pytestmark = pytest.mark.integration


def job(task: str, **params: object) -> dict[str, object]:
    return {"id": "j1", "exec": "e1", "task": task, "params": params, "queue": "q", "attempt": 1}


@pytest.fixture
def child():
    handle = ChildProcess(make_settings())
    handle.start()
    yield handle
    handle.stop()


def test_a_dead_child_is_replaced_when_the_next_job_is_sent(child):
    first = child.pid
    child.kill()
    child._proc.join(5)  # dead and reaped: its pipe is broken
    child.send(job("demo.echo", x=1))
    assert child.poll(10) and child.recv() == {"ok": True, "result": '{"x": 1}'}
    assert child.pid != first


def test_restart_right_after_a_kill_gives_a_working_child(child):
    child.send(job("demo.sleep", seconds=30))
    first = child.pid
    child.kill()
    assert child.poll(5)  # EOF: the child is gone
    with pytest.raises((EOFError, OSError)):  # as the worker expects: EOF or a reset pipe
        child.recv()
    child.restart()
    assert child.pid != first and not pid_alive(first)
    child.send(job("demo.echo", y=2))
    assert child.poll(10) and child.recv()["result"] == '{"y": 2}'


def test_stop_ends_the_child(child):
    pid = child.pid
    child.stop()
    assert child.pid is None and not pid_alive(pid)
