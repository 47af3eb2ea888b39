"""The several-annotators part of the report and summary: annotators, agreement, consensus."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.report import charts
from backend.tasktypes import ReportParts

if TYPE_CHECKING:
    from backend.pipeline import AuditResult

#: The report's agreement heatmap shows the annotators with the most annotations, this many.
HEATMAP_ANNOTATORS = 20
#: Bins of the consensus-quality histogram over [0, 1].
QUALITY_BINS = 10

DEFINITIONS = (
    (
        "consensus label",
        "The most likely label once the model (which never saw the task) and every annotator "
        "of the task are combined as independent evidence, each weighed by its estimated "
        "accuracy; a ground-truth annotation decides its task.",
    ),
    (
        "consensus quality",
        "CROWDLAB's score of the consensus label (as cleanlab's "
        "<code>consensus_quality_score</code>): it ranks tasks from least to most "
        "trustworthy, but is no probability.",
    ),
    (
        "consensus probability",
        "The calibrated probability that the consensus label is right (the model and every "
        "annotator combined as independent evidence). A task below the "
        "<code>consensus_min_probability</code> setting needs another annotator.",
    ),
    (
        "annotator quality",
        "CROWDLAB's score of an annotator: the mean quality of their labels mixed with how "
        "often they agree with the consensus on tasks others labelled too (0 to 1).",
    ),
    (
        "agreement",
        "Of a task: the share of its annotations equal to the consensus. Of two annotators: the "
        "share of the tasks both labelled where they gave the same label.",
    ),
    (
        "noise matrix",
        "For each consensus label (column), how the annotations of those tasks spread over the "
        "given labels (rows).",
    ),
)


def pairwise_agreement(result: AuditResult) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Annotators (most annotations first), the share of shared tasks where each pair agrees
    (NaN where they share none; the diagonal is 1) and how many tasks each pair shares."""
    names, codes, counts = np.unique(
        np.asarray(result.annotators, dtype=object), return_inverse=True, return_counts=True
    )
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    codes = rank[codes]
    m = len(names)
    tasks, task_pos = np.unique(result.task_ids, return_inverse=True)
    labels = np.full((len(tasks), m), -1, dtype=np.int64)
    labels[task_pos, codes] = np.asarray(result.given, dtype=np.int64)
    has = (labels >= 0).astype(np.float64)
    shared = has.T @ has
    same = np.zeros((m, m))
    for k in np.unique(result.given).tolist():
        chose = (labels == k).astype(np.float64)
        same += chose.T @ chose
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = np.where(shared > 0, same / shared, np.nan)
    return [str(n) for n in names[order]], agreement, shared.astype(np.int64)


def summary_part(result: AuditResult) -> dict[str, Any]:
    """summary.json's figures: annotators, their pairwise agreement, consensus quality."""
    tasks = result.tables.get("tasks", [])
    names, agreement, shared = pairwise_agreement(result)
    quality = np.array([t["consensus_quality"] for t in tasks], dtype=float)
    probability = np.array([t["consensus_probability"] for t in tasks], dtype=float)
    edges = np.linspace(0.0, 1.0, QUALITY_BINS + 1)
    return {
        "annotators": result.tables.get("annotators", []),
        "annotator_agreement": {
            "description": "share of the tasks both annotators labelled where they agree",
            "annotators": names,
            "matrix": [[None if np.isnan(v) else round(float(v), 6) for v in r] for r in agreement],
            "shared_tasks": shared.tolist(),
        },
        "consensus": {
            "tasks": len(tasks),
            "mean_quality": round(float(quality.mean()), 6) if len(quality) else None,
            "mean_probability": round(float(probability.mean()), 6) if len(quality) else None,
            "histogram": {
                "edges": np.round(edges, 6).tolist(),
                "quality": np.histogram(quality, bins=edges)[0].tolist(),
                "probability": np.histogram(probability, bins=edges)[0].tolist(),
            },
            "needs_another_annotator_task_ids": [
                t["task_id"] for t in tasks if t["needs_another_annotator"]
            ],
        },
    }


