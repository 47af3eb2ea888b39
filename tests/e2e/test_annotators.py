"""Several annotators per task (single-choice ``<Choices>``) on a real Label Studio 1.23.2.

Three annotator users are created through label-studio-sdk (``ls.users.create``); a text
project of N_TASKS tasks about one of four topics is labelled by two or three of them per
task, each annotator right with their own accuracy (seeded). Most annotations are imported
with the tasks, ``completed_by`` naming the user by id; the last tasks' annotations are
made one by one through the API (``POST /api/tasks/<id>/annotations`` with
``completed_by``). Then the project is connected to ``labelaudit serve`` + a real worker
(tests/e2e/fixtures.py) and audited after "Start Training".

What a lead sees is checked against Label Studio itself: the annotations carry their
annotators, the predictions, the tabs through the API and in headless Chromium, the
annotators the backend ranks; then an annotator's mistake is fixed and the re-audit
clears it. Timings are printed (``pytest -s`` or ``-rP`` shows them).

Uses the e2e fixtures (a Label Studio in .e2e/venv); skipped with LABELAUDIT_SKIP_E2E=1.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from tests.checks import validate_prediction
from tests.e2e.fixtures import Backend, Timer, tasks_by_id

pytestmark = [pytest.mark.e2e]

CONTROL, OBJECT = "topic", "text"
CLASSES = ("sports", "politics", "science", "music")
CONFIG = (
    f'<View><Text name="{OBJECT}" value="$text"/>'
    f'<Choices name="{CONTROL}" toName="{OBJECT}" choice="single">'
    + "".join(f'<Choice value="{c}"/>' for c in CLASSES)
    + "</Choices></View>"
)
#: Words only one topic uses: a text draws most of its words from its topic's.
VOCABULARY = {
    "sports": "goal match team coach league score striker referee stadium season".split(),
    "politics": "vote senate minister election policy party debate law cabinet mayor".split(),
    "science": "atom cell theory experiment physics genome laboratory orbit enzyme data".split(),
    "music": "guitar chord melody concert album singer rhythm piano band tempo".split(),
}
FILLER = "the a of and to in on with for about this that".split()
N_TASKS = 200
#: The annotators (user name, accuracy): each gives the true topic with this chance, else
#: one of the other three at random.
ANNOTATORS = (("good", 0.95), ("medium", 0.80), ("poor", 0.60))
#: The chance that a task is labelled by all three annotators (else by two of them).
ALL_THREE = 0.4
#: The chance that a text mixes its topic's words with another topic's (half and half).
MIXED = 0.15
#: How many of the last tasks get their annotations through the API, not with the import.
MADE_THROUGH_API = 12
SEED = 0

NEEDS_REVIEW = "Needs re-review"
NEEDS_ANNOTATOR = "Needs another annotator"


def email(name: str) -> str:
    return f"{name}-annotator@example.com"


@dataclass(frozen=True)
class Item:
    """One generated task: its text, true topic, and each annotator's label (by name)."""

    text: str
    true: str
    labels: dict[str, str]


def generate(n: int, seed: int) -> list[Item]:
    """``n`` texts, each labelled by two or three ANNOTATORS with their accuracy."""
    rng = np.random.default_rng(seed)
    names = [name for name, _ in ANNOTATORS]
    accuracy = dict(ANNOTATORS)
    items = []
    for _ in range(n):
        true = str(rng.choice(CLASSES))
        if rng.random() < MIXED:
            other = str(rng.choice([c for c in CLASSES if c != true]))
            words = [*rng.choice(VOCABULARY[true], 4), *rng.choice(VOCABULARY[other], 3)]
        else:
            words = list(rng.choice(VOCABULARY[true], 6))
        words += list(rng.choice(FILLER, 5))
        rng.shuffle(words)
        who = names if rng.random() < ALL_THREE else sorted(rng.choice(names, 2, replace=False))
        labels = {}
        for name in who:
            right = rng.random() < accuracy[name]
            labels[name] = true if right else str(rng.choice([c for c in CLASSES if c != true]))
        items.append(Item(" ".join(words), true, labels))
    return items


def choice(label: str) -> list[dict[str, Any]]:
    return [
        {"from_name": CONTROL, "to_name": OBJECT, "type": "choices", "value": {"choices": [label]}}
    ]


def label_of(annotation: dict[str, Any]) -> str:
    return annotation["result"][0]["value"]["choices"][0]


@pytest.fixture(scope="module")
def ls(label_studio):
    from backend.labelstudio.client import close, connect

    client = connect(label_studio.url, label_studio.token)
    yield client
    close(client)


@dataclass
class AnnotatedProject:
    """The project after Start Training: its tasks' truth, who labelled what, the audits."""

    id: int
    users: dict[str, int]  # annotator name -> Label Studio user id
    truth: dict[int, str]  # task id -> true topic
    labels: dict[int, dict[str, str]]  # task id -> annotator name -> the label they gave
    audits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any]:
        return self.audits[-1]

    def counts(self) -> dict[str, int]:
        """Annotator name -> how many annotations they made."""
        return {
            name: sum(name in given for given in self.labels.values()) for name, _ in ANNOTATORS
        }


