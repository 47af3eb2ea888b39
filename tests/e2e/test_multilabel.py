"""Multi-label projects (``<Choices choice="multiple">``) on a real Label Studio 1.23.2.

A text project whose annotations pick a set of topics (0-2 of four; a text about none is
annotated with the empty set), ~7% of the sets changed (a topic dropped, one added, one
swapped; seeded), is imported through
label-studio-sdk, connected to ``labelaudit serve`` + a real worker (tests/e2e/fixtures.py)
and audited after "Start Training". Then: the predictions Label Studio stores (one per
annotated task, the suggested set as one ``choices`` region, score = the backend's
suspicion; an empty result for the empty set), the "Needs re-review" tab (exactly the
flagged tasks), the Data Manager and the labeling view in headless Chromium (a suggested
set of two topics, and an empty one), and the re-audit after an annotator fixes a flagged
set. Timings are printed (``pytest -s`` or ``-rP`` shows them).

Uses the e2e fixtures (a Label Studio in .e2e/venv); skipped with LABELAUDIT_SKIP_E2E=1.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from tests.checks import validate_prediction
from tests.e2e.browser import checked_choices, footer_counts, open_review_tab, table_rows
from tests.e2e.fixtures import Backend, Timer, review_tab, tasks_by_id
from tests.worker.support import wait_for

pytestmark = [pytest.mark.e2e]

CONTROL, OBJECT = "topics", "text"
CLASSES = ("sports", "politics", "science", "music")
CONFIG = (
    f'<View><Text name="{OBJECT}" value="$text"/>'
    f'<Choices name="{CONTROL}" toName="{OBJECT}" choice="multiple">'
    + "".join(f'<Choice value="{c}"/>' for c in CLASSES)
    + "</Choices></View>"
)
#: Words only one topic uses (as tests/backend/test_multilabel.py): a text about a set of
#: topics draws from their vocabularies.
VOCABULARY = {
    "sports": "goal match team coach league score striker referee stadium season".split(),
    "politics": "vote senate minister election policy party debate law cabinet mayor".split(),
    "science": "atom cell theory experiment physics genome laboratory orbit enzyme data".split(),
    "music": "guitar chord melody concert album singer rhythm piano band tempo".split(),
}
FILLER = "the a of and to in on with for about this that".split()
N_TASKS = 300
#: How many sets are changed (20 of 300, 6.7%), per kind of change: a topic dropped from
#: two, one added to one or two, one swapped, one added to a text about none.
CHANGES = {"dropped": 6, "added": 6, "swapped": 6, "added_to_empty": 2}
SEED = 0
#: The chance of a text being about 0, 1, 2 topics (a text about none is all filler words,
#: its true set empty: the suggestion for it is an empty result).
TOPICS_PER_TEXT = (0.06, 0.5, 0.44)


@dataclass(frozen=True)
class Item:
    """One generated task: its text, true set, the set the annotator gave, what changed."""

    text: str
    true: frozenset[str]
    given: frozenset[str]
    change: str | None


def generate(n: int, seed: int) -> list[Item]:
    """``n`` texts about 0-2 topics each (TOPICS_PER_TEXT), and their sets, CHANGES changed."""
    rng = np.random.default_rng(seed)
    sizes = rng.choice(len(TOPICS_PER_TEXT), n, p=TOPICS_PER_TEXT)
    truths = [frozenset(rng.choice(CLASSES, k, replace=False).tolist()) for k in sizes]
    texts = []
    for topics in truths:
        words = [w for t in sorted(topics) for w in rng.choice(VOCABULARY[t], 6)]
        words += list(rng.choice(FILLER, 6))
        rng.shuffle(words)
        texts.append(" ".join(words))
    given, change = list(truths), [None] * n
    order = rng.permutation(n).tolist()
    sizes_for = {"dropped": {2}, "added": {1, 2}, "swapped": {1, 2}, "added_to_empty": {0}}
    for kind, count in CHANGES.items():
        candidates = [i for i in order if change[i] is None and len(truths[i]) in sizes_for[kind]]
        for i in candidates[:count]:
            on, off = sorted(truths[i]), sorted(set(CLASSES) - truths[i])
            if kind == "dropped":
                given[i] = truths[i] - {str(rng.choice(on))}
            elif kind in {"added", "added_to_empty"}:
                given[i] = truths[i] | {str(rng.choice(off))}
            else:
                given[i] = (truths[i] - {str(rng.choice(on))}) | {str(rng.choice(off))}
            change[i] = kind
    return [Item(texts[i], truths[i], given[i], change[i]) for i in range(n)]


def choices(topics: frozenset[str] | set[str]) -> list[dict[str, Any]]:
    """An annotation's result picking ``topics`` (in config order; empty set: no region)."""
    if not topics:
        return []
    value = {"choices": [c for c in CLASSES if c in topics]}
    return [{"from_name": CONTROL, "to_name": OBJECT, "type": "choices", "value": value}]


