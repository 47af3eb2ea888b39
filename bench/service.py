"""Latency of the ML-backend routes under concurrent clients: labelaudit against the floor.

Starts ``labelaudit serve`` (gunicorn) on 127.0.0.1 and, in the same run, a bare Flask app
with the same routes and basic auth (``bench/bare_app.py``) under the same gunicorn
settings; seeds one project holding an audit of 10 tasks straight into the state store;
then runs 32 concurrent clients (one asyncio loop, raw HTTP/1.1, so the client costs
little CPU) against each route of the two servers taking turns (``--rounds`` turns each,
so load from elsewhere on a shared machine falls on both alike): GET /health, POST /setup, POST
/predict (the 10 audited tasks), POST /webhook (annotation events: debounced, so they only
touch Redis). Clients open a **new connection per request**, as Label Studio does, and,
second, keep one connection alive. Basic auth is on (as in production). Prints p50/p99
per route for both servers and labelaudit's p99 as a ratio to the bare app's, and the
machine's CPU per request while each server was measured: its processes (``/proc``), the
Redis server (its ``INFO cpu``) and this process's clients. At 32 clients the 2 cores are
saturated, so latency follows that total: a route that waits on one Redis round trip pays
for the round trip's system calls, its thread's sleep and wake-up, and Redis's side.
``--during-audit N`` then measures both again while audits of an N-task project run back to
back (the tests' fake Label Studio serves it, in a process of its own; Redis mode: a
``labelaudit worker``), and prints each audit's seconds against one run alone; there each
/webhook saves an annotation of the audited project, so it is also judged at once, and the
CPU per request counts the worker's too (its audits run beside both servers alike; its
instant runs only beside labelaudit).

    .venv/bin/python bench/service.py                      # Redis mode (REDIS_URL or local)
    .venv/bin/python bench/service.py --mode embedded      # no Redis: one process
    .venv/bin/python bench/service.py --markdown bench/RESULTS.md

Goal (issue 16): p99 <= 1.5x the bare Flask app's on every route, no errors. Timing is per
request, from opening the connection (or writing the request) to reading the whole
answer, on one machine shared by clients and servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.audit_loop import PROJECT, AuditLoop, FakeLabelStudioProcess  # noqa: E402
from bench.load import PASSWORD, USER, free_port, load, measure, wait_up  # noqa: E402

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>
</View>"""
TOKEN = "0123456789abcdef0123456789abcdef01234567"
#: The worker of --during-audit in Redis mode (2 pool processes: the machine's 2 cores).
WORKER_ARGS = ("--concurrency", "2", "--no-beat")
#: The measured figures, by (new connection per request, route, server).
Results = dict[tuple[bool, str, str], dict[str, float]]


def seed(redis_url: str, namespace: str) -> list[dict]:
    """Store an audit of 10 tasks for PROJECT; return the /predict tasks."""
    from backend.labelstudio.config import parse_label_config
    from backend.labelstudio.predictions import build_predict_result
    from backend.store import RedisStore, SavedAudit

    kind = parse_label_config(CONFIG)
    answers = {
        task: build_predict_result(kind, task % 2, task / 10, "labelaudit-1", mislabeling=task / 10)
        for task in range(1, 11)
    }
    store = RedisStore(redis_url, namespace=namespace)
    store.save_audit(
        PROJECT,
        SavedAudit("labelaudit-1", "bench", answers, {"counts": {}}, "fp", 3, 1.0),
    )
    store.remember_project(PROJECT, url="http://127.0.0.1:8080", token=TOKEN)
    store.redis.close()
    return [{"id": task, "data": {"text": f"task {task} text " * 20}} for task in answers]


def requests_for(tasks: list[dict]) -> dict[str, tuple[str, str, bytes]]:
    """The request of each benchmarked route: method, path, JSON body."""
    setup = {
        "project": f"{PROJECT}.1732700000",
        "schema": CONFIG,
        "hostname": "http://127.0.0.1:8080",
        "access_token": TOKEN,
        "extra_params": None,
    }
    predict = {
        "tasks": tasks,
        "project": f"{PROJECT}.1732700000",
        "label_config": CONFIG,
        "params": {"login": None, "password": None, "context": None},
    }
    webhook = {
        "action": "ANNOTATION_CREATED",
        "project": {"id": PROJECT, "label_config": CONFIG},
        "annotation": {"id": 7, "task": 3, "result": []},
    }
    return {
        "/health": ("GET", "/health", b""),
        "/setup": ("POST", "/setup", json.dumps(setup).encode()),
        "/predict": ("POST", "/predict", json.dumps(predict).encode()),
        "/webhook": ("POST", "/webhook", json.dumps(webhook).encode()),
    }


