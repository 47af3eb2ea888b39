"""Several annotators per task (single-choice ``<Choices>``) on a real Label Studio 1.23.2.

Three annotator users are created through label-studio-sdk (``ls.users.create``); a text
project of N_TASKS tasks about one of four topics is labelled by two or three of them per
task, each annotator right with their own accuracy (seeded). Most annotations are imported
with the tasks, ``completed_by`` naming the user by id; the last tasks' annotations are
made one by one through the API (``POST /api/tasks/<id>/annotations`` with
``completed_by``). Then the project is connected to ``labelaudit serve`` + a real worker
(tests/e2e/fixtures.py) and audited after "Start Training".

What a lead sees is checked against Label Studio itself and the backend's tables
(tasks.csv, issues.csv, ``GET /projects/<id>/annotators``): the annotations carry their
annotators; each task has one prediction, its consensus label scored with the task's
suspicion; "Needs re-review" holds exactly the tasks with a flagged annotation and "Needs
another annotator" exactly those whose consensus is too uncertain, through the API and in
headless Chromium; the poor annotator ranks lowest. Then the admin sets a flagged
annotation to the consensus and the re-audit clears its task. Timings are printed
(``pytest -s`` or ``-rP`` shows them).

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
from tests.e2e.browser import footer_counts, open_review_tab
from tests.e2e.fixtures import Backend, Timer, tab, tasks_by_id
from tests.worker.support import wait_for

pytestmark = [pytest.mark.e2e]

CONTROL, OBJECT = "topic", "text"
CLASSES = ("sports", "politics", "science", "music")
CONFIG = (
    f'<View><Text name="{OBJECT}" value="$text"/>'
    f'<Choices name="{CONTROL}" toName="{OBJECT}" choice="single">'
    + "".join(f'<Choice value="{c}"/>' for c in CLASSES)
    + "</Choices></View>"
)
#: Words only one topic uses. A text has OWN_WORDS of its topic's, STRAY_WORDS of other
#: topics' and FILLER: a linear model learns the topics, but is not sure of every text.
VOCABULARY = {
    "sports": "goal match team coach league score striker referee stadium season".split(),
    "politics": "vote senate minister election policy party debate law cabinet mayor".split(),
    "science": "atom cell theory experiment physics genome laboratory orbit enzyme data".split(),
    "music": "guitar chord melody concert album singer rhythm piano band tempo".split(),
}
FILLER = "the a of and to in on with for about this that".split()
OWN_WORDS, STRAY_WORDS, FILLER_WORDS = 3, 2, 5
N_TASKS = 200
#: The annotators (user name, accuracy): each gives the true topic with this chance, else
#: one of the other three at random.
ANNOTATORS = (("good", 0.95), ("medium", 0.80), ("poor", 0.60))
#: The chance that a task is labelled by all three annotators (else by two of them).
ALL_THREE = 0.4
#: The chance that a text mixes its topic's words with another topic's (OWN_WORDS - 1 of
#: each): the model cannot tell, and the annotators decide.
MIXED = 0.2
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
        others = [c for c in CLASSES if c != true]
        if rng.random() < MIXED:
            other = str(rng.choice(others))
            words = [
                *rng.choice(VOCABULARY[true], OWN_WORDS - 1),
                *rng.choice(VOCABULARY[other], OWN_WORDS - 1),
            ]
        else:
            words = list(rng.choice(VOCABULARY[true], OWN_WORDS))
        words += [str(rng.choice(VOCABULARY[str(rng.choice(others))])) for _ in range(STRAY_WORDS)]
        words += list(rng.choice(FILLER, FILLER_WORDS))
        rng.shuffle(words)
        who = names if rng.random() < ALL_THREE else sorted(rng.choice(names, 2, replace=False))
        labels = {}
        for name in who:
            right = rng.random() < accuracy[name]
            labels[name] = true if right else str(rng.choice(others))
        items.append(Item(" ".join(words), true, labels))
    return items


def choice(label: str) -> list[dict[str, Any]]:
    return [
        {"from_name": CONTROL, "to_name": OBJECT, "type": "choices", "value": {"choices": [label]}}
    ]


def chosen(result: list[dict[str, Any]]) -> str:
    """The one choice of a result (an annotation's or a prediction's)."""
    (region,) = result
    (label,) = region["value"]["choices"]
    return label


def label_of(annotation: dict[str, Any]) -> str:
    return chosen(annotation["result"])


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


def csv_rows(backend: Backend, project: AnnotatedProject, name: str) -> list[dict[str, str]]:
    """The current audit's ``name`` (issues.csv, tasks.csv) as the backend serves it."""
    answer = backend.get(f"/projects/{project.id}/{name}")
    assert answer.status_code == 200, answer.text
    return list(csv.DictReader(io.StringIO(answer.text)))


