"""The Prometheus text exposition of /metrics."""

from __future__ import annotations

from typing import Any

from backend.store import DURATION_BUCKETS


def _line(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    label_text = ""
    if labels:
        label_text = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    number = int(value) if float(value).is_integer() else value
    return f"{name}{label_text} {number}"


def _family(name: str, kind: str, help_text: str, lines: list[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *lines]


def render(metrics: dict[str, Any], *, queue_depth: int | None, running: int) -> str:
    """Return the metrics as Prometheus text format 0.0.4."""
    audits = "labelaudit_audits_total"
    duration = "labelaudit_audit_duration_seconds"
    out = _family(
        audits,
        "counter",
        "Audits finished, by outcome.",
        [
            _line(audits, metrics["audits_succeeded"], {"outcome": "succeeded"}),
            _line(audits, metrics["audits_failed"], {"outcome": "failed"}),
        ],
    )
    buckets = metrics["duration_buckets"]
    out += _family(
        duration,
        "histogram",
        "Wall time of finished audits, from start to results stored.",
        [_line(f"{duration}_bucket", buckets.get(b, 0), {"le": f"{b:g}"}) for b in DURATION_BUCKETS]
        + [
            _line(f"{duration}_bucket", metrics["duration_count"], {"le": "+Inf"}),
            _line(f"{duration}_sum", round(metrics["duration_sum"], 6)),
            _line(f"{duration}_count", metrics["duration_count"]),
        ],
    )
    out += _family(
        "labelaudit_tasks_flagged_total",
        "counter",
        "Tasks flagged for re-review, summed over every audit.",
        [_line("labelaudit_tasks_flagged_total", metrics["flagged_tasks_total"])],
    )
    out += _family(
        "labelaudit_tasks_flagged",
        "gauge",
        "Tasks the latest audit of each project flagged.",
        [
            _line("labelaudit_tasks_flagged", n, {"project": str(p)})
            for p, n in sorted(metrics["flagged_tasks"].items(), key=lambda kv: int(kv[0]))
        ],
    )
    out += _family(
        "labelaudit_audits_running",
        "gauge",
        "Audits in progress.",
        [_line("labelaudit_audits_running", running)],
    )
    if queue_depth is not None:
        out += _family(
            "labelaudit_queue_depth",
            "gauge",
            "Tasks waiting in the work queue.",
            [_line("labelaudit_queue_depth", queue_depth)],
        )
    return "\n".join(out) + "\n"
