"""Our model versions in a project: their names, and the older ones deleted.

An audit is pushed as ``<prefix>-<n>``: :func:`version_number` reads n,
:func:`next_version` picks the project's next one (above its prediction versions and its
model_version) and :func:`later_version` keeps it above the latest audit the backend saved.
After a switch, :func:`delete_older_versions` removes every older ``<prefix>-<n>``'s
predictions (other models' are never touched) in writes short enough that Label Studio's
other users get through, each tried again while it meets another write (:func:`retried`,
also what in-place and instant writes use). :mod:`backend.labelstudio.push` does the push.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

from backend.labelstudio.client import sdk_request, translate_errors
from backend.labelstudio.predictions import VERSION_PREFIX

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

logger = logging.getLogger("labelaudit.push")

#: The largest old version deleted in one call. Label Studio deletes a version in one
#: transaction at ~11 ms a prediction (1.23.2, SQLite) and every other write waits for it
#: (an annotator's save waited 10.6 s behind 1,200; a login can fail); a bigger version
#: goes prediction by prediction, each its own short write (bench/push_usability.py).
VERSION_DELETE_MAX = 300
#: Seconds between tries of a delete that met another write (see retried).
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


def later_version(version: str, latest: str, prefix: str = VERSION_PREFIX) -> str:
    """Return ``version``, or ``<prefix>-<n+1>`` when ``latest`` is ``<prefix>-<n>`` and n is
    not below ``version``'s number."""
    ours, last = version_number(version, prefix), version_number(latest, prefix)
    if ours is None or last is None or last < ours:
        return version
    return f"{prefix}-{last + 1}"


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
            if not retried(ls, "DELETE", path, json={"model_version": version}):
                left += old[version]
        big = {v for v, n in old.items() if n > VERSION_DELETE_MAX}
        found = sdk_request(ls, "GET", f"api/predictions/?project={project_id}") if big else []
        ids = [
            int(item["id"])
            for item in (found if isinstance(found, list) else [])
            if isinstance(item, dict) and item.get("model_version") in big
        ]
        for done, prediction in enumerate(ids):
            if not retried(ls, "DELETE", f"api/predictions/{prediction}/"):
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


def retried(ls: LabelStudio, method: str, path: str, **kwargs: Any) -> bool:
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