def values(result: list[dict[str, Any]]) -> list[str]:
    """The choices of a result's one region, in its order ([] for an empty result)."""
    return [c for region in result for c in region["value"]["choices"]]


def picked(result: list[dict[str, Any]]) -> frozenset[str]:
    """The set a result (annotation or prediction) picks."""
    return frozenset(c for region in result for c in region["value"]["choices"])


@dataclass
class MultiLabelProject:
    """The multi-label project after Start Training: ids, truth, the audit summaries so far."""

    id: int
    truth: dict[int, frozenset[str]]  # Label Studio task id -> true set
    changed: dict[int, str]  # Label Studio task id -> how its imported set was changed
    audits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any]:
        return self.audits[-1]


@pytest.fixture(scope="module")
def project(ls, backend: Backend) -> MultiLabelProject:
    """Import the generated tasks with their (partly changed) sets, connect, Start Training."""
    items = generate(N_TASKS, SEED)
    created = ls.projects.create(title="scenario multi-label", label_config=CONFIG)
    request = [
        {
            "data": {"text": item.text},
            "annotations": [{"result": choices(item.given), "ground_truth": False}],
        }
        for item in items
    ]
    ids = ls.projects.import_tasks(id=created.id, request=request, return_task_ids=True).task_ids
    assert len(ids) == N_TASKS
    stored = tasks_by_id(ls, created.id)
    truth, changed = {}, {}
    for task_id, item in zip(ids, items, strict=True):
        (annotation,) = stored[task_id].annotations
        assert stored[task_id].data["text"] == item.text
        assert picked(annotation["result"]) == item.given  # Label Studio kept the set
        truth[task_id] = item.true
        if item.change is not None:
            changed[task_id] = item.change
    assert len(changed) == sum(CHANGES.values())

    ml = ls.ml.create(url=backend.url, project=created.id, title="labelaudit")
    assert ml.state == "CO", ml  # connected: /health and /setup (multi-label config) answered
    timer = Timer(f"first audit of {N_TASKS} multi-label tasks (Start Training -> pushed)")
    ls.ml.train(id=ml.id)
    audit = backend.wait_audit(created.id, after=None, what="the multi-label audit")
    timer.done(f"version {audit['model_version']}, {len(audit['flagged_task_ids'])} flagged")
    return MultiLabelProject(created.id, truth, changed, [audit])


# --------------------------------------------------------------------------- helpers


def backend_verdicts(backend: Backend, project: MultiLabelProject) -> dict[int, dict[str, Any]]:
    """Per task, what the backend saved for the current audit: its prediction
    (predictions.json) and its annotations' rows (issues.csv)."""
    version = project.current["model_version"]
    answer = backend.get(f"/projects/{project.id}/predictions.json")
    assert answer.status_code == 200, answer.text
    saved = json.loads(answer.text)
    verdicts = {p["task"]: {"prediction": p, "rows": []} for p in saved}
    assert {p["model_version"] for p in saved} == {version}
    answer = backend.get(f"/projects/{project.id}/issues.csv")
    assert answer.status_code == 200, answer.text
    for row in csv.DictReader(io.StringIO(answer.text)):
        verdicts[int(row["task_id"])]["rows"].append(row)
    return verdicts


def label_set(text: str) -> frozenset[str]:
    """A set as issues.csv writes it ("music;sports", "" for none)."""
    return frozenset(filter(None, text.split(";")))


