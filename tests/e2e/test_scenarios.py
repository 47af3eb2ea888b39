"""Scenarios against a real Label Studio 1.23.2 driving a real backend, as a user's would.

Label Studio (tests/conftest.py) connects to ``labelaudit serve`` (Redis mode) with a real
``labelaudit worker`` behind it (tests/e2e/fixtures.py). Everything goes through
label-studio-sdk: ``ls.ml.create`` connects the model (Label Studio then calls /health and
/setup and creates the project webhook), ``ls.ml.train`` is "Start Training", annotation
updates and deletes make Label Studio itself send the webhooks, the Data Manager action
"Retrieve predictions" makes it call /predict. Timings are printed (``pytest -s`` or
``-rP`` shows them).

Uses the e2e fixtures (a Label Studio in .e2e/venv); skipped with LABELAUDIT_SKIP_E2E=1.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from label_studio_sdk.core.api_error import ApiError

from backend.labelstudio.inplace import SCORE_TOLERANCE
from backend.labelstudio.push import version_number
from tests.checks import validate_prediction
from tests.e2e.browser import (
    checked_choices,
    footer_counts,
    open_review_tab,
    tab_titles,
)
from tests.e2e.fixtures import (
    EXAMPLES,
    Backend,
    Timer,
    example,
    given_label,
    review_tab,
    tasks_by_id,
)
from tests.worker.support import wait_for

pytestmark = [pytest.mark.e2e]

HELD_OUT = 20  # text tasks kept out of the first import, for "Retrieve predictions"


def choice(control: str, obj: str, label: str) -> list[dict[str, Any]]:
    return [
        {"from_name": control, "to_name": obj, "type": "choices", "value": {"choices": [label]}}
    ]


@dataclass
class TextProject:
    """The text project after Start Training: ids, truth, the audit summaries so far."""

    id: int
    config: str
    truth: dict[int, str]  # Label Studio task id -> true label
    flipped: set[int]  # Label Studio task ids whose imported label is wrong
    held_out: list[dict[str, Any]]  # export tasks not imported yet
    audits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any]:
        return self.audits[-1]


@pytest.fixture(scope="module")
def text_project(ls, backend: Backend) -> TextProject:
    """Import the text example (10% of labels flipped), connect the model, Start Training."""
    config, export, truth = example("text")
    imported, held_out = export[:-HELD_OUT], export[-HELD_OUT:]
    project = ls.projects.create(title="scenario text", label_config=config)
    request = []
    for task in imported:
        first = task["annotations"][0]  # annotator 1, the one whose labels were flipped
        request.append(
            {
                "data": task["data"],
                "annotations": [{"result": first["result"], "ground_truth": False}],
            }
        )
    ids = ls.projects.import_tasks(id=project.id, request=request, return_task_ids=True).task_ids
    assert len(ids) == len(imported)
    stored = tasks_by_id(ls, project.id)
    ls_truth, flipped = {}, set()
    for task_id, task in zip(ids, imported, strict=True):
        assert stored[task_id].data["text"] == task["data"]["text"]
        ls_truth[task_id] = truth[task["id"]]
        if given_label(stored[task_id]) != truth[task["id"]]:
            flipped.add(task_id)
    assert 30 <= len(flipped) <= 50

    ml = ls.ml.create(url=backend.url, project=project.id, title="labelaudit")
    assert ml.state == "CO", ml  # connected: /health and /setup answered
    timer = Timer(f"first audit of {len(ids)} text tasks (Start Training -> predictions pushed)")
    ls.ml.train(id=ml.id)
    audit = backend.wait_audit(project.id, after=None, what="the audit after Start Training")
    timer.done(f"version {audit['model_version']}, {len(audit['flagged_task_ids'])} flagged")
    return TextProject(project.id, config, ls_truth, flipped, held_out, [audit])


def shown_version(ls, project: TextProject) -> str:
    """The project's model_version: the current audit's, or an earlier audit's that later
    audits updated in place (never a later one)."""
    version = ls.projects.get(id=project.id).model_version
    assert version_number(version) is not None, version
    assert version_number(version) <= version_number(project.current["model_version"])
    return version


def check_predictions(ls, project: TextProject) -> dict[int, Any]:
    """Every annotated task: exactly one prediction, of the project's model_version, valid."""
    version = shown_version(ls, project)
    tasks = tasks_by_id(ls, project.id)
    for task in tasks.values():
        predictions = list(task.predictions or [])
        if not task.annotations:
            # Not audited: no suspicion may be claimed about it (a /predict answer is fine).
            assert all(p.model_version == version and p.score is None for p in predictions), (
                task.id,
                predictions,
            )
            continue
        assert len(predictions) == 1, (task.id, predictions)
        (prediction,) = predictions
        assert prediction.model_version == version
        assert 0.0 <= prediction.score <= 1.0
        validate_prediction(
            project.config,
            {"result": prediction.result, "score": prediction.score, "model_version": version},
        )
    return tasks


