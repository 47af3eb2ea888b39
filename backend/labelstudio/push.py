"""Send an audit's results back to Label Studio.

The order of the steps is what makes a push safe to repeat or to die half-way:

1. Pick the new version ``<prefix>-<n>``, n = 1 + the highest ``<prefix>-<n>`` among the
   project's prediction versions and its current model_version.
2. Import the predictions under that version, in chunks.
3. Make it the project's model_version (the Data Manager's score column and filters only
   count predictions of the project's model_version).
4. Delete every older ``<prefix>-<n>`` version's predictions (one call per version;
   other models' predictions are never touched).
5. Create or update the tab named ``view_title`` to hold exactly the flagged tasks, most
   suspicious (highest prediction score) first.

If a push dies before step 3 the project still shows the previous version; the next push
takes a higher n and step 4 removes the partial one. Two pushes to the same project must
not run at the same time (the worker serialises them per project).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from backend.labelstudio.client import sdk_request, translate_errors
from backend.labelstudio.predictions import VERSION_PREFIX

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

#: Predictions sent per import call.
IMPORT_CHUNK = 500
#: Data Manager ordering of the review tab: highest prediction score first.
REVIEW_ORDERING = ["-tasks:predictions_score"]


def version_number(version: str, prefix: str = VERSION_PREFIX) -> int | None:
    """Return n if ``version`` is ``<prefix>-<n>``, else None."""
    match = re.fullmatch(re.escape(prefix) + r"-(\d+)", version or "")
    return int(match.group(1)) if match else None


def review_view_data(title: str, task_ids: Sequence[int]) -> dict[str, Any]:
    """Return the Data Manager tab data holding exactly ``task_ids``, by score descending."""
    return {
        "title": title,
        "type": "list",
        "target": "tasks",
        "filters": {
            "conjunction": "and",
            # An empty in_list matches no task (Django's id__in=[]), so no flagged tasks
            # gives an empty tab rather than a tab of every task.
            "items": [
                {
                    "filter": "filter:tasks:id",
                    "operator": "in_list",
                    "type": "Number",
                    "value": [int(t) for t in task_ids],
                }
            ],
        },
        "ordering": list(REVIEW_ORDERING),
    }


def project_versions(ls: LabelStudio, project_id: int) -> dict[str, int]:
    """Return the project's prediction model versions with their prediction counts."""
    found = sdk_request(ls, "GET", f"api/projects/{project_id}/model-versions/")
    if not isinstance(found, dict):
        raise ValueError(
            f"unexpected model-versions answer for project {project_id}: {found!r:.200}"
        )
    return {str(k): int(v) for k, v in found.items() if k is not None}


def next_version(ls: LabelStudio, project_id: int, prefix: str = VERSION_PREFIX) -> str:
    """Return ``<prefix>-<n>`` with n one above any such version the project has seen."""
    with translate_errors(f"reading project {project_id}"):
        current = ls.projects.get(id=project_id).model_version or ""
    names = [*project_versions(ls, project_id), current]
    numbers = [n for n in (version_number(v, prefix) for v in names) if n is not None]
    return f"{prefix}-{max(numbers, default=0) + 1}"


def _check_predictions(predictions: Sequence[dict[str, Any]]) -> None:
    if not isinstance(predictions, Sequence) or isinstance(predictions, (str, bytes)):
        raise TypeError(f"predictions must be a list of dicts; got {type(predictions).__name__}")
    if not predictions:
        raise ValueError("predictions is empty: an audit push needs at least one prediction")
    seen: set[int] = set()
    for i, item in enumerate(predictions):
        if not isinstance(item, dict):
            raise TypeError(f"predictions[{i}] must be a dict; got {type(item).__name__}")
        task = item.get("task")
        if isinstance(task, bool) or not isinstance(task, int):
            raise ValueError(f"predictions[{i}] must have an int 'task'; got {task!r}")
        if not isinstance(item.get("result"), list):
            raise ValueError(f"predictions[{i}] must have a list 'result'")
        if task in seen:
            raise ValueError(f"predictions has two items for task {task}; one per task")
        seen.add(task)


def upsert_view(ls: LabelStudio, project_id: int, title: str, data: dict[str, Any]) -> int:
    """Create the project's tab titled ``title``, or update the first one; return its id."""
    with translate_errors(f"listing tabs of project {project_id}"):
        views = ls.views.list(project=project_id)
    matching = sorted(
        (v for v in views if isinstance(v.data, dict) and v.data.get("title") == title),
        key=lambda v: v.id or 0,
    )
    with translate_errors(f"saving tab {title!r} of project {project_id}"):
        if matching:
            view = ls.views.update(str(matching[0].id), project=project_id, data=data)
        else:
            view = ls.views.create(project=project_id, data=data)
    return int(view.id)


def push_audit(
    ls: LabelStudio,
    project_id: int,
    predictions: list[dict],
    flagged_task_ids: list[int],
    *,
    version_prefix: str = VERSION_PREFIX,
    view_title: str = "Needs re-review",
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """Push an audit's predictions and review tab to a project; return the new version."""
    _check_predictions(predictions)
    flagged = [int(t) for t in flagged_task_ids]
    if not re.fullmatch(r"[\w.]+", version_prefix or ""):
        raise ValueError(
            f"version_prefix must be letters, digits, '_' or '.'; got {version_prefix!r}"
        )
    version = next_version(ls, project_id, version_prefix)
    items = [{**p, "model_version": version} for p in predictions]

    for start in range(0, len(items), IMPORT_CHUNK):
        chunk = items[start : start + IMPORT_CHUNK]
        with translate_errors(f"importing predictions into project {project_id}"):
            # The SDK types `request` as PredictionRequest models; plain dicts are sent as is.
            ls.projects.import_predictions(id=project_id, request=chunk)  # type: ignore[arg-type]
        if progress is not None:
            progress(start + len(chunk), len(items))

    with translate_errors(f"setting model_version of project {project_id}"):
        ls.projects.update(id=project_id, model_version=version)

    for old in project_versions(ls, project_id):
        if old != version and version_number(old, version_prefix) is not None:
            sdk_request(
                ls,
                "DELETE",
                f"api/projects/{project_id}/model-versions/",
                json={"model_version": old},
            )

    upsert_view(ls, project_id, view_title, review_view_data(view_title, flagged))
    return version
