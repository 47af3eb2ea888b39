"""Big projects (issue 14): an audit's folds over 1, 2, 4 Celery processes; a big audit's memory.

Two modes, both without a real Label Studio: the tasks come from the tests' fake Label
Studio (``tests/worker/support.py``: the task-list API page by page, predictions, tabs),
serving ``bench/scale.py``'s generated text project (four topics, 10% of labels flipped).

* ``fanout``: real Redis (127.0.0.1:6379 or a private redis-server), a real
  ``labelaudit worker --concurrency C`` for each C, the web side's ``/webhook``
  (START_TRAINING) in this process; each run audits a fresh project holding the same
  tasks (each run a first audit: import, switch, tab). Times from the webhook to the job's
  end, and per Celery task from the worker's log (``audit_project`` = read + features +
  splits, each ``audit_fold``, ``finish_audit`` = confident learning + final model +
  publish), and the fit alone inside each fold (its ``fold-<i>.pkl``). The pool's peak
  RSS per process (VmHWM) is read from /proc before each worker stops. It uses a Redis
  database of its own (``--redis-db``, 14) and its own namespace, whose keys (and
  Celery's there) are deleted at the end. ``--model`` sets LABELAUDIT_MODEL (a model
  whose folds cost something: ``sklearn.linear_model.LogisticRegression``). Workers run
  at niceness 0 (LABELAUDIT_AUDIT_NICE=0), on equal terms with the rest of the machine.
* ``memory``: one child process runs the CLI's path on the project read from the fake
  Label Studio (in this process): read (``LabelStudioIO.load``, pages of 1,000),
  prepare, the folds, finish, the final model, the work item pickled as ``audit_project``
  does, publish (files only); after each phase its RSS, the phase's own peak (VmHWM,
  reset between phases through /proc/self/clear_refs) and the sizes of what it holds.

    PYTHONPATH=. .venv/bin/python bench/fanout.py fanout --tasks 20000 --concurrency 1 2 4 \
        --repeats 3
    PYTHONPATH=. .venv/bin/python bench/fanout.py fanout --tasks 20000 --concurrency 1 2 4 \
        --repeats 2 --model sklearn.linear_model.LogisticRegression
    PYTHONPATH=. .venv/bin/python bench/fanout.py memory --tasks 100000

BLAS/OpenMP threads are set to 1. The machine is shared: the load average is printed.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scale import CLASSES, CONFIG, choice, load, texts_and_labels  # noqa: E402
from tests.worker.support import (  # noqa: E402
    TOKEN,
    FakeLabelStudio,
    drop_namespace,
    redis_server,
    start_worker,
    stop_worker,
    wait_for,
    worker_env,
)

#: Projects the fan-out runs may use (a fresh one per run).
PROJECTS = range(1, 61)
JOB_TIMEOUT = 3600.0
LINE = re.compile(
    r"^\[(?P<at>[\d-]+ [\d:,]+): \w+/[^\]]+\] Task (?P<task>labelaudit\.\w+)\[[^\]]+\] "
    r"succeeded in (?P<took>[\d.]+)s"
)


def make_tasks(n: int, *, seed: int) -> list[dict[str, Any]]:
    """n annotated text tasks as Label Studio's task list serves them."""
    texts, _, given = texts_and_labels(n, seed=seed)
    return [
        {
            "id": i + 1,
            "data": {"text": texts[i]},
            "annotations": [
                {
                    "id": 1_000_000 + i,
                    "result": choice(CLASSES[int(given[i])]),
                    "completed_by": 1,
                    "was_cancelled": False,
                    "ground_truth": False,
                    "created_at": "2025-01-01T00:00:00Z",
                    "updated_at": "2025-01-01T00:00:00Z",
                }
            ],
        }
        for i in range(n)
    ]


def status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM of a process, in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            out[key] = int(value.split()[0]) // 1024
    return out


