"""CPU per request of each ML-backend route in one process: labelaudit against the floor.

The Flask test client calls each route of ``create_app()`` (Redis mode, the store seeded
as bench/service.py seeds it, basic auth on) and of the bare app (``bench/bare_app.py``)
``--requests`` times; prints this process's CPU time per request (``time.process_time``:
the client's share, the same for both, included) and what labelaudit adds. The row
"/webhook, judged at once" posts the same webhook for a second project whose audit judges
changes at once (its instant message is sent to Redis as in production; no worker runs it
here, so a code that sends once per pending run sends once, one that sends per webhook
sends each time). Then the CPU of one Celery ``send_task`` as the web process sends an
instant message. No server, no concurrency: what each route costs, not how it queues.

    .venv/bin/python bench/route_cpu.py [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import bare_app  # noqa: E402
from bench.load import AUTH, PASSWORD, USER  # noqa: E402
from bench.service import requests_for, seed  # noqa: E402


def per_call(call: Callable[[], object], count: int) -> float:
    """CPU microseconds per call (after a warm-up)."""
    for _ in range(min(100, count)):
        call()
    started = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - started) / count * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--requests", type=int, default=3000, help="per route and app")
    args = parser.parse_args()
    namespace = f"labelaudit-bench-{uuid.uuid4().hex[:8]}"
    tasks = seed(args.redis_url, namespace)
    judged_at_once(args.redis_url, namespace)
    settings = {
        "redis_url": args.redis_url,
        "namespace": namespace,
        "model_dir": tempfile.mkdtemp(prefix="labelaudit-bench-"),
        "debounce_seconds": 3600,
        "sweep_seconds": 0,
        "projects": f"1,{INSTANT_PROJECT}",
        "basic_auth_user": USER,
        "basic_auth_pass": PASSWORD,
    }
    from backend.api import create_app
    from backend.api.routes import warm_up
    from backend.service.runners import INSTANT_TASK, celery_app, instant_queue
    from backend.settings import load_settings

    bare_app.USER, bare_app.PASSWORD = USER, PASSWORD
    apps = {"labelaudit": create_app({"SETTINGS": settings}), "bare Flask": bare_app.app}
    warm_up()
    headers = {"Authorization": AUTH, "Content-Type": "application/json"}
    rows = []
    requests = requests_for(tasks)
    method, path, body = requests["/webhook"]
    hook = json.loads(body)
    hook["project"]["id"] = INSTANT_PROJECT
    requests["/webhook, judged at once"] = (method, path, json.dumps(hook).encode())
    try:
        for route, (method, path, body) in requests.items():
            cpu = {}
            for name, app in apps.items():
                client = app.test_client()

                def call(client=client, method=method, path=path, body=body) -> None:
                    answer = client.open(path, method=method, data=body, headers=headers)
                    if answer.status_code != 200:
                        raise SystemExit(f"{path}: {answer.status_code} {answer.data[:200]!r}")

                cpu[name] = per_call(call, args.requests)
            rows.append((route, cpu["labelaudit"], cpu["bare Flask"]))
        loaded = load_settings(settings, environ={})
        app = celery_app(loaded)

        def send() -> None:
            app.send_task(
                INSTANT_TASK, kwargs={"project": 1}, queue=instant_queue(loaded), ignore_result=True
            )

        celery_send = per_call(send, min(args.requests, 1000))
    finally:
        import redis

        client = redis.Redis.from_url(args.redis_url)
        keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
        keys += list(client.scan_iter(match=f"_kombu.binding*.{namespace}*", count=1000))
        if keys:
            client.delete(*keys)
    print(
        f"CPU per request in one process, {args.requests} requests per route; "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| route | labelaudit µs | bare Flask µs | labelaudit adds µs | ratio |")
    print("|---|---:|---:|---:|---:|")
    for route, ours, bare in rows:
        print(f"| {route} | {ours:.0f} | {bare:.0f} | {ours - bare:.0f} | {ours / bare:.2f}x |")
    print(
        "\nOne Celery send_task of an instant message (the project's id, as CeleryRunner "
        f"sends it): {celery_send:.0f} µs"
    )
    return 0


#: The project of the "/webhook, judged at once" row.
INSTANT_PROJECT = 2


def judged_at_once(redis_url: str, namespace: str) -> None:
    """Store an audit of INSTANT_PROJECT that judges changes at once (its live record)."""
    from backend.store import RedisStore, SavedAudit

    store = RedisStore(redis_url, namespace=namespace)
    audit = SavedAudit("labelaudit-1", "bench", {}, {"counts": {}}, "fp", 0, 1.0, instant=True)
    store.save_audit(INSTANT_PROJECT, audit)
    store.redis.close()


if __name__ == "__main__":
    sys.exit(main())