def check_tab(ls, project: TextProject) -> list[int]:
    """The "Needs re-review" tab holds exactly the flagged tasks, most suspicious first."""
    view = review_tab(ls, project.id)
    shown = list(ls.tasks.list(project=project.id, view=view.id, fields="all", page_size=100))
    ids = [t.id for t in shown]
    assert sorted(ids) == sorted(project.current["flagged_task_ids"])
    scores = [max(p.score for p in t.predictions) for t in shown]
    assert scores == sorted(scores, reverse=True), scores
    return ids


def suggestion(task: Any) -> str:
    return task.predictions[0].result[0]["value"]["choices"][0]


# --------------------------------------------------------------------------- 1


def test_start_training_audits_and_flags_the_injected_noise(ls, backend, text_project):
    audit = text_project.current
    assert audit["model_version"].startswith("labelaudit-")
    job = backend.get(f"/jobs/{audit['job']}").json()
    assert job["state"] == "succeeded" and job["model_version"] == audit["model_version"], job
    tasks = check_predictions(ls, text_project)
    assert len(tasks) == len(text_project.truth)
    flagged = set(audit["flagged_task_ids"])
    check_tab(ls, text_project)
    caught = flagged & text_project.flipped
    print(
        f"\n[result] flagged {len(flagged)} tasks, {len(caught)} of "
        f"{len(text_project.flipped)} injected flips"
    )
    assert len(caught) >= 0.8 * len(text_project.flipped)
    assert len(flagged - text_project.flipped) <= len(text_project.flipped)  # precision >= ~50%
    # The suggestion of a caught flip is mostly its true label (the model is not perfect).
    right = sum(suggestion(tasks[t]) == text_project.truth[t] for t in caught)
    print(f"[result] {right} of {len(caught)} caught flips suggest the true label")
    assert right >= 0.85 * len(caught)


# --------------------------------------------------------------------------- 1, as a lead sees it


def check_page(browser, ls, project: TextProject) -> list[int]:
    """The Data Manager renders the review tab: the flagged tasks, most suspicious first, by
    the score Label Studio holds (a re-audit written in place keeps a score that moved by
    less than SCORE_TOLERANCE, so two flagged tasks that close may trade places)."""
    flagged = project.current["flagged_task_ids"]
    ids = open_review_tab(browser, project.id, "Needs re-review")
    assert len(ids) >= min(len(flagged), 8), ids  # the table renders what fits the window
    tasks = tasks_by_id(ls, project.id)
    held = {t: max(p.score for p in tasks[t].predictions) for t in flagged}
    by_score = sorted(flagged, key=lambda t: -held[t])
    assert [held[t] for t in ids] == [held[t] for t in by_score[: len(ids)]], ids
    assert set(ids) <= set(flagged)
    assert footer_counts(browser.page) == (len(flagged), len(project.truth))
    return ids


