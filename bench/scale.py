"""Big projects (issue 14): where an audit's time goes on a real Label Studio, per phase.

Starts its own Label Studio (as tests/e2e does: ``.e2e/venv``, a fresh data dir, its own
127.0.0.1 port), creates a project of ``--tasks`` generated text tasks (four classes,
10% of the labels flipped, one annotation each), then runs the CLI's own path
(``LabelStudioIO.load`` -> ``run_audit`` -> ``publish`` with a target) and prints, per
phase: read the project, the audit's math, the push (``publish``: version, outputs written,
predictions imported, switch, older versions deleted). Then it fixes 1, then 50 wrongly
labelled annotations (PATCH, as a person would) and times the re-audit after each.

Other measurements (each its own mode):

* ``--pages``: the cost of reading the project with the export API and with task pages
  of different sizes;
* ``--chunks``: the cost of one ``import_predictions`` call against its size (under a
  throwaway version), and of changing one prediction in place (PATCH), so the push's
  call size is chosen by measurement.

    PYTHONPATH=. .venv/bin/python bench/scale.py --tasks 3600 --fixes 1 50
    PYTHONPATH=. .venv/bin/python bench/scale.py --tasks 20000 --fixes --pages \
        --chunks 250 1000 5000 20000
    PYTHONPATH=. .venv/bin/python bench/scale.py --tasks 3600 --audits 0 --pages
    PYTHONPATH=. .venv/bin/python bench/scale.py --tasks 3600 20000 --fixes 1 50 --offline
    PYTHONPATH=. .venv/bin/python bench/scale.py --tasks 3600 --audits 0 --fixes 1 50 --service

``--service`` (bench/webhook_reads.py): re-audits through the service after k fixes, once
with the webhooks' payloads (no project read) and once with a full read.

BLAS/OpenMP threads are set to 1. The machine is shared: the load average is printed.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import resource  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Label Studio starts with the environment the e2e tests give it (LABEL_STUDIO.md section 1).
from tests.conftest import _env  # noqa: E402

LABEL_STUDIO = ROOT / ".e2e" / "venv" / "bin" / "label-studio"
CLASSES = ("sports", "politics", "science", "cooking")
CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="label" toName="text">
    <Choice value="sports"/><Choice value="politics"/>
    <Choice value="science"/><Choice value="cooking"/>
  </Choices>
</View>"""
#: Tasks created per import call while building the project.
BUILD_CHUNK = 2000
NOISE = 0.10


# --------------------------------------------------------------------------- Label Studio