def check_predictions(ls, backend: Backend, project: MultiLabelProject) -> dict[int, Any]:
    """Every annotated task has exactly one prediction, of the current version: a valid
    suggested set whose score is the backend's suspicion of the task's annotation."""
    version = project.current["model_version"]
    assert ls.projects.get(id=project.id).model_version == version
    verdicts = backend_verdicts(backend, project)
    tasks = tasks_by_id(ls, project.id)
    assert set(verdicts) == set(tasks) == set(project.truth)
    several = empty = 0
    for task in tasks.values():
        assert task.annotations, task.id
        predictions = list(task.predictions or [])
        assert len(predictions) == 1, (task.id, predictions)
        (prediction,) = predictions
        assert prediction.model_version == version
        result = prediction.result
        validate_prediction(
            CONFIG, {"result": result, "score": prediction.score, "model_version": version}
        )
        # One choices region for the whole set (none for the empty set), on our control.
        assert len(result) <= 1, (task.id, result)
        for region in result:
            assert (region["from_name"], region["to_name"], region["type"]) == (
                CONTROL,
                OBJECT,
                "choices",
            )
            chosen = region["value"]["choices"]
            assert chosen and len(set(chosen)) == len(chosen) and set(chosen) <= set(CLASSES)
        suggested = picked(result)
        several += len(suggested) >= 2
        empty += not suggested

        verdict = verdicts[task.id]
        assert result == verdict["prediction"]["result"]  # what the backend pushed, as is
        (row,) = verdict["rows"]  # one annotation per task
        assert int(row["annotation_id"]) == task.annotations[0]["id"]
        assert label_set(row["given_label"]) == picked(task.annotations[0]["result"])
        assert label_set(row["suggested_label"]) == suggested
        assert 0.0 <= prediction.score <= 1.0
        assert prediction.score == pytest.approx(verdict["prediction"]["score"], abs=1e-9)
        assert prediction.score == pytest.approx(float(row["suspicion"]), abs=1e-6)
    assert several >= 10, f"only {several} predictions suggest two or more topics"
    # The texts about no topic: their suggestion, the empty set, is an empty result.
    assert empty >= 3, f"only {empty} predictions suggest the empty set"
    return tasks


def flagged_by_backend(backend: Backend, project: MultiLabelProject) -> set[int]:
    """The tasks issues.csv marks as having a flagged annotation."""
    verdicts = backend_verdicts(backend, project)
    return {
        task
        for task, v in verdicts.items()
        if any(r["is_label_issue"] == "True" for r in v["rows"])
    }


def check_tab(ls, backend: Backend, project: MultiLabelProject) -> list[int]:
    """The "Needs re-review" tab holds exactly the flagged tasks, most suspicious first."""
    flagged = project.current["flagged_task_ids"]
    assert set(flagged) == flagged_by_backend(backend, project)
    view = review_tab(ls, project.id)
    shown = list(ls.tasks.list(project=project.id, view=view.id, fields="all", page_size=100))
    ids = [t.id for t in shown]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(flagged)
    scores = [max(p.score for p in t.predictions) for t in shown]
    assert scores == sorted(scores, reverse=True), scores
    return ids


def cell_choices(text: str) -> list[str]:
    """The choices a Data Manager result cell shows ("...{choices: [a, b]}}]": [a, b];
    an empty result: [])."""
    found = re.findall(r"choices: \[([^\]]*)\]", text)
    if not found:
        assert text in {"", "[]"}, text
        return []
    assert len(found) == 1, text  # one choices region
    return [c.strip() for c in found[0].split(",") if c.strip()]


def check_page(browser, ls, project: MultiLabelProject) -> list[int]:
    """The Data Manager renders the review tab: flagged tasks only, most suspicious first,
    and its footer counts every flagged task of the project."""
    flagged = project.current["flagged_task_ids"]
    ids = open_review_tab(browser, project.id, "Needs re-review")
    assert len(ids) >= min(len(flagged), 8), ids  # the table renders what fits the window
    assert set(ids) <= set(flagged), ids
    # Ties in suspicion may come in either order: compare the scores, not the ids.
    tasks = tasks_by_id(ls, project.id)
    scores = [tasks[i].predictions[0].score for i in ids]
    assert scores == sorted(scores, reverse=True), scores
    assert footer_counts(browser.page) == (len(flagged), len(project.truth))
    assert not browser.log.errors, browser.log.errors
    return ids


