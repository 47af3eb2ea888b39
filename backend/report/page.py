"""The HTML report: self-contained (plots and thumbnails inlined), every figure explained."""

from __future__ import annotations

import html
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from backend import inputs, tasktypes
from backend.pipeline import AuditResult
from backend.report import charts
from backend.store import OUTPUT_FILES

#: Report cells rendered at once (a cell may fetch an image for its thumbnail).
CELL_WORKERS = 8
#: How many flagged items the HTML report shows with their content.
TOP_ITEMS = 50

#: Plain words for the steps an audit times (``AuditResult.timings``), in pipeline order.
STEPS = {
    "read_tasks": "reading the tasks (from Label Studio or the export file)",
    "features": "turning inputs into features (TF-IDF vocabulary, scaling, PCA fitted once)",
    "cross_validation": "cross-validation: out-of-fold probabilities",
    "confident_learning": "confident learning: finding the wrong labels",
    "evidence": "evidence for each flag: the model's top labels, the most similar tasks",
    "clean": "writing cleaned.json (the export without the flagged labels, --clean)",
    "final_model": "training the model that labels new tasks",
    "push": "pushing predictions and the review tab to Label Studio",
}

#: One sentence per ``filter_by`` of core.filter.find_label_issues: how it picks the flags.
FILTER_BY_WORDS = {
    "prune_by_noise_rate": (
        "for each pair of classes (given A, probably B), flags the annotations labelled A "
        "whose probability of B most exceeds their probability of A, as many as the "
        "estimated noise matrix says were labelled A but are B"
    ),
    "prune_by_class": (
        "for each given class, flags the annotations whose given label the model believes "
        "least, as many as the class's estimated number of wrong labels"
    ),
    "both": "flags only the annotations both prune_by_noise_rate and prune_by_class flag",
    "confident_learning": (
        "flags every annotation the model confidently puts in another class (its probability "
        "for that class above the class's average for its own members)"
    ),
    "predicted_neq_given": "flags every annotation whose most probable class is not its label",
    "low_normalized_margin": (
        "flags the annotations whose given label trails the most probable other class by "
        "the widest margin, as many as the estimated number of wrong labels"
    ),
    "low_self_confidence": (
        "flags the annotations with the lowest probability of their given label, as many "
        "as the estimated number of wrong labels"
    ),
}


