"""``labelaudit serve`` alone (no Redis): gunicorn, audits in a background thread, same routes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.worker.support import (
    ROOT,
    TOKEN,
    FakeLabelStudio,
    free_port,
    numeric_tasks,
    stop_worker,
    wait_for,
    worker_env,
)

AUTH = ("label-studio", "a long shared secret")


def _up(url: str, proc: subprocess.Popen, log: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"labelaudit serve exited:\n{log.read_text()[-4000:]}")
    try:
        return httpx.get(f"{url}/health", auth=AUTH, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_serve_embedded_with_basic_auth_and_credentials_from_setup(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = worker_env(
        {
            "MODEL_DIR": str(tmp_path / "models"),
            "BASIC_AUTH_USER": AUTH[0],
            "BASIC_AUTH_PASS": AUTH[1],
            "LABELAUDIT_FOLDS": "3",
            "LABELAUDIT_DEBOUNCE_SECONDS": "0.5",
        }
    )
    log = tmp_path / "serve.log"
    with FakeLabelStudio() as ls, log.open("wb") as out:
        ls.add_project(1, numeric_tasks(40, seed=11))
        command = [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1"]
        proc = subprocess.Popen(
            [*command, "--port", str(port), "--workers", "3"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(lambda: _up(url, proc, log), timeout=30, what="labelaudit serve", every=0.1)
            assert httpx.get(f"{url}/health").status_code == 401
            with httpx.Client(base_url=url, auth=AUTH, timeout=10) as http:
                assert http.get("/health").json()["mode"] == "embedded"
                setup = {"project": "1.1700000000", "hostname": ls.url, "access_token": TOKEN}
                assert http.post("/setup", json=setup).json() == {"model_version": "labelaudit-0"}
                event = {"action": "ANNOTATION_CREATED", "project": {"id": 1}}
                jobs = {http.post("/webhook", json=event).json()["job"] for _ in range(20)}
                assert len(jobs) == 1
                job = jobs.pop()

                def done():
                    record = http.get(f"/jobs/{job}").json()
                    return record if record["state"] in {"succeeded", "failed"} else None

                record = wait_for(done, timeout=60, what="the embedded audit", every=0.1)
                assert record["state"] == "succeeded", record
                task = {"id": 1, "data": {"x": 0.0, "y": 0.0}}
                results = http.post("/predict", json={"project": 1, "tasks": [task]}).json()
                assert results["results"][0]["model_version"] == "labelaudit-1"
                assert http.get("/projects/1/report").status_code == 200
        finally:
            stop_worker(proc)
    text = log.read_text()
    assert "serving with 1 worker" in text  # embedded state cannot be split over processes
    assert TOKEN not in text and AUTH[1] not in text
    assert ls.projects[1].model_version == "labelaudit-1"