def test_the_project_page_renders_the_review_tab_and_the_suggestion(ls, browser, text_project):
    page = browser.page
    check_page(browser, ls, text_project)
    assert tab_titles(page)[0] == "Default"  # the lead still has every task a click away
    headers = page.locator(".lsf-table-head").inner_text()
    for column in ("ID", "Annotation results", "Prediction score", "Prediction results", "text"):
        assert column in headers, headers
    assert "Inner ID" not in headers and "Upload filename" not in headers

    # The most suspicious task: its prediction tab is there, and shows the suggestion.
    version = shown_version(ls, text_project)
    task_id = text_project.current["flagged_task_ids"][0]
    tasks = tasks_by_id(ls, text_project.id)
    page.locator(".lsf-table-row").first.click()
    page.wait_for_url(re.compile(rf".*[?&]task={task_id}\b.*"))
    prediction_tab = page.get_by_text(version, exact=True)
    prediction_tab.wait_for()
    assert checked_choices(page) == [given_label(tasks[task_id])]  # the annotator's label
    prediction_tab.click()
    page.wait_for_function(
        "label => [...document.querySelectorAll('input[type=checkbox]:checked')]"
        ".some(e => (e.closest('label') || e.parentElement).innerText.startsWith(label))",
        arg=suggestion(tasks[task_id]),
    )
    assert checked_choices(page) == [suggestion(tasks[task_id])]
    assert not browser.mobx_errors()


def test_settings_model_shows_the_audit(ls, browser, text_project):
    audit = text_project.current
    flagged, total = len(audit["flagged_task_ids"]), len(text_project.truth)
    state = f"{audit['model_version']}: {flagged} of {total} tasks to re-review"
    (model,) = ls.ml.list(project=text_project.id)
    assert model.title == f"labelaudit · {state}"
    browser.open(f"/projects/{text_project.id}/settings/ml")
    browser.page.get_by_text(state, exact=False).wait_for()


def test_the_backend_report_page(browser, backend, label_studio, text_project):
    """The report opens in a browser, links each task into Label Studio, serves its files."""
    page, audit = browser.page, text_project.current
    page.goto(f"{backend.url}/projects/{text_project.id}/report")
    assert page.title() == "labelaudit report — scenario text"
    links = page.eval_on_selector_all(
        "table a[href*='/data?task=']", "links => links.map(a => [a.innerText, a.href])"
    )
    flagged = audit["flagged_task_ids"]
    assert [int(text) for text, _ in links] == flagged[: len(links)]
    assert len(links) == min(len(flagged), 50)
    # The link uses the address Label Studio announces in /setup: LABEL_STUDIO_HOST, unset
    # here, so http://localhost:<its port>.
    port = urlsplit(label_studio.url).port
    page_path = f"/projects/{text_project.id}/data?task={flagged[0]}"
    assert links[0][1] == f"http://localhost:{port}{page_path}"
    assert label_studio.token not in page.content()
    for name in ("issues.csv", "predictions.json", "summary.json"):
        href = page.eval_on_selector(f"a[href$='{name}']", "a => a.href")
        assert httpx.get(href, timeout=10).status_code == 200, href
    browser.open(page_path)  # the lead follows the link (logged in on 127.0.0.1, not localhost)
    page.get_by_text(audit["model_version"], exact=True).wait_for()


# --------------------------------------------------------------------------- 2


def test_fixing_a_flagged_task_reaudits_and_clears_it(ls, backend, text_project):
    before = text_project.current
    old_version = before["model_version"]
    tasks = tasks_by_id(ls, text_project.id)
    task_id = next(t for t in before["flagged_task_ids"] if t in text_project.flipped)
    (annotation,) = tasks[task_id].annotations
    true = text_project.truth[task_id]

    timer = Timer("re-audit latency after an annotator fixes a flagged task")
    off_tab = Timer("fixed task off the re-review tab (what the lead sees)")
    ls.annotations.update(id=annotation["id"], result=choice("label", "text", true))
    view = review_tab(ls, text_project.id)

    def left_the_tab() -> bool:
        return task_id not in [t.id for t in ls.tasks.list(project=text_project.id, view=view.id)]

    wait_for(left_the_tab, timeout=120, what="the fixed task to leave the tab", every=0.25)
    off_tab.done()
    audit = backend.wait_audit(text_project.id, after=old_version, what="the re-audit after a fix")
    timer.done(f"{old_version} -> {audit['model_version']} (updated in place)")
    text_project.audits.append(audit)

    assert task_id not in audit["flagged_task_ids"]
    shown = ls.projects.get(id=text_project.id).model_version
    tasks = check_predictions(ls, text_project)  # also: one prediction per task, shown version
    assert task_id not in check_tab(ls, text_project)
    assert suggestion(tasks[task_id]) == true
    versions = {p.model_version for t in tasks.values() for p in t.predictions or []}
    assert versions == {shown}  # one version: changed in place, nothing else left
    # What Label Studio shows is the re-audit's: each suggestion, each score within the
    # push's tolerance, and /predict answers the same.
    asked = {"tasks": [{"id": t, "data": {}} for t in tasks], "project": f"{text_project.id}.1"}
    answers = backend.post("/predict", json=asked).json()["results"]
    for task, answer in zip(tasks.values(), answers, strict=True):
        if task.annotations:
            (prediction,) = task.predictions
            assert prediction.result == answer["result"] and prediction.score == answer["score"]
    audited = backend.get(f"/projects/{text_project.id}/predictions.json").json()
    pushed = {p["task"]: p for p in audited}
    for key, task in tasks.items():
        if task.annotations:
            (prediction,) = task.predictions
            shown, wanted = prediction.result[0], pushed[key]["result"][0]
            assert shown["value"] == wanted["value"] and ("meta" in shown) == ("meta" in wanted)
            assert abs(prediction.score - pushed[key]["score"]) <= SCORE_TOLERANCE
    assert (
        backend.get(f"/versions?project={text_project.id}").json()["versions"][0]
        == (audit["model_version"])
    )


