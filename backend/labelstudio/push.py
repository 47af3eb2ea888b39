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
takes a higher n and step 4 removes the partial one. Two pushes to the same project must
not run at the same time (the worker serialises them per project).

Tabs are written only in forms the Data Manager page itself can render (see views.py).

Between audits one task's prediction is replaced at once (instant feedback,
:func:`replace_task_prediction`, then :func:`point_tabs`): the new prediction is created
first, then the task's older ones of labelaudit are deleted, so the task always shows one.
``push_audit``'s ``guard`` lets the caller hold off such changes while it switches.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from backend.labelstudio import views
from backend.labelstudio.client import sdk_request, translate_errors
from backend.labelstudio.predictions import VERSION_PREFIX

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
#: Between the name a lead gave labelaudit's connection and the audit's state on its card.
TITLE_SEPARATOR = " · "
#: What the connection's description says (Settings -> Model -> Edit).
BACKEND_DESCRIPTION = (
    "labelaudit finds annotations that are probably wrong. Each audited task gets one "
    "prediction: the suggested label, and as its score the suspicion, the estimated chance "
    'that the annotator\'s label is wrong. The "Needs re-review" tab lists the flagged tasks, '
    "most suspicious first."
)
#: The largest old version deleted in one call. Label Studio deletes a version in one
#: transaction at ~11 ms a prediction (1.23.2, SQLite) and every other write waits for it
#: (an annotator's save waited 10.6 s behind 1,200; a login can fail); a bigger version
#: goes prediction by prediction, each its own short write (bench/push_usability.py).
VERSION_DELETE_MAX = 300
#: Seconds between tries of a delete that met another write (see _retried).
DELETE_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0)


def version_number(version: str, prefix: str = VERSION_PREFIX) -> int | None:
    """Return n if ``version`` is ``<prefix>-<n>``, else None."""
    match = re.fullmatch(re.escape(prefix) + r"-(\d+)", version or "")
    return int(match.group(1)) if match else None


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


def delete_older_versions(ls: LabelStudio, project_id: int, current: str, prefix: str) -> int:
    """Delete every ``<prefix>-<n>`` version's predictions but ``current``'s, in short writes.

    Best effort, after the switch: what cannot be deleted now (Label Studio busy or down)
    is logged and left for the next push, which deletes every older version of ours; the
    push itself never fails here. Returns how many predictions were left.
    """
    left = 0
    try:
        old = {
            name: count
            for name, count in project_versions(ls, project_id).items()
            if name != current and version_number(name, prefix) is not None
        }
        for version in [v for v, n in old.items() if n <= VERSION_DELETE_MAX]:
            path = f"api/projects/{project_id}/model-versions/"
            if not _retried(ls, "DELETE", path, json={"model_version": version}):
                left += old[version]
        big = {v for v, n in old.items() if n > VERSION_DELETE_MAX}
        found = sdk_request(ls, "GET", f"api/predictions/?project={project_id}") if big else []
        ids = [
            int(item["id"])
            for item in (found if isinstance(found, list) else [])
            if isinstance(item, dict) and item.get("model_version") in big
        ]
        for done, prediction in enumerate(ids):
            if not _retried(ls, "DELETE", f"api/predictions/{prediction}/"):
                left += len(ids) - done
                break
    except (ConnectionError, TimeoutError, ValueError, PermissionError) as err:
        logger.warning("deleting older versions of project %s stopped: %s", project_id, err)
    if left:
        logger.warning(
            "project %s: %d predictions of older labelaudit versions are left for the next push",
            project_id,
            left,
        )
    return left


