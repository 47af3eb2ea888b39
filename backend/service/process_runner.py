"""The embedded mode's audits, in a child process: the web threads keep the GIL to themselves.

An audit holds the GIL for seconds at a time (reading the project through the SDK's models,
fitting, plotting, pushing); in a thread of the web process every request waits behind it
(bench/RESULTS.md: /webhook p99 293 ms during an embedded audit). :class:`ProcessRunner`
keeps the embedded runner's queue, debounce and sweep in its thread, and hands each ticket to
one spawned child process, which runs the same steps (:meth:`ThreadRunner.run_ticket`) on
the parent's in-memory store, reached through a ``multiprocessing`` manager on 127.0.0.1
(an authenticated socket: claims, leases, job records and the saved audit go through it).
The child starts on first use and is kept for the next audits. Instant updates stay in the
parent (the runner's instant thread): they are short, and must not wait for an audit.
"""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from multiprocessing.managers import BaseManager
from typing import TYPE_CHECKING, Any

from backend.service.runners import ThreadRunner

if TYPE_CHECKING:
    from backend.service import Service
    from backend.settings import Settings
    from backend.store import Store

#: The child process's service (set by its initializer).
_child: dict[str, Any] = {}


def _manager_class() -> type[BaseManager]:
    """A manager class of its own (register() writes to the class)."""
    return type("StoreManager", (BaseManager,), {})


class _NoRunner:
    """The child schedules nothing: triggers and the sweep stay with the parent."""

    def enqueue(self, project: int, ticket: str, countdown: float) -> None:
        raise RuntimeError("an audit process does not schedule audits")

    def enqueue_instant(self, project: int) -> None:
        raise RuntimeError("an audit process gets no webhooks")

    def queue_depth(self) -> int:
        return 0

    def start(self) -> None:
        """Nothing to start."""


def _init_child(settings: Settings, address: tuple[str, int], authkey: bytes) -> None:
    """Connect to the parent's store and build this process's service.

    It keeps the web process's CPU priority (LABELAUDIT_AUDIT_NICE is the workers'): the
    web process runs its Python on one GIL, about one core, and the audit the other; tried
    at niceness +10 on a shared machine, this process finished no 3,000-task audit in 19 s
    of requests (at +0: one in 16 s) and p99 was no lower (bench/RESULTS.md, issue 16).
    """
    from backend.service import Service
    from backend.store import Artifacts

    manager = _manager_class()
    manager.register("store")
    client = manager(address=address, authkey=authkey)
    client.connect()
    store = client.store()  # type: ignore[attr-defined]
    artifacts = Artifacts(settings.model_dir, key=settings.signing_key)
    _child["service"] = Service(settings, store, artifacts, _NoRunner())
    _child["manager"] = client


def _run_in_child(project: int, ticket: str) -> float | None:
    """Run one ticket's whole audit in the child, as the thread would."""
    return ThreadRunner(_child["service"]).run_ticket(project, ticket)


class ProcessRunner(ThreadRunner):
    """The embedded runner whose audits run in one child process (see the module doc)."""

    def __init__(self, service: Service) -> None:
        super().__init__(service)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._address: tuple[str, int] | None = None
        self._authkey = secrets.token_bytes(32)

    def _serve_store(self, store: Store) -> tuple[str, int]:
        manager = _manager_class()
        manager.register("store", callable=lambda: store)
        server = manager(address=("127.0.0.1", 0), authkey=self._authkey).get_server()
        threading.Thread(
            target=server.serve_forever, name="labelaudit-store-server", daemon=True
        ).start()
        address: Any = server.address  # a (host, port) pair: the server listens on TCP
        return str(address[0]), int(address[1])

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._address is None:
                self._address = self._serve_store(self.service.store)
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=get_context("spawn"),
                    initializer=_init_child,
                    initargs=(self.service.settings, self._address, self._authkey),
                )
            return self._pool

    def run_ticket(self, project: int, ticket: str) -> float | None:
        """Run the ticket's audit in the child; return when to look again, or None."""
        try:
            return self._executor().submit(_run_in_child, project, ticket).result()
        except BrokenProcessPool as err:
            with self._lock:
                self._pool = None  # a new child next time
            self.service.scheduler.fail(project, ticket, err)
            return None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread, then the child process."""
        super().stop(timeout)
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