@pytest.fixture(scope="module")
def project(ls, backend: Backend) -> AnnotatedProject:
    """Create the annotators and the project, annotate, connect, Start Training."""
    users = {}
    for name, _ in ANNOTATORS:
        user = ls.users.create(email=email(name), username=name, first_name=name)
        users[name] = int(user.id)
    items = generate(N_TASKS, SEED)
    created = ls.projects.create(title="scenario three annotators", label_config=CONFIG)
    imported = items[:-MADE_THROUGH_API]
    request = [
        {
            "data": {"text": item.text},
            "annotations": [
                {"result": choice(label), "completed_by": users[name], "ground_truth": False}
                for name, label in item.labels.items()
            ],
        }
        for item in imported
    ]
    request += [{"data": {"text": item.text}} for item in items[-MADE_THROUGH_API:]]
    ids = ls.projects.import_tasks(id=created.id, request=request, return_task_ids=True).task_ids
    assert len(ids) == N_TASKS
    # The admin makes the other annotations in each annotator's name.
    for task_id, item in zip(ids[-MADE_THROUGH_API:], items[-MADE_THROUGH_API:], strict=True):
        for name, label in item.labels.items():
            made = ls.annotations.create(
                id=task_id, result=choice(label), completed_by=users[name], project=created.id
            )
            assert made.completed_by == users[name], made
    truth = {t: item.true for t, item in zip(ids, items, strict=True)}
    labels = {t: dict(item.labels) for t, item in zip(ids, items, strict=True)}

    ml = ls.ml.create(url=backend.url, project=created.id, title="labelaudit")
    assert ml.state == "CO", ml
    n_annotations = sum(len(given) for given in labels.values())
    timer = Timer(f"audit of {N_TASKS} tasks, {n_annotations} annotations by 3 annotators")
    ls.ml.train(id=ml.id)
    audit = backend.wait_audit(created.id, after=None, what="the multi-annotator audit")
    timer.done(f"version {audit['model_version']}, {len(audit['flagged_task_ids'])} flagged")
    return AnnotatedProject(created.id, users, truth, labels, [audit])


# --------------------------------------------------------------------------- helpers


def issues(backend: Backend, project: AnnotatedProject) -> list[dict[str, str]]:
    """The current audit's issues.csv rows (one per audited annotation)."""
    answer = backend.get(f"/projects/{project.id}/issues.csv")
    assert answer.status_code == 200, answer.text
    return list(csv.DictReader(io.StringIO(answer.text)))


# --------------------------------------------------------------------------- 1


def test_each_annotation_belongs_to_its_annotator(ls, project):
    """Label Studio keeps who made each annotation, imported or made through the API."""
    names = {user_id: name for name, user_id in project.users.items()}
    listed = {user.id: user.email for user in ls.users.list()}
    for name, user_id in project.users.items():
        assert listed[user_id] == email(name)
    tasks = tasks_by_id(ls, project.id)
    assert set(tasks) == set(project.truth)
    for task_id, task in tasks.items():
        # The task list (fields=all, what the backend reads) names the annotator by id.
        got = {names[a["completed_by"]]: label_of(a) for a in task.annotations}
        assert got == project.labels[task_id], task_id
    # One task read alone expands the annotator (id, email, names).
    task_id = next(iter(tasks))
    one = ls.tasks.get(id=task_id)
    assert {(a["completed_by"]["id"], a["completed_by"]["email"]) for a in one.annotations} == {
        (project.users[name], email(name)) for name in project.labels[task_id]
    }
    # The JSON export names the annotator by id, as the task list does.
    raw = b"".join(
        ls.projects.exports.download_sync(
            id=project.id, export_type="JSON", download_all_tasks=True
        )
    )
    exported = {t["id"]: t for t in json.loads(raw)}
    assert set(exported) == set(tasks)
    for task_id, task in exported.items():
        got = {names[a["completed_by"]]: label_of(a) for a in task["annotations"]}
        assert got == project.labels[task_id], task_id


def test_start_training_audits_every_annotation(ls, backend, project):
    audit = project.current
    n_annotations = sum(len(given) for given in project.labels.values())
    assert audit["counts"]["annotated_tasks"] == N_TASKS
    assert audit["counts"]["audited_annotations"] == n_annotations
    rows = issues(backend, project)
    assert len(rows) == n_annotations
    tasks = tasks_by_id(ls, project.id)
    wrong = sum(
        label != project.truth[t] for t, given in project.labels.items() for label in given.values()
    )
    flagged = [r for r in rows if r["is_label_issue"] == "True"]
    caught = [r for r in flagged if r["given_label"] != project.truth[int(r["task_id"])]]
    print(
        f"\n[result] {len(flagged)} annotations flagged, {len(caught)} of {wrong} wrong ones; "
        f"{len(audit['flagged_task_ids'])} tasks flagged"
    )
    by_annotator = {}
    for r in rows:
        by_annotator.setdefault(r["annotator"], 0)
        by_annotator[r["annotator"]] += 1
    print(f"[result] issues.csv annotators: {by_annotator}")
    for task in tasks.values():
        (prediction,) = task.predictions
        validate_prediction(
            CONFIG,
            {
                "result": prediction.result,
                "score": prediction.score,
                "model_version": audit["model_version"],
            },
        )
