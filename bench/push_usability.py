"""Does Label Studio stay usable while labelaudit pushes? Writes by a person, timed during a push.

Against a running Label Studio (its default SQLite database), this creates a project of
``--tasks`` annotated text tasks and pushes two audits into it with ``push_audit`` (the
second one replaces the first, so it also deletes the first version's predictions). Meanwhile
another thread plays a busy annotator: it saves an annotation of a second project every 0.5 s
and records how long each save takes and whether it failed ("database is locked" answers
500). It runs twice in one process, on the same Label Studio and the same data:

* ``one call``: the old version deleted in one call (one transaction), as labelaudit did
  before issue 17 (``VERSION_DELETE_MAX`` set above the project's size);
* ``short writes``: today's ``push_audit`` (versions over ``VERSION_DELETE_MAX`` deleted
  prediction by prediction).

Usage: .venv/bin/python bench/push_usability.py --url http://127.0.0.1:8080 --api-key TOKEN
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Any

import httpx

from backend.labelstudio import push as push_module
from backend.labelstudio.client import close, connect
from backend.labelstudio.config import parse_label_config
from backend.labelstudio.predictions import build_prediction
from backend.labelstudio.push import project_versions, push_as_next_version

CONFIG = """<View><Text name="text" value="$text"/>
<Choices name="label" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>"""


def _choice(label: str) -> list[dict[str, Any]]:
    return [{"from_name": "label", "to_name": "text", "type": "choices",
             "value": {"choices": [label]}}]  # fmt: skip


def _project(ls: Any, title: str, n: int) -> tuple[int, dict[int, int]]:
    """A project of n annotated tasks; return its id and task id -> annotation id."""
    project = ls.projects.create(title=title, label_config=CONFIG)
    for start in range(0, n, 500):
        tasks = [
            {"data": {"text": f"task {i}"}, "annotations": [{"result": _choice("a")}]}
            for i in range(start, min(n, start + 500))
        ]
        ls.projects.import_tasks(id=project.id, request=tasks)
    tasks = ls.tasks.list(project=project.id, fields="all", page_size=1000)
    return project.id, {t.id: t.annotations[0]["id"] for t in tasks}


class Annotator(threading.Thread):
    """Saves one annotation every ``every`` seconds; records (seconds, ok) per save."""

    def __init__(self, url: str, key: str, annotation: int, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=url, headers={"Authorization": f"Token {key}"})
        self.annotation, self.every = annotation, every
        self.saves: list[tuple[float, bool]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        label = "a"
        while not self.stop.wait(self.every):
            label = "b" if label == "a" else "a"
            started = time.perf_counter()
            try:
                answer = self.client.patch(
                    f"/api/annotations/{self.annotation}/",
                    json={"result": _choice(label)},
                    timeout=60,
                )
                ok = answer.status_code < 400
            except httpx.HTTPError:
                ok = False
            self.saves.append((time.perf_counter() - started, ok))


def run(url: str, key: str, tasks: int, strategy: str) -> dict[str, Any]:
    ls = connect(url, key)
    kind = parse_label_config(CONFIG)
    pid, annotation = _project(ls, f"push usability {strategy}", tasks)
    _, other = _project(ls, f"annotator {strategy}", 1)
    (writer_annotation,) = other.values()
    flagged = {t: annotation[t] for t in list(annotation)[:50]}
    predictions = [build_prediction(kind, t, kind.classes.index("b"), 0.9, "x") for t in annotation]
    first = push_as_next_version(
        ls, pid, predictions, flagged
    )  # the version the measured push replaces
    saved = push_module.VERSION_DELETE_MAX
    if strategy == "one call":
        push_module.VERSION_DELETE_MAX = tasks + 1
    annotator = Annotator(url, key, writer_annotation)
    annotator.start()
    started = time.perf_counter()
    try:
        push_as_next_version(ls, pid, predictions, flagged)
    finally:
        seconds = time.perf_counter() - started
        annotator.stop.set()
        annotator.join()
        push_module.VERSION_DELETE_MAX = saved
    left = project_versions(ls, pid).get(first, 0)
    close(ls)
    times = [s for s, _ in annotator.saves]
    return {
        "strategy": strategy,
        "tasks": tasks,
        "push_s": seconds,
        "saves": len(times),
        "failed": sum(not ok for _, ok in annotator.saves),
        "p50_ms": 1000 * statistics.median(times),
        "max_ms": 1000 * max(times),
        "left": left,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--tasks", type=int, default=1200)
    args = parser.parse_args()
    print(f"Label Studio {args.url}, {args.tasks} tasks, an annotation saved every 0.5 s")
    print(
        "| old version deleted | push s | saves during it | failed | p50 ms | max ms "
        "| old predictions left for the next push |"
    )
    print("|---|---|---|---|---|---|---|")
    for strategy in ("one call", "short writes"):
        r = run(args.url, args.api_key, args.tasks, strategy)
        print(
            f"| {r['strategy']} | {r['push_s']:.1f} | {r['saves']} | {r['failed']} | "
            f"{r['p50_ms']:.0f} | {r['max_ms']:.0f} | {r['left']} |"
        )


if __name__ == "__main__":
    main()
