"""The single-choice part of the report: noise matrix, per-class quality, confused classes."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from backend.report import charts
from backend.tasktypes import ReportParts

if TYPE_CHECKING:
    from backend.pipeline import AuditResult

DEFINITIONS = (
    (
        "noise matrix",
        "For each true class (column, estimated), how its annotations spread over the given "
        "labels (rows). A perfect dataset has 1 on the diagonal. It is also the likelihood "
        "in each annotation's suspicion: a label often given by mistake for the class the "
        "model believes in is more probably wrong.",
    ),
    (
        "per-class label quality",
        "For each class, 1 &minus; the estimated fraction of its labels that are wrong.",
    ),
)


def report_parts(result: AuditResult) -> ReportParts:
    """The noise matrix and per-class quality plots, and the table of confused classes."""
    classes = list(result.kind.classes)
    plots = [
        (
            "noise",
            charts.heatmap(
                result.noise_matrix,
                rows=classes,
                columns=classes,
                title="Noise matrix P(given | true)",
                xlabel="true label (estimated)",
                ylabel="given label",
            ),
        )
    ]
    quality = result.health.get("classes_by_label_quality", [])
    if quality:
        plots.append(
            (
                "quality",
                charts.quality_bars(
                    quality,
                    title="Per-class label quality",
                    xlabel="label quality score (1 - estimated share of wrong labels)",
                ),
            )
        )
    return ReportParts(
        plots=plots,
        definitions=list(DEFINITIONS),
        sections=[("Classes most often confused", _overlaps(result))],
    )


def _overlaps(result: AuditResult) -> str:
    overlaps = result.health.get("overlapping_classes", [])[:10]
    rows = "".join(
        f"<tr><td>{html.escape(str(o['Class Name A']))}</td>"
        f"<td>{html.escape(str(o['Class Name B']))}</td>"
        f"<td>{o['Num Overlapping Examples']}</td>"
        f"<td>{o['Joint Probability']:.4f}</td></tr>"
        for o in overlaps
        if o.get("Num Overlapping Examples", 0)
    )
    if not rows:
        return "<p>No overlapping classes found.</p>"
    return (
        "<p class='note'>Pairs of classes the model mixes up: <i>examples</i> is the estimated "
        "number of annotations given one class of the pair while belonging to the other (either "
        "way), <i>joint probability</i> the same as a share of all annotations.</p>"
        "<table><tr><th>class A</th><th>class B</th><th>examples</th>"
        "<th>joint probability</th></tr>" + rows + "</table>"
    )
