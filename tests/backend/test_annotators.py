"""Several annotators per task: the multi_annotator task type, its tables, tabs and route."""

from __future__ import annotations

import csv
import dataclasses
import json
from typing import Any

import numpy as np
import pytest
from scipy.stats import spearmanr

from backend.labelstudio.config import parse_label_config
from backend.labelstudio.export import dataset_from_tasks
from backend.pipeline import AuditResult, run_audit
from backend.report import issue_rows, summary, write_outputs
from backend.report.multi_annotator import pairwise_agreement
from backend.settings import load_settings
from backend.tasktypes.consensus import annotator_accuracy, posterior
from backend.tasktypes.multi_annotator import ANOTHER_ANNOTATOR_TITLE, Tasks

CLASSES = ("sports", "politics", "science", "music")
CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="topic" toName="text">'
    + "".join(f'<Choice value="{c}"/>' for c in CLASSES)
    + "</Choices></View>"
)
VOCABULARY = {
    "sports": "goal match team coach league score striker referee stadium season".split(),
    "politics": "vote senate minister election policy party debate law cabinet mayor".split(),
    "science": "atom cell theory experiment physics genome laboratory orbit enzyme data".split(),
    "music": "guitar chord melody concert album singer rhythm piano band tempo".split(),
}
FILLER = "the a of and to in on with for about this that".split()
#: Annotator user id -> how often they give the true class.
ACCURACY = {1: 0.97, 2: 0.92, 3: 0.85, 4: 0.75, 5: 0.6}


def choice(label: str) -> list[dict[str, Any]]:
    return [
        {"from_name": "topic", "to_name": "text", "type": "choices", "value": {"choices": [label]}}
    ]


@dataclasses.dataclass
class Crowd:
    tasks: list[dict[str, Any]]
    true: dict[int, str]  # task id -> true class
    wrong: set[int]  # ids of annotations whose label is not the true class


def crowd(n: int, seed: int, per_task: int = 3, ground_truth: int = 0) -> Crowd:
    """Topic texts, each labelled by ``per_task`` of the ACCURACY annotators; errors go to
    the "neighbouring" class (a confusable one). The first ``ground_truth`` tasks get a true
    ground-truth annotation by a reviewer (user 99) too."""
    rng = np.random.default_rng(seed)
    tasks, true, wrong = [], {}, set()
    next_id = 1000
    for t in range(1, n + 1):
        k = int(rng.integers(len(CLASSES)))
        words = list(rng.choice(VOCABULARY[CLASSES[k]], 5)) + list(rng.choice(FILLER, 5))
        # A few words of another topic: the model is good, not perfect.
        words += list(rng.choice(VOCABULARY[CLASSES[(k + 2) % 4]], 2))
        rng.shuffle(words)
        annotations = []
        for user in rng.choice(sorted(ACCURACY), per_task, replace=False).tolist():
            right = rng.random() < ACCURACY[user]
            label = CLASSES[k] if right else CLASSES[(k + 1) % 4]
            next_id += 1
            if not right:
                wrong.add(next_id)
            annotations.append(
                {
                    "id": next_id,
                    "result": choice(label),
                    "completed_by": {"id": user, "email": f"annotator{user}@example.com"},
                }
            )
        if t <= ground_truth:
            next_id += 1
            annotations.append(
                {
                    "id": next_id,
                    "result": choice(CLASSES[k]),
                    "completed_by": 99,
                    "ground_truth": True,
                }
            )
        tasks.append({"id": t, "data": {"text": " ".join(words)}, "annotations": annotations})
        true[t] = CLASSES[k]
    return Crowd(tasks, true, wrong)


SETTINGS = load_settings({"folds": 4}, environ={})


@pytest.fixture(scope="module")
def project() -> Crowd:
    return crowd(400, seed=3)


@pytest.fixture(scope="module")
def audited(project: Crowd) -> AuditResult:
    kind = parse_label_config(CONFIG)
    return run_audit(dataset_from_tasks(project.tasks, kind, source="test"), SETTINGS)


def f1(flagged: set[int], wrong: set[int]) -> float:
    hit = len(flagged & wrong)
    return 2 * hit / (len(flagged) + len(wrong)) if flagged or wrong else 1.0


