"""The audit pipeline on small datasets built in the tests (numeric inputs: no I/O)."""

from __future__ import annotations

import numpy as np
import pytest

from backend.labelstudio.dataset import AuditDataset, TaskKind
from backend.pipeline import NothingToAudit, fold_splits, prepare, run_audit
from backend.settings import load_settings
from backend.tasktypes.calibration import label_error_probability

CLASSES = ("cat", "dog", "fox", "owl")


def blobs(n_tasks: int, *, seed: int, flip: float = 0.1, classes=CLASSES, used: int | None = None):
    """Four well-separated Gaussian blobs as numeric tasks, a fraction of labels flipped."""
    rng = np.random.default_rng(seed)
    used = used or len(classes)
    true = rng.integers(0, used, n_tasks)
    centers = rng.normal(scale=6.0, size=(len(classes), 5))
    features = centers[true] + rng.normal(size=(n_tasks, 5))
    flipped = rng.random(n_tasks) < flip
    given = np.where(flipped, (true + rng.integers(1, used, n_tasks)) % used, true)
    return features, true, given, flipped


def dataset_from(features, given, *, classes=CLASSES, ground_truth=None, second=None):
    """One annotation per task (plus optional second annotations: {task_row: label})."""
    kind = TaskKind("label", "table", "numeric", ("x",), tuple(classes))
    task_ids, annotation_ids, annotators, labels, inputs = [], [], [], [], []
    for i, (row, label) in enumerate(zip(features, given, strict=True)):
        extra = [] if second is None or i not in second else [second[i]]
        for j, lab in enumerate([label, *extra]):
            task_ids.append(100 + i)
            annotation_ids.append(1000 + 2 * i + j)
            annotators.append(f"annotator{j}@example.com")
            labels.append(lab)
            inputs.append(list(map(float, row)))
    gt = np.zeros(len(labels), dtype=bool)
    if ground_truth is not None:
        gt[ground_truth] = True
    return AuditDataset(
        kind=kind,
        task_ids=np.array(task_ids, dtype=np.int64),
        annotation_ids=np.array(annotation_ids, dtype=np.int64),
        annotators=annotators,
        labels=np.array(labels, dtype=np.intp),
        ground_truth=gt,
        inputs=inputs,
        source="test",
    )


@pytest.fixture
def settings():
    return load_settings({"folds": 4, "seed": 0}, environ={})


def test_finds_most_flipped_labels_and_explains_each_row(settings):
    features, _, given, flipped = blobs(400, seed=1)
    result = run_audit(dataset_from(features, given), settings)
    found = result.is_label_issue & flipped
    assert found.sum() / flipped.sum() >= 0.8  # recall
    assert found.sum() / result.is_label_issue.sum() >= 0.8  # precision
    assert np.all((result.suspicion >= 0) & (result.suspicion <= 1))
    # Suspicion is the posterior probability that the label is wrong, from the out-of-fold
    # probabilities and the noise matrix (test_calibration.py tests it on its own).
    expected, _ = label_error_probability(result.pred_probs, result.given, result.noise_matrix)
    np.testing.assert_allclose(result.suspicion, expected, atol=1e-9)
    assert result.suspicion[found].min() > 0.5 and np.median(result.suspicion[~flipped]) < 0.01
    # A flagged row's suggestion is (nearly always) its true class.
    assert (result.suggested[found] == blobs(400, seed=1)[1][found]).mean() > 0.9
    assert result.counts["flagged_annotations"] == int(result.is_label_issue.sum())
    assert result.counts["audited_annotations"] == 400
    assert set(result.timings) >= {"features", "cross_validation", "confident_learning"}
    ranked = result.ranked()
    flagged_first = result.is_label_issue[ranked]
    assert not np.any(np.diff(flagged_first.astype(int)) > 0)  # flagged rows come first


def test_annotations_of_one_task_share_a_fold(settings):
    features, _, given, _ = blobs(120, seed=2)
    second = {i: (given[i] + 1) % 4 for i in range(0, 120, 3)}
    prepared = prepare(dataset_from(features, given, second=second), settings)
    for train, test in fold_splits(prepared, folds=4, seed=0):
        assert not set(prepared.groups[train]) & set(prepared.groups[test])


def test_a_task_with_two_annotators_gets_one_verdict():
    # Pipeline mechanics, not the default model: a smooth model makes the one wrong
    # annotation of a noise-free dataset confidently wrong.
    settings = load_settings(
        {"folds": 4, "model": "sklearn.linear_model.LogisticRegression"}, environ={}
    )
    features, true, given, _ = blobs(200, seed=3, flip=0.0)
    wrong = (true[5] + 2) % 4
    result = run_audit(dataset_from(features, given, second={5: wrong}), settings)
    rows = np.flatnonzero(result.task_ids == 105)
    assert len(rows) == 2
    bad = rows[result.given[rows] == wrong][0]
    good = rows[result.given[rows] == true[5]][0]
    assert result.is_label_issue[bad] and not result.is_label_issue[good]
    verdicts = [v for v in result.task_verdicts() if v["task_id"] == 105]
    assert len(verdicts) == 1 and verdicts[0]["is_label_issue"]
    assert verdicts[0]["suspicion"] == pytest.approx(result.suspicion[bad])
    assert result.flagged_task_ids().count(105) == 1


def test_ground_truth_trains_but_is_never_flagged(settings):
    features, _, given, flipped = blobs(300, seed=4, flip=0.15)
    gt = np.flatnonzero(flipped)[:10]
    result = run_audit(dataset_from(features, given, ground_truth=gt), settings)
    assert not result.is_label_issue[gt].any()
    assert np.all(result.suspicion[gt] == 0)  # a ground-truth label is its own truth
    assert result.counts["ground_truth_annotations"] == 10


def test_classes_nobody_chose_and_a_class_rarer_than_the_folds(settings):
    features, _, given, _ = blobs(200, seed=5, used=3, classes=(*CLASSES, "emu"))
    given[0] = 3  # "owl" chosen once: fewer examples than folds
    data = dataset_from(features, given, classes=(*CLASSES, "emu"))
    result = run_audit(data, settings)
    assert result.pred_probs.shape == (200, 5)
    assert np.all(result.pred_probs[:, 4] == 0)  # "emu" never given: never predicted
    assert result.noise_matrix.shape == (5, 5) and np.all(result.noise_matrix[4] == 0)
    assert result.counts["classes_present"] == 4
    assert np.allclose(result.pred_probs.sum(axis=1), 1)


def test_malformed_rows_are_skipped_and_the_rest_is_audited(settings):
    features, _, given, _ = blobs(150, seed=6)
    data = dataset_from(features, given)
    data.inputs[7] = [1.0, 2.0]  # wrong length
    result = run_audit(data, settings)
    assert result.counts["audited_annotations"] == 149
    assert [s.task_id for s in result.skipped] == [107]
    assert 107 not in result.task_ids


def test_nothing_to_audit_says_why(settings):
    features, _, given, _ = blobs(50, seed=7)
    with pytest.raises(NothingToAudit, match="same label"):
        run_audit(dataset_from(features, np.zeros_like(given)), settings)
    empty = dataset_from(features[:0], given[:0])
    with pytest.raises(NothingToAudit, match="no usable annotations"):
        run_audit(empty, settings)


def test_same_seed_same_answer(settings):
    features, _, given, _ = blobs(200, seed=8)
    first = run_audit(dataset_from(features, given), settings)
    second = run_audit(dataset_from(features, given), settings)
    np.testing.assert_array_equal(first.pred_probs, second.pred_probs)
    np.testing.assert_array_equal(first.is_label_issue, second.is_label_issue)
