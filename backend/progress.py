"""How long steps report their progress (one meaning, used by the pipeline, publish and service)."""

from __future__ import annotations

from collections.abc import Callable

#: progress(step, done, total): called as a named step ("features", "push", ...) advances.
Progress = Callable[[str, int, int], None]


def no_progress(step: str, done: int, total: int) -> None:
    """Progress callback that does nothing."""
