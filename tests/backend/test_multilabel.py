"""Multi-label projects (<Choices choice="multiple">): config, export, audit, outputs."""

from __future__ import annotations

import csv
import json
from typing import Any

import numpy as np
import pytest

from backend.labelstudio.config import infer_task_kind, parse_label_config
from backend.labelstudio.dataset import AuditDataset, Malformed, TaskKind
from backend.labelstudio.export import dataset_from_tasks
from backend.labelstudio.predictions import build_prediction
from backend.pipeline import AuditResult, NothingToAudit, run_audit
from backend.report import predictions, summary, write_outputs
from backend.settings import load_settings
from backend.tasktypes import get
from backend.tasktypes.multi_choice import rarest_class, stratified_task_folds
from backend.tasktypes.multilabel_calibration import (
    ClassChannels,
    fit_channels,
    posterior_correct,
    set_error_probability,
)

CLASSES = ("sports", "politics", "science", "music")
KIND = TaskKind("topics", "text", "text", ("text",), CLASSES, task_type="multi_choice")
CONFIG = (
    '<View><Text name="text" value="$text"/>'
    '<Choices name="topics" toName="text" choice="multiple">'
    + "".join(f'<Choice value="{c}"/>' for c in CLASSES)
    + "</Choices></View>"
)
#: Words only one topic uses: a text about a set of topics draws from their vocabularies.
VOCABULARY = {
    "sports": "goal match team coach league score striker referee stadium season".split(),
    "politics": "vote senate minister election policy party debate law cabinet mayor".split(),
    "science": "atom cell theory experiment physics genome laboratory orbit enzyme data".split(),
    "music": "guitar chord melody concert album singer rhythm piano band tempo".split(),
}
FILLER = "the a of and to in on with for about this that".split()


def topic_text(rng: np.random.Generator, topics: np.ndarray) -> str:
    words = [w for j in np.flatnonzero(topics) for w in rng.choice(VOCABULARY[CLASSES[j]], 6)]
    words += list(rng.choice(FILLER, 6))
    rng.shuffle(words)
    return " ".join(words)