def test_a_project_with_several_annotations_per_task_is_multi_annotator(project):
    kind = parse_label_config(CONFIG)
    assert kind.task_type == "single_choice"
    several = dataset_from_tasks(project.tasks, kind, source="test")
    assert several.kind.task_type == "multi_annotator"
    one_each = [{**t, "annotations": t["annotations"][:1]} for t in project.tasks]
    assert dataset_from_tasks(one_each, kind, source="test").kind.task_type == "single_choice"


def test_the_consensus_beats_the_majority_vote_and_finds_the_wrong_annotations(project, audited):
    tasks = {row["task_id"]: row for row in audited.tables["tasks"]}
    assert set(tasks) == set(project.true)
    consensus = np.mean([tasks[t]["consensus_label"] == project.true[t] for t in tasks])
    votes = []
    for task in project.tasks:
        labels = [a["result"][0]["value"]["choices"][0] for a in task["annotations"]]
        votes.append(max(CLASSES, key=labels.count) == project.true[task["id"]])
    assert consensus >= np.mean(votes)
    assert consensus >= 0.95
    flagged = {int(a) for a in audited.annotation_ids[audited.is_label_issue]}
    assert f1(flagged, project.wrong) >= 0.8
    # A flagged annotation disagrees with its task's consensus, which is what it suggests.
    for row in np.flatnonzero(audited.is_label_issue):
        assert audited.given[row] != audited.suggested[row]
        assert (
            audited.label_text(audited.suggested[row])
            == tasks[int(audited.task_ids[row])]["consensus_label"]
        )


def test_annotator_quality_ranks_the_annotators_by_accuracy(audited):
    rows = {r["annotator"]: r for r in audited.tables["annotators"]}
    assert set(rows) == {f"annotator{u}@example.com" for u in ACCURACY}
    quality = [rows[f"annotator{u}@example.com"]["quality"] for u in ACCURACY]
    assert spearmanr(quality, list(ACCURACY.values())).statistic >= 0.9
    worst = rows["annotator5@example.com"]
    assert worst == audited.tables["annotators"][0]  # lowest quality first
    assert worst["flagged"] == int(
        np.sum(audited.is_label_issue & (np.array(audited.annotators) == worst["annotator"]))
    )
    assert sum(r["annotations"] for r in rows.values()) == len(audited.given)


def test_the_suspicion_is_a_calibrated_probability(project, audited):
    wrong = np.isin(audited.annotation_ids, list(project.wrong))
    # Of the annotations scored below 0.2 few are wrong, of those above 0.8 most are.
    low, high = audited.suspicion < 0.2, audited.suspicion > 0.8
    assert wrong[low].mean() < 0.2 and wrong[high].mean() > 0.8
    # Expected calibration error over 10 bins.
    bins = np.minimum((audited.suspicion * 10).astype(int), 9)
    ece = sum(
        (bins == b).mean() * abs(audited.suspicion[bins == b].mean() - wrong[bins == b].mean())
        for b in range(10)
        if (bins == b).any()
    )
    assert ece < 0.08


def test_tasks_that_need_another_annotator_hold_most_wrong_consensus(project, audited):
    rows = audited.tables["tasks"]
    needing = [r for r in rows if r["needs_another_annotator"]]
    assert all(r["consensus_probability"] < SETTINGS.consensus_min_probability for r in needing)
    wrong = [r for r in rows if r["consensus_label"] != project.true[r["task_id"]]]
    caught = [r for r in wrong if r["needs_another_annotator"]]
    assert len(needing) < 0.25 * len(rows)
    assert len(caught) >= 0.5 * len(wrong)


def test_ground_truth_decides_its_task_and_anchors_the_annotators():
    project = crowd(240, seed=8, ground_truth=60)
    # Make the annotators disagree with the ground truth on one task: it still decides.
    task = project.tasks[0]
    other = CLASSES[(CLASSES.index(project.true[1]) + 1) % 4]
    for annotation in task["annotations"][:-1]:
        annotation["result"] = choice(other)
    kind = parse_label_config(CONFIG)
    result = run_audit(dataset_from_tasks(project.tasks, kind, source="test"), SETTINGS)
    tasks = {r["task_id"]: r for r in result.tables["tasks"]}
    assert tasks[1]["consensus_label"] == project.true[1] and tasks[1]["ground_truth"]
    assert not tasks[1]["needs_another_annotator"]
    assert not result.is_label_issue[result.ground_truth].any()
    flagged_on_1 = result.is_label_issue[(result.task_ids == 1) & ~result.ground_truth]
    assert flagged_on_1.all()  # every annotator contradicted the ground truth
    annotators = {r["annotator"]: r for r in result.tables["annotators"]}
    assert "99" not in annotators  # ground truth is set apart, not an annotator
    assert all(r["ground_truth_agreement"] is not None for r in annotators.values())