def report_parts(result: AuditResult) -> ReportParts:
    """Plots (noise matrix, annotator agreement, consensus quality) and the annotator table."""
    classes = list(result.kind.classes)
    plots = [
        (
            "noise",
            charts.heatmap(
                result.noise_matrix,
                rows=classes,
                columns=classes,
                title="Annotations vs consensus P(given | consensus)",
                xlabel="consensus label",
                ylabel="given label",
            ),
        )
    ]
    names, agreement, _ = pairwise_agreement(result)
    shown = min(len(names), HEATMAP_ANNOTATORS)
    if shown >= 2:
        plots.append(
            (
                "agreement",
                charts.heatmap(
                    np.nan_to_num(agreement[:shown, :shown], nan=0.0),
                    rows=names[:shown],
                    columns=names[:shown],
                    title="Agreement between annotators (shared tasks)",
                    xlabel="annotator",
                    ylabel="annotator",
                ),
            )
        )
    tasks = result.tables.get("tasks", [])
    if tasks:
        plots.append(("consensus quality", _consensus_histogram(tasks)))
    return ReportParts(
        plots=plots,
        definitions=list(DEFINITIONS),
        sections=[
            ("Annotators", _annotator_table(result)),
            ("Tasks that need another annotator", _another_table(result)),
        ],
    )


def _consensus_histogram(tasks: list[dict[str, Any]]) -> str:
    import matplotlib.pyplot as plt

    edges = np.linspace(0, 1, QUALITY_BINS + 1).tolist()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for key, color, name in (
        ("consensus_quality", "#9bbbd4", "consensus quality (CROWDLAB)"),
        ("consensus_probability", "#4c72b0", "consensus probability (calibrated)"),
    ):
        values = [t[key] for t in tasks]
        ax.hist(values, bins=edges, color=color, alpha=0.75, label=name)
    ax.set_xlabel("score of the consensus label")
    ax.set_ylabel("tasks")
    ax.legend()
    ax.set_title("How far each task's consensus can be trusted")
    return charts.png(fig)


def _cell(value: Any) -> str:
    if value is None:
        return "&mdash;"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def _annotator_table(result: AuditResult) -> str:
    rows = result.tables.get("annotators", [])
    if not rows:
        return "<p>No annotator table (no task had two annotations apart from ground truth).</p>"
    columns = (
        ("annotator", "annotator"),
        ("annotations", "annotations"),
        ("quality", "quality"),
        ("agreement_with_consensus", "agreement with consensus"),
        ("flagged", "flagged"),
        ("worst_class", "worst class"),
        ("ground_truth_agreement", "agreement with ground truth"),
    )
    head = "".join(f"<th>{title}</th>" for _, title in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(r[key])}</td>" for key, _ in columns) + "</tr>" for r in rows
    )
    return (
        "<p class='note'>Lowest quality first. <i>worst class</i> is the class of the "
        "annotator's labels that agree least with the consensus.</p>"
        f"<table class='annotators'><tr>{head}</tr>{body}</table>"
    )


def _another_table(result: AuditResult) -> str:
    rows = [t for t in result.tables.get("tasks", []) if t["needs_another_annotator"]]
    if not rows:
        return "<p>Every task's consensus is trusted.</p>"
    rows.sort(key=lambda t: (t["activelab"] if t["activelab"] is not None else 1.0, t["task_id"]))
    body = "".join(
        f"<tr><td>{t['task_id']}</td><td>{html.escape(t['consensus_label'])}</td>"
        f"<td>{t['consensus_probability']:.3f}</td><td>{t['annotations']}</td>"
        f"<td>{t['agreement']:.2f}</td><td>{_cell(t['activelab'])}</td></tr>"
        for t in rows[:50]
    )
    more = f"<p class='note'>{len(rows) - 50} more in tasks.csv.</p>" if len(rows) > 50 else ""
    return (
        "<p class='note'>Tasks whose consensus is too uncertain to trust, the most useful to "
        "annotate first (lowest ActiveLab score). Label Studio's "
        '"Needs another annotator" tab lists the same tasks.</p>'
        "<table><tr><th>task</th><th>consensus</th><th>consensus probability</th>"
        "<th>annotations</th><th>agreement</th><th>ActiveLab</th></tr>"
        f"{body}</table>{more}"
    )
