"""Instant feedback in Label Studio: one task's prediction changed in place, tabs re-pointed.

Between audits (backend.service.instant) a task's prediction is changed at once
(:func:`replace_task_prediction`, then :func:`point_tabs`): in place, so the task always
shows one, of the version the project shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from backend.labelstudio import views
from backend.labelstudio.client import sdk_request, translate_errors
from backend.labelstudio.predictions import VERSION_PREFIX
from backend.labelstudio.versions import retried, version_number

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio


def replace_task_prediction(
    ls: LabelStudio,
    project_id: int,
    task: int,
    prediction: Mapping[str, Any] | None,
    *,
    version: str,
    prefix: str = VERSION_PREFIX,
) -> int | None:
    """Make ``task`` show ``prediction`` (a /predict answer of ``version``) as labelaudit's
    only prediction, or none of labelaudit's when ``prediction`` is None.

    Only the task's ``<prefix>-<n>`` predictions with n up to ``version``'s count: never
    another model's, and never a newer version's (an audit being pushed may have imported
    it already). The newest of them is changed in place (PATCH; its model_version, the one
    the project shows, stays) and the others are deleted; a task with none gets one, of the
    project's model_version when that is ours, else of ``version``. A prediction already
    showing ``prediction`` is kept as it is. Returns the id of the prediction shown.
    """
    current = version_number(version, prefix)
    if current is None:
        raise ValueError(f"version must be {prefix}-<n>; got {version!r}")
    found = sdk_request(ls, "GET", f"api/predictions/?task={int(task)}")
    ours = sorted(
        (
            item
            for item in (found if isinstance(found, list) else [])
            if isinstance(item, dict)
            and (number := version_number(str(item.get("model_version") or ""), prefix)) is not None
            and number <= current
        ),
        key=lambda item: (version_number(str(item["model_version"]), prefix), int(item["id"])),
    )
    keep: int | None = None
    if prediction is not None:
        body = {k: prediction[k] for k in ("result", "score", "mislabeling") if k in prediction}
        if ours:
            newest = ours[-1]
            keep = int(newest["id"])
            if any(newest.get(k) != v for k, v in body.items()):
                sdk_request(ls, "PATCH", f"api/predictions/{keep}/", json=body)
        else:
            with translate_errors(f"reading project {project_id}"):
                shown = ls.projects.get(id=project_id).model_version or ""
            target = shown if version_number(shown, prefix) is not None else version
            created = sdk_request(
                ls,
                "POST",
                "api/predictions/",
                json={"task": int(task), **body, "model_version": target},
            )
            if not isinstance(created, dict) or not isinstance(created.get("id"), int):
                raise ValueError(f"unexpected answer creating a prediction: {created!r:.200}")
            keep = int(created["id"])
    for item in ours:
        if int(item["id"]) != keep:
            retried(ls, "DELETE", f"api/predictions/{int(item['id'])}/")
    return keep


def point_tabs(ls: LabelStudio, project_id: int, tabs: Mapping[str, Iterable[int]]) -> None:
    """Re-point each tab (title -> the annotation ids it lists) at its tasks."""
    for title, listed in tabs.items():
        chosen = views.annotation_filter(listed)
        views.upsert_tab(ls, project_id, title, chosen, ordering=views.BY_SCORE_DESC)
