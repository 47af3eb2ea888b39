"""A re-audit's PATCHes go PATCH_THREADS at a time (backend.labelstudio.inplace)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from backend.labelstudio import inplace
from backend.labelstudio.inplace import Plan, write_in_place


class _Server:
    """Records the PATCHes and how many were under way at once."""

    def __init__(self, *, fail: int | None = None, refuse: int | None = None) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.patched: list[int] = []
        self.fail, self.refuse = fail, refuse

    def retried(self, ls: Any, method: str, path: str, *, json: Any) -> bool:
        assert method == "PATCH" and json == {"score": 0.5}
        prediction = int(path.split("/")[2])
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.01)
        with self.lock:
            self.now -= 1
            self.patched.append(prediction)
        if prediction == self.refuse:
            raise ValueError("PATCH failed: HTTP 400: bad result")
        return prediction != self.fail


def test_patches_go_a_few_at_a_time_and_all_are_counted():
    server = _Server(fail=7)
    plan = Plan(patch={i: {"score": 0.5} for i in range(1, 41)})
    progress: list[tuple[int, int]] = []
    created: list[Any] = []
    failed = write_in_place(
        None,  # type: ignore[arg-type]
        3,
        plan,
        create=created.append,
        retried=server.retried,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert failed == 1  # the one the server kept refusing (5xx past the retries)
    assert sorted(server.patched) == list(range(1, 41))
    assert server.most == inplace.PATCH_THREADS > 1
    assert progress == [(n, 40) for n in range(1, 41)] and created == []


def test_an_error_stops_the_patches_not_yet_sent(monkeypatch):
    monkeypatch.setattr(inplace, "PATCH_THREADS", 2)
    server = _Server(refuse=3)
    plan = Plan(patch={i: {"score": 0.5} for i in range(1, 201)})
    with pytest.raises(ValueError, match="HTTP 400"):
        write_in_place(
            None,  # type: ignore[arg-type]
            3,
            plan,
            create=lambda items: None,
            retried=server.retried,
        )
    assert 3 in server.patched and len(server.patched) < 20  # the rest were never sent
