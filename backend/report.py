"""Write an audit's outputs: issues.csv, predictions.json, summary.json, report.html."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from backend.audit import AuditResult
from backend.labelstudio.predictions import build_prediction

#: How many flagged items the HTML report shows with their content.
TOP_ITEMS = 50
#: Longest text excerpt shown per item.
TEXT_EXCERPT = 400
#: Thumbnail edge in pixels.
THUMBNAIL = 96

ISSUES_COLUMNS = (
    "task_id",
    "annotation_id",
    "annotator",
    "given_label",
    "suggested_label",
    "suspicion",
    "is_label_issue",
)


def issue_rows(result: AuditResult) -> list[dict[str, Any]]:
    """Every audited annotation as a dict of ISSUES_COLUMNS, most suspicious first."""
    classes = result.kind.classes
    rows = []
    for i in result.ranked():
        annotation = int(result.annotation_ids[i])
        rows.append(
            {
                "task_id": int(result.task_ids[i]),
                "annotation_id": annotation if annotation >= 0 else "",
                "annotator": result.annotators[i],
                "given_label": classes[result.given[i]],
                "suggested_label": classes[result.suggested[i]],
                "suspicion": round(float(result.suspicion[i]), 6),
                "is_label_issue": bool(result.is_label_issue[i]),
            }
        )
    return rows


def predictions(result: AuditResult, model_version: str) -> list[dict[str, Any]]:
    """One Label Studio prediction per audited task: suggested label, score = suspicion."""
    return [
        build_prediction(
            result.kind,
            verdict["task_id"],
            verdict["suggested_label"],
            verdict["suspicion"],
            model_version,
            mislabeling=verdict["suspicion"],
        )
        for verdict in result.task_verdicts()
    ]


def summary(
    result: AuditResult, *, settings: dict[str, Any], source: str, model_version: str
) -> dict[str, Any]:
    """The JSON summary: counts, health, noise matrix, settings, timings, skipped items."""
    classes = list(result.kind.classes)
    reasons = Counter(s.reason for s in result.skipped)
    return {
        "source": source,
        "model_version": model_version,
        "task_kind": {
            "control": result.kind.control,
            "object": result.kind.object_name,
            "input_type": result.kind.input_type,
            "classes": classes,
        },
        "counts": result.counts,
        "suspicion": (
            "1 - out-of-fold probability of the given label; a task's suspicion is the "
            "highest over its annotations"
        ),
        "flagged_task_ids": result.flagged_task_ids(),
        "health": result.health,
        "noise_matrix": {
            "description": "P(given label = row | true label = column), estimated",
            "classes": classes,
            "matrix": np.round(result.noise_matrix, 6).tolist(),
        },
        "settings": settings,
        "timings_seconds": result.timings,
        "skipped": {
            "count": len(result.skipped),
            "by_reason": dict(reasons.most_common()),
            "items": [
                {"task_id": s.task_id, "annotation_id": s.annotation_id, "reason": s.reason}
                for s in result.skipped
            ],
        },
        "notes": result.notes,
    }


# --------------------------------------------------------------------------- HTML


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _plots(result: AuditResult) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = list(result.kind.classes)
    k = len(classes)
    plots = {}

    size = min(1.0 + 0.55 * k, 14.0)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(result.noise_matrix, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), classes, rotation=45, ha="right")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("true label (estimated)")
    ax.set_ylabel("given label")
    if k <= 15:
        for i in range(k):
            for j in range(k):
                value = result.noise_matrix[i, j]
                ax.text(j, i, f"{value:.2f}", ha="center", va="center",
                        color="white" if value > 0.5 else "black", fontsize=8)  # fmt: skip
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title("Noise matrix P(given | true)")
    plots["noise"] = _png(fig)

    quality = result.health.get("classes_by_label_quality", [])
    if quality:
        names = [str(r["Class Name"]) for r in quality]
        scores = [float(r["Label Quality Score"]) for r in quality]
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) + 1.2))
        ax.barh(names, scores, color="#4c72b0")
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        ax.set_xlabel("label quality score (1 - estimated share of wrong labels)")
        ax.set_title("Per-class label quality")
        plots["quality"] = _png(fig)

    fig, ax = plt.subplots(figsize=(7, 3.2))
    bins = np.linspace(0, 1, 21)
    ax.hist(
        result.suspicion[~result.is_label_issue], bins=bins, color="#9bbbd4", label="not flagged"
    )
    ax.hist(result.suspicion[result.is_label_issue], bins=bins, color="#c44e52", label="flagged")
    ax.set_xlabel("suspicion (1 - out-of-fold probability of the given label)")
    ax.set_ylabel("annotations")
    ax.legend()
    ax.set_title("Suspicion of every audited annotation")
    plots["suspicion"] = _png(fig)
    return plots


def _thumbnail(ref: str, fetch: Callable[[str], bytes] | None) -> str:
    """A small inline PNG of an image reference, or '' when it cannot be read."""
    if fetch is None:
        return ""
    try:
        from PIL import Image

        image = Image.open(io.BytesIO(fetch(ref)))
        scale = THUMBNAIL / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        # Small images (icons, digits) are enlarged with hard pixel edges, large ones shrunk.
        image = image.resize(
            size, Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS
        )
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
    except Exception:  # a broken image must not break the report
        return ""
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _content_cell(result: AuditResult, row: int, fetch: Callable[[str], bytes] | None) -> str:
    value = result.inputs[row]
    if result.kind.input_type == "image":
        src = _thumbnail(str(value), fetch)
        label = html.escape(str(value))
        if src:
            return f'<img src="{src}" alt="{label}" title="{label}">'
        return f"<code>{label}</code>"
    if result.kind.input_type == "text":
        text = str(value)
        excerpt = text if len(text) <= TEXT_EXCERPT else text[:TEXT_EXCERPT] + "…"
        return html.escape(excerpt)
    numbers = ", ".join(f"{float(x):.3g}" for x in list(value)[:12])
    return f"<code>{html.escape(numbers)}{' …' if len(value) > 12 else ''}</code>"


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#222;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}.sub{color:#666;margin-top:0}
.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1.5rem 0}
.card{border:1px solid #ddd;border-radius:8px;padding:.8rem 1.1rem;min-width:150px}
.card b{display:block;font-size:1.6rem}.card span{color:#666;font-size:.9rem}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid #eee;padding:.45rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f6f6}.given{color:#c44e52;font-weight:600}.sugg{color:#2a7a3b;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start}
.plots img{max-width:100%}code{font-size:.85rem}.note{color:#666;font-size:.9rem}
"""