# --------------------------------------------------------------------------- HTML


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#222;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}.sub{color:#666;margin-top:0}
.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1.5rem 0}
.card{border:1px solid #ddd;border-radius:8px;padding:.8rem 1rem;flex:1 1 0;min-width:110px}
.card b{display:block;font-size:1.6rem}.card span{color:#444;font-size:.9rem}
.card small{display:block;color:#777;font-size:.8rem;margin-top:.3rem}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid #eee;padding:.45rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f6f6}.given{color:#c44e52;font-weight:600}.sugg{color:#2a7a3b;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start}
.plots img{max-width:100%}code{font-size:.85rem}.note{color:#666;font-size:.9rem}
dl{font-size:.92rem}dt{font-weight:600;margin-top:.6rem}dd{margin-left:1.2rem;color:#444}
table.time{width:auto}td.num{text-align:right}
"""


def _card(value: str, label: str, hint: str) -> str:
    return f"<div class='card'><b>{value}</b><span>{label}</span><small>{hint}</small></div>"


def _task_cell(task_id: int, task_url: Callable[[int], str] | None) -> str:
    if task_url is None:
        return str(task_id)
    href = html.escape(task_url(task_id))
    return f'<a href="{href}" target="_blank" rel="noopener">{task_id}</a>'


def _label_cell(text: str) -> str:
    """A label as the task type writes it; an empty set (multi-label) as <i>none</i>."""
    return html.escape(text) if text else "<i>none</i>"


def _annotator_cell(annotator: str) -> str:
    """The annotator's email, else 'user <id>' (a bare Label Studio user id), else '-'."""
    if annotator.isdigit():
        return f"user {annotator}"
    return html.escape(annotator or "-")


def _timings_table(timings: dict[str, float]) -> str:
    """The steps in pipeline order (steps STEPS does not know after them), and the total."""
    names = [s for s in STEPS if s in timings] + [s for s in timings if s not in STEPS]
    rows = "".join(
        f"<tr><td>{html.escape(STEPS.get(name, name))}</td><td><code>{html.escape(name)}</code>"
        f"</td><td class='num'>{timings[name]:.2f} s</td></tr>"
        for name in names
    )
    total = f"<tr><th>total</th><th></th><th class='num'>{sum(timings.values()):.2f} s</th></tr>"
    return (
        f"<table class='time'><tr><th>step</th><th>name</th><th>time</th></tr>{rows}{total}</table>"
    )


def _verdicts_section(verdicts: dict[str, Any] | None) -> str:
    """What people did with the flags (backend.verdicts), in all and per annotator; "" for
    an audit that keeps no verdicts (the CLI's)."""
    if not verdicts:
        return ""
    states = ("confirmed", "fixed", "open")
    rows = "".join(
        f"<tr><td>{_annotator_cell(who)}</td>"
        + "".join(f"<td>{counts.get(state, 0):,}</td>" for state in states)
        + "</tr>"
        for who, counts in verdicts.get("by_annotator", {}).items()
    )
    table = (
        "<table><tr><th>annotator</th><th>confirmed</th><th>fixed</th><th>open</th></tr>"
        + rows
        + "</table>"
        if rows
        else ""
    )
    return (
        "<h2>What people did with the flags</h2>\n"
        f"<p><b>{verdicts.get('confirmed', 0):,}</b> confirmed (saved again with the flagged "
        "label: trusted from then on, never flagged again while it keeps that label) · "
        f"<b>{verdicts.get('fixed', 0):,}</b> fixed (the label changed after a flag) · "
        f"<b>{verdicts.get('open', 0):,}</b> open (flagged, not answered yet), as this audit "
        "left them; the backend's <code>/projects/&lt;id&gt;/audit</code> counts them as of "
        f"now.</p>\n{table}\n"
    )


def _notes_section(notes: list[str]) -> str:
    """What the audit has to say beyond its figures (how the tasks were read, ...)."""
    if not notes:
        return ""
    items = "".join(f"<li>{html.escape(str(note))}</li>" for note in notes)
    return f"<h2>Notes</h2>\n<ul>{items}</ul>\n"


def render_html(
    result: AuditResult,
    summary_data: dict[str, Any],
    *,
    fetch: Callable[[str], bytes] | None = None,
    task_url: Callable[[int], str] | None = None,
) -> str:
    """The self-contained HTML report (plots and thumbnails inlined).

    ``task_url(task_id)`` is the task's page in Label Studio; without it task ids are plain
    text. The other output files are linked by their bare names, which works both beside
    report.html on disk and under the backend's ``/projects/<id>/report``.
    """
    counts = result.counts
    import matplotlib

    matplotlib.use("Agg")
    # Labels are plain text: "$x$" in a class name is not mathtext (it can fail to parse).
    task_type = tasktypes.get(result.kind.task_type)
    with matplotlib.rc_context({"text.parse_math": False}):
        parts = task_type.report(result)
        histogram = charts.suspicion_histogram(
            result.suspicion, result.is_label_issue, xlabel=f"suspicion ({task_type.suspicion})"
        )
    health = result.health.get("overall_label_health_score")
    audited = counts["audited_annotations"]
    flagged = counts["flagged_annotations"]
    classes = result.kind.classes
    timings = summary_data["timings_seconds"]
    method = str(summary_data["settings"]["filter_by"])
    filter_by = html.escape(method)
    cards = [
        _card(
            f"{counts['annotated_tasks']:,}",
            "tasks audited",
            f"with at least one usable annotation, of {counts['tasks']:,} tasks",
        ),
        _card(f"{audited:,}", "annotations audited", "each judged on its own"),
        _card(
            f"{flagged:,}",
            f"flagged ({flagged / max(audited, 1):.1%})",
            "annotations whose label is probably wrong",
        ),
        _card(
            f"{counts['flagged_tasks']:,}",
            "tasks to re-review",
            "tasks with at least one flagged annotation",
        ),
        _card(
            f"{health:.2f}" if isinstance(health, float) else "-",
            "label health score",
            "1 &minus; the estimated fraction of wrong labels (1.00: none)",
        ),
        _card(f"{sum(timings.values()):.1f} s", "audit time", "the steps below, added up"),
    ]
    input_type = inputs.get(result.kind.input_type)
    rows_html = []
    flagged_rows = [i for i in result.ranked() if result.is_label_issue[i]][:TOP_ITEMS]
    # Cells may fetch (image thumbnails): fetched side by side, not one after another.
    with ThreadPoolExecutor(max_workers=CELL_WORKERS) as pool:
        cells = list(pool.map(lambda i: input_type.cell(result.inputs[i], fetch), flagged_rows))
    for i, cell in zip(flagged_rows, cells, strict=True):
        rows_html.append(
            "<tr>"
            f"<td>{_task_cell(int(result.task_ids[i]), task_url)}</td>"
            f"<td>{_annotator_cell(result.annotators[i])}</td>"
            f"<td class='given'>{_label_cell(result.label_text(result.given[i]))}</td>"
            f"<td class='sugg'>{_label_cell(result.label_text(result.suggested[i]))}</td>"
            f"<td>{result.suspicion[i]:.3f}</td>"
            f"<td>{cell}</td>"
            f"<td class='why'>{html.escape(result.evidence[i] if result.evidence else '')}</td>"
            "</tr>"
        )
    table = (
        "<table><tr><th>task</th><th>annotator</th><th>given</th><th>suggested</th>"
        "<th>suspicion</th><th>content</th><th>why: the model's top labels; similar tasks</th>"
        "</tr>" + "".join(rows_html) + "</table>"
        if rows_html
        else "<p>No annotation was flagged.</p>"
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
    images = "".join(
        f"<img src='{uri}' alt='{name}'>" for name, uri in [*parts.plots, ("suspicion", histogram)]
    )
    definitions = "".join(
        f"<dt>{html.escape(term)}</dt><dd>{text}</dd>" for term, text in parts.definitions
    )
    sections = "".join(f"<h2>{html.escape(title)}</h2>\n{body}\n" for title, body in parts.sections)
    files = OUTPUT_FILES
    how = html.escape(FILTER_BY_WORDS.get(method, "see core.filter.find_label_issues"))
    title = html.escape(summary_data["title"])
    top = f"top {TOP_ITEMS} shown" if flagged > TOP_ITEMS else "all shown"
    linked = " A task id opens the task in Label Studio." if task_url is not None else ""
    tables = "".join(f' · <a href="{name}.csv">{name}.csv</a>' for name in task_type.tables)
    flagged_words = task_type.flagged_words or (
        "Confident learning thinks the annotation's label is wrong. There is no fixed "
        f"suspicion cut-off: the method, <code>{filter_by}</code>, {how}."
    )
    used_filter = f" · filter <code>{filter_by}</code>" if task_type.uses_filter_by else ""
    health_words = task_type.health_words or (
        "cleanlab's overall label health score: 1 &minus; the estimated fraction of wrong "
        "labels, from the out-of-fold probabilities. 0.90 means about one label in ten is "
        "estimated wrong."
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>labelaudit report — {title}</title>
<style>{_STYLE}</style></head><body>
<h1>labelaudit report — {title}</h1>
<p class="sub">{html.escape(summary_data["source"])} · model version
<code>{html.escape(summary_data["model_version"])}</code> ·
{len(classes)} classes{used_filter}</p>
<div class="cards">{"".join(cards)}</div>
<p>Files: <a href="{files["issues"]}">{files["issues"]}</a> (every audited annotation,
most suspicious first) · <a href="{files["predictions"]}">{files["predictions"]}</a>
(one prediction per task, for Label Studio's import) ·
<a href="{files["summary"]}">{files["summary"]}</a> (every figure of this page){tables}.</p>
<h2>What the figures mean</h2>
<dl>
<dt>suspicion</dt><dd>{html.escape(task_type.suspicion_words)} A task's suspicion is
the highest of its annotations.</dd>
<dt>flagged</dt><dd>{flagged_words}</dd>
<dt>label health score</dt><dd>{health_words}</dd>
{definitions}
</dl>
<h2>Where the labels go wrong</h2>
<div class="plots">{images}</div>
<h2>Most suspicious flagged annotations</h2>
<p class="note">Most suspicious first; {top}; all in
<a href="{files["issues"]}">{files["issues"]}</a>.{linked}</p>
{table}
{_verdicts_section(summary_data.get("verdicts"))}{sections}<h2>Skipped</h2>
{skipped_html}
{_notes_section(summary_data.get("notes") or [])}<h2>Where the time went</h2>
{_timings_table(timings)}
<p class="note">Measured while the audit ran. When the backend spreads the folds over
several workers, cross-validation is the sum of their times.</p>
</body></html>
"""