def test_too_little_overlap_is_judged_one_annotation_at_a_time():
    kind = parse_label_config(CONFIG)
    project = crowd(200, seed=2, per_task=1)
    # Another person on 19 tasks (20 and 10% are needed), the same person twice on 10.
    for task in project.tasks[:19]:
        extra = {**task["annotations"][0], "id": task["id"] + 9000, "completed_by": 42}
        task["annotations"].append(extra)
    for task in project.tasks[19:29]:
        task["annotations"].append({**task["annotations"][0], "id": task["id"] + 9000})
    dataset = dataset_from_tasks(project.tasks, kind, source="test")
    assert dataset.kind.task_type == "single_choice"
    project.tasks[19]["annotations"][1]["completed_by"] = 42  # the 20th shared task
    dataset = dataset_from_tasks(project.tasks, kind, source="test")
    assert dataset.kind.task_type == "multi_annotator"
    # Overlap lost on the way (the shared tasks' inputs unreadable, say): judged alone.
    for task in project.tasks[:20]:
        task["data"] = {"text": ""}
    result = run_audit(dataset_from_tasks(project.tasks, dataset.kind, source="t"), SETTINGS)
    assert any("too little overlap to weigh annotators" in n for n in result.notes)
    assert result.tables == {}


def test_outputs_hold_tasks_and_annotators_tables(audited, tmp_path):
    data = summary(audited, settings=SETTINGS.redacted(), source="test", model_version="v")
    paths = write_outputs(audited, tmp_path, data)
    with open(paths["tasks"], newline="") as handle:
        tasks = list(csv.DictReader(handle))
    assert len(tasks) == 400 and list(tasks[0])[:8] == [
        "task_id",
        "consensus_label",
        "consensus_quality",
        "consensus_probability",
        "annotations",
        "agreement",
        "suspicion",
        "suggested_label",
    ]
    with open(paths["annotators"], newline="") as handle:
        annotators = list(csv.DictReader(handle))
    assert [r["annotator"] for r in annotators] == [
        r["annotator"] for r in audited.tables["annotators"]
    ]
    issues = issue_rows(audited)
    assert all(r["consensus_label"] == r["suggested_label"] for r in issues)
    saved = json.loads(paths["summary"].read_text())
    assert saved["task_kind"]["task_type"] == "multi_annotator"
    assert saved["annotators"] == audited.tables["annotators"]
    assert sum(saved["consensus"]["histogram"]["probability"]) == 400
    ids = saved["consensus"]["needs_another_annotator_task_ids"]
    assert ids == [r["task_id"] for r in audited.tables["tasks"] if r["needs_another_annotator"]]
    page = paths["report"].read_text()
    assert "Agreement between annotators" not in page  # a plot title, drawn as an image
    assert "annotator5@example.com" in page and 'href="annotators.csv"' in page
    assert "filter <code>" not in page  # its flags come from the posterior, not a filter_by


def test_pairwise_agreement_counts_shared_tasks():
    result = AuditResult.__new__(AuditResult)
    result.annotators = ["a", "b", "a", "b", "c", "a", "c"]
    result.task_ids = np.array([1, 1, 2, 2, 2, 3, 3])
    result.given = np.array([0, 0, 1, 2, 2, 1, 1])
    names, agreement, shared = pairwise_agreement(result)
    assert names == ["a", "b", "c"]  # most annotations first, then by name
    assert shared.tolist() == [[3, 2, 2], [2, 2, 1], [2, 1, 2]]
    assert agreement[0, 1] == 0.5  # task 1 agree, task 2 not
    assert agreement[1, 2] == 1.0 and agreement[0, 2] == 0.5
    assert np.allclose(np.diag(agreement), 1.0)