def noisy_sets(n: int, seed: int, rate: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """True topic sets (1-2 topics each) and given sets with ``rate`` of them changed
    (a topic dropped, one added, or one swapped)."""
    rng = np.random.default_rng(seed)
    true = np.zeros((n, len(CLASSES)), dtype=bool)
    for i in range(n):
        true[i, rng.choice(len(CLASSES), rng.integers(1, 3), replace=False)] = True
    given = true.copy()
    for i in np.flatnonzero(rng.random(n) < rate):
        on, off = np.flatnonzero(given[i]), np.flatnonzero(~given[i])
        change = rng.integers(3)
        if change == 0 and len(on) > 1:
            given[i, rng.choice(on)] = False
        elif change == 1:
            given[i, rng.choice(off)] = True
        else:
            given[i, rng.choice(on)] = False
            given[i, rng.choice(off)] = True
    return true, given


def dataset(texts: list[str], given: np.ndarray) -> AuditDataset:
    n = len(texts)
    return AuditDataset(
        kind=KIND,
        task_ids=np.arange(1, n + 1, dtype=np.int64),
        annotation_ids=np.arange(101, n + 101, dtype=np.int64),
        annotators=["7"] * n,
        labels=given,
        ground_truth=np.zeros(n, dtype=bool),
        inputs=texts,
    )


@pytest.fixture(scope="module")
def audited() -> tuple[AuditResult, np.ndarray, np.ndarray]:
    true, given = noisy_sets(600, seed=3)
    rng = np.random.default_rng(4)
    texts = [topic_text(rng, row) for row in true]
    result = run_audit(dataset(texts, given), load_settings({"seed": 0}, environ={}))
    return result, true, given


def choices(*picked: str, control: str = "topics") -> list[dict[str, Any]]:
    return [
        {
            "from_name": control,
            "to_name": "text",
            "type": "choices",
            "value": {"choices": list(picked)},
        }
    ]


# --- label config and export ---------------------------------------------------------------


def test_a_multiple_choices_config_is_a_multi_label_project():
    kind = parse_label_config(CONFIG)
    assert kind == KIND
    single = parse_label_config(CONFIG.replace(' choice="multiple"', ""))
    assert single.task_type == "single_choice"


def test_an_export_without_config_is_multi_label_when_some_annotation_picks_several():
    tasks = [
        {"id": 1, "data": {"text": "x"}, "annotations": [{"result": choices("sports")}]},
        {"id": 2, "data": {"text": "y"}, "annotations": [{"result": choices("music", "science")}]},
    ]
    kind = infer_task_kind(tasks)
    assert kind.task_type == "multi_choice"
    assert kind.classes == ("music", "science", "sports")


def test_reading_sets_from_annotations():
    multi = get("multi_choice")
    assert multi.read_label(choices("music", "sports", "music"), KIND) == (0, 3)
    assert multi.read_label([], KIND) == ()  # nothing picked is the empty set
    assert multi.read_label(choices(), KIND) == ()
    with pytest.raises(Malformed, match=r"labels \['jazz'\] are not among the classes"):
        multi.read_label(choices("music", "jazz"), KIND)
    with pytest.raises(Malformed, match="2 choices results"):
        multi.read_label(choices("music") + choices("sports"), KIND)
    with pytest.raises(Malformed, match="must be a list"):
        multi.read_label({"choices": ["music"]}, KIND)


def test_export_rows_are_label_sets_and_bad_annotations_are_skipped():
    tasks = [
        {"id": 1, "data": {"text": "a"}, "annotations": [{"id": 11, "result": choices("science")}]},
        {
            "id": 2,
            "data": {"text": "b"},
            "annotations": [
                {"id": 21, "result": choices("music", "politics")},
                {"id": 22, "result": choices("opera")},
            ],
        },
        {"id": 3, "data": {"text": "c"}, "annotations": [{"id": 31, "result": []}]},
    ]
    ds = dataset_from_tasks(tasks, KIND, source="test")
    assert ds.labels.dtype == bool and ds.labels.shape == (3, 4)
    np.testing.assert_array_equal(
        ds.labels, [[False, False, True, False], [False, True, False, True], [False] * 4]
    )
    assert [(s.task_id, s.annotation_id) for s in ds.skipped] == [(2, 22)]
    assert "opera" in ds.skipped[0].reason


def test_nothing_to_audit_when_every_set_is_the_same():
    given = np.tile([True, False, True, False], (10, 1))
    with pytest.raises(NothingToAudit, match="same labels"):
        run_audit(dataset(["t"] * 10, given), load_settings({}, environ={}))
    with pytest.raises(NothingToAudit, match="no usable annotation picks any label"):
        run_audit(dataset(["t"] * 10, np.zeros((10, 4), bool)), load_settings({}, environ={}))


# --- the audit ------------------------------------------------------------------------------


def test_the_audit_finds_the_changed_sets(audited):
    result, true, given = audited
    wrong = (given != true).any(axis=1)
    flagged = result.is_label_issue
    hits = int((flagged & wrong).sum())
    assert hits / wrong.sum() >= 0.8, (hits, int(wrong.sum()))
    assert hits / flagged.sum() >= 0.6, (hits, int(flagged.sum()))
    # The flagged sets are the most suspicious ones, and suspicion is a probability.
    assert ((0 <= result.suspicion) & (result.suspicion <= 1)).all()
    assert result.suspicion[flagged].mean() > 3 * result.suspicion[~flagged].mean()
    # Out-of-fold probabilities are one per class, not a distribution.
    assert result.pred_probs.shape == given.shape
    assert not np.allclose(result.pred_probs.sum(axis=1), 1.0)


def test_suggestions_restore_most_changed_sets(audited):
    result, true, given = audited
    fixed = result.is_label_issue & (given != true).any(axis=1)
    restored = (result.suggested[fixed] == true[fixed]).all(axis=1)
    assert restored.mean() >= 0.8


def test_issue_rows_say_which_labels_look_missing_or_extra(audited, tmp_path):
    result, _, given = audited
    data = summary(result, settings={"filter_by": "auto"}, source="t", model_version="labelaudit-1")
    paths = write_outputs(result, tmp_path, data)
    with paths["issues"].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[-3:] == ["missing_labels", "extra_labels", "evidence"]
    by_task = {int(r["task_id"]): r for r in rows}
    for i in np.flatnonzero(result.is_label_issue)[:20]:
        row = by_task[int(result.task_ids[i])]
        given_set = set(filter(None, row["given_label"].split(";")))
        suggested_set = set(filter(None, row["suggested_label"].split(";")))
        assert given_set == {CLASSES[j] for j in np.flatnonzero(given[i])}
        assert set(filter(None, row["missing_labels"].split(";"))) == suggested_set - given_set
        assert set(filter(None, row["extra_labels"].split(";"))) == given_set - suggested_set
    saved = json.loads(paths["summary"].read_text())
    assert saved["settings"]["filter_by"] == "confident_learning"
    assert saved["task_kind"]["task_type"] == "multi_choice"
    noise = {r["label"]: r for r in saved["label_noise"]}
    assert set(noise) == set(CLASSES)
    assert all(0 <= r["missing_rate"] <= 1 and 0 <= r["extra_rate"] <= 1 for r in noise.values())
    assert "noise_matrix" not in saved
    page = paths["report"].read_text()
    for words in (
        "alt='label_noise'",
        "alt='co_occurrence'",
        "<dt>missing and extra rates</dt>",
        "<h2>Labels the flags find missing or extra</h2>",
    ):
        assert words in page


def test_predictions_suggest_several_choices(audited):
    result, _, _ = audited
    items = predictions(result, "labelaudit-1")
    assert len(items) == len(result.task_ids)
    several = [p for p in items if p["result"] and len(p["result"][0]["value"]["choices"]) > 1]
    assert several, "some task should get a suggestion of several topics"
    for item in items[:50]:
        for region in item["result"]:
            assert region["from_name"] == "topics" and region["to_name"] == "text"
            assert set(region["value"]["choices"]) <= set(CLASSES)
    empty = build_prediction(KIND, 5, np.zeros(4, bool), 0.2, "labelaudit-1")
    assert empty["result"] == []
    with pytest.raises(ValueError, match="4 booleans"):
        build_prediction(KIND, 5, 2, 0.2, "labelaudit-1")


def test_the_final_model_answers_one_probability_per_class(audited):
    result, true, _ = audited
    rng = np.random.default_rng(9)
    texts = [topic_text(rng, row) for row in true[:50]]
    given = true[:50]
    true_all, given_all = noisy_sets(600, seed=3)
    rng_all = np.random.default_rng(4)
    all_texts = [topic_text(rng_all, row) for row in true_all]
    from backend.pipeline import prepare

    settings = load_settings({}, environ={})
    prepared = prepare(dataset(all_texts, given_all), settings)
    model = get("multi_choice").final_model(prepared, result, settings)
    probs = model.predict_proba(np.array(texts, dtype=object))
    assert probs.shape == (50, 4)
    suggested = get("multi_choice").suggest(probs)
    assert (suggested == given).all(axis=1).mean() >= 0.8


# --- the pieces ------------------------------------------------------------------------------


def test_folds_are_stratified_by_each_rows_rarest_class():
    labels = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [1, 0, 1]], dtype=bool)
    np.testing.assert_array_equal(rarest_class(labels), [1, 0, 3, 2])