@dataclass
class Server:
    url: str
    token: str
    data_dir: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def label_studio(root: Path, password: str | None = None) -> Iterator[Server]:
    """Init a data dir, start Label Studio on a free port, yield it, stop it (by its group)."""
    if not LABEL_STUDIO.exists():
        raise SystemExit(f"{LABEL_STUDIO} is missing: run the e2e tests once to install it")
    data_dir = root / "ls-data"
    token, password = secrets.token_hex(20), password or secrets.token_urlsafe(16)
    env = _env(data_dir, token, password)
    log = (root / "label-studio.log").open("w")
    subprocess.run(
        [str(LABEL_STUDIO), "init", "-q", "--data-dir", str(data_dir)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        check=True,
        timeout=1800,  # minutes on a busy machine
    )
    try:
        with started_label_studio(data_dir, env, log) as url:
            yield Server(url, token, data_dir)
    finally:
        log.close()


@contextlib.contextmanager
def started_label_studio(data_dir: Path, env: dict[str, str], log: Any) -> Iterator[str]:
    """Start Label Studio on ``data_dir`` on a free port, yield its URL once its /health
    says UP, then stop it (by its process group)."""
    port = _free_port()
    proc = subprocess.Popen(
        [str(LABEL_STUDIO), "start", "--no-browser", "--internal-host", "127.0.0.1", "-p",
         str(port), "--data-dir", str(data_dir), "--log-level", "WARNING"],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"Label Studio exited; see {log.name}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if httpx.get(f"{url}/health", timeout=2).json().get("status") == "UP":
                    break
            if time.monotonic() > deadline:
                raise SystemExit("Label Studio did not come up")
            time.sleep(0.25)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


# --------------------------------------------------------------------------- data


def texts_and_labels(n: int, *, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """n short texts of four topics: (texts, true labels, given labels with NOISE flipped)."""
    rng = np.random.default_rng(seed)
    words = {c: [f"{c[:4]}{i}" for i in range(60)] for c in CLASSES}  # each topic's own vocabulary
    common = [f"w{i}" for i in range(400)]
    true = rng.integers(0, len(CLASSES), size=n)
    texts = []
    for label in true.tolist():
        own = rng.choice(words[CLASSES[label]], size=int(rng.integers(2, 6))).tolist()
        other = rng.choice(words[CLASSES[int(rng.integers(0, len(CLASSES)))]], size=2).tolist()
        filler = rng.choice(common, size=int(rng.integers(6, 14))).tolist()
        tokens = own + other + filler
        rng.shuffle(tokens)
        texts.append(" ".join(tokens))
    given = true.copy()
    flip = rng.random(n) < NOISE
    given[flip] = (true[flip] + rng.integers(1, len(CLASSES), size=int(flip.sum()))) % len(CLASSES)
    return texts, true, given


def choice(label: str) -> list[dict[str, Any]]:
    return [{"from_name": "label", "to_name": "text", "type": "choices",
             "value": {"choices": [label]}}]  # fmt: skip


@dataclass
class Project:
    id: int
    annotation_of: dict[int, int]  # task id -> its annotation id
    true: dict[int, int]  # task id -> true label
    given: dict[int, int]  # task id -> the label Label Studio holds now


def export(ls: Any, project: int) -> list[dict[str, Any]]:
    """Every task of the project through the export API (one call)."""
    from backend.labelstudio.client import sdk_request

    return list(
        sdk_request(
            ls, "GET", f"api/projects/{project}/export",
            params={"exportType": "JSON", "download_all_tasks": "true"},
            request_options={"timeout_in_seconds": 900},
        )
    )  # fmt: skip


def make_project(ls: Any, n: int, *, seed: int, with_annotation_ids: bool = True) -> Project:
    """A project of n annotated text tasks (created through the API, BUILD_CHUNK a call)."""
    texts, true, given = texts_and_labels(n, seed=seed)
    project = ls.projects.create(title=f"scale {n}", label_config=CONFIG)
    ids: list[int] = []
    for start in range(0, n, BUILD_CHUNK):
        stop = min(n, start + BUILD_CHUNK)
        answer = ls.projects.import_tasks(
            id=project.id,
            return_task_ids=True,
            request=[
                {"data": {"text": texts[i]}, "annotations": [{"result": choice(CLASSES[given[i]])}]}
                for i in range(start, stop)
            ],
        )
        ids += list(answer.task_ids or [])
    if len(ids) != n:
        raise RuntimeError(f"imported {len(ids)} of {n} tasks")
    annotation_of = (
        {int(t["id"]): int(t["annotations"][0]["id"]) for t in export(ls, project.id)}
        if with_annotation_ids
        else {}
    )
    return Project(
        project.id,
        annotation_of,
        {t: int(true[i]) for i, t in enumerate(ids)},
        {t: int(given[i]) for i, t in enumerate(ids)},
    )


# --------------------------------------------------------------------------- phases


@dataclass
class Run:
    label: str
    read: float = 0.0
    math: float = 0.0
    push: float = 0.0  # publish(): version, outputs, import, switch, older versions deleted
    switched: float = 0.0  # of which until the project showed the new version
    flagged: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self, n: int) -> str:
        io = self.read + self.push
        return (
            f"| {n:,} | {self.label} | {self.read:.1f} | {self.math:.1f} | {self.switched:.1f} | "
            f"{self.push:.1f} | {io:.1f} | {self.flagged} |"
        )


HEADER = (
    "| tasks | run | read s | math s | push to switch s | push total s | LS I/O s | flagged |\n"
    "|---|---|---|---|---|---|---|---|"
)


def audit_once(
    url: str, token: str, project: int, out: Path, label: str, latest: str | None = None
) -> tuple[Run, Any]:
    """The backend's path (read, audit, publish with a target), timed per phase."""
    from backend.pipeline import run_audit
    from backend.progress import no_progress
    from backend.publish import LabelStudioIO, Target, publish
    from backend.settings import load_settings

    settings = load_settings({}, environ={})
    run = Run(label)
    io = LabelStudioIO()
    started = time.perf_counter()
    dataset = io.load(url, token, project, no_progress)
    run.read = time.perf_counter() - started
    started = time.perf_counter()
    result = run_audit(dataset, settings)
    run.math = time.perf_counter() - started
    started = time.perf_counter()
    switch_at: list[float] = []
    published = publish(
        result,
        folder=lambda version: out / version,
        settings=settings.redacted(),
        source=dataset.source,
        title=dataset.title,
        target=Target(url, token, project),
        io=io,
        switched=lambda *_: switch_at.append(time.perf_counter()),
        latest=latest,
    )
    run.extra["version"] = published.version
    run.push = time.perf_counter() - started
    run.switched = (switch_at[0] if switch_at else time.perf_counter()) - started
    run.flagged = len(result.flagged_task_ids())
    return run, result


def changed(before: Any, after: Any) -> str:
    """How many tasks' prediction a write-only-what-changed push would rewrite: the
    suggestion changed, or the score at 2 decimals, or the score by more than 0.01 / 0.02
    (the push's rule: :data:`backend.labelstudio.push.SCORE_TOLERANCE`)."""
    old = {v["task_id"]: v for v in before.task_verdicts()}
    new = {v["task_id"]: v for v in after.task_verdicts()}
    both = old.keys() & new.keys()
    label = {t for t in both if old[t]["suggested_label"] != new[t]["suggested_label"]}
    flag = {t for t in both if old[t]["is_label_issue"] != new[t]["is_label_issue"]}
    rounded = {t for t in both if round(old[t]["suspicion"], 2) != round(new[t]["suspicion"], 2)}
    counts = [len(label | rounded)]
    for tolerance in (0.01, 0.02):
        moved = {t for t in both if abs(old[t]["suspicion"] - new[t]["suspicion"]) > tolerance}
        counts.append(len(label | moved))
    return (
        f"{len(label)} suggestions and {len(flag)} flags changed; of {len(both)} predictions "
        f"{counts[0]} differ with the score rounded to 2 decimals, {counts[1]} with a score "
        f"moved by more than 0.01, {counts[2]} by more than 0.02"
    )


def fix(ls: Any, project: Project, result: Any, k: int) -> int:
    """Give k flagged, truly wrong annotations their true label (PATCH); return how many."""
    from backend.labelstudio.client import sdk_request

    done = 0
    for task in result.flagged_task_ids():
        if done == k:
            break
        if project.given[task] == project.true[task]:
            continue
        label = project.true[task]
        sdk_request(
            ls,
            "PATCH",
            f"api/annotations/{project.annotation_of[task]}/",
            json={"result": choice(CLASSES[label])},
        )
        project.given[task] = label
        done += 1
    return done


def predictions_check(ls: Any, project: int, tasks: list[int]) -> str:
    """Whether every task holds exactly one prediction, of the project's model_version."""
    from collections import Counter

    from backend.labelstudio.client import sdk_request

    version = ls.projects.get(id=project).model_version
    found = sdk_request(ls, "GET", f"api/predictions/?project={project}")
    current = Counter(p["task"] for p in found if p.get("model_version") == version)
    others = Counter(p["task"] for p in found if p.get("model_version") != version)
    bad = sum(current[t] != 1 or others[t] != 0 for t in tasks)
    return f"{version}: {'every task has exactly one' if not bad else f'{bad} tasks wrong'}"


# --------------------------------------------------------------------------- other modes


def measure_chunks(ls: Any, project: int, sizes: list[int]) -> list[str]:
    """Seconds of one import_predictions call of each size (under a throwaway version)."""
    tasks = sorted(project_tasks(ls, project))
    rows = []
    for size in sizes:
        chunk = [
            {"task": t, "result": choice(CLASSES[0]), "score": 0.5, "model_version": "chunk-probe"}
            for t in tasks[:size]
        ]
        started = time.perf_counter()
        ls.projects.import_predictions(
            id=project, request=chunk, request_options={"timeout_in_seconds": 900}
        )
        took = time.perf_counter() - started
        rows.append(f"| {len(tasks):,} | {size:,} | {took:.2f} | {1000 * took / size:.2f} |")
        print(rows[-1], flush=True)
    # (The probes are left in place: deleting 20,000 predictions takes minutes.)
    rows.append(measure_patch(ls, project, len(tasks)))
    print(rows[-1], flush=True)
    return rows


def measure_patch(ls: Any, project: int, n: int, count: int = 50) -> str:
    """Seconds per prediction changed in place (PATCH score and result), ``count`` of them."""
    from backend.labelstudio.client import sdk_request

    found = sdk_request(ls, "GET", f"api/predictions/?project={project}")
    ids = [int(p["id"]) for p in found if p.get("model_version") == "chunk-probe"][:count]
    started = time.perf_counter()
    for prediction in ids:
        sdk_request(
            ls, "PATCH", f"api/predictions/{prediction}/",
            json={"score": 0.25, "result": choice(CLASSES[1])},
        )  # fmt: skip
    took = time.perf_counter() - started
    return f"| {n:,} | PATCH one prediction in place, x{len(ids)} | {took / len(ids):.3f} | |"


def project_tasks(ls: Any, project: int) -> list[int]:
    """Every task id of the project (``api/tasks/`` with only the id, pages of 10,000)."""
    from backend.labelstudio.client import sdk_request

    ids: list[int] = []
    page = 1
    while True:
        try:
            found = sdk_request(
                ls, "GET", "api/tasks/",
                params={"project": project, "page": page, "page_size": 10000, "include": "id"},
                request_options={"timeout_in_seconds": 900},
            )  # fmt: skip
        except ValueError:
            break
        items = found.get("tasks", []) if isinstance(found, dict) else []
        ids += [int(t["id"]) for t in items]
        if not items or len(ids) >= int(found.get("total", 0)):
            break
        page += 1
    return ids


def measure_pages(ls: Any, project: int, variants: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Seconds to read every task with each page size / field selection."""
    from backend.labelstudio.client import sdk_request

    rows = []
    started = time.perf_counter()
    found = sdk_request(
        ls, "GET", f"api/projects/{project}/export",
        params={"exportType": "JSON", "download_all_tasks": "true"},
    )  # fmt: skip
    took = time.perf_counter() - started
    rows.append(f"| export API, JSON, one call | {len(found):,} | 1 | {took:.1f} | "
                f"{len(str(found)) / 1e6:.1f} |")  # fmt: skip
    print(rows[-1], flush=True)
    for name, params in variants:
        started = time.perf_counter()
        page, count, size = 1, 0, 0
        while True:
            try:
                found = sdk_request(
                    ls, "GET", "api/tasks/", params={"project": project, "page": page, **params}
                )
            except ValueError:
                break
            items = found.get("tasks", []) if isinstance(found, dict) else []
            if not items:
                break
            count += len(items)
            size += len(str(items))
            page += 1
        took = time.perf_counter() - started
        rows.append(f"| {name} | {count:,} | {page - 1} | {took:.1f} | {size / 1e6:.1f} |")
        print(rows[-1], flush=True)
    return rows


PAGE_VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("page_size=1000, no fields (data, annotation ids)", {"page_size": 1000}),
    ("page_size=100, fields=all", {"page_size": 100, "fields": "all"}),
    ("page_size=1000, fields=all", {"page_size": 1000, "fields": "all"}),
    ("page_size=5000, fields=all", {"page_size": 5000, "fields": "all"}),
]


# --------------------------------------------------------------------------- offline


def offline_changes(n: int, fixes: list[int], *, seed: int) -> list[str]:
    """Without Label Studio: audit n generated tasks, fix k flagged wrong labels, audit
    again, and count the predictions a push of only what changed would rewrite."""
    from backend.labelstudio.config import parse_label_config
    from backend.labelstudio.export import dataset_from_tasks
    from backend.pipeline import run_audit
    from backend.settings import load_settings

    settings = load_settings({}, environ={})
    kind = parse_label_config(CONFIG)
    texts, true, given = texts_and_labels(n, seed=seed)

    def audit() -> Any:
        tasks = [
            {"id": i + 1, "data": {"text": texts[i]},
             "annotations": [{"id": i + 1, "result": choice(CLASSES[given[i]])}]}
            for i in range(n)
        ]  # fmt: skip
        return run_audit(dataset_from_tasks(tasks, kind, source="offline"), settings)

    rows = []
    result = audit()
    # The push phase also writes the audit's files here (publish writes them before the
    # push and again with its time): what that costs without Label Studio.
    from backend.publish import publish

    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        publish(result, folder=lambda _: Path(scratch), settings=settings.redacted(), source="x")
        took = time.perf_counter() - started
    print(f"[{n}] outputs written once (issues.csv, predictions.json, summary, report) in "
          f"{took:.1f} s; load average {load()}", flush=True)  # fmt: skip
    for k in fixes:
        wrong = [t for t in result.flagged_task_ids() if given[t - 1] != true[t - 1]][:k]
        for task in wrong:
            given[task - 1] = true[task - 1]
        previous, result = result, audit()
        rows.append(f"| {n:,} | {len(wrong)} | {changed(previous, result)} |")
        print(rows[-1], flush=True)
    return rows


# --------------------------------------------------------------------------- main


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[3600])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fixes", type=int, nargs="*", default=[1, 50])
    parser.add_argument(
        "--chunks", type=int, nargs="*", help="then time import calls of these sizes"
    )
    parser.add_argument("--pages", action="store_true", help="then time reads of task pages")
    parser.add_argument(
        "--audits", type=int, default=1, help="full audits before the fixes (0: none)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--service",
        action="store_true",
        help="then re-audit after the fixes through the service: webhooks vs full read",
    )
    parser.add_argument(
        "--offline", action="store_true", help="only count what re-audits change (no Label Studio)"
    )
    args = parser.parse_args(argv)
    if args.offline:
        print(f"load average at start: {load()}")
        for n in args.tasks:
            offline_changes(n, args.fixes, seed=args.seed)
        return 0

    import logging

    from backend.labelstudio.client import close, connect

    logging.basicConfig(format="  [%(name)s] %(message)s", level=logging.WARNING)
    logging.getLogger("labelaudit.push").setLevel(logging.INFO)  # what a push writes in place
    root = Path(tempfile.mkdtemp(prefix="labelaudit-scale-"))
    print(f"load average at start: {load()}; work folder {root}", flush=True)
    rows: list[str] = []
    try:
        with label_studio(root) as server:
            ls = connect(server.url, server.token)
            try:
                for n in args.tasks:
                    started = time.perf_counter()
                    fixing = bool(args.fixes)
                    project = make_project(ls, n, seed=args.seed, with_annotation_ids=fixing)
                    print(f"[{n}] project {project.id} built in "
                          f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
                    runs = []
                    result = None
                    for i in range(args.audits):
                        label = "first audit" if i == 0 else f"audit again ({i + 1})"
                        latest = runs[-1].extra["version"] if runs else None
                        run, result = audit_once(server.url, server.token, project.id,
                                                 root / str(n), label, latest)  # fmt: skip
                        runs.append(run)
                        print(HEADER if len(runs) == 1 else "", run.row(n), sep="\n", flush=True)
                    for k in args.fixes if result is not None else []:
                        fixed = fix(ls, project, result, k)
                        previous = result
                        run, result = audit_once(server.url, server.token, project.id,
                                                 root / str(n), f"after {fixed} fixed",
                                                 runs[-1].extra["version"])  # fmt: skip
                        runs.append(run)
                        print(run.row(n), flush=True)
                        print(f"[{n}] after {fixed} fixed: {changed(previous, result)}")
                    if runs:
                        check = predictions_check(ls, project.id, list(project.true))
                        print(f"[{n}] {check}; load average {load()}; "
                              f"peak RSS {peak_rss_mib():.0f} MiB", flush=True)  # fmt: skip
                    rows += [run.row(n) for run in runs]
                    if args.service:
                        from bench.webhook_reads import service_rounds

                        served = service_rounds(server.url, server.token, ls, project,
                                                args.fixes, root / f"service-{n}", fix=fix,
                                                make_run=Run)  # fmt: skip
                        for run in served:
                            print(run.row(n), run.extra["notes"], flush=True)
                        rows += [run.row(n) for run in served]
                        print(f"[{n}] load average {load()}", flush=True)
                    if args.pages:
                        print("| read | tasks | pages | s | MB |")
                        rows += measure_pages(ls, project.id, PAGE_VARIANTS)
                    if args.chunks:
                        print("| tasks | predictions per call | s per call | ms per prediction |")
                        rows += measure_chunks(ls, project.id, args.chunks)
                    print(f"[{n}] load average {load()}", flush=True)
            finally:
                close(ls)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nload average at end: {load()}")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
