"""The spans (NER) part of the report and summary: entity quality, confusions, flagged spans."""

from __future__ import annotations

import html
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.report import charts
from backend.tasktypes import ReportParts

if TYPE_CHECKING:
    from backend.pipeline import AuditResult

OUTSIDE = "O"
#: Flagged spans shown inside their text in the report.
TOP_SPANS = 30
#: Characters of text shown on each side of a flagged span.
CONTEXT = 70

DEFINITIONS = (
    (
        "entity quality",
        "Per entity type: 1 &minus; the share of its given spans that are flagged.",
    ),
    (
        "span issues",
        "<i>wrong label</i>: the model puts the span's tokens in another entity type; "
        "<i>spurious</i>: it sees no entity there; <i>boundaries</i>: a token at or just "
        "outside an end looks wrong; <i>missing</i>: an entity the model finds where nobody "
        "labelled one (given O).",
    ),
)


def _spans(result: AuditResult) -> list[dict[str, Any]]:
    return list(result.tables.get("spans", []))


def entity_quality(result: AuditResult) -> list[dict[str, Any]]:
    """Per entity type: given spans, flagged spans, quality; worst first."""
    rows = []
    spans = _spans(result)
    for name in result.kind.classes:
        mine = [s for s in spans if s["given_label"] == name]
        flagged = sum(s["is_label_issue"] for s in mine)
        quality = 1.0 - flagged / len(mine) if mine else None
        rows.append(
            {
                "label": name,
                "spans": len(mine),
                "flagged": flagged,
                "quality": None if quality is None else round(quality, 6),
            }
        )
    return sorted(rows, key=lambda r: (r["quality"] is None, r["quality"] or 0.0))


def span_confusion(result: AuditResult) -> tuple[list[str], np.ndarray]:
    """Counts of flagged spans by (given, suggested) type, "O" included."""
    names = [OUTSIDE, *result.kind.classes]
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    for s in _spans(result):
        if s["is_label_issue"]:
            counts[names.index(s["given_label"]), names.index(s["suggested_label"])] += 1
    return names, counts


def summary_part(result: AuditResult) -> dict[str, Any]:
    """summary.json's figures for spans."""
    names, counts = span_confusion(result)
    issues = Counter(s["issue"] for s in _spans(result) if s["is_label_issue"])
    return {
        "token_confusion": {
            "description": "P(given class = row | the model's class = column) over every token",
            "classes": names,
            "matrix": np.round(result.noise_matrix, 6).tolist(),
        },
        "entity_quality": entity_quality(result),
        "span_issues": dict(issues.most_common()),
        "flagged_span_confusion": {
            "description": "flagged spans by given (row) and suggested (column) type",
            "classes": names,
            "matrix": counts.tolist(),
        },
    }


def report_parts(result: AuditResult) -> ReportParts:
    """Entity quality bars and the confusion of flagged spans; flagged spans in context."""
    quality = [q for q in entity_quality(result) if q["quality"] is not None]
    plots = []
    if quality:
        plots.append(
            (
                "entity quality",
                charts.bars(
                    [q["label"] for q in quality],
                    {"quality": [q["quality"] for q in quality]},
                    title="Per-entity quality",
                    xlabel="1 - share of the type's spans flagged",
                    xlim=(0, 1),
                ),
            )
        )
    names, counts = span_confusion(result)
    if counts.any():
        plots.append(
            (
                "confusion",
                charts.heatmap(
                    counts.astype(float),
                    rows=names,
                    columns=names,
                    title="Flagged spans: given vs suggested type",
                    xlabel="suggested",
                    ylabel="given",
                    vmax=float(counts.max()),
                ),
            )
        )
    sections = [("Flagged spans in their text", _in_context(result))]
    if result.tables.get("skipped_spans"):
        sections.append(("Spans not audited", _skipped(result)))
    return ReportParts(plots=plots, definitions=list(DEFINITIONS), sections=sections)


def _skipped(result: AuditResult) -> str:
    rows = result.tables["skipped_spans"]
    cells = "".join(
        f"<tr><td>{s['task_id']}</td><td>{html.escape(str(s['annotator']))}</td>"
        f"<td>{s['start']}-{s['end']}</td><td class='given'>{html.escape(s['given_label'])}</td>"
        f"<td>{html.escape(s['text'])}</td><td>{html.escape(s['reason'])}</td></tr>"
        for s in rows[:TOP_SPANS]
    )
    return (
        f"<p class='note'>{len(rows)} given span(s) could not be audited: a span that ends "
        "past its text, or one that overlaps another span of the same annotation (the span "
        "that starts first is audited, the longer at equal starts). All in "
        "skipped_spans.csv.</p><table><tr><th>task</th><th>annotator</th><th>characters</th>"
        "<th>given</th><th>text</th><th>why</th></tr>" + cells + "</table>"
    )


def _in_context(result: AuditResult) -> str:
    texts = {int(t): str(x) for t, x in zip(result.task_ids, result.inputs, strict=True)}
    flagged = [s for s in _spans(result) if s["is_label_issue"]][:TOP_SPANS]
    if not flagged:
        return "<p>No span was flagged.</p>"
    rows = []
    for s in flagged:
        text = texts.get(int(s["task_id"]), "")
        start, end = int(s["start"]), int(s["end"])
        before = text[max(0, start - CONTEXT) : start]
        after = text[end : end + CONTEXT]
        shown = (
            f"{'…' if start > CONTEXT else ''}{html.escape(before)}"
            f"<mark>{html.escape(text[start:end])}</mark>"
            f"{html.escape(after)}{'…' if end + CONTEXT < len(text) else ''}"
        )
        rows.append(
            f"<tr><td>{s['task_id']}</td><td>{html.escape(str(s['annotator']))}</td>"
            f"<td class='given'>{html.escape(s['given_label'])}</td>"
            f"<td class='sugg'>{html.escape(s['suggested_label'])}</td>"
            f"<td>{html.escape(s['issue'])}</td><td>{s['suspicion']:.3f}</td>"
            f"<td>{shown}</td></tr>"
        )
    return (
        "<p class='note'>The most suspicious flagged spans, highlighted in their text; all "
        "in issues.csv (one row per span).</p>"
        "<table><tr><th>task</th><th>annotator</th><th>given</th><th>suggested</th>"
        "<th>issue</th><th>suspicion</th><th>text</th></tr>" + "".join(rows) + "</table>"
    )