def test_the_page_follows_the_reaudit(ls, browser, text_project):
    """After a re-audit rewrote the tab, the page still renders it, with the new list."""
    ids = check_page(browser, ls, text_project)
    fixed = set(text_project.audits[-2]["flagged_task_ids"]) - set(
        text_project.current["flagged_task_ids"]
    )
    assert fixed and not fixed & set(ids)


# --------------------------------------------------------------------------- 3


def test_deleting_an_annotation_reaudits_without_stale_labels(ls, backend, text_project):
    """After a delete, the task is no longer audited: it is not flagged, not in the tab, and
    no prediction on it carries a suspicion (a score) about the label that was deleted."""
    before = text_project.current
    old_version = before["model_version"]
    tasks = tasks_by_id(ls, text_project.id)
    task_id = next(t for t in before["flagged_task_ids"] if t in text_project.flipped)
    (annotation,) = tasks[task_id].annotations

    timer = Timer("re-audit latency after an annotation is deleted")
    ls.annotations.delete(id=annotation["id"])
    audit = backend.wait_audit(
        text_project.id, after=old_version, what="the re-audit after a delete"
    )
    timer.done(f"{old_version} -> {audit['model_version']}")
    text_project.audits.append(audit)

    assert audit["counts"]["annotated_tasks"] == before["counts"]["annotated_tasks"] - 1
    assert task_id not in audit["flagged_task_ids"]
    tasks = check_predictions(ls, text_project)
    assert not tasks[task_id].annotations
    assert not tasks[task_id].predictions  # the stale audit prediction was removed
    assert task_id not in check_tab(ls, text_project)

    # Opening the task makes Label Studio ask /predict: a suggestion, but no suspicion.
    ls.tasks.get(id=task_id)
    (prediction,) = wait_for(
        lambda: ls.tasks.get(id=task_id).predictions, timeout=30, what="/predict", every=0.5
    )
    assert prediction.model_version == shown_version(ls, text_project)
    assert prediction.score is None


# --------------------------------------------------------------------------- 4


def test_retrieve_predictions_on_new_tasks(ls, backend, text_project):
    version = shown_version(ls, text_project)
    held_out = text_project.held_out
    _, _, truth = example("text")
    ids = ls.projects.import_tasks(
        id=text_project.id, request=[{"data": t["data"]} for t in held_out], return_task_ids=True
    ).task_ids

    timer = Timer(f"Retrieve predictions for {len(ids)} new tasks")
    ls.actions.create(
        id="retrieve_tasks_predictions",
        project=text_project.id,
        selected_items={"all": False, "included": list(ids)},
    )

    def predicted() -> dict[int, Any] | None:
        tasks = tasks_by_id(ls, text_project.id)
        return tasks if all(tasks[i].predictions for i in ids) else None

    tasks = wait_for(predicted, timeout=60, what="predictions on the new tasks", every=0.5)
    timer.done()
    right = 0
    for task_id, source in zip(ids, held_out, strict=True):
        (prediction,) = tasks[task_id].predictions
        assert prediction.model_version == version
        assert prediction.score is None  # nothing annotated, nothing suspected
        validate_prediction(
            text_project.config, {"result": prediction.result, "model_version": version}
        )
        right += suggestion(tasks[task_id]) == truth[source["id"]]
    print(f"\n[result] {right} of {len(ids)} new tasks predicted right")
    assert right >= 0.75 * len(ids)
    # New tasks trigger no audit and never enter the review tab.
    assert text_project.current["model_version"] == backend.audit(text_project.id)["model_version"]
    assert not set(ids) & set(check_tab(ls, text_project))