def test_folds_keep_a_tasks_rows_together_and_cover_every_row_once():
    groups = np.repeat(np.arange(40), 2)  # two annotations per task
    strata = np.repeat(np.arange(40) % 4, 2)
    folds = stratified_task_folds(strata, groups, folds=5, seed=1)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    np.testing.assert_array_equal(np.sort(tested), np.arange(80))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        # each stratum has 10 tasks: two in every test fold
        np.testing.assert_array_equal(np.bincount(strata[test]), [4, 4, 4, 4])
    # strata all rarer than the folds: dealt out unstratified, still every row once
    folds = stratified_task_folds(np.arange(6), np.arange(6), folds=5, seed=0)
    assert sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(6))


def channels(left_out: float, added: float) -> ClassChannels:
    return ClassChannels(
        slope=np.array([1.0]),
        bias=np.array([0.0]),
        left_out=np.array([left_out]),
        added=np.array([added]),
    )


def test_the_posterior_uses_each_class_noise_rates():
    given = np.array([[True], [False]])
    probs = np.array([[0.3], [0.3]])
    # Noise-free labels are right whatever the model says.
    np.testing.assert_allclose(posterior_correct(given, probs, channels(0.0, 0.0)), [[1], [1]])
    # A class often left out (0.4) and rarely added (0.05); Bayes' rule by hand with
    # q = 0.3: P(true | given) = 0.6 q / (0.6 q + 0.05 (1 - q)), and likewise for absence.
    present, absent = posterior_correct(given, probs, channels(0.4, 0.05))[:, 0]
    assert present == pytest.approx(0.6 * 0.3 / (0.6 * 0.3 + 0.05 * 0.7))
    assert absent == pytest.approx(0.95 * 0.7 / (0.95 * 0.7 + 0.4 * 0.3))
    # A trusted row is right.
    trusted = np.array([True, False])
    wrong = set_error_probability(given, probs, channels(0.4, 0.05), trusted=trusted)
    assert wrong[0] == 0.0 and wrong[1] == pytest.approx(1 - absent)