# --------------------------------------------------------------------------- 1, 2, 3


def test_start_training_predicts_sets_and_flags_the_changed_ones(ls, backend, project):
    audit = project.current
    assert audit["model_version"].startswith("labelaudit-")
    assert audit["task_kind"]["task_type"] == "multi_choice"
    assert audit["task_kind"]["classes"] == list(CLASSES)
    assert audit["counts"]["annotated_tasks"] == N_TASKS
    assert audit["skipped"]["count"] == 0, audit["skipped"]
    job = backend.get(f"/jobs/{audit['job']}").json()
    assert job["state"] == "succeeded" and job["model_version"] == audit["model_version"], job

    tasks = check_predictions(ls, backend, project)
    check_tab(ls, backend, project)

    flagged = set(audit["flagged_task_ids"])
    caught = flagged & set(project.changed)
    caught_by_kind = {kind: sum(project.changed[t] == kind for t in caught) for kind in CHANGES}
    restored = sum(picked(tasks[t].predictions[0].result) == project.truth[t] for t in caught)
    unflagged_other = [
        t
        for t, task in tasks.items()
        if t not in flagged
        and picked(task.predictions[0].result) != picked(task.annotations[0]["result"])
    ]
    print(
        f"\n[result] flagged {len(flagged)} of {N_TASKS} tasks; caught {len(caught)} of "
        f"{len(project.changed)} changed sets (by kind: {caught_by_kind} of {CHANGES}); "
        f"{restored} of them suggest the true set; "
        f"{len(unflagged_other)} tasks not flagged suggest another set than their annotation"
    )
    # Measured with run_audit on this generator before writing this (seeds 0-7): a swapped
    # topic is caught 94% of the time, an added one 73%, a dropped one 40% (its
    # probability, 0.6-0.8 in a two-topic text, stays under the class's confident
    # threshold, the class's average over the texts that give it), one added to a text
    # about nothing 25%; 50-80% of the changed sets per seed, with no false flags. Seed 0
    # (65%) is the first tried, not the best. So "most" here is more than half, and swaps.
    assert len(caught) > 0.5 * len(project.changed)
    assert caught_by_kind["swapped"] >= 0.8 * CHANGES["swapped"]
    assert len(flagged - set(project.changed)) <= 0.25 * len(flagged)  # precision >= 75%
    assert restored >= 0.75 * len(caught)
    # Suspicion ranks: a changed set is more suspect than an unchanged one, on average.
    score = {t: task.predictions[0].score for t, task in tasks.items()}
    clean = [score[t] for t in tasks if t not in project.changed]
    assert np.mean([score[t] for t in project.changed]) > 3 * np.mean(clean)


# --------------------------------------------------------------------------- 4, as a lead sees it


