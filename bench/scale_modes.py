"""bench/scale_read.py's measurements: the ways of reading a whole project, and a first audit.

Each read option is timed from the first request to the last task turned into a dataset
row; ``MB`` is the JSON Label Studio sent; ``same`` says whether the dataset equals the
task pages' one field by field (task ids, annotation ids, annotators, labels, ground
truth, inputs, unlabeled tasks, skipped). Peak RSS is the bench process's (``ru_maxrss``,
which only grows: compare the rise an option adds, in the order run).
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import resource
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench import scale

EXPORT = "api/projects/{}/export"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def same_dataset(a: Any, b: Any) -> str:
    """'yes' when two AuditDatasets hold the same rows, else the first field that differs."""
    order_a, order_b = (
        np.lexsort((a.annotation_ids, a.task_ids)),
        np.lexsort((b.annotation_ids, b.task_ids)),
    )
    for name in ("task_ids", "annotation_ids", "labels", "ground_truth"):
        if not np.array_equal(getattr(a, name)[order_a], getattr(b, name)[order_b]):
            return f"no: {name}"
    for name in ("annotators", "inputs"):
        if [getattr(a, name)[i] for i in order_a] != [getattr(b, name)[i] for i in order_b]:
            return f"no: {name}"
    if a.unlabeled != b.unlabeled or a.kind != b.kind:
        return "no: unlabeled or kind"
    if sorted(map(repr, a.skipped)) != sorted(map(repr, b.skipped)):
        return "no: skipped"
    return "yes"


class Counted:
    """Bytes seen of a streamed answer."""

    def __init__(self) -> None:
        self.bytes = 0

    def chunks(self, response: Any) -> Iterator[bytes]:
        for chunk in response.iter_bytes():
            self.bytes += len(chunk)
            yield chunk


def _export_stream(ls: Any, project: int, counted: Counted, **params: Any) -> Iterator[dict]:
    from backend.labelstudio.stream import iter_json_array

    http = ls._client_wrapper.httpx_client
    with http.stream(
        EXPORT.format(project),
        method="GET",
        params={"exportType": "JSON", "download_all_tasks": "true", **params},
        request_options={"timeout_in_seconds": 900},
    ) as response:
        response.raise_for_status()
        yield from iter_json_array(counted.chunks(response))


def read_options(server: scale.Server, project: int, *, pages_too: bool = True) -> None:
    """Time every way of reading the whole project; compare each dataset with the pages'."""
    from backend.labelstudio.client import close, connect, sdk_request
    from backend.labelstudio.config import parse_label_config
    from backend.labelstudio.export import dataset_from_tasks
    from backend.labelstudio.reading import iter_task_pages

    ls = connect(server.url, server.token)
    kind = parse_label_config(ls.projects.get(id=project).label_config or "")
    reference: list[Any] = []

    def run(name: str, calls: Callable[[Counted], Iterator[dict]]) -> None:
        counted = Counted()
        load_before = _load()
        begun = time.perf_counter()
        dataset = dataset_from_tasks(calls(counted), kind, source="x")
        took = time.perf_counter() - begun
        if not reference:
            reference.append(dataset)
        same = same_dataset(reference[0], dataset)
        print(f"| {name} | {len(dataset):,} | {took:.1f} | {counted.bytes / 1e6:.1f} | {same} | "
              f"{_rss():.0f} | {load_before} |", flush=True)  # fmt: skip

    def pages(counted: Counted) -> Iterator[dict]:
        for page, _ in iter_task_pages(ls, project):
            counted.bytes += len(json.dumps(page))
            yield from page

    def batched(size: int) -> Callable[[Counted], Iterator[dict]]:
        def calls(counted: Counted) -> Iterator[dict]:
            ids = scale.project_tasks(ls, project)
            for start in range(0, len(ids), size):
                yield from _export_stream(
                    ls, project, counted, **{"ids[]": ids[start : start + size]}
                )

        return calls

    def snapshot(counted: Counted) -> Iterator[dict]:
        only_id = {"only_id": True}
        made = sdk_request(
            ls, "POST", f"api/projects/{project}/exports/",
            json={"title": "scale-read", "serialization_options": {
                "drafts": only_id, "predictions": only_id, "annotations__completed_by": only_id}},
            request_options={"timeout_in_seconds": 900},
        )  # fmt: skip
        while made.get("status") not in {"completed", "failed"}:
            time.sleep(0.5)
            made = sdk_request(ls, "GET", f"api/projects/{project}/exports/{made['id']}")
        http = ls._client_wrapper.httpx_client
        from backend.labelstudio.stream import iter_json_array

        with http.stream(
            f"api/projects/{project}/exports/{made['id']}/download",
            method="GET", params={"exportType": "JSON"},
            request_options={"timeout_in_seconds": 900},
        ) as response:  # fmt: skip
            response.raise_for_status()
            yield from iter_json_array(counted.chunks(response))
        sdk_request(ls, "DELETE", f"api/projects/{project}/exports/{made['id']}")

    def old_pages(counted: Counted) -> Iterator[dict]:
        page = 1
        while True:
            try:
                found = sdk_request(
                    ls, "GET", f"api/projects/{project}/tasks/",
                    params={"page": page, "page_size": 1000},
                    request_options={"timeout_in_seconds": 900},
                )  # fmt: skip
            except ValueError:
                return
            if not found:
                return
            counted.bytes += len(json.dumps(found))
            yield from found
            page += 1

    print("| read | rows | s | MB | same dataset as pages | peak RSS MiB | load before |")
    print("|---|---|---|---|---|---|---|", flush=True)
    try:
        if pages_too:
            run("api/tasks/ pages of 1,000, fields=all (before)", pages)
        run("export API, one call, streamed", lambda c: _export_stream(ls, project, c))
        # ids[] go in the query string: httpx refuses one over 64 KiB (~4,600 ids) and
        # Django reads at most DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000) of them.
        run("export API, ids[] 900 a call (+ id listing)", batched(900))
        run("snapshot export: create, download, delete", snapshot)
        run("api/projects/<id>/tasks/ pages of 1,000 (deprecated)", old_pages)
        begun = time.perf_counter()
        n = len(scale.project_tasks(ls, project))
        print(f"listing {n:,} task ids alone: {time.perf_counter() - begun:.1f} s; load {_load()}")
    finally:
        close(ls)


