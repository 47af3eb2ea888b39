"""A whole project read through the export API gives what task pages give (real Label
Studio 1.23.2): the same tasks, annotations' fields and dataset, field by field."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backend.labelstudio.client import load_project, sdk_request, user_emails
from backend.labelstudio.config import parse_label_config
from backend.labelstudio.export import _annotator, dataset_from_tasks
from backend.labelstudio.reading import iter_export, iter_task_pages
from backend.service.changelog import ANNOTATION_FIELDS

pytestmark = pytest.mark.e2e

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="pos"/><Choice value="neg"/><Choice value="neutral"/>
  </Choices>
</View>"""
CLASSES = ("pos", "neg", "neutral")
N_TASKS = 1234  # more than one export batch (EXPORT_BATCH = 1,000) and one page


def _choice(label: str) -> list[dict[str, Any]]:
    return [
        {"from_name": "sentiment", "to_name": "text", "type": "choices",
         "value": {"choices": [label]}}
    ]  # fmt: skip


@pytest.fixture(scope="module")
def mixed_project(ls) -> dict[str, Any]:
    """Tasks with every case the read must carry: ground truth and not, a cancelled
    annotation, a second annotator, tasks without annotations, text beyond ASCII, another
    model's predictions, and annotations changed after the import."""
    other = int(ls.users.create(email="reader2@example.com", username="reader2").id)
    project = ls.projects.create(title="e2e full read", label_config=CONFIG)
    tasks: list[dict[str, Any]] = []
    for i in range(N_TASKS):
        task: dict[str, Any] = {"data": {"text": f"review {i}: naïve 🙂", "extra": i}}
        if i % 11 != 5:
            task["annotations"] = [{"result": _choice(CLASSES[i % 3]), "ground_truth": i % 7 == 0}]
        if i % 13 == 0:
            task.setdefault("annotations", []).append(
                {"result": _choice("neg"), "completed_by": other, "ground_truth": False}
            )
        if i % 17 == 3:
            task["annotations"] = [
                {"result": _choice("pos"), "was_cancelled": True, "ground_truth": False}
            ]
        tasks.append(task)
    ids = list(
        ls.projects.import_tasks(id=project.id, return_task_ids=True, request=tasks).task_ids
    )
    ls.projects.import_predictions(
        id=project.id,
        request=[
            {"task": t, "result": _choice("neutral"), "score": 0.5, "model_version": "other"}
            for t in ids[::5]
        ],
    )
    changed = []
    for t in ids[1:40:4]:  # an annotator changes a few labels after the import
        (annotation,) = [a for a in ls.tasks.get(id=t).annotations if not a.get("was_cancelled")][
            :1
        ] or [None]
        if annotation is not None:
            sdk_request(ls, "PATCH", f"api/annotations/{annotation['id']}/",
                        json={"result": _choice("neutral")})  # fmt: skip
            changed.append(t)
    return {"id": project.id, "task_ids": ids, "changed": changed, "other": other}


def _slim(task: dict[str, Any]) -> dict[str, Any]:
    """What a read must carry of a task: id, data and its annotations' read fields
    (``completed_by`` as the annotator key the dataset makes of it)."""
    return {
        "id": task["id"],
        "data": task["data"],
        "annotations": sorted(
            (
                {**{k: a.get(k) for k in ANNOTATION_FIELDS}, "completed_by": _annotator(a)}
                for a in task["annotations"]
            ),
            key=lambda a: a["id"],
        ),
    }


def test_the_export_reads_what_task_pages_read(label_studio, ls, mixed_project):
    project = mixed_project["id"]
    kind = parse_label_config(CONFIG)
    pages = [t for page, _ in iter_task_pages(ls, project) for t in page]
    exported = [t for batch in iter_export(ls, project) for t in batch]
    assert [t["id"] for t in exported] == [t["id"] for t in pages] == mixed_project["task_ids"]
    assert [_slim(t) for t in exported] == [_slim(t) for t in pages]
    for t in exported:
        if t["id"] in mixed_project["changed"]:
            assert t["annotations"][0]["result"] == _choice("neutral")  # the latest result

    by_pages = dataset_from_tasks(pages, kind, source="s")
    by_export = dataset_from_tasks(exported, kind, source="s")
    for name in ("task_ids", "annotation_ids", "labels", "ground_truth"):
        assert np.array_equal(getattr(by_export, name), getattr(by_pages, name)), name
    assert by_export.annotators == by_pages.annotators
    assert by_export.inputs == by_pages.inputs
    assert by_export.unlabeled == by_pages.unlabeled and by_export.kind == by_pages.kind
    assert by_export.skipped == by_pages.skipped
    assert str(mixed_project["other"]) in by_export.annotators
    assert any("cancelled" in s.reason for s in by_export.skipped)
    assert by_export.ground_truth.any() and not by_export.ground_truth.all()

    # load_project reads the export, and names annotators from the users' list as before
    done: list[tuple[int, int | None]] = []
    loaded = load_project(
        label_studio.url, label_studio.token, project, progress=lambda *a: done.append(a)
    )
    assert loaded.task_ids.tolist() == by_pages.task_ids.tolist()
    assert loaded.annotators == by_pages.annotators and loaded.inputs == by_pages.inputs
    assert done == [(1000, None), (N_TASKS, None)]  # one export, handed on 1,000 at a time
    emails = user_emails(ls)
    assert loaded.annotator_emails == {k: emails[k] for k in set(loaded.annotators) if k in emails}
    assert loaded.annotator_emails[str(mixed_project["other"])] == "reader2@example.com"