def audited_webhook() -> tuple[str, str, bytes]:
    """The /webhook of --during-audit: a person saves an annotation of the audited project
    (task 3 of the fake Label Studio's, its label "b"), so its audits judge it at once."""
    from tests.worker.support import CONFIG as AUDITED_CONFIG
    from tests.worker.support import annotation

    webhook = {
        "action": "ANNOTATION_UPDATED",
        "project": {"id": PROJECT, "label_config": AUDITED_CONFIG},
        "annotation": {**annotation(10_003, "b"), "task": 3},
    }
    return "POST", "/webhook", json.dumps(webhook).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["redis", "embedded"], default="redis")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=100, help="per client and route")
    parser.add_argument(
        "--rounds", type=int, default=4,
        help="the two servers take turns this many times per route (the requests split)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, help="gunicorn processes (serve's default)")
    parser.add_argument("--threads", type=int, default=8, help="threads per process")
    parser.add_argument(
        "--connections", choices=["new", "keep-alive", "both"], default="both",
        help="a new connection per request (as Label Studio), one kept alive, or both",
    )  # fmt: skip
    parser.add_argument(
        "--during-audit", type=int, metavar="N",
        help="also measure while audits of an N-task project run back to back (a fake Label "
        "Studio serves it; in Redis mode a labelaudit worker runs them)",
    )  # fmt: skip
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="NAME=VALUE",
        help="an extra environment variable for labelaudit serve and worker (repeatable)",
    )  # fmt: skip
    parser.add_argument("--markdown", help="append the results as a markdown table to this file")
    args = parser.parse_args()
    workers = args.workers or (2 if args.mode == "redis" else 1)
    fake = None
    if args.during_audit:
        from tests.worker.support import TOKEN as LS_TOKEN

        fake = FakeLabelStudioProcess(args.during_audit)

    namespace = f"labelaudit-bench-{uuid.uuid4().hex[:8]}"
    ports = {"labelaudit": free_port(), "bare Flask": free_port()}
    model_dir = tempfile.mkdtemp(prefix="labelaudit-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABELAUDIT_", "BASIC_AUTH"))}
    env.update(
        MODEL_DIR=model_dir,
        LABELAUDIT_NAMESPACE=namespace,
        LABELAUDIT_DEBOUNCE_SECONDS="3600",  # webhook events schedule, nothing runs
        LABELAUDIT_SWEEP_SECONDS="0",
        LABELAUDIT_PROJECTS=str(PROJECT),
        REDIS_URL=args.redis_url if args.mode == "redis" else "",
        BASIC_AUTH_USER=USER,
        BASIC_AUTH_PASS=PASSWORD,
        PYTHONPATH=str(ROOT),
    )
    if fake is not None:
        env.update(LABEL_STUDIO_URL=fake.url, LABEL_STUDIO_API_KEY=LS_TOKEN)
    env.update(item.split("=", 1) for item in args.server_env)
    server = ["--workers", str(workers), "--threads", str(args.threads)]
    commands = {
        "labelaudit": [
            *(sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1"),
            *("--port", str(ports["labelaudit"]), *server),
        ],
        # The same gunicorn settings labelaudit serve uses (backend/serving.py).
        "bare Flask": [
            *(sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{ports['bare Flask']}"),
            *(*server, "--worker-class", "gthread", "--keep-alive", "5", "--timeout", "120"),
            "bench.bare_app:app",
        ],
    }
    tasks = [{"id": t, "data": {"text": f"task {t} text " * 20}} for t in range(1, 11)]
    if args.mode == "redis":
        tasks = seed(args.redis_url, namespace)
    procs = {
        name: subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for name, command in commands.items()
    }
    worker = None
    modes = {"new": [True], "keep-alive": [False], "both": [True, False]}[args.connections]
    results: Results = {}
    requests = requests_for(tasks)
    redis_client = None
    if args.mode == "redis":
        import redis

        redis_client = redis.Redis.from_url(args.redis_url)
    try:
        for name, proc in procs.items():
            wait_up(ports[name], proc)
            for request in requests.values():  # warm up every process (pools, caches)
                asyncio.run(load(ports[name], request, args.clients, 10, False))
        for new in modes:
            for route, request in requests.items():
                found = measure(
                    *(ports, request, args.clients, args.requests, new, args.rounds),
                    pids={name: proc.pid for name, proc in procs.items()},
                    redis_client=redis_client,
                )
                for name in procs:
                    results[new, route, name] = found[name]
        if fake is not None:
            if args.mode == "redis":  # started now: its start-up is not in the idle figures
                worker = subprocess.Popen(
                    [*(sys.executable, "-m", "backend.cli", "worker"), *WORKER_ARGS],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            during_requests = {**requests, "/webhook": audited_webhook()}
            pids = {name: proc.pid for name, proc in procs.items()}
            with AuditLoop(ports["labelaudit"]) as audits:
                opened = time.perf_counter()
                for route, request in during_requests.items():
                    found = measure(
                        *(ports, request, args.clients, args.requests, True, args.rounds),
                        pids=pids,
                        redis_client=redis_client,
                        also=worker.pid if worker is not None else None,
                    )
                    results[True, route, "during an audit"] = found["labelaudit"]
                    results[True, route, "bare"] = found["bare Flask"]
                running = time.perf_counter() - audits.started  # the audit unfinished now
                window = time.perf_counter() - opened
            during = (
                f"{audits.done} audits of {args.during_audit} tasks finished in the "
                f"{window:.0f} s measured"
                + (f", {np.mean(audits.seconds):.1f} s each" if audits.seconds else "")
                + f", one unfinished after {running:.1f} s; {audits.alone:.1f} s alone"
            )
            if audits.failed:
                during += f" ({len(audits.failed)} failed: {audits.failed[0][:200]})"
    finally:
        stop(procs, worker, fake)
        if args.mode == "redis":
            forget(args.redis_url, namespace)

    out = [idle_table(args, workers, new, requests, results) for new in modes]
    if fake is not None:
        out.append(during_table(args, env, during, requests, results))
    print("\n\n".join(out))
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as handle:
            handle.write("\n" + "\n\n".join(out) + "\n")
    return 1 if any(r["errors"] for r in results.values()) else 0


def stop(procs: dict[str, subprocess.Popen], worker: subprocess.Popen | None, fake: Any) -> None:
    """Stop the two servers, the worker (its whole process group) and the fake Label Studio."""
    for proc in procs.values():
        proc.terminate()
        proc.wait(30)
    if worker is not None:
        os.killpg(worker.pid, 15)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:  # a warm shutdown behind a queue of tasks
            os.killpg(worker.pid, 9)
            worker.wait(30)
    if fake is not None:
        fake.close()


def forget(redis_url: str, namespace: str) -> None:
    """Delete the run's keys (its namespace and its Celery queue bindings) from Redis."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
    keys += list(client.scan_iter(match=f"_kombu.binding*.{namespace}", count=1000))
    if keys:
        client.delete(*keys)


def idle_table(
    args: argparse.Namespace, workers: int, new: bool, requests: dict[str, Any], results: Results
) -> str:
    """The idle figures of one connection mode: labelaudit beside the bare app, per route."""
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    title = (
        f"mode {args.mode}, {'a new connection per request' if new else 'keep-alive'}, "
        f"basic auth, {args.clients} concurrent clients, {args.requests} requests per client "
        f"and route, gunicorn {workers} x {args.threads} threads; {machine}; load average "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    lines = [
        "| route | labelaudit p50 ms | p99 ms | req/s | bare Flask p50 ms | p99 ms | req/s "
        "| p99 ratio | CPU µs/request, labelaudit: server + Redis + clients | bare Flask "
        "| CPU ratio | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for route in requests:
        ours, bare = results[new, route, "labelaudit"], results[new, route, "bare Flask"]
        lines.append(
            f"| {route} | {ours['p50']:.1f} | {ours['p99']:.1f} | {ours['rate']:.0f} "
            f"| {bare['p50']:.1f} | {bare['p99']:.1f} | {bare['rate']:.0f} "
            f"| {ours['p99'] / bare['p99']:.2f}x | {_cpu(ours)} | {_cpu(bare)} "
            f"| {ours['cpu'] / bare['cpu']:.2f}x | {ours['errors']} / {bare['errors']} |"
        )
    return f"{title}\n\n" + "\n".join(lines)


def during_table(
    args: argparse.Namespace,
    env: dict[str, str],
    during: str,
    requests: dict[str, Any],
    results: Results,
) -> str:
    """The figures while audits run: labelaudit against the bare app idle and during."""
    from backend.settings import load_settings

    cpu_of = " (with the worker's)" if args.mode == "redis" else ""
    lines = [
        "| route | labelaudit p50 ms | p99 ms | bare Flask p99 ms (idle) | p99 ratio "
        "| bare Flask p99 ms (during) | ratio to it | CPU µs/request, labelaudit: "
        f"server{cpu_of} + Redis + clients | bare Flask | CPU ratio | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for route in requests:
        ours, bare = results[True, route, "during an audit"], results[True, route, "bare Flask"]
        bare_during = results[True, route, "bare"]
        lines.append(
            f"| {route} | {ours['p50']:.1f} | {ours['p99']:.1f} | {bare['p99']:.1f} "
            f"| {ours['p99'] / bare['p99']:.2f}x | {bare_during['p99']:.1f} "
            f"| {ours['p99'] / bare_during['p99']:.2f}x | {_cpu(ours)} | {_cpu(bare_during)} "
            f"| {ours['cpu'] / bare_during['cpu']:.2f}x "
            f"| {ours['errors']} / {bare_during['errors']} |"
        )
    if args.mode == "redis":
        where = f"in a worker at niceness +{load_settings(environ=env).audit_nice}"
    else:
        where = "in the web process's audit process"
    return (
        f"During audits ({args.mode} mode: {where}; {during}), a new connection per "
        f"request; load average {os.getloadavg()[0]:.1f} at the end\n\n" + "\n".join(lines)
    )


def _cpu(found: dict[str, float]) -> str:
    return (
        f"{found['cpu']:.0f} = {found['cpu_server']:.0f} + {found['cpu_redis']:.0f} "
        f"+ {found['cpu_client']:.0f}"
    )


if __name__ == "__main__":
    sys.exit(main())
