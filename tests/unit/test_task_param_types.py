"""A mistyped task parameter is refused with the type its annotation names (float stays float)."""

from __future__ import annotations

import pytest

from app.errors import InvalidError
from app.tasks.registry import TaskRegistry


def scale(factor: float, times: int, label: str, flag: bool) -> None:
    """A task with one parameter of each simple type."""


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"factor": "x", "times": 1, "label": "a", "flag": True}, "factor", "Must be of type float."),
        ({"factor": 1.5, "times": 2.5, "label": "a", "flag": True}, "times", "Must be of type int."),
        ({"factor": 1, "times": True, "label": "a", "flag": True}, "times", "Must be of type int."),
        ({"factor": 1, "times": 1, "label": 3, "flag": True}, "label", "Must be of type str."),
        ({"factor": 1, "times": 1, "label": "a", "flag": 1}, "flag", "Must be of type bool."),
    ],
)
def test_a_mistyped_parameter_names_the_annotated_type(params, field, message):
    task = TaskRegistry().register("t.scale", scale)

    with pytest.raises(InvalidError) as error:
        task.check_params(params)

    assert error.value.details == {"params": {field: [message]}}


def test_an_int_is_accepted_for_a_float_parameter():
    TaskRegistry().register("t.scale", scale).check_params(
        {"factor": 2, "times": 1, "label": "", "flag": False}
    )