def test_the_fit_finds_the_noise_rates_and_a_calibrated_suspicion():
    rng = np.random.default_rng(0)
    n, k = 4000, 3
    logit = rng.normal(0.0, 3.0, size=(n, k)) - 1.0
    true = rng.random((n, k)) < 1 / (1 + np.exp(-logit))
    left_out, added = np.array([0.10, 0.02, 0.05]), np.array([0.01, 0.05, 0.03])
    flip = np.where(true, rng.random((n, k)) < left_out, rng.random((n, k)) < added)
    given = true ^ flip
    # A model trained on noisy labels: squashed logits of the truth, plus the noise floor.
    probs = added + (1 - left_out - added) / (1 + np.exp(-0.5 * logit))
    fitted = fit_channels(given, probs)
    np.testing.assert_allclose(fitted.left_out, left_out, atol=0.03)
    np.testing.assert_allclose(fitted.added, added, atol=0.015)
    suspicion = set_error_probability(given, probs, fitted)
    wrong = flip.any(axis=1)
    assert suspicion.mean() == pytest.approx(wrong.mean(), abs=0.02)
    # a class given on every row has nothing to fit: no noise
    constant = fit_channels(
        np.column_stack([given, np.ones(n, bool)]), np.column_stack([probs, np.full(n, 0.9)])
    )
    assert constant.left_out[-1] == 0.0 and constant.added[-1] == 0.0
    with pytest.raises(ValueError, match="given"):
        fit_channels(given[:, :2], probs)


# --- through the service -----------------------------------------------------------------------


def test_the_service_audits_a_multi_label_project_and_predicts_sets(tmp_path):
    from tests.backend.test_service import FakeLabelStudio, audit, make_service

    true, given = noisy_sets(200, seed=5)
    rng = np.random.default_rng(6)
    tasks = []
    for i, (truth, labels) in enumerate(zip(true, given, strict=True)):
        picked = [CLASSES[j] for j in np.flatnonzero(labels)]
        tasks.append(
            {
                "id": i + 1,
                "data": {"text": topic_text(rng, truth)},
                "annotations": [{"id": 1000 + i, "result": choices(*picked), "completed_by": 3}],
            }
        )
    ls = FakeLabelStudio()
    ls.config = CONFIG
    ls.tasks[1] = tasks
    service = make_service(tmp_path, ls)
    job = audit(service)
    assert job["state"] == "succeeded", job
    (_, pushed, flagged) = ls.pushes[0]
    assert len(pushed) == 200 and flagged
    wrong = {i + 1 for i in np.flatnonzero((given != true).any(axis=1))}
    assert len(wrong & set(flagged)) >= 0.7 * len(wrong)
    assert any(len(p["result"][0]["value"]["choices"]) == 2 for p in pushed if p["result"])
    # A task never audited gets the final model's set; one audited, its stored prediction.
    text = topic_text(rng, np.array([True, False, False, True]))
    answers = service.predict(1, [{"id": 5000, "data": {"text": text}}, {"id": 1}])
    assert set(answers[0]["result"][0]["value"]["choices"]) == {"sports", "music"}
    assert answers[1] == service.store.answers(1, [1])[0]
