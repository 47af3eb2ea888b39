"""Latency of the ML-backend routes under concurrent clients, against `labelaudit serve`.

Starts ``labelaudit serve`` (gunicorn) on 127.0.0.1, seeds one project holding an audit
of 10 tasks straight into its state store, then runs 32 concurrent keep-alive clients
(one asyncio loop, raw HTTP/1.1, so the client costs little CPU) against each route in
turn: GET /health, POST /setup, POST /predict (the 10 audited tasks), POST /webhook
(annotation events: debounced, so they only touch Redis). Prints p50/p99/max per route
and the error count (non-2xx answers or failed connections).

    .venv/bin/python bench/service.py                      # Redis mode (REDIS_URL or local)
    .venv/bin/python bench/service.py --mode embedded      # no Redis: one process
    .venv/bin/python bench/service.py --markdown bench/RESULTS.md

Goal: p99 < 50 ms (/predict < 100 ms), no errors. Timing is per request, from writing it
to reading the whole answer, on one machine shared by clients and server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>
</View>"""
PROJECT = 1
TOKEN = "0123456789abcdef0123456789abcdef01234567"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


async def one_client(
    port: int, request: tuple[str, str, bytes], count: int, latencies: list[float]
) -> int:
    """Send ``count`` requests on one keep-alive connection; return the number of errors."""
    method, path, body = request
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    errors = 0
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            start = time.perf_counter()
            try:
                writer.write(head + body)
                await writer.drain()
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                status = int(status_line.split()[1])
            except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append(time.perf_counter() - start)
            if not 200 <= status < 300:
                errors += 1
    finally:
        writer.close()
    return errors


async def load(port: int, request: tuple[str, str, bytes], clients: int, per_client: int):
    """Run ``clients`` concurrent clients; return latencies (s), errors and wall time."""
    latencies: list[float] = []
    started = time.perf_counter()
    errors = await asyncio.gather(
        *(one_client(port, request, per_client, latencies) for _ in range(clients))
    )
    return latencies, sum(errors), time.perf_counter() - started


def wait_up(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("labelaudit serve exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                if b"200" in sock.recv(64):
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("labelaudit serve did not come up")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["redis", "embedded"], default="redis")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=100, help="per client and route")
    parser.add_argument("--workers", type=int, help="gunicorn processes (serve's default)")
    parser.add_argument("--threads", type=int, help="threads per process (serve's default)")
    parser.add_argument("--markdown", help="append the results as a markdown table to this file")
    args = parser.parse_args()

    namespace = f"labelaudit-bench-{uuid.uuid4().hex[:8]}"
    port = free_port()
    model_dir = tempfile.mkdtemp(prefix="labelaudit-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABELAUDIT_", "BASIC_AUTH"))}
    env.update(
        MODEL_DIR=model_dir,
        LABELAUDIT_NAMESPACE=namespace,
        LABELAUDIT_DEBOUNCE_SECONDS="3600",  # webhook events schedule, nothing runs
        LABELAUDIT_SWEEP_SECONDS="0",
        REDIS_URL=args.redis_url if args.mode == "redis" else "",
        PYTHONPATH=str(ROOT),
    )
    command = [
        sys.executable,
        "-m",
        "backend.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    tasks = [{"id": t, "data": {"text": f"task {t} text " * 20}} for t in range(1, 11)]
    if args.mode == "redis":
        tasks = seed(args.redis_url, namespace)
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    rows = []
    try:
        wait_up(port, proc)
        requests = requests_for(tasks)
        for request in requests.values():  # warm up every process (pools, caches)
            asyncio.run(load(port, request, args.clients, 10))
        for name, request in requests.items():
            latencies, errors, wall = asyncio.run(load(port, request, args.clients, args.requests))
            ms = np.array(latencies) * 1000
            rows.append(
                (
                    name,
                    len(ms),
                    float(np.percentile(ms, 50)),
                    float(np.percentile(ms, 99)),
                    float(ms.max()),
                    len(ms) / wall,
                    errors,
                )
            )
    finally:
        proc.terminate()
        proc.wait(30)
        if args.mode == "redis":
            import redis

            client = redis.Redis.from_url(args.redis_url)
            keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
            keys += list(client.scan_iter(match=f"_kombu.binding*.{namespace}", count=1000))
            if keys:
                client.delete(*keys)

    header = "| route | requests | p50 ms | p99 ms | max ms | req/s | errors |"
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|"]
    for name, n, p50, p99, top, rate, errors in rows:
        lines.append(
            f"| {name} | {n} | {p50:.1f} | {p99:.1f} | {top:.1f} | {rate:.0f} | {errors} |"
        )
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    load_average = os.getloadavg()[0]
    title = (
        f"mode {args.mode}, {args.clients} concurrent clients, {args.requests} requests per client "
        f"and route, gunicorn workers {args.workers or 'default'}; {machine}; "
        f"load average {load_average:.1f} at the end"
    )
    print(title)
    print("\n".join(lines))
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as out:
            out.write(f"\n{title}\n\n" + "\n".join(lines) + "\n")
    return 1 if any(r[-1] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
