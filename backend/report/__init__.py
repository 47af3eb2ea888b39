"""Write an audit's outputs: issues.csv, predictions.json, summary.json, report.html,
and cleaning.json (what cleaning would do to each flagged annotation, backend.cleaning).

The HTML page is :mod:`backend.report.page`.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from backend import cleaning, tasktypes
from backend.labelstudio.predictions import build_prediction
from backend.pipeline import AuditResult
from backend.report.page import FILTER_BY_WORDS, STEPS, TOP_ITEMS, render_html
from backend.settings import Settings
from backend.store import OUTPUT_FILES

__all__ = [
    "FILTER_BY_WORDS",
    "ISSUES_COLUMNS",
    "STEPS",
    "TOP_ITEMS",
    "issue_rows",
    "issues_columns",
    "predictions",
    "render_html",
    "summary",
    "write_outputs",
]

#: What a spreadsheet reads as the start of a formula in a text cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

ISSUES_COLUMNS = (
    "task_id",
    "annotation_id",
    "annotator",
    "given_label",
    "suggested_label",
    "suspicion",
    "is_label_issue",
)


def issues_columns(result: AuditResult) -> tuple[str, ...]:
    """issues.csv's columns: ISSUES_COLUMNS, then the task type's own (multi-label: which
    labels look missing or extra), then ``evidence`` (why a row is flagged: the model's top
    labels and similar tasks); or a type's own columns (spans: one row per span)."""
    task_type = tasktypes.get(result.kind.task_type)
    own = task_type.issues_columns()
    return own or (*ISSUES_COLUMNS, *task_type.detail_columns, "evidence")


def issue_rows(result: AuditResult) -> list[dict[str, Any]]:
    """Every audited annotation as a dict of :func:`issues_columns`, most suspicious first
    (or the task type's own rows: spans have one per span)."""
    label = result.label_text
    task_type = tasktypes.get(result.kind.task_type)
    own = task_type.issue_rows(result)
    if own is not None:
        return own
    rows = []
    for i in result.ranked():
        annotation = int(result.annotation_ids[i])
        rows.append(
            {
                "task_id": int(result.task_ids[i]),
                "annotation_id": annotation if annotation >= 0 else "",
                "annotator": result.annotators[i],
                "given_label": label(result.given[i]),
                "suggested_label": label(result.suggested[i]),
                "suspicion": round(float(result.suspicion[i]), 6),
                "is_label_issue": bool(result.is_label_issue[i]),
                **task_type.details(result.kind, result.given[i], result.suggested[i]),
                "evidence": result.evidence[i] if result.evidence else "",
            }
        )
    return rows


def predictions(result: AuditResult, model_version: str) -> list[dict[str, Any]]:
    """One Label Studio prediction per audited task: suggested label, score = suspicion; a
    flagged task's regions carry the evidence as region ``meta`` text (Label Studio shows a
    region's meta in the labeling view)."""
    out = []
    for verdict in result.task_verdicts():
        prediction = build_prediction(
            result.kind,
            verdict["task_id"],
            verdict["suggested"],
            verdict["suspicion"],
            model_version,
            mislabeling=verdict["suspicion"],
        )
        evidence = result.evidence[verdict["row"]] if result.evidence else ""
        if verdict["is_label_issue"] and evidence:
            for region in prediction["result"]:
                region["meta"] = {"text": [f"labelaudit: {evidence}"]}
        out.append(prediction)
    return out