def test_the_page_renders_the_tab_and_a_suggested_set(ls, browser, project):
    page = browser.page
    check_page(browser, ls, project)
    # Each row shows the annotator's set, the suspicion and the suggested set, as Label
    # Studio 1.23.2 writes a result in a cell: "[{from_name: topics, ..., value: {choices:
    # [politics, science]}}]".
    tasks = tasks_by_id(ls, project.id)
    rows = table_rows(page)
    for row in rows:
        for column in ("Annotation results", "Prediction score", "Prediction results", "text"):
            assert column in row, row
        task = tasks[int(row["ID"])]
        (prediction,) = task.predictions
        assert row["text"] == task.data["text"]
        assert cell_choices(row["Annotation results"]) == values(task.annotations[0]["result"])
        assert cell_choices(row["Prediction results"]) == values(prediction.result)
        assert float(row["Prediction score"]) == pytest.approx(prediction.score, abs=5e-4)
    several = [
        r["Prediction results"] for r in rows if len(cell_choices(r["Prediction results"])) > 1
    ]
    print(
        f"\n[result] {len(rows)} rows rendered, {len(several)} suggest several topics, "
        f"e.g. {several[:1]}"
    )

    # A flagged task whose suggestion is two or more topics, other than the annotator's set.
    version = project.current["model_version"]

    def sets(task_id: int) -> tuple[frozenset[str], frozenset[str]]:
        task = tasks[task_id]
        return picked(task.annotations[0]["result"]), picked(task.predictions[0].result)

    task_id = next(
        t
        for t in project.current["flagged_task_ids"]
        if len(sets(t)[1]) >= 2 and sets(t)[0] != sets(t)[1]
    )
    given, suggested = sets(task_id)
    in_order = [c for c in CLASSES if c in suggested]
    browser.open(f"/projects/{project.id}/data?task={task_id}")
    prediction_tab = page.get_by_text(version, exact=True)
    prediction_tab.wait_for()
    # The labeling view opens on the annotation: the annotator's set is what is checked.
    assert sorted(checked_choices(page)) == sorted(given)
    prediction_tab.click()
    page.wait_for_function(
        "labels => { const on = [...document.querySelectorAll('input[type=checkbox]:checked')]"
        ".map(e => (e.closest('label') || e.parentElement).innerText.trim()"
        ".replace(/\\[\\d+\\]$/, '')); return on.length === labels.length"
        " && labels.every(l => on.includes(l)); }",
        arg=in_order,
    )
    shown = checked_choices(page)
    print(
        f"\n[result] task {task_id}: annotation {sorted(given)}, page shows the suggestion {shown}"
    )
    assert shown == in_order  # the suggested topics, checked, in the config's order

    # A task whose suggestion is the empty set (an empty result): its prediction tab opens
    # with nothing checked (preferably one whose annotator did pick a topic).
    empty = sorted((t for t in tasks if not sets(t)[1]), key=lambda t: (not sets(t)[0], t))
    assert empty, "no task suggests the empty set"
    task_id = empty[0]
    given = sets(task_id)[0]
    browser.open(f"/projects/{project.id}/data?task={task_id}")
    prediction_tab = page.get_by_text(version, exact=True)
    prediction_tab.wait_for()
    assert sorted(checked_choices(page)) == sorted(given)
    prediction_tab.click()
    page.wait_for_function(
        "() => !document.querySelector('input[type=checkbox]:checked')", timeout=10_000
    )
    page.wait_for_timeout(300)  # nothing comes back checked a moment later
    print(f"[result] task {task_id}: annotation {sorted(given)}, empty suggestion: nothing checked")
    assert checked_choices(page) == []
    assert not browser.mobx_errors()
    assert not browser.log.errors, browser.log.errors


# --------------------------------------------------------------------------- 5


def test_fixing_a_flagged_set_reaudits_and_clears_it(ls, backend, browser, project):
    before = project.current
    old_version = before["model_version"]
    tasks = tasks_by_id(ls, project.id)
    task_id = next(t for t in before["flagged_task_ids"] if t in project.changed)
    (annotation,) = tasks[task_id].annotations
    old = tasks[task_id].predictions[0]
    true = project.truth[task_id]

    timer = Timer("re-audit latency after an annotator fixes a flagged set")
    off_tab = Timer("fixed task off the re-review tab (what the lead sees)")
    ls.annotations.update(id=annotation["id"], result=choices(true))
    view = review_tab(ls, project.id)

    def left_the_tab() -> bool:
        return task_id not in [t.id for t in ls.tasks.list(project=project.id, view=view.id)]

    wait_for(left_the_tab, timeout=120, what="the fixed task to leave the tab", every=0.25)
    off_tab.done()
    audit = backend.wait_audit(project.id, after=old_version, what="the re-audit after a fix")
    timer.done(f"{old_version} -> {audit['model_version']}")
    project.audits.append(audit)

    assert task_id not in audit["flagged_task_ids"]
    tasks = check_predictions(ls, backend, project)  # one prediction per task, new version
    assert picked(tasks[task_id].annotations[0]["result"]) == true
    assert task_id not in check_tab(ls, backend, project)
    (new,) = tasks[task_id].predictions
    print(
        f"\n[result] task {task_id} ({project.changed[task_id]}): score {old.score:.3f} -> "
        f"{new.score:.3f}, suggestion {sorted(picked(old.result))} -> {sorted(picked(new.result))}"
    )
    assert new.model_version != old.model_version
    assert new.score < old.score
    assert picked(new.result) == true
    versions = {p.model_version for t in tasks.values() for p in t.predictions or []}
    assert versions == {audit["model_version"]}  # the old version's predictions are gone

    # The lead's page follows: the fixed task is not among the rows.
    assert task_id not in check_page(browser, ls, project)