def first_audit(server: scale.Server, project: int, folder: Path, n: int, *, profile: bool) -> None:
    """The CLI's path on the untouched project, per phase (and the math's profile)."""
    from backend import pipeline

    out = folder / f"out-{int(time.time())}"
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:  # audit_once imports run_audit when it runs
        original = pipeline.run_audit
        pipeline.run_audit = lambda *a, **k: profiler.runcall(original, *a, **k)  # type: ignore[assignment]
    load_before = _load()
    run, _ = scale.audit_once(server.url, server.token, project, out, "first audit")
    print(scale.HEADER)
    print(run.row(n))
    print(f"load average before {load_before}, after {_load()}; peak RSS {_rss():.0f} MiB",
          flush=True)  # fmt: skip
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(35)
        print(text.getvalue())


def patch_threads(server: scale.Server, project: int, count: int, threads: list[int]) -> None:
    """PATCH ``count`` predictions in place on 1, 2, 4... threads at once (distinct
    predictions each round), then check Label Studio holds every change."""
    from concurrent.futures import ThreadPoolExecutor

    from backend.labelstudio.client import close, connect, sdk_request
    from backend.labelstudio.push import retried

    ls = connect(server.url, server.token)
    try:
        found = sdk_request(ls, "GET", f"api/predictions/?project={project}",
                            request_options={"timeout_in_seconds": 900})  # fmt: skip
        ids = sorted(int(p["id"]) for p in found)
        print(f"{len(ids):,} predictions listed; PATCH {count} per round; load {_load()}")
        print("| threads | PATCHes | s | s per PATCH | load before |")
        print("|---|---|---|---|---|", flush=True)
        wanted: dict[int, float] = {}
        for round_, n in enumerate(threads):
            chosen = ids[round_ * count : (round_ + 1) * count]
            body = {i: {"score": 0.1 + 0.0001 * (i % 1000),
                        "result": scale.choice(scale.CLASSES[i % 4])} for i in chosen}  # fmt: skip
            load_before = _load()
            begun = time.perf_counter()

            def patch(i: int, body: dict[int, Any] = body) -> bool:
                return retried(ls, "PATCH", f"api/predictions/{i}/", json=body[i])

            with ThreadPoolExecutor(n) as pool:
                done = list(pool.map(patch, chosen))
            took = time.perf_counter() - begun
            print(f"| {n} | {sum(done)} of {len(chosen)} | {took:.1f} | {took / len(chosen):.3f} "
                  f"| {load_before} |", flush=True)  # fmt: skip
            wanted |= {i: body[i]["score"] for i in chosen}
        after = {int(p["id"]): p for p in sdk_request(
            ls, "GET", f"api/predictions/?project={project}",
            request_options={"timeout_in_seconds": 900})}  # fmt: skip
        wrong = [
            i for i, s in wanted.items()
            if abs(after[i]["score"] - s) > 1e-9
            or after[i]["result"][0]["value"]["choices"] != [scale.CLASSES[i % 4]]
        ]  # fmt: skip
        per_task: dict[int, int] = {}
        for p in after.values():
            per_task[p["task"]] = per_task.get(p["task"], 0) + 1
        print(
            f"after: {len(wanted) - len(wrong)} of {len(wanted)} PATCHes held; "
            f"tasks with other than one prediction: {sum(v != 1 for v in per_task.values())}"
        )
    finally:
        close(ls)
