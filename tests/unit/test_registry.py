"""The task registry: @task, the allow-list, signature checks, JobContext injection, duplicates."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import ConfigError, InvalidError, UnknownTaskError
from app.tasks import REGISTRY, JobContext, TaskRegistry, load_task_modules, task
from app.tasks.context import current_job, report_progress
from workers.child import run_task


def params_errors(t, params: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(InvalidError) as caught:
        t.check_params(params)
    assert caught.value.details is not None
    return caught.value.details["params"]


@pytest.fixture
def registry() -> TaskRegistry:
    return TaskRegistry()


def test_demo_tasks_are_registered():
    load_task_modules(())
    for name in ("demo.noop", "demo.echo", "demo.sleep", "demo.fail", "demo.progress"):
        assert name in REGISTRY


def test_task_decorator_registers_in_the_global_registry():
    @task("unit.decorated")
    def decorated(x: int) -> int:
        return x

    assert REGISTRY.get("unit.decorated").fn is decorated
    assert decorated(2) == 2  # the function itself is returned unchanged


def test_unknown_task_is_invalid(registry):
    with pytest.raises(UnknownTaskError) as caught:
        registry.get("os.system")
    assert caught.value.details == {"task": ["Unknown task 'os.system'."]}
    assert registry.find("os.system") is None
    assert "os.system" not in registry


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 129, ".dot-first"])
def test_bad_task_names_refused(registry, name):
    with pytest.raises(ConfigError):
        registry.register(name, lambda: None)


def test_duplicate_registration_of_another_function_fails(registry):
    def first() -> None: ...

    def second() -> None: ...

    registry.register("dup", first)
    registry.register("dup", first)  # the same function again (a module imported twice) is fine
    with pytest.raises(ConfigError, match="registered twice"):
        registry.register("dup", second)
    assert registry.get("dup").fn is first


def test_names_sorted(registry):
    registry.register("b", lambda: None)
    registry.register("a", lambda: None)
    assert registry.names() == ["a", "b"]


def test_missing_unknown_and_mistyped_params(registry):
    def fn(month: str, count: int, ratio: float = 1.0, flag: bool = False) -> None: ...

    t = registry.register("t", fn)
    t.check_params({"month": "2026-10", "count": 3})
    t.check_params({"month": "x", "count": 1, "ratio": 2, "flag": True})  # int is a fine float
    assert params_errors(t, {"count": 1}) == {"month": ["Missing required parameter."]}
    assert params_errors(t, {"month": "x", "count": 1, "colour": "red"}) == {
        "colour": ["Unknown parameter for task 't'."]
    }
    errors = params_errors(t, {"month": 7, "count": "3", "ratio": "x", "flag": 1})
    assert errors == {
        "month": ["Must be of type str."],
        "count": ["Must be of type int."],
        "ratio": ["Must be of type float."],
        "flag": ["Must be of type bool."],
    }


def test_bool_is_not_an_int(registry):
    def fn(count: int) -> None: ...

    assert params_errors(registry.register("t", fn), {"count": True}) == {"count": ["Must be of type int."]}


def test_string_annotations_are_checked(registry):
    def fn(items: list, options: dict) -> None: ...

    fn.__annotations__ = {"items": "list", "options": "dict"}
    t = registry.register("t", fn)
    t.check_params({"items": [1], "options": {}})
    assert set(params_errors(t, {"items": {}, "options": []})) == {"items", "options"}


def test_unchecked_annotations_accept_anything(registry):
    def fn(anything: Any, maybe: int | None = None) -> None: ...

    registry.register("t", fn).check_params({"anything": object(), "maybe": "text"})


def test_var_keyword_accepts_any_param(registry):
    def fn(**params: Any) -> None: ...

    registry.register("t", fn).check_params({"whatever": 1, "else": [2]})


def test_keyword_only_params(registry):
    def fn(*, a: int) -> None: ...

    t = registry.register("t", fn)
    t.check_params({"a": 1})
    assert params_errors(t, {}) == {"a": ["Missing required parameter."]}


def test_job_context_param_is_injected_not_asked_for(registry):
    seen: list[JobContext] = []

    def fn(x: int, ctx: JobContext) -> int:
        seen.append(ctx)
        ctx.report_progress(50, "half")
        return x * 2

    t = registry.register("t", fn)
    assert t.context_param == "ctx"
    t.check_params({"x": 1})  # ctx is not a client parameter
    assert params_errors(t, {"x": 1, "ctx": {}}) == {"ctx": ["Unknown parameter for task 't'."]}

    reports: list[tuple[float, str | None]] = []

    class Reporter:
        def report(self, percent: float, step: str | None) -> None:
            reports.append((percent, step))

        def flush(self) -> None:
            pass

    msg = {"id": "j1", "attempt": 2, "queue": "q", "task": "t", "params": {"x": 21}}
    reply = run_task(registry, msg, Reporter(), 1 << 20)
    assert reply == {"ok": True, "result": "42"}
    assert seen[0].job_id == "j1" and seen[0].attempt == 2 and seen[0].queue == "q"
    assert reports == [(50.0, "half")]


def test_context_param_by_string_annotation(registry):
    def fn(job) -> None: ...

    fn.__annotations__ = {"job": "JobContext"}
    assert registry.register("t", fn).context_param == "job"


def test_current_job_and_report_progress_inside_a_task(registry):
    observed: list[Any] = []

    def fn() -> None:
        observed.append(current_job())
        report_progress(150, "clamped")

    reports: list[tuple[float, str | None]] = []

    class Reporter:
        def report(self, percent: float, step: str | None) -> None:
            reports.append((percent, step))

        def flush(self) -> None:
            pass

    registry.register("t", fn)
    run_task(registry, {"id": "j", "attempt": 1, "queue": "q", "task": "t", "params": {}}, Reporter(), 100)
    assert observed[0].job_id == "j"
    assert current_job() is None  # cleared after the task
    assert reports == [(100.0, "clamped")]
    report_progress(10)  # outside a task: a no-op


def test_run_task_failures_are_replies_not_exceptions(registry):
    def boom() -> None:
        raise ValueError("bad input\nsecond line")

    def exits() -> None:
        raise SystemExit(3)

    def unjsonable() -> object:
        return object()

    def huge() -> str:
        return "x" * 200

    for name, fn in {"boom": boom, "exits": exits, "unjsonable": unjsonable, "huge": huge}.items():
        registry.register(name, fn)

    def run(name: str) -> dict[str, Any]:
        return run_task(
            registry, {"id": "j", "attempt": 1, "queue": "q", "task": name, "params": {}}, None, 100
        )

    reply = run("boom")
    assert reply["ok"] is False and reply["error"] == "ValueError: bad input"
    assert any("raise ValueError" in line for line in reply["trace"])
    assert run("exits")["error"] == "SystemExit: 3"
    assert run("unjsonable")["error"].startswith("Result is not JSON serializable")
    assert run("huge")["error"] == "Result too large: 202 bytes (limit 100)"


def test_load_task_modules_names_the_module_it_cannot_import():
    with pytest.raises(ConfigError, match="no_such_module_xyz"):
        load_task_modules(("no_such_module_xyz",))