# --------------------------------------------------------------------------- 5


def test_two_annotators_each_flag_points_at_its_annotation(ls, backend):
    config, export, truth = example("text")
    export = export[:200]
    classes = sorted({truth[t["id"]] for t in export})
    second = int(ls.users.create(email="annotator2@example.com", username="annotator2").id)
    project = ls.projects.create(title="scenario two annotators", label_config=config)
    clean = [t for t in export if given_label_of(t) == truth[t["id"]]]
    wrong_second = {t["id"] for t in clean[:10]}  # annotator 2 disagrees, wrongly
    right_second = {t["id"] for t in clean[10:20]}  # annotator 2 agrees
    request = []
    for task in export:
        annotations = [{"result": task["annotations"][0]["result"], "ground_truth": False}]
        if task["id"] in wrong_second | right_second:
            label = truth[task["id"]]
            if task["id"] in wrong_second:
                label = classes[(classes.index(label) + 1) % len(classes)]
            annotations.append(
                {
                    "result": choice("label", "text", label),
                    "completed_by": second,
                    "ground_truth": False,
                }
            )
        request.append({"data": task["data"], "annotations": annotations})
    ids = ls.projects.import_tasks(id=project.id, request=request, return_task_ids=True).task_ids
    ls_id = {task["id"]: task_id for task, task_id in zip(export, ids, strict=True)}
    stored = tasks_by_id(ls, project.id)
    for source_id in wrong_second | right_second:
        assert sorted(a["completed_by"] for a in stored[ls_id[source_id]].annotations) == sorted(
            [stored[ls_id[source_id]].annotations[0]["completed_by"], second]
        )
        assert len({a["completed_by"] for a in stored[ls_id[source_id]].annotations}) == 2

    ml = ls.ml.create(url=backend.url, project=project.id, title="labelaudit")
    assert ml.state == "CO", ml
    timer = Timer(f"audit of {len(ids)} tasks, {len(ids) + 20} annotations")
    ls.ml.train(id=ml.id)
    audit = backend.wait_audit(project.id, after=None, what="the two-annotator audit")
    timer.done()
    assert audit["counts"]["audited_annotations"] == len(ids) + 20

    answer = backend.get(f"/projects/{project.id}/issues.csv")
    assert answer.status_code == 200
    rows = [
        (int(row["task_id"]), row["annotator"], row["given_label"], row["suggested_label"])
        for row in csv.DictReader(io.StringIO(answer.text))
        if row["is_label_issue"] == "True"
    ]
    assert len(rows) == audit["counts"]["flagged_annotations"]
    tasks = tasks_by_id(ls, project.id)
    email = {user.id: user.email for user in ls.users.list()}
    labels = {  # (task id, annotator's email) -> the label that annotator gave
        (task.id, email[a["completed_by"]]): a["result"][0]["value"]["choices"][0]
        for task in tasks.values()
        for a in task.annotations
    }
    two = {ls_id[s] for s in wrong_second | right_second}
    for task_id, annotator, given, _ in rows:
        # Every flag names an annotation that exists, by its annotator, with its label.
        assert labels[(task_id, annotator)] == given, (task_id, annotator, given)
    caught = [r for r in rows if r[1] == email[second] and r[0] in {ls_id[s] for s in wrong_second}]
    for task_id, _, given, _ in caught:
        source_id = next(s for s in wrong_second if ls_id[s] == task_id)
        assert given != truth[source_id]
        assert task_id in audit["flagged_task_ids"]
    on_two = [r for r in rows if r[0] in two]
    print(
        f"\n[result] {len(caught)} of {len(wrong_second)} wrong second annotations flagged "
        f"(on annotator {second}); flags on two-annotator tasks: {on_two}"
    )
    # 200 short texts make a weak model: it misses some, and sometimes flags the annotator
    # who was right (seen: 7 of 10 caught, 2 flags on annotator 1); the data is fixed and
    # the audit seeded, so this is deterministic.
    assert len(caught) >= 0.6 * len(wrong_second)


