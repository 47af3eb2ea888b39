"""Send an audit's results back to Label Studio.

The order of the steps is what makes a push safe to repeat or to die half-way, and what
keeps the project usable while it runs:

1. The caller picks the new version with :func:`next_version`: ``<prefix>-<n>``, n = 1 +
   the highest ``<prefix>-<n>`` among the project's prediction versions and its current
   model_version (so it can save everything under that name before anything is pushed).
2. Import the predictions, which carry that version, in as few calls as fit (one, mostly).
3. Switch, back to back: make the version the project's model_version (the Data Manager's
   score column and filters only count predictions of the project's model_version), then
   point the review tab at exactly the flagged tasks, most suspicious first. A project
   that has no tab yet first gets the "Default" tab the page would have made.
4. Delete every older ``<prefix>-<n>`` version's predictions (other models' predictions are
   never touched), in writes short enough that Label Studio's other users get through.

If a push dies before step 3 the project still shows the previous version; the next push
takes a higher n and step 4 removes the partial one.

A re-audit (``in_place``, what the backend does) skips steps 2-4 when the project already
shows a version of ours: that version stays, and only the predictions that changed are
written (:mod:`backend.labelstudio.inplace`), so its cost follows the change, not the
project. The audit still gets its own ``<prefix>-<n>`` (its files, its /setup answer).
Two pushes to the same project must not run at the same time (the worker serialises them
per project).

Tabs are written only in forms the Data Manager page itself can render (see views.py).
Naming our versions and deleting the older ones is :mod:`backend.labelstudio.versions`.

Between audits one task's prediction is changed at once (instant feedback,
:mod:`backend.labelstudio.instant_push`): in place, so the task always shows one, of the
version the project shows. labelaudit's card in Settings -> Model says what was pushed
(:mod:`backend.labelstudio.card`).
``push_audit``'s ``guard`` lets the caller hold off such changes while it switches.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from backend.labelstudio import views
from backend.labelstudio.card import describe_backend
from backend.labelstudio.client import translate_errors
from backend.labelstudio.inplace import (
    delete_planned,
    plan_update,
    version_predictions,
    write_in_place,
)
from backend.labelstudio.versions import (
    delete_older_versions,
    next_version,
    retried,
    version_number,
)

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

logger = logging.getLogger("labelaudit.push")

#: The most JSON one import call carries (Label Studio 1.23.2 refuses bodies over 250 MB,
#: DATA_UPLOAD_MAX_MEMORY_SIZE). Each call costs time in proportion to the *project*, not
#: to the call: the import recounts every task of the project (``update_tasks_counters``
#: over all its task ids), so on 20,000 tasks a call of 250 predictions and one of 20,000
#: cost about the same (bench/scale.py --chunks). So a push is one call while it fits:
#: 16 MiB holds ~80,000 single-choice predictions.
IMPORT_MAX_BYTES = 16 * 1024 * 1024
#: Seconds one import call may take (the SDK's default of 60 is too short for a big
#: project on a busy server, and a call that timed out may still land).
IMPORT_TIMEOUT = 900
#: The review tab's title.
REVIEW_TITLE = "Needs re-review"


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


def _check_flagged(flagged: Mapping[int, int], predictions: Sequence[dict[str, Any]]) -> None:
    if not isinstance(flagged, Mapping):
        raise TypeError(f"flagged must map task id -> annotation id; got {type(flagged).__name__}")
    tasks = {item["task"] for item in predictions}
    for task, annotation in flagged.items():
        if task not in tasks:
            raise ValueError(f"flagged task {task} has no prediction")
        if isinstance(annotation, bool) or not isinstance(annotation, int) or annotation <= 0:
            raise ValueError(
                f"flagged task {task} needs the id of its flagged annotation; got {annotation!r}"
            )


def import_chunks(items: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Split predictions into as few import calls as fit IMPORT_MAX_BYTES of JSON each."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for item in items:
        item_size = len(json.dumps(item, default=str)) + 2
        if chunk and size + item_size > IMPORT_MAX_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


def push_audit(
    ls: LabelStudio,
    project_id: int,
    predictions: list[dict],
    flagged: Mapping[int, int],
    *,
    version: str,
    view_title: str = REVIEW_TITLE,
    tabs: Mapping[str, Mapping[int, int]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    switched: Callable[[str], None] | None = None,
    guard: Callable[[], AbstractContextManager[Any]] | None = None,
    in_place: bool = False,
) -> str:
    """Push an audit's predictions (all of model version ``version``) and review tab.

    ``version`` is ``<prefix>-<n>`` from :func:`next_version`. ``flagged`` maps each flagged
    task id, most suspicious first, to one of its flagged annotations' ids (the tab lists
    tasks through their annotation ids). ``switched`` is called with the version as soon
    as the project shows it, before the older versions are deleted (which can take minutes
    on a big project). ``tabs`` are more tabs of the same form, title -> {task id:
    annotation id} (several annotators: "Needs another annotator"). The switch (model_version,
    tabs, ``switched``) runs inside ``guard()`` when given (the service holds its instant
    updates off meanwhile). Returns ``version``.

    ``in_place``: when the project already shows a version of ours, keep showing it and
    write only what changed (:mod:`backend.labelstudio.inplace`); ``predictions`` are then
    replaced, in the list itself, by what the project shows (that version, and a score that
    moved less than the tolerance as it was), before ``switched`` is called.
    """
    tabs = dict(tabs or {})
    _check_predictions(predictions)
    _check_flagged(flagged, predictions)
    for listed in tabs.values():
        _check_flagged(listed, predictions)
    version_prefix, _, number = version.rpartition("-")
    if not re.fullmatch(r"[\w.]+", version_prefix) or not number.isdigit():
        raise ValueError(f"version must be <prefix>-<n> (from next_version); got {version!r}")
    stray = {p.get("model_version") for p in predictions} - {version}
    if stray:
        raise ValueError(f"every prediction must carry model_version {version!r}; got {stray}")
    if in_place:
        started = time.perf_counter()
        shown_as = _shown_version(ls, project_id, version, version_prefix)
        existing = version_predictions(ls, project_id, shown_as) if shown_as else {}
        if shown_as and existing:
            logger.info(
                "project %s: %d predictions of %s listed in %.1f s",
                project_id, sum(map(len, existing.values())), shown_as,
                time.perf_counter() - started,
            )  # fmt: skip
            _push_in_place(
                ls, project_id, predictions, flagged, existing, shown_as, view_title, tabs,
                progress, switched, guard, version,
            )  # fmt: skip
            return version
    _import(ls, project_id, predictions, progress)

    cols = views.columns(ls, project_id)  # read before the switch, so the switch is quick
    with guard() if guard is not None else contextlib.nullcontext():
        with translate_errors(f"setting model_version of project {project_id}"):
            ls.projects.update(id=project_id, model_version=version)
        _point(ls, project_id, {view_title: flagged, **tabs}, cols)
        if switched is not None:
            switched(version)

    delete_older_versions(ls, project_id, version, version_prefix)
    state = f"{version}: {len(flagged)} of {len(predictions)} tasks to re-review"
    describe_backend(ls, project_id, state)
    return version


def _import(
    ls: LabelStudio,
    project_id: int,
    items: list[dict[str, Any]],
    progress: Callable[[int, int], None] | None,
) -> None:
    """Import predictions in as few calls as fit IMPORT_MAX_BYTES."""
    done, calls, started = 0, 0, time.perf_counter()
    for chunk in import_chunks(items):
        calls += 1
        with translate_errors(f"importing predictions into project {project_id}"):
            # The SDK types `request` as PredictionRequest models; plain dicts are sent as is.
            ls.projects.import_predictions(
                id=project_id,
                request=chunk,  # type: ignore[arg-type]
                request_options={"timeout_in_seconds": IMPORT_TIMEOUT},
            )
        done += len(chunk)
        if progress is not None:
            progress(done, len(items))
    logger.info(
        "project %s: %d predictions imported in %d call(s), %.1f s",
        project_id, done, calls, time.perf_counter() - started,
    )  # fmt: skip


def _point(
    ls: LabelStudio,
    project_id: int,
    tabs: Mapping[str, Mapping[int, int]],
    cols: list[dict[str, Any]] | None,
) -> None:
    for title, listed in tabs.items():
        chosen = views.annotation_filter(listed.values())
        views.upsert_tab(ls, project_id, title, chosen, ordering=views.BY_SCORE_DESC, cols=cols)


def _shown_version(ls: LabelStudio, project_id: int, version: str, prefix: str) -> str | None:
    """The project's model_version when it is another ``<prefix>-<n>`` than ``version``."""
    with translate_errors(f"reading project {project_id}"):
        current = ls.projects.get(id=project_id).model_version or ""
    return current if current != version and version_number(current, prefix) is not None else None


