"""Where the service keeps its state: a state store (Redis, or memory) and an artifact store.

**State** is small and shared by the web processes and the workers: per-project
credentials from ``/setup``, the current model version, the stored ``/predict`` answers,
the latest audit's summary, job records, metrics, and the per-project scheduling state
that makes audits debounced and exclusive. :class:`RedisStore` keeps it in Redis (keys
under ``<namespace>:``, see :class:`Keys`); :class:`MemoryStore` keeps the same in one
process, for the embedded mode. Both implement :class:`Store`; the scheduling operations
are atomic in both (Lua scripts in Redis, one lock in memory).

**Live state** follows the current audit between audits (instant feedback, verdicts):
the flagged tasks now (``flags``, what the review tab lists), the changes applied at once
since the audit (``events``) and what people did with the flags (``verdicts``, kept
across audits). :meth:`Store.update_live` changes answers, flags, events and verdicts in
one step, and only while the audit it was computed from is current; a short per-project
lock (:meth:`Store.try_lock`) keeps one writer at a time between an instant update and a
full audit's switch. Instant feedback reads the change log: a per-project *hand-off* flag
(set by :meth:`Store.schedule`, cleared by :meth:`Store.instant_changes`) makes one
instant message per batch of webhooks, and the *instant position* is the log position up
to which it judged.

**Artifacts** are big and live on disk under ``MODEL_DIR`` (a shared volume when workers
run on several machines): the prepared dataset and the out-of-fold probabilities of an
audit in progress, and per model version the final model and the audit's output files.

Scheduling state per project (see ``backend/service.py`` for how it is used):

* ``ticket``: the one audit waiting to start (its id is also its job id), with ``due``
  (it may not start before) and ``burst`` (when its burst of events began);
* ``lock``: the ticket of the audit in progress, with a TTL every step renews;
* ``running``: the same ticket, without TTL, so a lapsed lock can be taken back by its own
  audit (never by another one while the lock lives);
* ``stage``: ``begin``, ``folds`` or ``finish``, so a step delivered twice runs once;
* ``owner``: the lease of the step executing right now (a short TTL renewed by a
  heartbeat), so a redelivered step waits while the original is alive and takes over
  once it died.

The package: :mod:`backend.store.memory` (MemoryStore), :mod:`backend.store.redis` (Keys,
RedisStore) with its Lua scripts in :mod:`backend.store.lua`, and
:mod:`backend.store.artifacts` (Artifacts); import them all from ``backend.store``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "DURATION_BUCKETS",
    "JOB_TTL_SECONDS",
    "OUTPUT_FILES",
    "SAVE_CHUNK",
    "VERSIONS_ON_DISK",
    "VERSION_HISTORY",
    "Action",
    "Artifacts",
    "Claim",
    "Keys",
    "MemoryStore",
    "RedisStore",
    "RowState",
    "SavedAudit",
    "Scheduled",
    "Stage",
    "Store",
]

#: How long a job record is kept after its last update.
JOB_TTL_SECONDS = 7 * 24 * 3600
#: How many past model versions a project's history keeps.
VERSION_HISTORY = 50
#: Upper bounds (seconds) of the audit-duration histogram buckets.
DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
#: Predictions written per HSET when an audit is saved.
SAVE_CHUNK = 1000
#: Model versions kept on disk per project (the current one and the one before).
VERSIONS_ON_DISK = 2
#: An audit's output files (backend.report.write_outputs), in each version's directory.
OUTPUT_FILES = {
    "issues": "issues.csv",
    "predictions": "predictions.json",
    "summary": "summary.json",
    "report": "report.html",
    # What --clean and /projects/<id>/cleaned do to each flagged annotation (cleaning.py).
    "cleaning": "cleaning.json",
}

Action = Literal["run", "wait", "defer", "stale"]
Stage = Literal["begin", "folds", "finish"]


@dataclass(frozen=True)
class Claim:
    """What a step of an audit may do: run, wait (busy), defer (debouncing) or stop (stale)."""

    action: Action
    delay: float = 0.0


@dataclass(frozen=True)
class Scheduled:
    """The pending audit of a project after an event: its ticket and whether to enqueue it;
    ``hand_off``: whether this step set the project's instant hand-off flag (only while its
    current audit judges changed annotations at once: its live record's ``instant``, read
    in the same step), so its caller sends the one instant message
    (backend.service.instant)."""

    ticket: str
    created: bool
    countdown: float
    hand_off: bool = False


@dataclass(frozen=True)
class RowState:
    """What the store holds for one annotated task, read in one step (instant feedback):
    the task's /predict answer and flag, the annotation's verdict and the change applied at
    once (each None where there is none)."""

    answer: dict[str, Any] | None
    flag: dict[str, Any] | None
    verdict: dict[str, Any] | None
    event: dict[str, Any] | None


@dataclass(frozen=True)
class SavedAudit:
    """What a finished audit leaves for the routes."""

    version: str
    job: str
    answers: Mapping[int, dict[str, Any]]  # task id -> its /predict answer
    summary: dict[str, Any]
    fingerprint: str
    flagged: int
    duration: float
    #: Flagged task id -> {"annotation", "suspicion", "rank"} (rank: its place in the tab).
    flags: Mapping[int, dict[str, Any]] = field(default_factory=dict)
    #: When the audit began reading the project (changes applied at once after it are
    #: newer than the audit's rows).
    loaded_at: float = 0.0
    #: Whether the audit's rows can be judged again at once (its task type says so).
    instant: bool = False


class Store(Protocol):
    """The state every web process and worker shares."""

    def remember_project(
        self, project: int, *, url: str = "", token: str = "", config_hash: str = ""
    ) -> str | None:
        """Record a project (and /setup's credentials); return its current model version."""
        ...

    def credentials(self, project: int) -> tuple[str, str]:
        """Return the (url, token) /setup gave for the project, or empty strings."""
        ...

    def projects(self) -> list[int]:
        """Return every project the service has heard of."""
        ...

    def knows(self, project: int) -> bool:
        """Whether the project connected through /setup (or was audited) here."""
        ...

    def swap_config_hash(self, project: int, config_hash: str) -> str | None:
        """Store the hash of the project's label config; return the previous one."""
        ...

    def current_version(self, project: int) -> str | None:
        """Return the model version of the project's latest audit."""
        ...

    def versions(self, project: int | None = None) -> list[str]:
        """Return a project's versions, newest first, or every project's current one."""
        ...

    def answers(self, project: int, task_ids: list[int]) -> list[dict[str, Any] | None]:
        """Return the stored /predict answer of each task (None where there is none)."""
        ...

    def answers_json(self, project: int, task_ids: list[int]) -> list[str | None]:
        """:meth:`answers` as JSON text, as stored (/predict sends it without decoding)."""
        ...

    def save_audit(self, project: int, saved: SavedAudit) -> None:
        """Make a finished audit current: version, /predict answers, summary, all at once."""
        ...

    def latest_audit(self, project: int) -> dict[str, Any] | None:
        """Return the latest audit's record (version, job, finished_at, summary)."""
        ...

    def live(self, project: int) -> dict[str, Any] | None:
        """Return the current audit's live record: ``version``, ``loaded_at``, ``instant``,
        ``updates`` (changes applied at once since the audit) and ``updated_at``."""
        ...

    def flags(self, project: int) -> dict[int, dict[str, Any]]:
        """Return the tasks flagged now: task id -> {"annotation", "suspicion", "rank"}."""
        ...

    def verdicts(self, project: int) -> dict[int, dict[str, Any]]:
        """Return the project's verdicts: annotation id -> verdict (backend.verdicts)."""
        ...

    def events(self, project: int) -> dict[int, dict[str, Any]]:
        """Return the changes applied at once: annotation id -> {"label", "task", "at"}."""
        ...

    def row_states(self, project: int, rows: Sequence[tuple[int, int]]) -> list[RowState]:
        """Return :class:`RowState` of each ``(task, annotation)`` in ``rows``, in order (one
        step; its cost grows with ``rows``, not with the project's flags, verdicts or
        events)."""
        ...

    def update_live(
        self,
        project: int,
        version: str,
        *,
        answers: Mapping[int, dict[str, Any] | None] | None = None,
        flags: Mapping[int, dict[str, Any] | None] | None = None,
        verdicts: Mapping[int, dict[str, Any] | None] | None = None,
        events: Mapping[int, dict[str, Any] | None] | None = None,
        count: int = 0,
    ) -> bool:
        """Set (None: delete) answers and flags by task, verdicts and events by annotation,
        all at once, if ``version`` is still current; ``count`` more instant updates.
        Return False, changing nothing, when another version became current."""
        ...

    def try_lock(self, project: int, name: str, owner: str, ttl: float) -> bool:
        """Take the project's lock ``name`` for ``ttl`` seconds unless someone holds it."""
        ...

    def unlock(self, project: int, name: str, owner: str) -> None:
        """Free the lock ``name`` if ``owner`` still holds it."""
        ...

    def fingerprint(self, project: int) -> str | None:
        """Return the fingerprint of the annotations the project was last audited on."""
        ...

    def set_fingerprint(self, project: int, fingerprint: str | None) -> None:
        """Set (or forget, with None) the fingerprint of the annotations last seen."""
        ...

    def checked(self, project: int) -> str | None:
        """Return what the sweep's last check of the project left (``set_checked``)."""
        ...

    def set_checked(self, project: int, checked: str) -> None:
        """Keep what the sweep's check of the project found: Label Studio's state digest
        and the fingerprint it confirmed (backend.service.scheduling)."""
        ...

    def log_change(self, project: int, entry: dict[str, Any], *, keep: int) -> None:
        """Append ``entry`` (small JSON) to the project's change log, which holds the newest
        ``keep`` entries (older ones are dropped: a re-audit that needed them reads all)."""
        ...

    def changes_since(
        self, project: int, position: int | None
    ) -> tuple[int, list[dict[str, Any]] | None]:
        """Return the log's end position and its entries from ``position`` on (None when
        ``position`` is None or some of those entries were dropped)."""
        ...

    def trim_changes(self, project: int, position: int) -> None:
        """Drop the log's entries before ``position`` (an audit read past them)."""
        ...

    def instant_changes(self, project: int) -> tuple[int, list[dict[str, Any]]]:
        """Clear the project's instant hand-off flag and return, in the same step, the log's
        end and its entries from the instant position on (from the log's start when there
        is none, or it lies outside the log: those entries were dropped)."""
        ...

    def set_instant_position(self, project: int, position: int, *, rest: float = 0.0) -> None:
        """Record that instant feedback judged the log's entries before ``position`` and
        that the project's next run should wait until ``rest`` seconds from now
        (:meth:`instant_rest`)."""
        ...

    def instant_rest(self, project: int) -> float:
        """Seconds the project's next instant run should still wait (0 when none)."""
        ...

    def schedule(
        self,
        project: int,
        ticket: str,
        *,
        immediate: bool,
        debounce: float,
        max_wait: float,
        ttl: float,
        change: dict[str, Any] | None = None,
        keep: int = 0,
        hand_off: float = 0.0,
    ) -> Scheduled:
        """Note a change; return the pending ticket (``ticket`` if none was pending).

        ``change`` is first appended to the change log (as :meth:`log_change`, ``keep``),
        in the same step. ``hand_off`` > 0: if the project is judged at once, set its
        instant hand-off flag for that many seconds unless it is set (``Scheduled.hand_off``
        says whether this call set it; :meth:`instant_changes` clears it)."""
        ...

    def claim_begin(
        self,
        project: int,
        ticket: str,
        owner: str,
        *,
        lock_ttl: float,
        lease_ttl: float,
        ttl: float,
    ) -> Claim:
        """Let a ticket start its audit (or resume its interrupted first step)."""
        ...

    def claim_step(
        self,
        project: int,
        ticket: str,
        owner: str | None,
        *,
        stage: Stage,
        lock_ttl: float,
        lease_ttl: float,
    ) -> Claim:
        """Let a later step of a running audit go on; ``owner`` makes the step exclusive."""
        ...

    def set_stage(self, project: int, ticket: str, stage: Stage) -> None:
        """Record that the ticket's audit reached ``stage``."""
        ...

    def renew(
        self, project: int, ticket: str, owner: str | None, *, lock_ttl: float, lease_ttl: float
    ) -> bool:
        """Extend the audit's lock (and the step's lease); False once the audit was superseded."""
        ...

    def end_lease(self, project: int, owner: str) -> None:
        """Drop a step's lease (if it still holds it)."""
        ...

    def release(self, project: int, ticket: str) -> bool:
        """End the ticket's audit: free the project. False if it was not the running one."""
        ...

    def activity(self, project: int) -> dict[str, Any]:
        """Return the scheduled ticket, the running ticket and its stage."""
        ...

    def running(self) -> list[int]:
        """Return the projects with an audit in progress."""
        ...

    def put_job(self, job_id: str, **fields: Any) -> None:
        """Create or update a job record (fields merge)."""
        ...

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        """Return a job record, or None."""
        ...

    def record_outcome(
        self, project: int, *, succeeded: bool, duration: float, flagged: int | None
    ) -> None:
        """Count a finished audit in the metrics."""
        ...

    def metrics(self) -> dict[str, Any]:
        """Return the counters behind /metrics."""
        ...

    def try_sweep(self, period: float) -> bool:
        """Return True for at most one caller per ``period`` seconds."""
        ...

    def ping(self) -> None:
        """Raise if the store cannot be reached."""
        ...


# The implementations import the definitions above from this package, so they must be
# imported after them, here at the end (backend.store.redis imports the redis package itself
# only when a RedisStore is created).
from backend.store.artifacts import Artifacts  # noqa: E402
from backend.store.memory import MemoryStore  # noqa: E402
from backend.store.redis import Keys, RedisStore  # noqa: E402
