"""Named-entity spans (``<Labels>`` over ``<Text>``) on a real Label Studio 1.23.2.

Template sentences with people, places and organisations (tests/backend/test_spans.py's
generator), ~12% of them with one error (a span's type flipped, or a span dropped), are
imported with their span annotations through label-studio-sdk, connected to ``labelaudit
serve`` + a real worker and audited after "Start Training". Then: the predictions Label
Studio stores (one per task: the spans the model suggests, each region with its own
score, valid for the config; the task's score = its worst span's suspicion), the "Needs
re-review" tab (exactly the tasks with a flagged span), the Data Manager and the labeling
view in headless Chromium, and the re-audit after an annotator fixes a flagged task.

Uses the e2e fixtures (a Label Studio in .e2e/venv); skipped with LABELAUDIT_SKIP_E2E=1.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.backend.test_spans import CLASSES, CONFIG, sentences
from tests.checks import validate_prediction
from tests.e2e.browser import footer_counts, open_review_tab
from tests.e2e.fixtures import Backend, Timer, review_tab, tasks_by_id
from tests.worker.support import wait_for

pytestmark = [pytest.mark.e2e]

N_TASKS = 240
SEED = 5


@dataclass
class NerProject:
    """The span project after Start Training: ids, the true spans, the errors, audits."""

    id: int
    truth: dict[int, list[dict[str, Any]]]  # task id -> the true result
    errors: dict[int, str]  # task id -> "flip" or "drop"
    audits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any]:
        return self.audits[-1]


@pytest.fixture(scope="module")
def project(ls, backend: Backend) -> NerProject:
    noisy, errors = sentences(N_TASKS, seed=SEED)
    created = ls.projects.create(title="scenario named entities", label_config=CONFIG)
    request = [
        {
            "data": t["data"],
            "annotations": [{"result": t["annotations"][0]["result"], "ground_truth": False}],
        }
        for t in noisy
    ]
    ids = ls.projects.import_tasks(id=created.id, request=request, return_task_ids=True).task_ids
    assert len(ids) == N_TASKS
    truth = {i: t["truth"] for i, t in zip(ids, noisy, strict=True)}
    wrong = {ids[t - 1]: kind for t, kind in errors.items()}
    ml = ls.ml.create(url=backend.url, project=created.id, title="labelaudit")
    assert ml.state == "CO", ml  # /health and /setup answered for a <Labels> config
    timer = Timer(f"first audit of {N_TASKS} span tasks (Start Training -> pushed)")
    ls.ml.train(id=ml.id)
    audit = backend.wait_audit(created.id, after=None, what="the span audit")
    timer.done(f"version {audit['model_version']}, {len(audit['flagged_task_ids'])} flagged")
    return NerProject(created.id, truth, wrong, [audit])


def span_rows(backend: Backend, project: NerProject) -> list[dict[str, str]]:
    answer = backend.get(f"/projects/{project.id}/issues.csv")
    assert answer.status_code == 200, answer.text
    return list(csv.DictReader(io.StringIO(answer.text)))


def check_predictions(ls, backend: Backend, project: NerProject) -> dict[int, Any]:
    """One prediction per task, of the current version, valid for the config: regions on
    the text with their own scores; the task's score is its worst span's suspicion."""
    version = project.current["model_version"]
    assert ls.projects.get(id=project.id).model_version == version
    worst: dict[int, float] = {}
    for row in span_rows(backend, project):
        task = int(row["task_id"])
        worst[task] = max(worst.get(task, 0.0), float(row["suspicion"]))
    tasks = tasks_by_id(ls, project.id)
    assert set(tasks) == set(project.truth)
    regions = 0
    for task in tasks.values():
        (prediction,) = task.predictions
        assert prediction.model_version == version
        validate_prediction(
            CONFIG,
            {"result": prediction.result, "score": prediction.score, "model_version": version},
        )
        text = task.data["text"]
        for r in prediction.result:
            value = r["value"]
            assert r["type"] == "labels" and value["labels"][0] in CLASSES
            assert text[value["start"] : value["end"]] == value["text"]
            assert 0.0 < r["score"] <= 1.0
            regions += 1
        if task.id in worst:
            assert prediction.score == pytest.approx(worst[task.id], abs=1e-6)
    assert regions >= 2 * len(tasks)  # every template sentence has two or three entities
    return tasks


def check_tab(ls, backend: Backend, project: NerProject) -> list[int]:
    """ "Needs re-review" holds exactly the tasks with a flagged span, most suspicious first."""
    flagged = {
        int(r["task_id"]) for r in span_rows(backend, project) if r["is_label_issue"] == "True"
    }
    assert set(project.current["flagged_task_ids"]) == flagged
    view = review_tab(ls, project.id)
    shown = list(ls.tasks.list(project=project.id, view=view.id, fields="all", page_size=100))
    ids = [t.id for t in shown]
    assert len(ids) == len(set(ids)) and set(ids) == flagged
    scores = [t.predictions[0].score for t in shown]
    assert scores == sorted(scores, reverse=True), scores
    return ids


def test_start_training_suggests_spans_and_flags_the_wrong_tasks(ls, backend, project):
    audit = project.current
    assert audit["task_kind"]["task_type"] == "spans"
    assert audit["task_kind"]["classes"] == list(CLASSES)
    assert audit["counts"]["annotated_tasks"] == N_TASKS
    assert audit["skipped"]["count"] == 0, audit["skipped"]
    check_predictions(ls, backend, project)
    check_tab(ls, backend, project)
    flagged = set(audit["flagged_task_ids"])
    caught = flagged & set(project.errors)
    print(
        f"\n[result] flagged {len(flagged)} of {N_TASKS} tasks; caught {len(caught)} of "
        f"{len(project.errors)} tasks with an error; span issues {audit['span_issues']}"
    )
    assert len(caught) >= 0.7 * len(project.errors)
    assert len(flagged - caught) <= 0.25 * len(flagged)


def test_the_page_renders_the_tab_and_the_suggested_spans(ls, browser, project):
    flagged = project.current["flagged_task_ids"]
    ids = open_review_tab(browser, project.id, "Needs re-review")
    assert ids and set(ids) <= set(flagged)
    assert footer_counts(browser.page) == (len(flagged), N_TASKS)
    # The labeling view: the prediction's tab shows the suggested spans as regions.
    task_id = ids[0]
    task = tasks_by_id(ls, project.id)[task_id]
    version = project.current["model_version"]
    page = browser.page
    browser.open(f"/projects/{project.id}/data?task={task_id}")
    prediction_tab = page.get_by_text(version, exact=True)
    prediction_tab.wait_for()
    prediction_tab.click()
    for r in task.predictions[0].result:
        page.get_by_text(r["value"]["text"], exact=True).first.wait_for()
    assert not browser.mobx_errors()
    assert not browser.log.errors, browser.log.errors


def test_fixing_a_flagged_task_reaudits_and_clears_it(ls, backend, project):
    before = project.current
    tasks = tasks_by_id(ls, project.id)
    task_id = next(t for t in before["flagged_task_ids"] if t in project.errors)
    (annotation,) = tasks[task_id].annotations
    timer = Timer("fixed span task off the re-review tab")
    ls.annotations.update(id=annotation["id"], result=project.truth[task_id])
    view = review_tab(ls, project.id)

    def left_the_tab() -> bool:
        return task_id not in [t.id for t in ls.tasks.list(project=project.id, view=view.id)]

    wait_for(left_the_tab, timeout=120, what="the fixed task to leave the tab", every=0.25)
    timer.done()
    audit = backend.wait_audit(
        project.id, after=before["model_version"], what="the re-audit after a fix"
    )
    project.audits.append(audit)
    assert task_id not in audit["flagged_task_ids"]
    assert task_id not in check_tab(ls, backend, project)
    check_predictions(ls, backend, project)