def children(pid: int) -> list[int]:
    """The process ids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


# --------------------------------------------------------------------------- fan-out


def _stamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def celery_tasks(log_text: str) -> list[tuple[str, float, float]]:
    """(task name, end time, seconds) of each task the worker's log says succeeded."""
    found = []
    for line in log_text.splitlines():
        match = LINE.match(line)
        if match:
            found.append((match["task"], _stamp(match["at"]), float(match["took"])))
    return found


def fanout(
    n: int,
    concurrencies: list[int],
    repeats: int,
    folds: int,
    seed: int,
    model: str,
    redis_db: int,
) -> list[str]:
    """Audit n tasks ``repeats`` times per worker concurrency; return the table's rows."""
    from backend.api import create_app
    from backend.store.artifacts import Artifacts

    tasks = make_tasks(n, seed=seed)
    rows: list[str] = []
    namespace = f"labelaudit-fanout-{uuid.uuid4().hex[:10]}"
    projects = iter(PROJECTS)
    with (
        redis_server() as server,
        FakeLabelStudio() as fake,
        tempfile.TemporaryDirectory(prefix="labelaudit-fanout-") as scratch,
    ):
        root = Path(scratch)
        # A Redis database of its own: kombu keeps every queue's unacknowledged tasks in one
        # hash per database ("unacked"), restored by any worker on it after *its* own
        # visibility timeout (the worker tests use 3 s), which ran folds here twice.
        redis_url = f"{server.rpartition('/')[0]}/{redis_db}"
        settings = {
            "redis_url": redis_url,
            "model_dir": str(root / "models"),
            "label_studio_url": fake.url,
            "label_studio_api_key": TOKEN,
            "namespace": namespace,
            "folds": str(folds),
            "debounce_seconds": "0.1",
            "sweep_seconds": "0",
            "audit_nice": "0",
            "model": model,
            "projects": ",".join(map(str, PROJECTS)),
        }
        env = worker_env({f"LABELAUDIT_{k.upper()}": v for k, v in settings.items()})
        for name in ("redis_url", "model_dir"):
            env[name.upper()] = settings[name]
        env["LABEL_STUDIO_URL"], env["LABEL_STUDIO_API_KEY"] = fake.url, TOKEN
        client = create_app({"SETTINGS": settings, "TESTING": True}).test_client()
        artifacts = Artifacts(Path(settings["model_dir"]))
        try:
            for concurrency in concurrencies:
                log = root / f"worker-{concurrency}.log"
                proc = start_worker(env, log, concurrency=concurrency)
                try:
                    wait_for(partial(ready, log), timeout=120, what="the worker")
                    for repeat in range(repeats):
                        project = next(projects)
                        fake.add_project(project, tasks, label_config=CONFIG)
                        rows.append(
                            one_run(client, fake, artifacts, log, project, concurrency, repeat)
                        )
                        print(rows[-1], flush=True)
                    pool = sorted(status(p).get("VmHWM", 0) for p in children(proc.pid))
                    print(f"[C={concurrency}] peak RSS of the pool processes (MiB): {pool}; "
                          f"main {status(proc.pid).get('VmHWM')}", flush=True)  # fmt: skip
                finally:
                    stop_worker(proc)
        finally:
            drop_namespace(redis_url, namespace)
            drop_celery_keys(redis_url)
    return rows


