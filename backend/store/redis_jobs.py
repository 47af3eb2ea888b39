"""Jobs and metrics in Redis: the methods of :class:`backend.store.Store` named
``put_job``, ``get_job``, ``record_outcome`` and ``metrics``, for
:class:`backend.store.RedisStore` (kept here so its module stays one screenful)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from backend.store import DURATION_BUCKETS, JOB_TTL_SECONDS
from backend.store._records import _bucket_hits, _empty_metrics

if TYPE_CHECKING:
    from backend.store.redis import Keys


class RedisJobs:
    """Job records (expiring hashes) and the audit metrics of a :class:`RedisStore`."""

    keys: Keys

    if TYPE_CHECKING:  # RedisStore's: this thread's client

        @property
        def redis(self) -> Any: ...

    def put_job(self, job_id: str, **fields: Any) -> None:
        key = self.keys.job(job_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, mapping={"id": json.dumps(job_id)} | _encode(fields))
        pipe.expire(key, JOB_TTL_SECONDS)
        pipe.execute()

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        raw = self.redis.hgetall(self.keys.job(job_id))
        if not raw:
            return None
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def record_outcome(
        self, project: int, *, succeeded: bool, duration: float, flagged: int | None
    ) -> None:
        pipe = self.redis.pipeline(transaction=False)
        key = self.keys.metrics
        pipe.hincrby(key, "audits_succeeded" if succeeded else "audits_failed", 1)
        pipe.hincrbyfloat(key, "duration_sum", duration)
        pipe.hincrby(key, "duration_count", 1)
        for bucket in _bucket_hits(duration):
            pipe.hincrby(key, f"bucket:{bucket}", 1)
        if flagged is not None:
            pipe.hincrby(key, "flagged_tasks_total", flagged)
            pipe.hset(self.keys.flagged, str(project), flagged)
        pipe.execute()

    def metrics(self) -> dict[str, Any]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.metrics)
        pipe.hgetall(self.keys.flagged)
        raw, flagged = pipe.execute()
        values = {k.decode(): float(v) for k, v in raw.items()}
        out = _empty_metrics()
        for name in ("audits_succeeded", "audits_failed", "duration_count", "flagged_tasks_total"):
            out[name] = int(values.get(name, 0))
        out["duration_sum"] = values.get("duration_sum", 0.0)
        out["duration_buckets"] = {b: int(values.get(f"bucket:{b}", 0)) for b in DURATION_BUCKETS}
        out["flagged_tasks"] = {int(k): int(v) for k, v in flagged.items()}
        return out


def _encode(fields: Mapping[str, Any]) -> dict[str, str]:
    return {k: json.dumps(v, default=str) for k, v in fields.items()}