def _push_in_place(
    ls: LabelStudio,
    project_id: int,
    predictions: list[dict[str, Any]],
    flagged: Mapping[int, int],
    existing: Mapping[int, list[dict[str, Any]]],
    shown_as: str,
    view_title: str,
    tabs: Mapping[str, Mapping[int, int]],
    progress: Callable[[int, int], None] | None,
    switched: Callable[[str], None] | None,
    guard: Callable[[], AbstractContextManager[Any]] | None,
    version: str,
) -> None:
    """Write only what changed under ``shown_as``; the tabs; then delete what is stale."""
    plan = plan_update(existing, predictions, shown_as)
    started = time.perf_counter()
    write_in_place(
        ls,
        project_id,
        plan,
        create=lambda items: _import(ls, project_id, items, None),
        retried=retried,
        progress=progress,
    )
    logger.info(
        "project %s: %s in place under %s: %d updated, %d created in %.1f s; %d to delete",
        project_id, version, shown_as, len(plan.patch), len(plan.create),
        time.perf_counter() - started, len(plan.delete),
    )  # fmt: skip
    cols = views.columns(ls, project_id)
    with guard() if guard is not None else contextlib.nullcontext():
        _point(ls, project_id, {view_title: flagged, **tabs}, cols)
        predictions[:] = plan.shown
        if switched is not None:
            switched(version)
    left = delete_planned(ls, project_id, plan, retried=retried)
    if left:
        logger.warning(
            "project %s: %d stale predictions are left for the next push", project_id, left
        )
    delete_older_versions(ls, project_id, shown_as, version.rpartition("-")[0])
    describe_backend(
        ls, project_id, f"{version}: {len(flagged)} of {len(predictions)} tasks to re-review"
    )


def push_as_next_version(
    ls: LabelStudio,
    project_id: int,
    predictions: list[dict],
    flagged: Mapping[int, int],
    **kwargs: Any,
) -> str:
    """Push ``predictions`` under the project's next version (for scripts that save nothing
    first; the backend names the version itself, see ``backend.publish``); return it."""
    version = next_version(ls, project_id)
    stamped = [{**p, "model_version": version} for p in predictions]
    return push_audit(ls, project_id, stamped, flagged, version=version, **kwargs)