def drop_celery_keys(redis_url: str) -> None:
    """Delete Celery's own keys in this bench's database (results, chords, unacked)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for pattern in ("celery-task*-meta-*", "*.chord*", "unacked*", "_kombu.binding*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    client.close()


def ready(log: Path) -> bool:
    """Whether the worker logging to ``log`` says it is ready."""
    return log.exists() and " ready." in log.read_text()


def one_run(
    client: Any, fake: Any, artifacts: Any, log: Path, project: int, concurrency: int, repeat: int
) -> str:
    """One audit through the worker: webhook to job end, and its Celery tasks from the log."""
    before = log.stat().st_size
    at_load = load()
    started = time.time()
    answer = client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": project}})
    job = answer.json["job"]

    fits: dict[str, float] = {}  # read while they exist: the job's end removes them

    def done() -> dict[str, Any] | None:
        for path in artifacts.work_dir(project, job).glob("fold-*.pkl"):
            if path.name not in fits:
                with contextlib.suppress(OSError, ValueError):
                    fits[path.name] = float(artifacts.read_pickle(path)[1])
        record = client.get(f"/jobs/{job}").json
        return record if record["state"] in {"succeeded", "failed", "superseded"} else None

    record = wait_for(done, timeout=JOB_TIMEOUT, what=f"job {job}", every=0.1)
    wall = time.time() - started
    if record["state"] != "succeeded":
        raise RuntimeError(f"audit of project {project} ended {record['state']}: {record}")
    time.sleep(0.5)  # the log line of the last task
    with log.open() as handle:
        handle.seek(before)
        ran = celery_tasks(handle.read())
    begin = [t for t in ran if t[0].endswith("audit_project")]
    fold = [t for t in ran if t[0].endswith("audit_fold")]
    finish = [t for t in ran if t[0].endswith("finish_audit")]
    span = max(end for _, end, _ in fold) - min(end - took for _, end, took in fold)
    fake.projects[project].predictions = []  # free this process's copy
    return (
        f"| {concurrency} | {repeat + 1} | {wall:.1f} | {sum(t for *_, t in begin):.1f} | "
        f"{span:.1f} | {', '.join(f'{t:.1f}' for *_, t in fold)} | "
        f"{', '.join(f'{fits[k]:.1f}' for k in sorted(fits))} | {sum(t for *_, t in finish):.1f} | "
        f"{at_load} -> {load()} |"
    )


FANOUT_HEADER = (
    "| processes | run | webhook to end s | audit_project s | folds span s | "
    "each audit_fold s | fit in each fold s | finish_audit s | load average |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


# --------------------------------------------------------------------------- memory


def memory(n: int, seed: int) -> None:
    """Serve n tasks from the fake Label Studio here; audit them in a child process."""
    tasks = make_tasks(n, seed=seed)
    with FakeLabelStudio() as fake:
        fake.add_project(1, tasks, label_config=CONFIG)
        del tasks
        print(f"load average at start: {load()}; this process (the fake Label Studio) "
              f"{status()} MiB", flush=True)  # fmt: skip
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        )
        subprocess.run(
            [sys.executable, __file__, "memory-child", fake.url, "1"], env=env, check=True
        )
    print(f"load average at end: {load()}")


def reset_peak() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_child(url: str, project: int) -> None:
    """The CLI's path on a project of the fake Label Studio, RSS per phase."""
    import gc
    import pickle

    import label_studio_sdk  # noqa: F401  (what the read imports, before the first figure)
    import sklearn.feature_extraction.text
    import sklearn.naive_bayes  # noqa: F401

    from backend import tasktypes
    from backend.pipeline import finish, fit_predict_fold, fold_splits, prepare
    from backend.progress import no_progress
    from backend.publish import LabelStudioIO, publish
    from backend.settings import load_settings
    from backend.store import Artifacts

    settings = load_settings({}, environ={})
    resets = reset_peak()
    print(f"| phase | s | RSS after MiB | phase peak MiB | held | load |\n|---|---|---|---|---|---|"
          f"\n| imports | | {status()['VmRSS']} | {status()['VmHWM']} | | {load()} |",
          flush=True)  # fmt: skip

    peaks = [status()["VmHWM"]]

    def phase(name: str, started: float, held: str) -> None:
        gc.collect()
        now = status()
        peaks.append(now["VmHWM"])
        print(f"| {name} | {time.perf_counter() - started:.1f} | {now['VmRSS']} | "
              f"{now['VmHWM']} | {held} | {load()} |", flush=True)  # fmt: skip
        reset_peak()

    started = time.perf_counter()
    dataset = LabelStudioIO().load(url, TOKEN, project, no_progress)
    text = sum(sys.getsizeof(x) for x in dataset.inputs)
    phase("read (the export, streamed, into the dataset)", started,
          f"{len(dataset):,} rows; input strings {text / 2**20:.0f} MiB")  # fmt: skip

    started = time.perf_counter()
    prepared = prepare(dataset, settings)
    X = prepared.X
    size = sum(getattr(X, a).nbytes for a in ("data", "indices", "indptr")) if hasattr(
        X, "indptr") else getattr(X, "nbytes", 0)  # fmt: skip
    vectorizer = len(pickle.dumps(prepared.features)) / 2**20
    phase("prepare (features)", started,
          f"X {type(X).__name__} {X.shape}, {getattr(X, 'nnz', '')} non-zeros, "
          f"{size / 2**20:.0f} MiB; fitted feature steps {vectorizer:.0f} MiB pickled")  # fmt: skip

    started = time.perf_counter()
    splits = fold_splits(prepared, folds=settings.folds, seed=settings.seed)
    with tempfile.TemporaryDirectory() as scratch:
        artifacts = Artifacts(scratch, key="bench" * 8)
        path = Path(scratch) / "prepared.pkl"
        artifacts.write_pickle(path, (prepared, splits))
        pickled = path.stat().st_size
        phase("work item written (audit_project: Artifacts.write_pickle)", started,
              f"prepared.pkl {pickled / 2**20:.0f} MiB")  # fmt: skip
        started = time.perf_counter()
        again = artifacts.read_pickle(path)
        phase("work item read (each fold's process: Artifacts.read_pickle)", started,
              "a second copy, as a pool process that did not run begin holds it")  # fmt: skip
        del again

    started = time.perf_counter()
    task_type = tasktypes.get(prepared.dataset.kind.task_type)
    probs = task_type.empty_probs(len(prepared.labels), prepared.num_classes)
    for train, test in splits:
        probs[test] = fit_predict_fold(prepared, settings, train, test)
    phase(
        f"{len(splits)} folds, one after another", started, f"probs {probs.nbytes / 2**20:.1f} MiB"
    )

    started = time.perf_counter()
    result = finish(prepared, probs, settings)
    phase(
        "finish (confident learning, evidence)",
        started,
        f"{int(result.is_label_issue.sum()):,} flagged; confident learning "
        f"{result.timings['confident_learning']:.1f} s, "
        f"evidence {result.timings['evidence']:.1f} s",
    )

    started = time.perf_counter()
    model = task_type.final_model(prepared, result, settings)
    phase("final model", started, type(model).__name__)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        publish(result, folder=lambda _: Path(scratch), settings=settings.redacted(), source="x")
        files = sum(p.stat().st_size for p in Path(scratch).rglob("*") if p.is_file())
    phase("publish (files only, no push)", started, f"outputs {files / 2**20:.0f} MiB")
    # (getrusage's ru_maxrss is VmHWM: clear_refs resets it too, so the phases' maximum.)
    print(
        f"\npeak RSS of the child: {max(peaks)} MiB (the highest phase peak; "
        f"{'reset between phases' if resets else 'NOT reset: no clear_refs'})"
    )


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    fan = sub.add_parser("fanout")
    fan.add_argument("--tasks", type=int, default=20000)
    fan.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    fan.add_argument("--repeats", type=int, default=2)
    fan.add_argument("--folds", type=int, default=5)
    fan.add_argument("--seed", type=int, default=0)
    fan.add_argument("--model", default="auto", help="LABELAUDIT_MODEL (a dotted path)")
    fan.add_argument("--redis-db", type=int, default=14, help="a Redis database of its own")
    mem = sub.add_parser("memory")
    mem.add_argument("--tasks", type=int, default=100000)
    mem.add_argument("--seed", type=int, default=0)
    child = sub.add_parser("memory-child")
    child.add_argument("url")
    child.add_argument("project", type=int)
    args = parser.parse_args(argv)
    if args.mode == "memory-child":
        memory_child(args.url, args.project)
    elif args.mode == "memory":
        memory(args.tasks, args.seed)
    else:
        print(f"load average at start: {load()}", flush=True)
        print(FANOUT_HEADER, flush=True)
        rows = fanout(
            args.tasks,
            args.concurrency,
            args.repeats,
            args.folds,
            args.seed,
            args.model,
            args.redis_db,
        )
        print(f"\nload average at end: {load()}\n{FANOUT_HEADER}\n" + "\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
