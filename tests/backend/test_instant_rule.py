"""One row judged again at once (single choice): the rule that stands in for confident
learning, against the audit's own flags and against confident learning run again."""

from __future__ import annotations

import numpy as np
import pytest

from backend import tasktypes
from backend.labelstudio.config import parse_label_config
from backend.labelstudio.export import dataset_from_tasks
from backend.pipeline import run_audit
from backend.settings import load_settings
from backend.tasktypes.one_row import OneRowRule, one_row_rule, over_present, rejudge_row
from core.filter import find_label_issues
from tests.worker.support import CONFIG, numeric_tasks


@pytest.fixture(scope="module", params=[0, 1])
def audited(request):
    """A numeric project of 400 tasks, 15% of labels flipped, audited."""
    tasks = numeric_tasks(400, seed=request.param, flip=0.15)
    dataset = dataset_from_tasks(tasks, parse_label_config(CONFIG), source="test")
    settings = load_settings({"folds": 5, "seed": request.param}, environ={})
    return run_audit(dataset, settings)


def rule_of(audited) -> OneRowRule:
    return tasktypes.get("single_choice").instant_state(audited)


def test_the_rule_keeps_the_audits_temperature_or_fits_the_same(audited):
    kept = rule_of(audited)
    again = one_row_rule(
        audited.given,
        audited.pred_probs,
        audited.is_label_issue,
        noise_matrix=audited.noise_matrix,
        trusted=audited.ground_truth,
    )
    assert again.temperature == pytest.approx(kept.temperature, abs=1e-5)
    assert np.array_equal(again.cuts, kept.cuts)


def test_on_its_own_rows_the_rule_agrees_with_the_audit(audited):
    rule = rule_of(audited)
    judged = [
        rejudge_row(rule, probs, int(label), trusted=False)
        for probs, label in zip(audited.pred_probs, audited.given, strict=True)
    ]
    flags = np.array([j.flagged for j in judged])
    agreement = float(np.mean(flags == audited.is_label_issue))
    caught = flags[audited.is_label_issue].mean()
    print(f"\n[result] agreement {agreement:.3f}, audit flags reproduced {caught:.3f}")
    assert agreement >= 0.95
    assert caught >= 0.95
    # Suspicion (the calibrated posterior) and suggestion are the audit's own, row by row.
    assert np.allclose([j.suspicion for j in judged], audited.suspicion, atol=1e-5)
    assert [j.suggested for j in judged] == audited.suggested.tolist()


def test_after_one_change_it_agrees_with_confident_learning_run_again(audited):
    rng = np.random.default_rng(0)
    rule = rule_of(audited)
    present = np.unique(audited.given)
    local_probs = over_present(audited.pred_probs, present)
    labels = np.searchsorted(present, audited.given)
    same = []
    for row in rng.choice(len(labels), size=80, replace=False):
        new = int(rng.choice([k for k in range(len(present)) if k != labels[row]]))
        changed = labels.copy()
        changed[row] = new
        again = find_label_issues(changed, local_probs, filter_by="prune_by_noise_rate")[row]
        mine = rejudge_row(rule, audited.pred_probs[row], int(present[new]), trusted=False)
        same.append(bool(again) == mine.flagged)
    print(f"\n[result] agreement after one change {np.mean(same):.3f}")
    assert np.mean(same) >= 0.85


def test_the_suggestion_and_trusted_labels_are_never_flagged(audited):
    rule = rule_of(audited)
    for probs, label in zip(audited.pred_probs, audited.given, strict=True):
        top = int(np.argmax(probs))
        assert not rejudge_row(rule, probs, top, trusted=False).flagged
        assert not rejudge_row(rule, probs, int(label), trusted=True).flagged


def test_a_confident_disagreement_is_flagged_and_scored_by_the_label():
    rule = OneRowRule(
        present=np.array([0, 1, 2]),
        thresholds=np.array([0.6, 0.6, 0.6]),
        cuts=np.full((3, 3), np.inf),
        noise=np.full((3, 3), 0.1) + 0.7 * np.eye(3),  # P(given = i | true = j)
        temperature=1.0,
    )
    probs = np.array([0.8, 0.15, 0.05])
    judged = rejudge_row(rule, probs, 1, trusted=False)
    assert judged.flagged and judged.suggested == 0
    # Bayes: P(true = 1 | x, given 1) = 0.8 * 0.15 / (0.1 * 0.8 + 0.8 * 0.15 + 0.1 * 0.05).
    assert judged.suspicion == pytest.approx(1 - 0.12 / 0.205)
    assert rejudge_row(rule, probs, 1, trusted=True).suspicion == 0.0  # like ground truth
    # Not confident in the suggestion, and no flag of the audit that far in that cell.
    unsure = rejudge_row(rule, np.array([0.5, 0.4, 0.1]), 1, trusted=False)
    assert not unsure.flagged and unsure.suspicion == pytest.approx(1 - 0.32 / 0.38)
    # The audit flagged a row of given 1 / suggested 0 at margin 0.1: so is this one.
    rule.cuts[1, 0] = 0.1
    assert rejudge_row(rule, np.array([0.5, 0.4, 0.1]), 1, trusted=False).flagged


def test_a_label_nobody_gave_in_the_audit_is_fully_suspect():
    rule = OneRowRule(
        np.array([0, 2]), np.array([0.6, 0.6]), np.full((2, 2), np.inf), np.eye(2), 1.0
    )
    judged = rejudge_row(rule, np.array([0.7, 0.0, 0.3]), 1, trusted=False)
    assert judged.suspicion == 1.0 and judged.flagged and judged.suggested == 0


def test_only_single_choice_is_judged_at_once():
    instant = {name for name in tasktypes.names() if tasktypes.get(name).instant}
    assert instant == {"single_choice"}
