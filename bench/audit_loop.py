"""What ``bench/service.py --during-audit`` runs beside the measured servers: the tests' fake
Label Studio in a process of its own, and audits of its project asked for back to back."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from bench.load import AUTH

ROOT = Path(__file__).resolve().parents[1]
#: The audited project.
PROJECT = 1


class FakeLabelStudioProcess:
    """The tests' fake Label Studio serving a numeric project of ``tasks`` tasks, in a child
    process: what it does for the audits (the export, the imports) must not share the
    measuring clients' GIL, as a real Label Studio would not."""

    def __init__(self, tasks: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        found = context.SimpleQueue()
        self._process = context.Process(
            target=_serve_fake, args=(tasks, found, self._stop), daemon=True
        )
        self._process.start()
        self.url: str = found.get()

    def close(self) -> None:
        self._stop.set()
        self._process.join(30)


def _serve_fake(tasks: int, found: Any, stop: Any) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.worker.support import FakeLabelStudio, numeric_tasks

    with FakeLabelStudio() as fake:
        fake.add_project(PROJECT, numeric_tasks(tasks, seed=0))
        found.put(fake.url)
        stop.wait()


class AuditLoop:
    """Keeps an audit of the fake Label Studio's project running until stopped."""

    def __init__(self, port: int) -> None:
        import threading

        self.port = port
        self.stop = threading.Event()
        self.done = 0
        self.seconds: list[float] = []  # each finished audit's wall time
        self.started = 0.0  # when the audit running now was asked for
        self.failed: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _call(self, method: str, path: str) -> dict:
        import httpx

        answer = httpx.request(
            method, f"http://127.0.0.1:{self.port}{path}", headers={"Authorization": AUTH}
        )
        return answer.json()

    def _run(self) -> None:
        while not self.stop.is_set():
            started = self.started = time.perf_counter()
            job = self._call("POST", f"/projects/{PROJECT}/audit")["job"]
            while not self.stop.is_set():
                record = self._call("GET", f"/jobs/{job}")
                if record.get("state") in {"succeeded", "failed"}:
                    self.seconds.append(time.perf_counter() - started)
                    self.done += 1
                    if record["state"] == "failed":
                        self.failed.append(str(record.get("error")))
                    break
                time.sleep(0.2)

    def __enter__(self) -> AuditLoop:
        """Start; return once two audits finished: the first warms up (start-up is not what
        is measured), the second ran with no requests (``alone``: its seconds)."""
        self.thread.start()
        deadline = time.monotonic() + 600
        while self.done < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.alone = self.seconds[-1] if self.seconds else float("nan")
        self.done = 0
        self.seconds = []
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(60)
