"""Job functions the rq comparison runs reference by dotted path (never executed by the collectors)."""

from __future__ import annotations


def noop() -> None:
    """Do nothing."""
