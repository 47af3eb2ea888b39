"""The multi-label part of the report: per-label missing and extra rates, label
co-occurrence, per-label quality, and which labels the flags find missing or extra."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.report import charts
from backend.tasktypes import ReportParts

if TYPE_CHECKING:
    from backend.pipeline import AuditResult

DEFINITIONS = (
    (
        "missing and extra rates",
        "For each label, the estimated share of the tasks that truly have it where the "
        "annotation leaves it out (missing), and of the tasks that truly lack it where the "
        "annotation gives it (extra): the label's 2 &times; 2 noise matrix.",
    ),
    (
        "co-occurrence",
        "For each label (row), the share of the annotations giving it that also give the "
        "label of the column.",
    ),
    (
        "per-label quality",
        "For each label, 1 &minus; the estimated fraction of annotations wrong about it "
        "(cleanlab's multi-label class quality).",
    ),
)


def label_noise(result: AuditResult) -> list[dict[str, Any]]:
    """Per label: how many annotations give it, its estimated missing and extra rates."""
    given = np.asarray(result.given, dtype=bool)
    return [
        {
            "label": label,
            "given": int(given[:, j].sum()),
            "missing_rate": round(float(result.noise_matrix[j, 0, 1]), 6),
            "extra_rate": round(float(result.noise_matrix[j, 1, 0]), 6),
        }
        for j, label in enumerate(result.kind.classes)
    ]


def co_occurrence(given: np.ndarray) -> np.ndarray:
    """Share of the rows giving label i (row) that also give label j (column)."""
    counts = given.T.astype(float) @ given.astype(float)
    return counts / np.maximum(np.diag(counts)[:, None], 1.0)


def report_parts(result: AuditResult) -> ReportParts:
    """Missing/extra rates, co-occurrence and quality plots; the table of flagged labels."""
    classes = list(result.kind.classes)
    given = np.asarray(result.given, dtype=bool)
    noise = label_noise(result)
    plots = [
        (
            "label_noise",
            charts.bars(
                classes,
                {
                    "missing": [r["missing_rate"] for r in noise],
                    "extra": [r["extra_rate"] for r in noise],
                },
                title="Per-label missing and extra rates (estimated)",
                xlabel="share of the label's true (missing) or false (extra) tasks",
            ),
        ),
        (
            "co_occurrence",
            charts.heatmap(
                co_occurrence(given),
                rows=classes,
                columns=classes,
                title="Label co-occurrence in the annotations",
                xlabel="also given",
                ylabel="given",
            ),
        ),
    ]
    quality = result.health.get("classes_by_multilabel_quality", [])
    if quality:
        plots.append(
            (
                "quality",
                charts.quality_bars(
                    quality,
                    title="Per-label quality",
                    xlabel="label quality score (1 - estimated share of wrong annotations)",
                ),
            )
        )
    return ReportParts(
        plots=plots,
        definitions=list(DEFINITIONS),
        sections=[("Labels the flags find missing or extra", _flagged_labels(result))],
    )


def _flagged_labels(result: AuditResult) -> str:
    flagged = np.asarray(result.is_label_issue, dtype=bool)
    given = np.asarray(result.given, dtype=bool)[flagged]
    suggested = np.asarray(result.suggested, dtype=bool)[flagged]
    missing, extra = (suggested & ~given).sum(axis=0), (given & ~suggested).sum(axis=0)
    order = np.argsort(-(missing + extra), kind="stable")
    rows = "".join(
        f"<tr><td>{html.escape(result.kind.classes[j])}</td>"
        f"<td class='num'>{missing[j]}</td><td class='num'>{extra[j]}</td></tr>"
        for j in order
        if missing[j] + extra[j]
    )
    if not rows:
        return "<p>No flagged annotation misses or adds a label the model is sure of.</p>"
    return (
        "<p class='note'>Among the flagged annotations: how often each label is suggested but "
        "not given (missing) and given but not suggested (extra).</p>"
        "<table class='time'><tr><th>label</th><th>missing</th><th>extra</th></tr>"
        + rows
        + "</table>"
    )
