"""What people did with the flags: each flagged annotation's verdict, remembered per project.

A flag asks a person to look again. Three outcomes are told apart, per annotation:

* **open**: flagged (by an audit, or at once after a change), nobody has answered yet;
* **confirmed**: a person saved it again *with the flagged label* (in Label Studio:
  opened it and pressed Update without changing it). From then on it is trusted like
  ground truth: later audits train on it and never flag it, for as long as its label
  stays the same;
* **fixed**: its label changed after a flag.

The states, for one annotation (``L``, ``M``: labels; "save": a webhook for it; "audit":
a full audit's verdict on it)::

    (none)        --flagged with L (audit or at once)-->  open(L)
    open(L)       --save with L------------------------>  confirmed(L)
    open(L)       --save with M != L------------------->  fixed(M)
    open(L)       --audit, label L, not flagged-------->  (none)   (the model changed its mind)
    confirmed(L)  --save or audit with L--------------->  confirmed(L) (trusted: never flagged)
    confirmed(L)  --save or audit with M != L---------->  fixed(M)
    fixed(M)      --save with any label N-------------->  fixed(N)
    fixed(M)      --flagged with M--------------------->  open(M)  (re-flagged: only a new label)
    any           --deleted, cancelled, gone----------->  (none)

A label changed without a webhook is seen by the next audit, which applies the same
transitions. A verdict is a small JSON-ready dict (:func:`verdict`); the store keeps one
per annotation id (:meth:`backend.store.Store.verdicts`), so they survive restarts.
These functions only compute: they take the previous verdict and return the next.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CONFIRMED",
    "FIXED",
    "OPEN",
    "AuditRow",
    "after_audit",
    "after_save",
    "confirmed_labels",
    "counts",
    "trusted",
    "verdict",
]

OPEN = "open"
CONFIRMED = "confirmed"
FIXED = "fixed"
STATES = (OPEN, CONFIRMED, FIXED)

Verdict = dict[str, Any]


def verdict(state: str, label: int, *, task: int, annotator: str, flagged_label: int) -> Verdict:
    """Return a verdict: its state, the annotation's label now, its task and annotator, and
    the label the flag was about."""
    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}; got {state!r}")
    return {
        "state": state,
        "label": int(label),
        "task": int(task),
        "annotator": str(annotator),
        "flagged_label": int(flagged_label),
    }


def trusted(previous: Verdict | None, label: int) -> bool:
    """Whether an annotation saved with ``label`` is trusted: it was open or confirmed with
    that very label (a person kept the flagged label)."""
    return (
        previous is not None
        and previous["state"] in (OPEN, CONFIRMED)
        and previous["label"] == int(label)
    )


def after_save(
    previous: Verdict | None, label: int, *, flagged: bool, task: int, annotator: str
) -> Verdict | None:
    """The verdict after a person saved the annotation with ``label``; ``flagged``: whether
    it is flagged now (judged again at once, a trusted label never is)."""
    label = int(label)
    if previous is None:
        if not flagged:
            return None
        return verdict(OPEN, label, task=task, annotator=annotator, flagged_label=label)
    if trusted(previous, label):
        return {**previous, "state": CONFIRMED}
    if flagged:  # a new label (a fix) that looks wrong too: flagged again, on it
        return verdict(OPEN, label, task=task, annotator=annotator, flagged_label=label)
    return {**previous, "state": FIXED, "label": label}


@dataclass(frozen=True)
class AuditRow:
    """One annotation as a full audit saw it (single choice: one per audited task)."""

    annotation: int
    task: int
    label: int
    annotator: str
    flagged: bool


def after_audit(
    previous: Mapping[int, Verdict], rows: Iterable[AuditRow], *, keep: Iterable[int] = ()
) -> dict[int, Verdict | None]:
    """The verdicts a full audit changes: annotation id -> new verdict, or None to forget.

    ``rows`` are the audit's annotations (labels as it read them); verdicts of annotations
    the audit no longer has (deleted, cancelled) are forgotten, except those in ``keep``
    (annotations left out for a passing reason, e.g. an image that could not be fetched).
    """
    changes: dict[int, Verdict | None] = {}
    seen = set()
    for row in rows:
        seen.add(row.annotation)
        old = previous.get(row.annotation)
        new = _audited(old, row)
        if new != old:
            changes[row.annotation] = new
    kept = set(keep)
    for annotation in previous:
        if annotation not in seen and annotation not in kept:
            changes[annotation] = None
    return changes


def _audited(old: Verdict | None, row: AuditRow) -> Verdict | None:
    label = row.label
    if old is None:
        if not row.flagged:
            return None
        return verdict(OPEN, label, task=row.task, annotator=row.annotator, flagged_label=label)
    if old["label"] != label:  # changed without a webhook we saw: as if saved with it
        old = after_save(old, label, flagged=False, task=row.task, annotator=row.annotator)
        if old is None:
            return None
    if row.flagged:
        if old["state"] == CONFIRMED:  # trusted, so never flagged; kept as it is
            return old
        return verdict(OPEN, label, task=row.task, annotator=row.annotator, flagged_label=label)
    if old["state"] == OPEN:  # the model changed its mind
        return None
    return old


def confirmed_labels(verdicts: Mapping[int, Verdict]) -> dict[int, int]:
    """Annotation id -> label of every confirmed annotation (trusted while it keeps it)."""
    return {a: int(v["label"]) for a, v in verdicts.items() if v.get("state") == CONFIRMED}


def counts(verdicts: Mapping[int, Verdict]) -> dict[str, Any]:
    """How many annotations are confirmed, fixed and open, in all and per annotator."""
    total = Counter(v["state"] for v in verdicts.values())
    per: dict[str, Counter[str]] = {}
    for v in verdicts.values():
        per.setdefault(str(v.get("annotator", "")), Counter())[v["state"]] += 1
    return {
        CONFIRMED: total[CONFIRMED],
        FIXED: total[FIXED],
        OPEN: total[OPEN],
        "by_annotator": {
            who: {state: per[who][state] for state in (CONFIRMED, FIXED, OPEN)}
            for who in sorted(per)
        },
    }