def summary(
    result: AuditResult,
    *,
    settings: dict[str, Any],
    source: str,
    model_version: str,
    title: str = "",
) -> dict[str, Any]:
    """The JSON summary: counts, health, noise matrix, settings, timings, skipped items."""
    classes = list(result.kind.classes)
    task_type = tasktypes.get(result.kind.task_type)
    reasons = Counter(s.reason for s in result.skipped)
    return {
        "title": title or source,
        "source": source,
        "model_version": model_version,
        "task_kind": {
            "task_type": result.kind.task_type,
            "control": result.kind.control,
            "object": result.kind.object_name,
            "input_type": result.kind.input_type,
            "classes": classes,
        },
        "counts": result.counts,
        "suspicion": (
            f"{task_type.suspicion}; a task's suspicion is the highest over its annotations"
        ),
        "flagged_task_ids": result.flagged_task_ids(),
        "health": result.health,
        **task_type.summary(result),
        # The filter_by actually used ("auto" resolved for this task type).
        "settings": {**settings, "filter_by": task_type.filter_by(str(settings["filter_by"]))},
        "timings_seconds": dict(result.timings),
        "skipped": {
            "count": len(result.skipped),
            "by_reason": dict(reasons.most_common()),
            "items": [
                {"task_id": s.task_id, "annotation_id": s.annotation_id, "reason": s.reason}
                for s in result.skipped
            ],
        },
        "notes": result.notes,
        **({"verdicts": result.verdicts} if result.verdicts is not None else {}),
        "cleaning": cleaning_plan(result, settings).preview(),
        **({"cleaned": result.cleaned} if result.cleaned is not None else {}),
    }


def cleaning_plan(result: AuditResult, settings: dict[str, Any]) -> cleaning.Plan:
    """The audit's cleaning plan: the one :func:`backend.pipeline.finish` made, or (for a
    result built elsewhere) one made with the (redacted) settings' relabel threshold."""
    if result.cleaning_plan is None:
        threshold = settings.get("relabel_min_confidence", Settings.relabel_min_confidence)
        result.cleaning_plan = cleaning.plan(result, float(threshold))
    return result.cleaning_plan


def spreadsheet_safe(value: Any) -> Any:
    """Return a CSV cell that a spreadsheet shows as text, not as a formula (OWASP's advice:
    a text cell starting with ``= + - @``, tab or CR gets a leading ``'``)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    """Rows as CSV text with ``columns``; text cells made spreadsheet-safe, None left empty."""
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=columns)
    writer.writeheader()
    writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)
    return table.getvalue()


def write_outputs(
    result: AuditResult,
    out_dir: str | Path,
    summary_data: dict[str, Any],
    *,
    fetch: Callable[[str], bytes] | None = None,
    task_url: Callable[[int], str] | None = None,
    only: Collection[str] | None = None,
) -> dict[str, Path]:
    """Write the OUTPUT_FILES into ``out_dir``, and the task type's tables as
    ``<name>.csv`` (several annotators: tasks.csv, annotators.csv); return all their paths.

    ``summary_data`` is :func:`summary`'s answer; ``fetch`` and ``task_url`` are passed to
    :func:`render_html`. ``only`` names the files to (re)write (keys of the answer, e.g.
    ``{"summary", "report"}`` once the push's time is known); the others are left as they
    are. Every file is rendered before any is written, and each is written to a temporary
    name and renamed: a failure leaves the files that were there.
    """
    model_version = summary_data["model_version"]
    renderers: dict[str, Callable[[], str]] = {
        "issues": lambda: csv_text(issues_columns(result), issue_rows(result)),
        "predictions": lambda: json.dumps(predictions(result, model_version), indent=1),
        "summary": lambda: json.dumps(summary_data, indent=2, default=str),
        "report": lambda: render_html(result, summary_data, fetch=fetch, task_url=task_url),
        "cleaning": lambda: cleaning_plan(result, summary_data["settings"]).to_json(),
    }
    names = dict(OUTPUT_FILES)
    for name, columns in tasktypes.get(result.kind.task_type).tables.items():
        rows = result.tables.get(name, [])
        renderers[name] = functools.partial(csv_text, columns, rows)
        names[name] = f"{name}.csv"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {key: out / name for key, name in names.items()}
    contents = {key: render() for key, render in renderers.items() if only is None or key in only}
    for key, text in contents.items():
        _write_atomically(paths[key], text)
    return paths


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