def _retried(ls: LabelStudio, method: str, path: str, **kwargs: Any) -> bool:
    """Call a route, trying again after each DELETE_RETRY_DELAYS while it answers 5xx/times out.

    On Label Studio's SQLite a write that meets another one (an annotator saving) can fail
    at once with "database is locked" (HTTP 500): the other write wins, this one waits.
    """
    for delay in (*DELETE_RETRY_DELAYS, None):
        try:
            # Our own short delays, not the SDK's backoff (seconds between tries).
            sdk_request(ls, method, path, request_options={"max_retries": 0}, **kwargs)
            return True
        except ValueError as err:
            if " HTTP 404" in str(err):  # deleted meanwhile (by a person, or a twin push)
                return True
            raise
        except (ConnectionError, TimeoutError):
            if delay is None:
                return False
            time.sleep(delay)
    return False


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
    items = predictions

    done = 0
    for chunk in import_chunks(items):
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

    cols = views.columns(ls, project_id)  # read before the switch, so the switch is quick
    with guard() if guard is not None else contextlib.nullcontext():
        with translate_errors(f"setting model_version of project {project_id}"):
            ls.projects.update(id=project_id, model_version=version)
        for title, listed in {view_title: flagged, **tabs}.items():
            chosen = views.annotation_filter(listed.values())
            views.upsert_tab(ls, project_id, title, chosen, ordering=views.BY_SCORE_DESC, cols=cols)
        if switched is not None:
            switched(version)

    delete_older_versions(ls, project_id, version, version_prefix)
    state = f"{version}: {len(flagged)} of {len(items)} tasks to re-review"
    describe_backend(ls, project_id, state)
    return version


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

    The new prediction is created first, then the task's other ``<prefix>-<n>`` predictions
    with n up to ``version``'s are deleted: never another model's, and never a newer
    version's (an audit being pushed may have imported it already). A prediction already
    equal to ``prediction`` is kept as it is. Returns the id of the prediction shown.
    """
    current = version_number(version, prefix)
    if current is None:
        raise ValueError(f"version must be {prefix}-<n>; got {version!r}")
    found = sdk_request(ls, "GET", f"api/predictions/?task={int(task)}")
    ours = [
        item
        for item in (found if isinstance(found, list) else [])
        if isinstance(item, dict)
        and (number := version_number(str(item.get("model_version") or ""), prefix)) is not None
        and number <= current
    ]
    keep: int | None = None
    if prediction is not None:
        same = [
            item
            for item in ours
            if item.get("model_version") == version
            and item.get("result") == prediction.get("result")
            and item.get("score") == prediction.get("score")
        ]
        if same:
            keep = int(same[0]["id"])
        else:
            body = {
                "task": int(task),
                "result": prediction["result"],
                "score": prediction.get("score"),
                "model_version": version,
            }
            created = sdk_request(ls, "POST", "api/predictions/", json=body)
            if not isinstance(created, dict) or not isinstance(created.get("id"), int):
                raise ValueError(f"unexpected answer creating a prediction: {created!r:.200}")
            keep = int(created["id"])
    for item in ours:
        if int(item["id"]) != keep:
            _retried(ls, "DELETE", f"api/predictions/{int(item['id'])}/")
    return keep


def point_tabs(ls: LabelStudio, project_id: int, tabs: Mapping[str, Iterable[int]]) -> None:
    """Re-point each tab (title -> the annotation ids it lists) at its tasks."""
    for title, listed in tabs.items():
        chosen = views.annotation_filter(listed)
        views.upsert_tab(ls, project_id, title, chosen, ordering=views.BY_SCORE_DESC)


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


def describe_backend(ls: LabelStudio, project_id: int, state: str) -> None:
    """Show ``state`` on labelaudit's card in Settings -> Model (its title is all it shows).

    labelaudit's connections are those whose stored model_version (the /setup answer) is
    one of ours; the title keeps what the lead named the connection, before " · ". Best
    effort: a card that cannot be updated is logged, never a failed push.
    """
    try:
        with translate_errors(f"listing models of project {project_id}"):
            backends = list(ls.ml.list(project=project_id))
        for backend in backends:
            if version_number(backend.model_version or "") is None or not backend.id:
                continue
            name = (backend.title or VERSION_PREFIX).split(TITLE_SEPARATOR)[0]
            # Label Studio re-checks the connection on every update: a basic-auth one needs
            # its method and user again, and an empty password keeps the stored one.
            auth: dict[str, Any] = {}
            if backend.auth_method == "BASIC_AUTH":
                auth = {
                    "auth_method": "BASIC_AUTH",
                    "basic_auth_user": backend.basic_auth_user,
                    "basic_auth_pass": "",
                }
            with translate_errors(f"updating model {backend.id} of project {project_id}"):
                # Label Studio 1.23.2 answers 500 to an update without url and project.
                ls.ml.update(
                    backend.id,
                    url=backend.url,
                    project=project_id,
                    title=f"{name}{TITLE_SEPARATOR}{state}",
                    description=BACKEND_DESCRIPTION,
                    **auth,
                )
    except (ConnectionError, TimeoutError, ValueError, PermissionError) as err:
        logger.warning("could not update the model card of project %s: %s", project_id, err)