@dataclass
class Verdicts:
    """What the backend saved for the current audit: one row per task (tasks.csv), the
    task's annotation rows (issues.csv)."""

    tasks: dict[int, dict[str, str]]
    annotations: dict[int, list[dict[str, str]]]

    def flagged(self) -> set[int]:
        """Tasks with a flagged annotation, as issues.csv says."""
        return {
            t
            for t, rows in self.annotations.items()
            if any(r["is_label_issue"] == "True" for r in rows)
        }

    def needing_another(self) -> set[int]:
        return {t for t, row in self.tasks.items() if row["needs_another_annotator"] == "True"}


def verdicts(backend: Backend, project: AnnotatedProject) -> Verdicts:
    tasks = {int(r["task_id"]): r for r in csv_rows(backend, project, "tasks.csv")}
    annotations: dict[int, list[dict[str, str]]] = {}
    for row in csv_rows(backend, project, "issues.csv"):
        annotations.setdefault(int(row["task_id"]), []).append(row)
    assert set(tasks) == set(annotations) == set(project.truth)
    return Verdicts(tasks, annotations)


def check_predictions(ls, backend: Backend, project: AnnotatedProject) -> dict[int, Any]:
    """Every task has exactly one prediction, of the current version: its consensus label,
    scored with the task's suspicion (the highest of its annotations')."""
    version = project.current["model_version"]
    assert ls.projects.get(id=project.id).model_version == version
    saved = verdicts(backend, project)
    tasks = tasks_by_id(ls, project.id)
    assert set(tasks) == set(project.truth)
    for task_id, task in tasks.items():
        row = saved.tasks[task_id]
        predictions = list(task.predictions or [])
        assert len(predictions) == 1, (task_id, predictions)
        (prediction,) = predictions
        assert prediction.model_version == version
        validate_prediction(
            CONFIG,
            {"result": prediction.result, "score": prediction.score, "model_version": version},
        )
        assert chosen(prediction.result) == row["consensus_label"], task_id
        # Each annotation row of the task names the same consensus.
        rows = saved.annotations[task_id]
        assert {r["consensus_label"] for r in rows} == {row["consensus_label"]}, rows
        assert int(row["annotations"]) == len(rows) == len(task.annotations)
        worst = max(float(r["suspicion"]) for r in rows)
        assert float(row["suspicion"]) == pytest.approx(worst, abs=1e-6), (task_id, row, rows)
        # (Seen failing on 853f7c0, in the re-audit: a task whose consensus is unlikely got
        # the suspicion of its flagged annotation, not the higher one of its agreeing ones.)
        assert prediction.score == pytest.approx(float(row["suspicion"]), abs=1e-6), (
            f"task {task_id}: Label Studio's score {prediction.score} is not the task's "
            f"suspicion in tasks.csv (the highest of its annotations'): {row}; {rows}"
        )
    return tasks


def tab_ids(ls, project: AnnotatedProject, title: str) -> list[int]:
    """The task ids a tab lists through the API, in its order (each task once)."""
    view = tab(ls, project.id, title)
    shown = list(ls.tasks.list(project=project.id, view=view.id, fields="all", page_size=100))
    ids = [t.id for t in shown]
    assert len(ids) == len(set(ids)), f"{title!r} lists a task twice: {ids}"
    # Both tabs are ordered by suspicion, highest first.
    scores = [max(p.score for p in t.predictions) for t in shown]
    assert scores == sorted(scores, reverse=True), (title, scores)
    return ids


# --------------------------------------------------------------------------- 1: who annotated


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


# --------------------------------------------------------------------------- 2: the audit