def render_html(
    result: AuditResult,
    summary_data: dict[str, Any],
    *,
    fetch: Callable[[str], bytes] | None = None,
) -> str:
    """The self-contained HTML report (plots and thumbnails inlined)."""
    counts = result.counts
    plots = _plots(result)
    health = result.health.get("overall_label_health_score")
    audited = counts["audited_annotations"]
    flagged = counts["flagged_annotations"]
    classes = result.kind.classes
    cards = [
        (f"{counts['annotated_tasks']:,}", "tasks audited"),
        (f"{audited:,}", "annotations audited"),
        (f"{flagged:,}", f"flagged ({flagged / max(audited, 1):.1%})"),
        (f"{counts['flagged_tasks']:,}", "tasks to re-review"),
        (f"{health:.2f}" if isinstance(health, float) else "-", "label health score"),
        (f"{sum(result.timings.values()):.1f} s", "audit time"),
    ]
    card_html = "".join(f"<div class='card'><b>{v}</b><span>{t}</span></div>" for v, t in cards)
    rows_html = []
    flagged_rows = [i for i in result.ranked() if result.is_label_issue[i]][:TOP_ITEMS]
    for i in flagged_rows:
        rows_html.append(
            "<tr>"
            f"<td>{int(result.task_ids[i])}</td>"
            f"<td>{html.escape(result.annotators[i] or '-')}</td>"
            f"<td class='given'>{html.escape(classes[result.given[i]])}</td>"
            f"<td class='sugg'>{html.escape(classes[result.suggested[i]])}</td>"
            f"<td>{result.suspicion[i]:.3f}</td>"
            f"<td>{_content_cell(result, i, fetch)}</td>"
            "</tr>"
        )
    table = (
        "<table><tr><th>task</th><th>annotator</th><th>given</th><th>suggested</th>"
        "<th>suspicion</th><th>content</th></tr>" + "".join(rows_html) + "</table>"
        if rows_html
        else "<p>No annotation was flagged.</p>"
    )
    overlaps = result.health.get("overlapping_classes", [])[:10]
    overlap_html = "".join(
        f"<tr><td>{html.escape(str(o['Class Name A']))}</td>"
        f"<td>{html.escape(str(o['Class Name B']))}</td>"
        f"<td>{o['Num Overlapping Examples']}</td>"
        f"<td>{o['Joint Probability']:.4f}</td></tr>"
        for o in overlaps
        if o.get("Num Overlapping Examples", 0)
    )
    skipped = summary_data["skipped"]
    skipped_html = (
        "<ul>"
        + "".join(
            f"<li>{html.escape(reason)}: {n}</li>" for reason, n in skipped["by_reason"].items()
        )
        + "</ul>"
        if skipped["count"]
        else "<p>None.</p>"
    )
    overlap_table = (
        "<table><tr><th>class A</th><th>class B</th><th>examples</th>"
        "<th>joint probability</th></tr>" + overlap_html + "</table>"
        if overlap_html
        else "<p>No overlapping classes found.</p>"
    )
    filter_by = html.escape(str(summary_data["settings"]["filter_by"]))
    images = "".join(
        f"<img src='{plots[name]}' alt='{name}'>"
        for name in ("noise", "quality", "suspicion")
        if name in plots
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>labelaudit report: {html.escape(summary_data["source"])}</title>
<style>{_STYLE}</style></head><body>
<h1>labelaudit report</h1>
<p class="sub">{html.escape(summary_data["source"])} · model version
<code>{html.escape(summary_data["model_version"])}</code> ·
{len(classes)} classes · filter <code>{filter_by}</code></p>
<div class="cards">{card_html}</div>
<h2>Where the labels go wrong</h2>
<div class="plots">{images}</div>
<h2>Most suspicious flagged annotations</h2>
<p class="note">Suspicion is 1 minus the probability a model that never saw the task gives
to the annotator's label. Flagged by confident learning; top {TOP_ITEMS} shown, all in
issues.csv.</p>
{table}
<h2>Classes most often confused</h2>
{overlap_table}
<h2>Skipped</h2>
{skipped_html}
<p class="note">Timings: {html.escape(json.dumps(result.timings))}</p>
</body></html>
"""


def write_outputs(
    result: AuditResult,
    out_dir: str | Path,
    *,
    settings: dict[str, Any],
    source: str,
    model_version: str,
    fetch: Callable[[str], bytes] | None = None,
) -> dict[str, Path]:
    """Write the four output files into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "issues": out / "issues.csv",
        "predictions": out / "predictions.json",
        "summary": out / "summary.json",
        "report": out / "report.html",
    }
    with paths["issues"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=ISSUES_COLUMNS)
        writer.writeheader()
        writer.writerows(issue_rows(result))
    paths["predictions"].write_text(
        json.dumps(predictions(result, model_version), indent=1), encoding="utf-8"
    )
    summary_data = summary(result, settings=settings, source=source, model_version=model_version)
    paths["summary"].write_text(json.dumps(summary_data, indent=2, default=str), encoding="utf-8")
    paths["report"].write_text(render_html(result, summary_data, fetch=fetch), encoding="utf-8")
    return paths