def test_the_posterior_combines_model_and_annotators_as_independent_evidence():
    probs = np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]])
    task = np.array([0, 0, 1])
    labels = np.array([1, 1, 2])
    accuracy = np.array([0.8, 0.6, 0.9])
    post = posterior(probs, task, labels, accuracy, temperature=1.0)
    # Task 0: 0.5*0.1*0.2, 0.3*0.8*0.6, 0.2*0.1*0.2 (misses split over the 2 other classes).
    expected = np.array([0.5 * 0.1 * 0.2, 0.3 * 0.8 * 0.6, 0.2 * 0.1 * 0.2])
    assert np.allclose(post[0], expected / expected.sum())
    expected = np.array([0.2 * 0.05, 0.2 * 0.05, 0.6 * 0.9])
    assert np.allclose(post[1], expected / expected.sum())
    # The temperature sharpens the model's part.
    sharp = posterior(probs, task, labels, accuracy, temperature=0.5)
    assert sharp[1, 2] > post[1, 2]


def test_annotator_accuracy_is_smoothed_agreement():
    labels = np.array([0, 1, 1, 0, 0])
    consensus = np.array([0, 1, 0, 0, 0])
    annotator = np.array([0, 0, 0, 1, 1])
    accuracy = annotator_accuracy(labels, consensus, annotator, num_classes=2)
    assert accuracy.tolist() == pytest.approx([3 / 5, 3 / 4])


def test_tasks_group_rows_and_vote():
    tasks = Tasks(np.array([5, 3, 5, 3, 9]))
    assert tasks.ids.tolist() == [3, 5, 9] and tasks.pos.tolist() == [1, 0, 1, 0, 2]
    labels = np.array([1, 2, 1, 0, 2])
    trusted = np.array([False, False, False, True, False])
    # Task 3 ties 2-0 votes... its trusted row (label 0) decides; task 5 votes 1.
    assert tasks.vote(labels, 3, trusted).tolist() == [0, 1, 2]


def test_the_service_pushes_the_consensus_and_both_tabs_and_serves_annotators(tmp_path):
    from backend.api import create_app
    from tests.backend.test_service import FakeLabelStudio, audit, make_service

    project = crowd(160, seed=4)
    ls = FakeLabelStudio()
    ls.config = CONFIG
    ls.tasks[1] = project.tasks
    service = make_service(tmp_path, ls)
    job = audit(service)
    assert job["state"] == "succeeded", job
    (_, pushed, flagged) = ls.pushes[0]
    record, _ = service.latest_audit(1)
    saved = record["summary"]
    with open(service.audit_file(1, "tasks.csv")[0], newline="") as handle:
        tasks = {int(r["task_id"]): r for r in csv.DictReader(handle)}
    # One prediction per task: the consensus, scored with the task's suspicion.
    assert len(pushed) == 160
    for p in pushed:
        row = tasks[p["task"]]
        assert p["result"][0]["value"]["choices"] == [row["consensus_label"]]
        assert p["score"] == pytest.approx(float(row["suspicion"]), abs=1e-6)
    assert set(flagged) == {t for t, r in tasks.items() if r["is_label_issue"] == "True"}
    (tabs,) = ls.tab_pushes
    needing = {t for t, r in tasks.items() if r["needs_another_annotator"] == "True"}
    assert set(tabs[ANOTHER_ANNOTATOR_TITLE]) == needing
    assert set(saved["consensus"]["needs_another_annotator_task_ids"]) == needing
    # The tab lists them most useful first (lowest ActiveLab score).
    scores = [float(tasks[t]["activelab"]) for t in tabs[ANOTHER_ANNOTATOR_TITLE]]
    assert scores == sorted(scores)

    client = create_app({"SERVICE": service, "TESTING": True}).test_client()
    answer = client.get("/projects/1/annotators")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["project"] == 1 and body["model_version"] == record["model_version"]
    assert body["annotators"] == saved["annotators"]
    assert client.get("/projects/1/annotators.csv").status_code == 200
    assert (
        client.get("/projects/1/tasks.csv").headers["Content-Disposition"].startswith("attachment")
    )
    missing = client.get("/projects/2/annotators")
    assert missing.status_code == 404 and "not been audited" in missing.get_json()["error"]
