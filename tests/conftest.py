"""Shared fixtures: a real Label Studio for the e2e and live-worker tests.

Label Studio is installed once into its own virtualenv inside the clone, ``.e2e/venv``
(it pins Django and many packages, so it never shares labelaudit's venv), from
``requirements-labelstudio.txt``; the install is reused while that file and the Python
version are unchanged. A data dir is built once per session with ``label-studio init``
(migrations, the admin user and its legacy token) and copied for each test module, whose
server then starts in a few seconds on a free 127.0.0.1 port.

Set ``LABELAUDIT_SKIP_E2E=1`` to skip these tests; nothing else skips them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "e2e"
ROOT = HERE.parents[1]
E2E_DIR = ROOT / ".e2e"
VENV = E2E_DIR / "venv"
REQUIREMENTS = HERE / "requirements-labelstudio.txt"
STAMP = VENV / ".labelaudit-requirements"

INSTALL_TIMEOUT = 1200.0
INIT_TIMEOUT = 600.0  # `label-studio init` took over 300 s on a loaded 2-core machine
START_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0

ADMIN_EMAIL = "admin@example.com"


def pytest_configure(config: pytest.Config) -> None:
    """Register the e2e marker (also declared in pyproject; registering twice is harmless)."""
    config.addinivalue_line(
        "markers", "e2e: needs a real Label Studio (skip: LABELAUDIT_SKIP_E2E=1)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the e2e tests only when LABELAUDIT_SKIP_E2E=1."""
    if os.environ.get("LABELAUDIT_SKIP_E2E") != "1":
        return
    skip = pytest.mark.skip(reason="LABELAUDIT_SKIP_E2E=1")
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(skip)


@dataclass(frozen=True)
class LabelStudioServer:
    """A running Label Studio: its URL, the admin's legacy token and password, data dir, log."""

    url: str
    token: str
    password: str
    data_dir: Path
    log: Path


def _stamp_text() -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    return f"{digest} python{sys.version_info.major}.{sys.version_info.minor}\n"


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (two test sessions in one clone install once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _label_studio_bin() -> Path:
    """Install Label Studio into .e2e/venv unless the same requirements are there already."""
    exe = VENV / "bin" / "label-studio"
    with _locked(E2E_DIR / "install.lock"):
        if exe.exists() and STAMP.exists() and STAMP.read_text() == _stamp_text():
            return exe
        shutil.rmtree(VENV, ignore_errors=True)
        log = E2E_DIR / "install.log"
        started = time.perf_counter()
        with log.open("w") as out:
            steps = [
                [sys.executable, "-m", "venv", str(VENV)],
                [str(VENV / "bin" / "python"), "-m", "pip", "install", "-r", str(REQUIREMENTS)],
            ]
            for step in steps:
                done = subprocess.run(
                    step, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT, check=False
                )
                if done.returncode != 0:
                    raise RuntimeError(
                        f"installing Label Studio failed ({' '.join(step[-3:])}); "
                        f"log tail:\n{_tail(log)}"
                    )
        STAMP.write_text(_stamp_text())
        print(f"\n[e2e] installed Label Studio in {time.perf_counter() - started:.0f} s")
    return exe


def _env(data_dir: Path, token: str, password: str) -> dict[str, str]:
    """Return the environment Label Studio runs with (LABEL_STUDIO.md section 1)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "DJANGO_"))}
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
        LABEL_STUDIO_USERNAME=ADMIN_EMAIL,
        LABEL_STUDIO_PASSWORD=password,
        LABEL_STUDIO_USER_TOKEN=token,
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
        ML_BLOCK_LOCAL_IP="false",
        SSRF_PROTECTION_ENABLED="false",
        LATEST_VERSION_CHECK="false",
        COLLECT_ANALYTICS="false",
    )
    return env


@dataclass(frozen=True)
class _Template:
    exe: Path
    data_dir: Path
    token: str
    password: str


@pytest.fixture(scope="session")
def label_studio_template(tmp_path_factory: pytest.TempPathFactory) -> _Template:
    """Install Label Studio (once per clone) and build a data dir (once per session)."""
    exe = _label_studio_bin()
    data_dir = tmp_path_factory.mktemp("label-studio-template")
    token = secrets.token_hex(20)  # 40 hex characters, like Label Studio's own tokens
    password = secrets.token_urlsafe(16)
    log = data_dir.parent / "label-studio-init.log"
    started = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(
            [str(exe), "init", "-q", "--data-dir", str(data_dir)],
            env=_env(data_dir, token, password),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=INIT_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"label-studio init failed ({done.returncode}); log tail:\n{_tail(log)}")
    print(f"\n[e2e] label-studio init took {time.perf_counter() - started:.1f} s")
    return _Template(exe, data_dir, token, password)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"Label Studio exited with {proc.returncode}; log tail:\n{_tail(log)}"
            )
        with contextlib.suppress(httpx.HTTPError, ValueError):
            if httpx.get(f"{url}/health", timeout=2.0).json().get("status") == "UP":
                return
        time.sleep(0.25)
    raise RuntimeError(
        f"Label Studio did not answer /health within {START_TIMEOUT:.0f} s; log tail:\n{_tail(log)}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server we started, by its process group (runserver forks a reloader child)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="module")
def label_studio(
    label_studio_template: _Template,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[LabelStudioServer]:
    """Start Label Studio on a copy of the session's data dir; yield it; stop it."""
    tmpl = label_studio_template
    data_dir = tmp_path_factory.mktemp("label-studio-data") / "data"
    shutil.copytree(tmpl.data_dir, data_dir, symlinks=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir.parent / "label-studio.log"
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                str(tmpl.exe),
                "start",
                "--no-browser",
                "--internal-host",
                "127.0.0.1",
                "-p",
                str(port),
                "--data-dir",
                str(data_dir),
                "--log-level",
                "WARNING",
            ],
            env=_env(data_dir, tmpl.token, tmpl.password),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so we stop exactly what we started
        )
    failed_before = request.session.testsfailed
    try:
        _wait_healthy(url, proc, log)
        print(f"\n[e2e] Label Studio up on {url} in {time.perf_counter() - started:.1f} s")
        yield LabelStudioServer(
            url=url, token=tmpl.token, password=tmpl.password, data_dir=data_dir, log=log
        )
    finally:
        _stop(proc)
        if request.session.testsfailed > failed_before:
            print(f"\n[e2e] Label Studio log ({log}):\n{_tail(log, 200)}")
