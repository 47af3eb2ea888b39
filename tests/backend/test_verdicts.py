"""What people did with the flags (backend.verdicts): the state machine, alone."""

from __future__ import annotations

import pytest

from backend.verdicts import (
    CONFIRMED,
    FIXED,
    OPEN,
    AuditRow,
    after_audit,
    after_save,
    confirmed_labels,
    counts,
    trusted,
    verdict,
)

A, B, C = 0, 1, 2  # labels
WHO = "ann@example.com"


def flagged(label: int = A, annotation: int = 7) -> dict:
    (new,) = after_audit({}, [AuditRow(annotation, 70, label, WHO, True)]).values()
    assert new is not None
    return new


def save(previous, label, *, flag=False):
    return after_save(previous, label, flagged=flag, task=70, annotator=WHO)


def audit(previous, label, *, flag, annotation=7):
    changes = after_audit({annotation: previous}, [AuditRow(annotation, 70, label, WHO, flag)])
    return changes.get(annotation, previous)


def test_an_audit_flag_opens_a_verdict_and_unflagged_rows_have_none():
    assert flagged() == verdict(OPEN, A, task=70, annotator=WHO, flagged_label=A)
    assert after_audit({}, [AuditRow(7, 70, A, WHO, False)]) == {}


def test_saved_with_the_flagged_label_is_confirmed_and_then_trusted():
    confirmed = save(flagged(A), A)
    assert confirmed["state"] == CONFIRMED and confirmed["label"] == A
    assert trusted(confirmed, A) and not trusted(confirmed, B)
    assert confirmed_labels({7: confirmed}) == {7: A}
    # Saved again unchanged, or audited again with it: still confirmed, never re-opened.
    assert save(confirmed, A) == confirmed
    assert audit(confirmed, A, flag=False) == confirmed
    assert audit(confirmed, A, flag=True) == confirmed  # a trusted label is not flagged


def test_a_label_changed_after_a_flag_is_fixed():
    fixed = save(flagged(A), B)
    assert fixed["state"] == FIXED and fixed["label"] == B and fixed["flagged_label"] == A
    assert not trusted(fixed, B) and not trusted(fixed, A)
    assert save(fixed, C)["state"] == FIXED  # changed again: still a fix
    assert audit(fixed, B, flag=False) == fixed


def test_reflagged_only_on_a_new_label():
    confirmed = save(flagged(A), A)
    assert audit(confirmed, A, flag=True)["state"] == CONFIRMED
    # The confirmed label changes: a fix, which an audit may flag again, on the new label.
    fixed = save(confirmed, B)
    assert fixed["state"] == FIXED
    reopened = audit(fixed, B, flag=True)
    assert reopened["state"] == OPEN and reopened["flagged_label"] == B
    # A change judged wrong at once is flagged again on its new label, not confirmed.
    at_once = save(flagged(A), C, flag=True)
    assert at_once["state"] == OPEN and at_once["label"] == C and at_once["flagged_label"] == C


def test_an_audit_that_stops_flagging_closes_an_open_verdict():
    assert audit(flagged(A), A, flag=False) is None


def test_a_label_changed_without_a_webhook_is_seen_by_the_next_audit():
    assert audit(flagged(A), B, flag=False)["state"] == FIXED
    assert audit(save(flagged(A), A), B, flag=False)["state"] == FIXED
    assert audit(flagged(A), B, flag=True)["state"] == OPEN


def test_annotations_gone_from_the_audit_are_forgotten_unless_kept():
    previous = {7: flagged(A, 7), 8: save(flagged(B, 8), B), 9: flagged(C, 9)}
    changes = after_audit(previous, [AuditRow(7, 70, A, WHO, True)], keep=[9])
    assert changes == {8: None}


def test_saving_an_unflagged_annotation_keeps_no_verdict_unless_it_is_flagged_now():
    assert save(None, A) is None
    assert save(None, B, flag=True)["state"] == OPEN


def test_counts_in_all_and_per_annotator():
    other = "b@example.com"
    verdicts = {
        1: save(flagged(A, 1), A),
        2: save(flagged(A, 2), B),
        3: flagged(C, 3),
        4: {**save(flagged(A, 4), A), "annotator": other},
    }
    assert counts(verdicts) == {
        CONFIRMED: 2,
        FIXED: 1,
        OPEN: 1,
        "by_annotator": {
            WHO: {CONFIRMED: 1, FIXED: 1, OPEN: 1},
            other: {CONFIRMED: 1, FIXED: 0, OPEN: 0},
        },
    }


def test_a_verdict_names_a_known_state():
    with pytest.raises(ValueError, match="state must be one of"):
        verdict("maybe", A, task=1, annotator=WHO, flagged_label=A)