def test_start_training_audits_the_consensus_of_several_annotators(ls, backend, project):
    audit = project.current
    assert audit["model_version"].startswith("labelaudit-")
    assert audit["task_kind"]["task_type"] == "multi_annotator"
    assert audit["task_kind"]["classes"] == list(CLASSES)
    n_annotations = sum(len(given) for given in project.labels.values())
    assert audit["counts"]["annotated_tasks"] == N_TASKS
    assert audit["counts"]["audited_annotations"] == n_annotations
    assert audit["skipped"]["count"] == 0, audit["skipped"]
    job = backend.get(f"/jobs/{audit['job']}").json()
    assert job["state"] == "succeeded" and job["model_version"] == audit["model_version"], job

    tasks = check_predictions(ls, backend, project)
    saved = verdicts(backend, project)
    consensus = {t: row["consensus_label"] for t, row in saved.tasks.items()}
    right = sum(consensus[t] == project.truth[t] for t in tasks)
    wrong = {
        (t, name)
        for t, given in project.labels.items()
        for name, label in given.items()
        if label != project.truth[t]
    }
    names = {email(name): name for name, _ in ANNOTATORS}
    flagged = {
        (t, names[r["annotator"]])
        for t, rows in saved.annotations.items()
        for r in rows
        if r["is_label_issue"] == "True"
    }
    print(
        f"\n[result] consensus right on {right} of {N_TASKS} tasks; {len(flagged)} annotations "
        f"flagged, {len(flagged & wrong)} of the {len(wrong)} wrong ones; "
        f"{len(audit['flagged_task_ids'])} tasks to re-review, "
        f"{len(saved.needing_another())} need another annotator"
    )
    # Measured with run_audit on this generator before writing this (seeds 0-5, 200 tasks,
    # ~480 annotations, ~100 of them wrong): the consensus is right on 187-192 tasks, 80-94%
    # of the wrong annotations are flagged, and 94-97% of the flagged ones are wrong. Seed 0
    # is the first tried, not the best.
    assert right >= 0.9 * N_TASKS
    assert len(flagged & wrong) >= 0.75 * len(wrong)
    assert len(flagged - wrong) <= 0.1 * len(flagged)
    # A flagged annotation disagrees with its task's consensus.
    for rows in saved.annotations.values():
        for r in rows:
            if r["is_label_issue"] == "True":
                assert r["given_label"] != r["consensus_label"] == r["suggested_label"], r


# --------------------------------------------------------------------------- 3: the two tabs


def test_needs_rereview_holds_exactly_the_tasks_with_a_flagged_annotation(ls, backend, project):
    saved = verdicts(backend, project)
    flagged = saved.flagged()
    assert flagged, "nothing flagged"
    assert set(project.current["flagged_task_ids"]) == flagged
    assert {t for t, row in saved.tasks.items() if row["is_label_issue"] == "True"} == flagged
    assert set(tab_ids(ls, project, NEEDS_REVIEW)) == flagged


def test_needs_another_annotator_holds_exactly_the_uncertain_tasks(ls, backend, project):
    saved = verdicts(backend, project)
    needing = saved.needing_another()
    assert needing, "no task needs another annotator"
    consensus = project.current["consensus"]
    assert set(consensus["needs_another_annotator_task_ids"]) == needing
    assert project.current["health"]["tasks_needing_another_annotator"] == len(needing)
    # Too uncertain: the consensus is right with a probability under the setting (0.9).
    for t, row in saved.tasks.items():
        assert (float(row["consensus_probability"]) < 0.9) == (t in needing), row
    assert set(tab_ids(ls, project, NEEDS_ANNOTATOR)) == needing
    # Another annotator is wanted where the consensus may be wrong. The probability is
    # calibrated, so a trusted consensus (>= 0.9) is wrong at most about 10% of the time,
    # and the tab's share of wrong consensus is several times the rest's. (Once the
    # consensus became the calibrated posterior's best class, fewer consensus labels are
    # wrong, and the ones left are mostly confident mistakes on mixed texts: on seed 0, 3 of
    # the 8 are in the tab; the trusted ones are wrong 3% of the time.)
    wrong = {t for t, row in saved.tasks.items() if row["consensus_label"] != project.truth[t]}
    split = {
        t
        for t, given in project.labels.items()
        if len(given) == 2 and len(set(given.values())) == 2
    }
    print(
        f"\n[result] {len(needing)} tasks need another annotator: {len(needing & wrong)} of the "
        f"{len(wrong)} whose consensus is wrong, {len(needing & split)} of the {len(split)} "
        "labelled by two annotators who disagree"
    )
    rest = set(saved.tasks) - needing
    assert len(rest & wrong) <= 0.1 * len(rest)
    assert len(needing & wrong) / len(needing) > 3 * len(rest & wrong) / len(rest)


# --------------------------------------------------------------------------- 4: annotators