def given_label_of(task: dict[str, Any]) -> str:
    return task["annotations"][0]["result"][0]["value"]["choices"][0]


# --------------------------------------------------------------------------- 8

RECTANGLES = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image">
    <Label value="cat"/><Label value="dog"/>
  </RectangleLabels>
</View>"""


def test_unsupported_label_config_is_refused_clearly(ls, backend, label_studio):
    project = ls.projects.create(title="scenario rectangles", label_config=RECTANGLES)
    with pytest.raises(ApiError) as raised:
        ls.ml.create(url=backend.url, project=project.id, title="labelaudit")
    # Label Studio 1.23.2 does not relay the backend's answer: only "400 ... /setup".
    message = str(raised.value.body)
    print(f"\n[result] connecting answered {raised.value.status_code}: {message[:400]}")
    assert raised.value.status_code == 400
    assert "/setup" in message and "400" in message
    assert not list(ls.ml.list(project=project.id))
    # What the backend answered Label Studio's /setup (the same body Label Studio sends):
    setup = backend.post(
        "/setup",
        json={
            "project": f"{project.id}.1764300000",
            "schema": RECTANGLES,
            "hostname": label_studio.url,
            "access_token": label_studio.token,
            "extra_params": None,
        },
    )
    assert setup.status_code == 400
    assert "RectangleLabels" in setup.text, setup.text
    print(f"[result] /setup answered 400: {setup.text[:300]}")
    answer = backend.post(f"/projects/{project.id}/audit")
    # The project never connected (its /setup was refused): it is not audited, said clearly.
    assert answer.status_code == 404, answer.text
    assert f"project {project.id} is not connected to labelaudit" in answer.json()["error"]
    health = httpx.get(f"{backend.url}/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "UP"


# --------------------------------------------------------------------------- 6

N_IMAGES = 200


def test_uploaded_images_are_audited_through_the_image_featurizer(ls, backend, label_studio):
    config, export, truth = example("image")
    export = export[:N_IMAGES]
    project = ls.projects.create(title="scenario images", label_config=config)
    folder = EXAMPLES / "image"
    files = [
        # One form field per file: several files under one field name make one task.
        (
            Path(t["data"]["image"]).name,
            (Path(t["data"]["image"]).name, (folder / t["data"]["image"]).read_bytes()),
        )
        for t in export
    ]
    timer = Timer(f"upload {len(files)} PNGs and annotate them through the API")
    # Django's DATA_UPLOAD_MAX_NUMBER_FILES (100) caps one upload: send 50 at a time.
    for start in range(0, len(files), 50):
        answer = httpx.post(
            f"{label_studio.url}/api/projects/{project.id}/import",
            headers={"Authorization": f"Token {label_studio.token}"},
            files=files[start : start + 50],
            timeout=120,
        )
        assert answer.status_code == 201, answer.text
    by_name = {Path(t["data"]["image"]).name: t for t in export}
    tasks = tasks_by_id(ls, project.id)
    assert len(tasks) == len(export)
    flipped, ls_truth = set(), {}
    for task in tasks.values():
        assert task.data["image"].startswith("/data/upload/")
        # Label Studio names an upload "<8 hex>-<original name>".
        source = by_name[task.data["image"].rsplit("/", 1)[1].split("-", 1)[1]]
        label = given_label_of(source)
        ls.annotations.create(
            id=task.id, result=choice("digit", "image", label), project=project.id
        )
        ls_truth[task.id] = truth[source["id"]]
        if label != truth[source["id"]]:
            flipped.add(task.id)
    timer.done()
    assert flipped

    ml = ls.ml.create(url=backend.url, project=project.id, title="labelaudit")
    assert ml.state == "CO", ml
    timer = Timer(f"audit of {len(tasks)} uploaded images (fetched from Label Studio)")
    ls.ml.train(id=ml.id)
    audit = backend.wait_audit(project.id, after=None, what="the image audit")
    timer.done(f"{len(audit['flagged_task_ids'])} flagged")
    assert audit["task_kind"]["input_type"] == "image"
    assert audit["counts"]["annotated_tasks"] == len(tasks)
    assert audit["skipped"]["count"] == 0, audit["skipped"]
    caught = set(audit["flagged_task_ids"]) & flipped
    print(f"\n[result] images: {len(caught)} of {len(flipped)} injected flips flagged")
    assert len(caught) >= 0.6 * len(flipped)
    version = audit["model_version"]
    for task in tasks_by_id(ls, project.id).values():
        (prediction,) = task.predictions
        assert prediction.model_version == version and 0.0 <= prediction.score <= 1.0
        validate_prediction(config, {"result": prediction.result, "model_version": version})


# --------------------------------------------------------------------------- 9


def small_text_project(ls, backend: Backend, title: str, n: int) -> tuple[int, str]:
    """A connected text project of ``n`` tasks from the example (labels as annotated)."""
    config, export, _ = example("text")
    project = ls.projects.create(title=title, label_config=config)
    request = [
        {
            "data": t["data"],
            "annotations": [{"result": t["annotations"][0]["result"], "ground_truth": False}],
        }
        for t in export[:n]
    ]
    ls.projects.import_tasks(id=project.id, request=request)
    ml = ls.ml.create(url=backend.url, project=project.id, title="labelaudit")
    assert ml.state == "CO", ml
    return project.id, config


def wait_job(backend: Backend, job: str, states: set[str]) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        record = backend.get(f"/jobs/{job}").json()
        return record if record.get("state") in states else None

    return wait_for(finished, timeout=120, what=f"job {job} to reach {sorted(states)}", every=0.25)


def test_a_label_config_turned_unsupported_gives_a_clear_job_error(ls, backend: Backend):
    project, config = small_text_project(ls, backend, "scenario config change", 120)
    started = backend.post(f"/projects/{project}/audit")
    assert started.status_code == 202, started.text
    first = wait_job(backend, started.json()["job"], {"succeeded", "failed"})
    assert first["state"] == "succeeded", first
    version = ls.projects.get(id=project).model_version

    # A second Choices control: Label Studio accepts it (old annotations stay valid), but
    # labelaudit audits exactly one Choices.
    extra = (
        '<Choices name="tone" toName="text"><Choice value="calm"/><Choice value="loud"/></Choices>'
    )
    ls.projects.update(id=project, label_config=config.replace("</View>", extra + "</View>"))
    answer = backend.post(f"/projects/{project}/audit")
    assert answer.status_code == 202, answer.text
    failed = wait_job(backend, answer.json()["job"], {"succeeded", "failed"})
    assert failed["state"] == "failed", failed
    assert "Choices" in failed["error"] and "Traceback" not in failed["error"], failed["error"]
    assert backend.get("/health").json()["status"] == "UP"
    # Nothing is lost: the last good audit's predictions and version stay in place.
    assert ls.projects.get(id=project).model_version == version
    tasks = tasks_by_id(ls, project)
    assert all(len(t.predictions) == 1 for t in tasks.values())


# --------------------------------------------------------------------------- 7


def test_a_worker_killed_mid_audit_is_replaced_and_the_audit_finishes(ls, backend: Backend):
    from tests.worker.conftest import wait_ready
    from tests.worker.support import start_worker, stop_worker

    project, _ = small_text_project(ls, backend, "scenario worker crash", 300)
    started = backend.post(f"/projects/{project}/audit")
    assert started.status_code == 202, started.text
    job = started.json()["job"]
    seen = wait_job(backend, job, {"running", "succeeded", "failed"})
    assert seen["state"] == "running", seen  # the kill must land mid-audit
    stop_worker(backend.worker, hard=True)  # SIGKILL to the whole process group, mid-audit
    timer = Timer("audit finishing after its worker was killed and a new one started")
    log = backend.root / "worker-replacement.log"
    backend.worker = start_worker(backend.env, log, concurrency=2)
    wait_ready(log, backend.worker)
    done = wait_job(backend, job, {"succeeded", "failed"})
    timer.done(done["state"])
    assert done["state"] == "succeeded", done
    version = ls.projects.get(id=project).model_version
    for task in tasks_by_id(ls, project).values():
        current = [p for p in task.predictions if p.model_version == version]
        assert len(current) == 1 and len(task.predictions) == 1, (task.id, task.predictions)
