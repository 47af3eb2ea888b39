"""Judging spans from their tokens (see :mod:`backend.tasktypes.spans` for the rules)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.tasktypes import Judgement
from backend.tasktypes.one_row import over_present
from backend.tasktypes.span_beliefs import span_posteriors, token_error_probability
from backend.tasktypes.tokens import (
    OVERLAPS,
    PAST_THE_END,
    Span,
    Suggested,
    TokenProbs,
    decode,
    token_classes,
    token_range,
    usable_spans,
)

if TYPE_CHECKING:
    from backend.pipeline import Prepared

OUTSIDE = "O"
#: The ``filter_by`` (spans only, what "auto" means) that flags a token when its
#: calibrated probability of being wrong is above FLAG_ABOVE.
CALIBRATED = "calibrated"
FLAG_ABOVE = 0.5
#: Task ids a note names before "...".
NOTE_TASKS = 5
#: What names a span, first in its issues.csv row and in skipped_spans.csv.
SPAN_FIELDS = ("task_id", "annotation_id", "annotator", "start", "end", "text", "given_label")
#: Columns of skipped_spans.csv (spans left out of the audit, with why).
SKIPPED_COLUMNS = (*SPAN_FIELDS, "reason")


def judge_spans(prepared: Prepared, probs: np.ndarray, filter_by: str) -> Judgement:
    """Flag tokens, then judge every given span and every span the model finds where nobody
    labelled one; one issues.csv row per span.

    Each token's probability of being wrong comes from :func:`token_error_probability`;
    with ``filter_by`` CALIBRATED a token is flagged when it exceeds 1/2, with any of
    core's names by ``core.token_classification.find_label_issues``. A given span's
    suspicion is its most likely error (:func:`_span_errors`); with CALIBRATED it is
    flagged when that is above 1/2.
    """
    from core.token_classification import find_label_issues

    dataset, kind = prepared.dataset, prepared.dataset.kind
    n = len(prepared.labels)
    token_labels: list[np.ndarray] = []
    audited: list[tuple[Span, ...]] = []
    skipped: list[tuple[int, Span, str]] = []
    snapped = 0
    for r in range(n):
        kept, dropped = usable_spans(probs[r].text, prepared.labels[r])
        classes, moved = token_classes(probs[r].offsets, kept)
        token_labels.append(classes)
        audited.append(kept)
        skipped.extend((r, span, why) for span, why in dropped)
        snapped += moved
    all_labels = np.concatenate(token_labels) if n else np.zeros(0, dtype=np.int64)
    present = np.unique(all_labels)
    # core works over the classes present (cleanlab's rule); "O" is always among them.
    local = [np.searchsorted(present, labels).tolist() for labels in token_labels]
    local_probs = [over_present(p.probs, present) for p in probs]
    trusted = dataset.ground_truth[prepared.rows]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        beliefs = token_error_probability(local, local_probs, trusted)
        errors, temperature = beliefs.errors, beliefs.temperature
        whole = span_posteriors(local_probs, audited, probs, present, beliefs, trusted)
        if filter_by == CALIBRATED:
            flagged_tokens = [
                (r, int(t)) for r, e in enumerate(errors) for t in np.flatnonzero(e > FLAG_ABOVE)
            ]
        else:
            flagged_tokens = find_label_issues(
                local, local_probs, filter_by=filter_by, return_indices_ranked_by=None
            )
    flagged: dict[int, set[int]] = {}
    for sentence, token in flagged_tokens:
        flagged.setdefault(int(sentence), set()).add(int(token))

    annotators = dataset.annotator_emails
    spans_table: list[dict[str, Any]] = []
    suggested = np.empty(n, dtype=object)
    suspicion = np.zeros(n)
    is_issue = np.zeros(n, dtype=bool)
    bases: dict[int, dict[str, Any]] = {}
    for r in range(n):
        row = int(prepared.rows[r])
        who = dataset.annotators[row]
        base = bases[r] = {
            "task_id": int(prepared.groups[r]),
            "annotation_id": int(dataset.annotation_ids[row])
            if dataset.annotation_ids[row] >= 0
            else "",
            "annotator": annotators.get(who, who),
        }
        found = _judge_row(
            probs[r],
            token_labels[r],
            errors[r],
            audited[r],
            flagged.get(r, set()),
            kind.classes,
            beliefs=(beliefs.posterior[r], whole[r], present),
            calibrated=filter_by == CALIBRATED,
        )
        suggested[r] = decode(probs[r].text, probs[r].offsets, probs[r].probs)
        suspicion[r] = max(
            [v["suspicion"] for v in found], default=float(errors[r].max(initial=0.0))
        )
        is_issue[r] = any(v["is_label_issue"] for v in found)
        spans_table.extend({**base, **v} for v in found)
    spans_table.sort(key=lambda v: (not v["is_label_issue"], -v["suspicion"]))
    skipped_table = [
        {
            **bases[r],
            "start": span.start,
            "end": span.end,
            "text": probs[r].text[span.start : span.end],
            "given_label": kind.classes[span.label],
            "reason": why,
        }
        for r, span, why in skipped
    ]

    notes = sorted({str(w.message) for w in caught})
    if snapped:
        notes.append(
            f"{snapped} span(s) did not fall on token boundaries (or covered no token) and "
            "were widened to the tokens they touch"
        )
    if skipped_table:
        notes.append(_skipped_note(skipped_table))
    labelled = [v for v in spans_table if v["given_label"] != OUTSIDE]
    health = {
        "overall_label_health_score": round(
            1.0 - float(np.mean([v["is_label_issue"] for v in labelled])) if labelled else 1.0, 6
        ),
        "tokens": len(all_labels),
        "flagged_tokens": len(flagged_tokens),
        "spans": len(labelled),
        "flagged_spans": sum(v["is_label_issue"] for v in spans_table),
        "snapped_spans": snapped,
        "skipped_spans": len(skipped_table),
        "model_temperature": round(temperature, 6),
        "model_entity_bias": round(float(beliefs.bias.max(initial=0.0)), 6),
    }
    return Judgement(
        given=prepared.labels,
        suggested=suggested,
        suspicion=suspicion,
        is_label_issue=is_issue,
        noise_matrix=_token_confusion(token_labels, probs, 1 + len(kind.classes)),
        health=health,
        notes=notes,
        tables={"spans": spans_table, "skipped_spans": skipped_table},
    )


def _skipped_note(rows: list[dict[str, Any]]) -> str:
    """One line on the spans left out of the audit, by reason, with a few task ids."""
    parts = []
    for reason in (PAST_THE_END, OVERLAPS):
        tasks = sorted({int(v["task_id"]) for v in rows if v["reason"].startswith(reason)})
        count = sum(v["reason"].startswith(reason) for v in rows)
        if count:
            more = ", ..." if len(tasks) > NOTE_TASKS else ""
            shown = ", ".join(map(str, tasks[:NOTE_TASKS])) + more
            parts.append(f"{count} {reason} (tasks {shown})")
    return (
        f"{len(rows)} span(s) were not audited: " + "; ".join(parts) + ". Of overlapping "
        "spans the first (the longer at equal starts) is audited; see skipped_spans.csv"
    )


def _span_errors(
    post: np.ndarray, whole: np.ndarray, a: int, b: int, c: int, edges: list[int]
) -> tuple[float, float]:
    """A given span's two ways of being wrong, as probabilities (local class ``c``):
    its **type** (1 - P(true class of the whole span is c): another type, or no entity),
    and its **boundaries** (its first or last token is outside the entity, P(true class
    O), when it has two or more; an unlabelled token just outside either end is in it,
    P(true class c))."""
    kind = 1.0 - float(whole[c])
    ends = [float(post[t, 0]) for t in {a, b - 1}] if b - a >= 2 else []
    ends += [float(post[t, c]) for t in edges]
    return kind, max(ends, default=0.0)


def _judge_row(
    probs: TokenProbs,
    given_tokens: np.ndarray,
    wrongness: np.ndarray,
    given: tuple[Span, ...],
    flagged: set[int],
    classes: tuple[str, ...],
    *,
    beliefs: tuple[np.ndarray, list[np.ndarray | None], np.ndarray],
    calibrated: bool,
) -> list[dict[str, Any]]:
    """The span rows of one annotation: each given span, then each missing one.

    ``beliefs``: the tokens' posterior, each given span's (:func:`span_posteriors`) and the
    classes present they are over. A given span's suspicion is the larger of
    :func:`_span_errors`; with ``calibrated`` it is flagged above FLAG_ABOVE, else when a
    flagged token is inside it or just outside its ends.
    """
    text, offsets, p = probs.text, probs.offsets, probs.probs
    post, whole_spans, present = beliefs
    rows = []
    covered = np.zeros(len(given_tokens), dtype=bool)
    for span, whole in zip(given, whole_spans, strict=True):
        a, b = token_range(offsets, span)
        if a == b or whole is None:
            continue  # a span over no token (reported as snapped)
        covered[a:b] = True
        edges = [t for t in (a - 1, b) if 0 <= t < len(given_tokens) and given_tokens[t] == 0]
        c = int(np.searchsorted(present, 1 + span.label))
        wrong_kind, wrong_ends = _span_errors(post, whole, a, b, c, edges)
        suspicion = max(wrong_kind, wrong_ends)
        if calibrated:
            is_issue = suspicion > FLAG_ABOVE
        else:
            is_issue = bool(flagged & set(range(a, b))) or bool(flagged & set(edges))
        # The class the whole span most likely has ("O": no entity at all).
        predicted = int(present[int(whole.argmax())])
        if wrong_ends >= wrong_kind:
            issue = "boundaries"
        elif predicted == 0:
            issue = "spurious"
        else:
            issue = "wrong label"
        rows.append(
            {
                "start": span.start,
                "end": span.end,
                "text": text[span.start : span.end],
                "given_label": classes[span.label],
                "suggested_label": OUTSIDE if predicted == 0 else classes[predicted - 1],
                "suspicion": round(suspicion, 6),
                "is_label_issue": is_issue,
                "issue": issue if is_issue else "",
            }
        )
    for found in decode(text, offsets, p):
        tokens = np.flatnonzero((offsets[:, 0] < found.end) & (offsets[:, 1] > found.start))
        if covered[tokens].any():
            continue  # it overlaps a given span, judged above
        is_issue = bool(flagged & set(tokens.tolist()))
        rows.append(
            {
                "start": found.start,
                "end": found.end,
                "text": found.text,
                "given_label": OUTSIDE,
                "suggested_label": classes[found.label],
                "suspicion": round(float(wrongness[tokens].max()), 6),
                "is_label_issue": is_issue,
                "issue": "missing" if is_issue else "",
            }
        )
    return rows


def _token_confusion(
    token_labels: list[np.ndarray], probs: np.ndarray, num_classes: int
) -> np.ndarray:
    """P(given class = i | the model's class = j) over every token (column 0 is "O")."""
    counts = np.zeros((num_classes, num_classes))
    for labels, p in zip(token_labels, probs, strict=True):
        if len(labels):
            np.add.at(counts, (labels, p.probs.argmax(axis=1)), 1.0)
    totals = counts.sum(axis=0, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


__all__ = ["OUTSIDE", "Suggested", "judge_spans"]