def test_the_annotators_route_ranks_the_poor_annotator_lowest(backend, project):
    answer = backend.get(f"/projects/{project.id}/annotators")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["project"] == project.id
    assert body["model_version"] == project.current["model_version"]
    rows = {r["annotator"]: r for r in body["annotators"]}
    assert set(rows) == {email(name) for name, _ in ANNOTATORS}  # by email; no admin
    assert body["annotators"] == project.current["annotators"]  # the audit's own table
    saved = verdicts(backend, project)
    every = [r for rows_ in saved.annotations.values() for r in rows_]
    for name, count in project.counts().items():
        row, mine = rows[email(name)], [r for r in every if r["annotator"] == email(name)]
        assert row["annotations"] == count == len(mine), (name, row)
        assert row["flagged"] == sum(r["is_label_issue"] == "True" for r in mine), (name, row)
        agree = sum(r["given_label"] == r["consensus_label"] for r in mine) / len(mine)
        assert row["agreement_with_consensus"] == pytest.approx(agree, abs=1e-6), (name, row)
    quality = {name: rows[email(name)]["quality"] for name, _ in ANNOTATORS}
    agreement = {name: rows[email(name)]["agreement_with_consensus"] for name, _ in ANNOTATORS}
    print(f"\n[result] annotator quality {quality}; agreement with consensus {agreement}")
    assert quality["poor"] < quality["medium"] < quality["good"]
    assert agreement["poor"] < agreement["medium"] < agreement["good"]
    assert body["annotators"][0]["annotator"] == email("poor")  # lowest quality first


# --------------------------------------------------------------------------- 5: the page


def test_the_page_renders_both_tabs(ls, backend, browser, project):
    saved = verdicts(backend, project)
    for title, expected in (
        (NEEDS_REVIEW, saved.flagged()),
        (NEEDS_ANNOTATOR, saved.needing_another()),
    ):
        ids = open_review_tab(browser, project.id, title)  # fails if the page stays loading
        assert len(ids) == len(set(ids)), (title, ids)
        assert len(ids) >= min(len(expected), 8), (title, ids)  # what fits the window
        assert set(ids) <= expected, (title, ids)
        assert footer_counts(browser.page) == (len(expected), N_TASKS), title
        print(f"\n[result] {title!r}: {len(ids)} rows rendered of {len(expected)}")
    assert not browser.mobx_errors(), browser.mobx_errors()
    assert not browser.log.errors, browser.log.errors


# --------------------------------------------------------------------------- 6: a fix


def test_fixing_a_flagged_annotation_reaudits_and_clears_it(ls, backend, browser, project):
    before = project.current
    old_version = before["model_version"]
    saved = verdicts(backend, project)
    names = {email(name): name for name, _ in ANNOTATORS}

    def fixable(t: int) -> bool:
        """One annotation flagged, wrong; the others agree on the true label."""
        rows = saved.annotations[t]
        flagged = [r for r in rows if r["is_label_issue"] == "True"]
        others = [r for r in rows if r["is_label_issue"] != "True"]
        return (
            len(flagged) == 1
            and len(others) >= 2
            and saved.tasks[t]["consensus_label"] == project.truth[t]
            and all(r["given_label"] == project.truth[t] for r in others)
        )

    task_id = next(t for t in before["flagged_task_ids"] if fixable(t))
    (row,) = [r for r in saved.annotations[task_id] if r["is_label_issue"] == "True"]
    annotation_id, name = int(row["annotation_id"]), names[row["annotator"]]
    consensus = saved.tasks[task_id]["consensus_label"]

    timer = Timer("re-audit latency after an annotation is set to the consensus")
    off_tab = Timer("fixed task off the re-review tab (what the lead sees)")
    ls.annotations.update(id=annotation_id, result=choice(consensus))  # by the admin
    view = tab(ls, project.id, NEEDS_REVIEW)

    def left_the_tab() -> bool:
        return task_id not in [t.id for t in ls.tasks.list(project=project.id, view=view.id)]

    wait_for(left_the_tab, timeout=120, what="the fixed task to leave the tab", every=0.25)
    off_tab.done()
    audit = backend.wait_audit(project.id, after=old_version, what="the re-audit after a fix")
    timer.done(f"{old_version} -> {audit['model_version']}")
    project.audits.append(audit)
    project.labels[task_id][name] = consensus

    assert task_id not in audit["flagged_task_ids"]
    tasks = check_predictions(ls, backend, project)  # one per task, of the new version
    assert task_id not in tab_ids(ls, project, NEEDS_REVIEW)
    versions = {p.model_version for t in tasks.values() for p in t.predictions or []}
    assert versions == {audit["model_version"]}  # the old version's predictions are gone
    # The annotation is still the annotator's (the admin edited it).
    (fixed,) = [a for a in tasks[task_id].annotations if a["id"] == annotation_id]
    assert fixed["completed_by"] == project.users[name]
    assert label_of(fixed) == consensus
    rows = {
        r["annotator"]: r
        for r in backend.get(f"/projects/{project.id}/annotators").json()["annotators"]
    }
    for who, count in project.counts().items():
        assert rows[email(who)]["annotations"] == count
    print(
        f"\n[result] task {task_id}: {name}'s annotation {row['given_label']} -> {consensus}; "
        f"{len(before['flagged_task_ids'])} -> {len(audit['flagged_task_ids'])} tasks to re-review"
    )
