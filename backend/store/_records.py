"""Record helpers both state stores share: empty metrics, histogram buckets, an audit's
record; and the milliseconds of a Redis expiry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backend.store import DURATION_BUCKETS

if TYPE_CHECKING:
    from backend.store import SavedAudit


def _empty_metrics() -> dict[str, Any]:
    return {
        "audits_succeeded": 0,
        "audits_failed": 0,
        "duration_sum": 0.0,
        "duration_count": 0,
        "duration_buckets": {b: 0 for b in DURATION_BUCKETS},
        "flagged_tasks_total": 0,
        "flagged_tasks": {},
    }


def _bucket_hits(duration: float) -> list[float]:
    return [b for b in DURATION_BUCKETS if duration <= b]


def _audit_record(saved: SavedAudit, now: float) -> dict[str, Any]:
    return {
        "model_version": saved.version,
        "job": saved.job,
        "finished_at": now,
        "duration_seconds": round(saved.duration, 3),
        "summary": saved.summary,
    }


def _live_record(saved: SavedAudit) -> dict[str, Any]:
    return {
        "version": saved.version,
        "loaded_at": saved.loaded_at,
        "instant": saved.instant,
        "updates": 0,
        "updated_at": None,
    }


def _ms(seconds: float) -> int:
    """Seconds as the whole milliseconds Redis takes for an expiry (at least 1)."""
    return max(1, round(seconds * 1000))
