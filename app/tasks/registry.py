"""The task registry: only functions registered with @task can ever run, checked against their signature."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.errors import ConfigError, InvalidError, UnknownTaskError
from app.tasks.context import JobContext

TASK_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$")
_SIMPLE_TYPES: dict[Any, tuple[type, ...]] = {
    int: (int,),
    float: (int, float),
    str: (str,),
    bool: (bool,),
    dict: (dict,),
    list: (list,),
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "dict": (dict,),
    "list": (list,),
}


@dataclass(frozen=True)
class Task:
    """A registered task: its public name, the function, and its signature."""

    name: str
    fn: Callable[..., Any]
    signature: inspect.Signature
    context_param: str | None = None

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Raise InvalidError when `params` would not bind to the function: missing, unknown or mistyped."""
        errors: dict[str, list[str]] = {}
        accepts_any = any(p.kind is p.VAR_KEYWORD for p in self.signature.parameters.values())
        known = {
            n
            for n, p in self.signature.parameters.items()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n != self.context_param
        }
        for name in params:
            if name not in known and not accepts_any:
                errors[name] = [f"Unknown parameter for task {self.name!r}."]
        for name in known:
            param = self.signature.parameters[name]
            if name not in params:
                if param.default is param.empty:
                    errors[name] = ["Missing required parameter."]
                continue
            problem = _type_problem(param.annotation, params[name])
            if problem:
                errors[name] = [problem]
        if errors:
            raise InvalidError("Invalid request", {"params": errors})


def _type_problem(annotation: Any, value: Any) -> str | None:
    allowed = _SIMPLE_TYPES.get(annotation)
    if allowed is None or value is None:
        return None
    name = annotation if isinstance(annotation, str) else annotation.__name__
    if isinstance(value, bool) and bool not in allowed:
        return f"Must be of type {name}."
    if not isinstance(value, allowed):
        return f"Must be of type {name}."
    return None


def _context_param(signature: inspect.Signature) -> str | None:
    """The parameter that asks for the JobContext (annotated `JobContext`), if any."""
    for name, param in signature.parameters.items():
        annotation = param.annotation
        if annotation is JobContext or annotation == "JobContext":
            return name
    return None


class TaskRegistry:
    """Name -> Task; the allow-list the API validates against and the worker runs from."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def register(self, name: str, fn: Callable[..., Any]) -> Task:
        if not TASK_NAME_RE.match(name):
            raise ConfigError(f"Invalid task name {name!r}")
        existing = self._tasks.get(name)
        if existing is not None and existing.fn is not fn:
            raise ConfigError(
                f"Task {name!r} is registered twice ({existing.fn.__module__}, {fn.__module__})"
            )
        signature = inspect.signature(fn)
        task = Task(name=name, fn=fn, signature=signature, context_param=_context_param(signature))
        self._tasks[name] = task
        return task

    def get(self, name: str) -> Task:
        task = self._tasks.get(name)
        if task is None:
            raise UnknownTaskError("Invalid request", {"task": [f"Unknown task {name!r}."]})
        return task

    def find(self, name: str) -> Task | None:
        return self._tasks.get(name)

    def names(self) -> list[str]:
        return sorted(self._tasks)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks


REGISTRY = TaskRegistry()


def task(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the task `name` (the only way a function becomes runnable)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY.register(name, fn)
        return fn

    return decorate


def load_task_modules(modules: tuple[str, ...]) -> TaskRegistry:
    """Import the demo tasks and every module named in JOBLINE_TASK_MODULES; return the registry."""
    importlib.import_module("app.tasks.demo")
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ConfigError(
                f"JOBLINE_TASK_MODULES names {module!r}, which cannot be imported ({e}); "
                "check the module path and that it is installed in this environment"
            ) from e
    return REGISTRY
