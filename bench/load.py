"""The load and the meters of ``bench/service.py``: concurrent raw-HTTP clients on one asyncio
loop (a new connection per request, or one kept alive), and the machine's CPU while a server
is measured (its process tree from ``/proc``, the Redis server's ``INFO cpu``, the clients)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import time
from typing import Any

import numpy as np

USER, PASSWORD = "bench", "bench-password-0123"
AUTH = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _head(method: str, path: str, body: bytes, *, close: bool) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: {AUTH}\r\nContent-Length: {len(body)}\r\n"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    ).encode()


async def _answer(reader: asyncio.StreamReader) -> int:
    """Read one response; return its status."""
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def one_client(
    port: int, request: tuple[str, str, bytes], count: int, latencies: list[float], new: bool
) -> int:
    """Send ``count`` requests (each on a new connection, or all on one kept alive); return
    the number of errors."""
    method, path, body = request
    message = _head(method, path, body, close=new) + body
    errors = 0
    writer = None
    try:
        if not new:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(count):
            start = time.perf_counter()
            try:
                if new:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(message)
                await writer.drain()
                status = await _answer(reader)
                if new:
                    writer.close()
            except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
                errors += 1
                if writer is not None:
                    writer.close()
                if not new:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append(time.perf_counter() - start)
            if not 200 <= status < 300:
                errors += 1
    finally:
        if writer is not None:
            writer.close()
    return errors


async def load(
    port: int, request: tuple[str, str, bytes], clients: int, per_client: int, new: bool
) -> tuple[list[float], int, float]:
    """Run ``clients`` concurrent clients; return latencies (s), errors and wall time."""
    latencies: list[float] = []
    started = time.perf_counter()
    errors = await asyncio.gather(
        *(one_client(port, request, per_client, latencies, new) for _ in range(clients))
    )
    return latencies, sum(errors), time.perf_counter() - started


def wait_up(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("a benchmarked server exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(_head("GET", "/health", b"", close=True))
                if b"200" in sock.recv(64):
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("a benchmarked server did not come up")


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children, from /proc."""
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    total = 0.0
    for each in [pid, *(int(p) for p in found.stdout.split())]:
        try:
            with open(f"/proc/{each}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # exited meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def redis_cpu(client: Any) -> float:
    """CPU seconds the Redis server has used (its INFO), or 0 without one."""
    if client is None:
        return 0.0
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def measure(
    ports: dict[str, int],
    request: tuple[str, str, bytes],
    clients: int,
    per_client: int,
    new: bool,
    rounds: int,
    pids: dict[str, int] | None = None,
    redis_client: Any = None,
    also: int | None = None,
) -> dict[str, dict[str, float]]:
    """p50, p99 (ms), requests/s and errors of one route on each server (by name), and the
    machine's CPU per request (µs) while that server was measured: its processes
    (``pids``, and the process tree ``also``: the worker running audits), the Redis server
    and this process's clients.

    The servers take turns, ``rounds`` times, each turn ``per_client / rounds`` requests per
    client: a burst of load from elsewhere on a shared machine then falls on both alike.
    """
    runs: dict[str, list[tuple[list[float], int, float]]] = {name: [] for name in ports}
    cpu = {name: [0.0, 0.0, 0.0] for name in ports}
    for _ in range(rounds):
        for name, port in ports.items():
            trees = [p for p in ((pids or {}).get(name), also) if p]

            def now(trees: list[int] = trees) -> tuple[float, float, float]:
                servers = sum(tree_cpu(pid) for pid in trees)
                return servers, redis_cpu(redis_client), time.process_time()

            before = now()
            runs[name].append(asyncio.run(load(port, request, clients, per_client // rounds, new)))
            after = now()
            for i in range(3):
                cpu[name][i] += after[i] - before[i]
    out = {}
    for name, parts in runs.items():
        ms = np.array([x for latencies, _, _ in parts for x in latencies]) * 1000
        server, in_redis, client = (seconds * 1e6 / max(1, len(ms)) for seconds in cpu[name])
        out[name] = {
            "n": len(ms),
            "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)),
            "rate": len(ms) / sum(wall for _, _, wall in parts),
            "errors": sum(errors for _, errors, _ in parts),
            "cpu_server": server,
            "cpu_redis": in_redis,
            "cpu_client": client,
            "cpu": server + in_redis + client,
        }
    return out
