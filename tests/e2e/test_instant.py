"""Instant feedback and remembered verdicts against a real Label Studio 1.23.2.

A text project (the bundled example, 10% of labels flipped) is audited after Start
Training, with ``labelaudit serve`` and one ``labelaudit worker`` (Redis mode) behind it
(tests/e2e/fixtures.py). Then, as an annotator would through the API:

* 20 flagged tasks are fixed one after another (label changed to the suggestion); for each,
  the time from the save to the task leaving the "Needs re-review" tab (the tab polled
  through the API every 100 ms) is measured, and p50/p95 printed (``-s`` shows them);
  debounced full re-audits run meanwhile, as they follow every change;
* a flagged annotation is saved again unchanged: it is confirmed, and never flagged again
  across two more audits; one more is kept the way a person does it in the labeling view
  (headless Chromium): Label Studio 1.23.2 greys Update out while nothing changed, so the
  choice is clicked off and on and Update pressed, which Label Studio sends as
  ANNOTATION_UPDATED with the same label;
* the Data Manager page still renders the tab after all of it.

Uses the e2e fixtures (a Label Studio in .e2e/venv); skipped with LABELAUDIT_SKIP_E2E=1.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest

from backend.labelstudio.push import version_number
from tests.e2e.browser import open_review_tab
from tests.e2e.fixtures import Backend, Timer, example, review_tab, tasks_by_id
from tests.worker.support import wait_for

pytestmark = [pytest.mark.e2e]

FIXES = 20
#: How often the tab is looked at while waiting for a fixed task to leave it, seconds.
POLL_SECONDS = 0.1
#: The goal (issue 11), measured here and recorded in bench/RESULTS.md: a fixed task off
#: the tab within 3 s of the save, p95 over 20 fixes.
GOAL_P95_SECONDS = 3.0
#: A fix that has not left the tab after this long counts as never (fails the p95).
GIVE_UP_SECONDS = 60.0


def choice(label: str) -> list[dict[str, Any]]:
    return [
        {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}
    ]


def label_of(result: list[dict[str, Any]]) -> str:
    return result[0]["value"]["choices"][0]


@dataclass
class Project:
    id: int
    view: int
    audits: list[dict[str, Any]] = field(default_factory=list)
    fixed: set[int] = field(default_factory=set)
    kept: set[int] = field(default_factory=set)


@pytest.fixture(scope="module")
def project(ls, backend: Backend) -> Project:
    """The text example imported (annotator 1's labels), connected, Start Training."""
    config, export, _ = example("text")
    created = ls.projects.create(title="instant feedback", label_config=config)
    request = [
        {
            "data": task["data"],
            "annotations": [{"result": task["annotations"][0]["result"], "ground_truth": False}],
        }
        for task in export
    ]
    ls.projects.import_tasks(id=created.id, request=request)
    ml = ls.ml.create(url=backend.url, project=created.id, title="labelaudit")
    assert ml.state == "CO", ml
    timer = Timer(f"first audit of {len(export)} text tasks")
    ls.ml.train(id=ml.id)
    audit = backend.wait_audit(created.id, after=None, what="the audit after Start Training")
    timer.done(f"{len(audit['flagged_task_ids'])} flagged")
    return Project(created.id, review_tab(ls, created.id).id, [audit])


def on_tab(ls, project: Project) -> set[int]:
    """The task ids the review tab lists now, through the API (ids only: a quick look)."""
    listed = ls.tasks.list(project=project.id, view=project.view, page_size=500, include="id")
    return {t.id for t in listed}


def prediction_of(ls, project: Project, task_id: int) -> Any:
    """The task's one labelaudit prediction of the project's current model_version."""
    version = ls.projects.get(id=project.id).model_version
    predictions = ls.tasks.get(id=task_id).predictions or []
    current = [p for p in predictions if p.model_version == version]
    assert len(current) == 1, (task_id, predictions)
    return current[0]


def live(backend: Backend, project: Project) -> dict[str, Any]:
    record = backend.get(f"/projects/{project.id}/audit").json()
    return record


def settle(backend: Backend, project: Project) -> dict[str, Any]:
    """Wait until no audit of the project is scheduled or running; return its record."""

    def idle() -> dict[str, Any] | None:
        record = live(backend, project)
        activity = record["activity"]
        return record if not activity["scheduled"] and not activity["running"] else None

    return wait_for(idle, timeout=300, what="the project's audits to settle", every=0.5)


def test_a_fixed_task_leaves_the_tab_within_seconds(ls, backend, project):
    flagged = list(project.audits[0]["flagged_task_ids"])
    assert len(flagged) >= FIXES + 5, flagged
    seconds: list[float] = []
    saves: list[float] = []  # how long Label Studio took to answer the save itself
    for task_id in flagged:
        if len(seconds) == FIXES:
            break
        if task_id not in on_tab(ls, project):
            continue  # a re-audit meanwhile cleared it (or its suggestion changed)
        task = ls.tasks.get(id=task_id)
        (annotation,) = task.annotations
        suggested = label_of(prediction_of(ls, project, task_id).result)
        if suggested == label_of(annotation["result"]):
            continue
        started = time.perf_counter()
        ls.annotations.update(id=annotation["id"], result=choice(suggested))  # the save
        saves.append(time.perf_counter() - started)
        while task_id in on_tab(ls, project):
            if time.perf_counter() - started > GIVE_UP_SECONDS:
                break
            time.sleep(POLL_SECONDS)
        seconds.append(time.perf_counter() - started)
        project.fixed.add(task_id)
    assert len(seconds) == FIXES, seconds
    p50, p95 = np.percentile(seconds, [50, 95])
    print(
        f"\n[result] fixed task off the tab, {FIXES} fixes: p50 {p50:.2f} s, p95 {p95:.2f} s, "
        f"max {max(seconds):.2f} s (goal p95 < {GOAL_P95_SECONDS} s: "
        f"{'met' if p95 < GOAL_P95_SECONDS else 'MISSED'}); "
        f"each: {', '.join(f'{s:.2f}' for s in seconds)}"
        f"\n[result] of which Label Studio answering the save (PATCH, webhook included): "
        f"p50 {np.median(saves):.2f} s, max {max(saves):.2f} s"
    )
    # Every fixed task left the tab. How fast is measured and printed, not asserted (a
    # shared 2-core machine once gave p95 4.6 s): bench/RESULTS.md, "Instant feedback".
    assert max(seconds) < GIVE_UP_SECONDS, seconds

    # The debounced re-audits that followed agree: no fixed task is flagged, every task
    # shows one prediction of the current version, the tab holds exactly the flagged tasks.
    record = settle(backend, project)
    summary = record["summary"]
    project.audits.append(summary)
    assert not project.fixed & set(summary["flagged_task_ids"])
    assert on_tab(ls, project) == set(summary["flagged_task_ids"])
    # (the project's version: this audit's, or an earlier one's it updated in place)
    version = ls.projects.get(id=project.id).model_version
    assert version_number(version) <= version_number(summary["model_version"]), version
    for task in tasks_by_id(ls, project.id).values():
        assert [p.model_version for p in task.predictions] == [version], task.id
    verdicts = summary["verdicts"]
    print(f"[result] verdicts after the fixes: {verdicts}")
    assert verdicts["fixed"] >= FIXES - 2  # a re-audit may have cleared a fixed flag itself


def test_a_kept_label_is_never_flagged_again(ls, backend, project):
    record = settle(backend, project)
    candidates = [t for t in record["summary"]["flagged_task_ids"] if t not in project.fixed]
    task_id = candidates[0]
    (annotation,) = ls.tasks.get(id=task_id).annotations
    before = record["summary"]["verdicts"]["confirmed"]
    started = time.perf_counter()
    ls.annotations.update(id=annotation["id"], result=annotation["result"])  # kept as it is
    wait_for(
        lambda: task_id not in on_tab(ls, project),
        timeout=GIVE_UP_SECONDS,
        what="the confirmed task to leave the tab",
        every=POLL_SECONDS,
    )
    print(f"\n[result] confirmed task off the tab in {time.perf_counter() - started:.2f} s")
    project.kept.add(task_id)
    assert live(backend, project)["summary"]["verdicts"]["confirmed"] == before + 1
    # The cleaned export (read from Label Studio now) keeps it: its flag is closed.
    # (a read of the whole project: 10 s was not enough on a loaded 2-core machine)
    cleaned = httpx.get(f"{backend.url}/projects/{project.id}/cleaned", timeout=300)
    assert cleaned.status_code == 200, cleaned.text
    by_id = {t["id"]: t for t in cleaned.json()}
    assert [a["id"] for a in by_id[task_id]["annotations"]] == [annotation["id"]]
    counts = json.loads(cleaned.headers["X-Labelaudit-Cleaned"])
    assert counts["closed"] >= 1 and counts["left_out"] >= 1, counts
    assert sum(not t["annotations"] for t in by_id.values()) == counts["left_out"]
    for n in range(2):  # two more full audits
        version = settle(backend, project)["model_version"]
        assert backend.post(f"/projects/{project.id}/audit").status_code == 202
        audit = backend.wait_audit(project.id, after=version, what=f"audit {n + 1} after keeping")
        settle(backend, project)
        assert task_id not in audit["flagged_task_ids"]
        assert task_id not in on_tab(ls, project)
        assert audit["verdicts"]["confirmed"] >= before + 1
        summary_file = backend.get(f"/projects/{project.id}/summary.json").json()
        assert summary_file["verdicts"]["confirmed"] >= before + 1  # summary.json counts it
        assert summary_file["counts"]["ground_truth_annotations"] >= 1  # trusted like it
        print(f"[result] audit {audit['model_version']}: the kept label is not flagged")
        project.audits.append(audit)


def test_keeping_a_label_in_the_labeling_view_confirms_it(ls, backend, browser, project):
    """What a person does in the page: Update is greyed out while the annotation is
    unchanged (Label Studio 1.23.2), so the choice is clicked off and on again, then Update
    pressed; Label Studio sends ANNOTATION_UPDATED with the same label."""
    record = settle(backend, project)
    candidates = [
        t for t in record["summary"]["flagged_task_ids"] if t not in project.fixed | project.kept
    ]
    task_id = candidates[0]
    before = record["summary"]["verdicts"]["confirmed"]
    (annotation,) = ls.tasks.get(id=task_id).annotations
    page = browser.page
    browser.open(f"/projects/{project.id}/data?task={task_id}")
    update = page.get_by_test_id("bottombar-update-button")
    update.wait_for()
    kept = label_of(annotation["result"])
    choice_box = page.locator(f'.lsf-choices input[type=checkbox][name="{kept}"]')
    choice_box.wait_for()
    assert choice_box.is_checked()
    assert update.is_disabled()  # nothing changed: Label Studio offers no Update
    choice_box.click()  # off ...
    page.wait_for_function(
        f"() => !document.querySelector('.lsf-choices input[name=\"{kept}\"]').checked"
    )
    choice_box.click()  # ... and on again: the same label
    assert choice_box.is_checked()
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=bottombar-update-button]').disabled"
    )
    started = time.perf_counter()
    update.click()
    wait_for(
        lambda: task_id not in on_tab(ls, project),
        timeout=GIVE_UP_SECONDS,
        what="the task kept in the labeling view to leave the tab",
        every=POLL_SECONDS,
    )
    verdicts = live(backend, project)["summary"]["verdicts"]
    print(
        f"\n[result] label kept in the labeling view: off the tab in "
        f"{time.perf_counter() - started:.2f} s; verdicts {verdicts}"
    )
    assert verdicts["confirmed"] == before + 1
    (saved,) = ls.tasks.get(id=task_id).annotations
    assert saved["id"] == annotation["id"]
    assert label_of(saved["result"]) == label_of(annotation["result"])  # kept as it was
    project.kept.add(task_id)


def test_the_tab_page_renders_after_instant_updates(ls, backend, browser, project):
    record = live(backend, project)
    assert record["live"]["instant_updates"] >= 1 or record["summary"]["verdicts"]["fixed"]
    flagged = record["summary"]["flagged_task_ids"]
    ids = open_review_tab(browser, project.id, "Needs re-review")
    assert set(ids) <= set(flagged) and len(ids) >= min(len(flagged), 8), (ids, flagged)
    assert not (project.fixed | project.kept) & set(ids)
    assert not browser.mobx_errors()
