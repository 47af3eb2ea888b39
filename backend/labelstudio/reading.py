"""Reading every task of a project: the export, streamed, else task pages.

Label Studio 1.23.2 offers several ways to read a whole project. Measured on a
20,000-task project (bench/RESULTS.md, "First audit of 20,000 tasks"): task pages
(``api/tasks/`` with ``fields=all``, the only page form that carries annotation results)
took 195-204 s, since every task is serialized with every Data Manager column and every
page counts the whole project; one export call (``GET api/projects/<id>/export``) 33-78 s;
the export by ``ids[]`` (at most ~998 a call: Django reads 1,000 query fields) 46 s in 23
calls; an export snapshot (made, downloaded, deleted) 39 s. So a full read is one export
call, parsed as it streams in (:mod:`backend.labelstudio.stream`), with the pages as the
fallback when the export is refused.

Label Studio keeps a copy of every export in its data dir (``export/``, ~1 KB a text
task; a snapshot's file stays too after its delete unless the flag
``ff_back_dev_4664_remove_storage_file_on_export_delete_29032023_short`` is on), so a read
that runs unattended and often (the sweep's check) asks for pages (``pages=True``), and
only once :func:`project_state` (two small requests) says something changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from backend.labelstudio.client import sdk_request, translate_errors

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

logger = logging.getLogger("labelaudit.client")

#: Tasks fetched per API call when the project is read in task pages (the fallback; Label
#: Studio's own default page size is 100). Every page also costs Label Studio a count of
#: the whole project's annotations and predictions, so fewer, bigger pages read faster.
TASKS_PAGE_SIZE = 1000
#: Seconds one page may take (the SDK's default is 60).
PAGE_TIMEOUT = 300
#: Seconds the export may take: Label Studio builds it whole before the first byte.
EXPORT_TIMEOUT = 1800
#: Tasks handed on at a time from the streamed export (progress is reported per batch).
EXPORT_BATCH = 1000
#: HTTP statuses of an export refused for good, after which the project is read in pages.
EXPORT_REFUSED = (" HTTP 400", " HTTP 403", " HTTP 404", " HTTP 405")


def iter_task_pages(
    ls: LabelStudio, project_id: int, *, page_size: int = TASKS_PAGE_SIZE
) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
    """Yield ``(tasks, total)`` page by page: every task of the project, with annotations.

    Pages are read as plain JSON (``GET api/tasks/``): the SDK's task models cost about
    twice the JSON parsing in CPU, on the machine that then audits the tasks.
    """
    page, seen = 1, 0
    while True:
        try:
            found = sdk_request(
                ls,
                "GET",
                "api/tasks/",
                params={
                    "project": project_id,
                    "page": page,
                    "page_size": page_size,
                    # fields="all" is what brings full annotations. (Narrowing it with
                    # include="id,data,annotations" turns annotations into {"id": n} stubs.)
                    "fields": "all",
                },
                # A page of 1,000 took ~30 s on a Label Studio sharing 2 busy cores.
                request_options={"timeout_in_seconds": PAGE_TIMEOUT},
            )
        except ValueError as err:
            if " HTTP 404" in str(err) and page > 1:  # Label Studio's "no more pages"
                return
            raise
        if not isinstance(found, dict) or not isinstance(found.get("tasks"), list):
            raise ValueError(
                f"unexpected answer listing tasks of project {project_id}: {found!r:.200}"
            )
        items: list[Any] = found["tasks"]  # not dicts: the export reports and skips them
        total = found.get("total") if isinstance(found.get("total"), int) else None
        if not items:
            return
        seen += len(items)
        yield items, total
        if total is not None and seen >= total:
            return
        page += 1


def _stream_tasks(
    ls: LabelStudio, path: str, params: dict[str, str], what: str
) -> Iterator[list[dict[str, Any]]]:
    """GET ``path``, a JSON list of tasks, parsed as it streams in; EXPORT_BATCH at a time."""
    from backend.labelstudio.stream import iter_json_array

    http = ls._client_wrapper.httpx_client
    url = ls._client_wrapper.get_base_url().rstrip("/") + "/" + path
    with (
        translate_errors(what, url),
        http.stream(
            path,
            method="GET",
            params=params,
            request_options={"timeout_in_seconds": EXPORT_TIMEOUT},
        ) as response,
    ):
        if response.status_code >= 400:
            from label_studio_sdk.core.api_error import ApiError

            response.read()
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            raise ApiError(status_code=response.status_code, body=body)
        batch: list[Any] = []  # not dicts: the export reports and skips them
        for task in iter_json_array(response.iter_bytes(), what=f"the answer of {what}"):
            batch.append(task)
            if len(batch) == EXPORT_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def iter_export(ls: LabelStudio, project_id: int) -> Iterator[list[dict[str, Any]]]:
    """Yield every task of the project, EXPORT_BATCH at a time, from Label Studio's export
    API in one call (``GET api/projects/<id>/export``, JSON, all tasks), parsed as it
    streams in, so neither the answer nor its tasks are ever held whole here (Label Studio
    builds it whole before the first byte, in its own memory).

    Label Studio 1.23.2 also keeps a copy of each such export in its data dir
    (``export/project-<id>-at-....json`` and ``-info.json``), and never removes it.
    """
    params = {"exportType": "JSON", "download_all_tasks": "true"}
    path = f"api/projects/{project_id}/export"
    yield from _stream_tasks(ls, path, params, f"exporting project {project_id}")


def iter_task_batches(
    ls: LabelStudio,
    project_id: int,
    *,
    page_size: int = TASKS_PAGE_SIZE,
    pages: bool = False,
    refused: Callable[[str], None] | None = None,
) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
    """Yield ``(tasks, total)`` until every task of the project is read: from the export
    (:func:`iter_export`; total None), or from task pages if Label Studio refuses the
    export (a key without the right to export, a proxy without the route), which is logged
    and told to ``refused`` (a sentence for the audit's notes), or if ``pages`` (a read
    that must leave no export file in Label Studio's data dir).
    """
    if pages:
        yield from iter_task_pages(ls, project_id, page_size=page_size)
        return
    exported = iter_export(ls, project_id)
    try:
        first = next(exported, None)
    except (PermissionError, ValueError) as err:
        if "rejected the API key" in str(err) or (
            isinstance(err, ValueError) and not any(s in str(err) for s in EXPORT_REFUSED)
        ):
            raise
        logger.warning(
            "project %s: the export was refused (%s); reading task pages instead, "
            "which costs Label Studio 2.5-5x more",
            project_id,
            err,
        )
        if refused is not None:
            status = next((code.strip() for code in EXPORT_REFUSED if code in str(err)), "")
            refused(
                f"Label Studio refused the export ({status or type(err).__name__}): the "
                "project was read in task pages, which cost Label Studio 2.5-5x more; an "
                "API key allowed to export reads it in one call"
            )
        yield from iter_task_pages(ls, project_id, page_size=page_size)
        return
    if first is None:
        return
    yield first, None
    for batch in exported:
        yield batch, None


def project_state(ls: LabelStudio, project_id: int) -> str:
    """A digest of what a whole read of the project would depend on, from two small answers:
    the project's label config, and the Data Manager's task list ordered by last update,
    one task long (the task and annotation counts, the newest task and its ``updated_at``).

    Label Studio 1.23 stamps a task's ``updated_at`` when it is edited and when one of its
    annotations is saved or deleted (and when a prediction is saved, ours included); a
    deleted task changes the count. Equal digests: nothing an audit reads has changed.
    """
    project = sdk_request(ls, "GET", f"api/projects/{project_id}/")
    newest = sdk_request(
        ls,
        "GET",
        "api/tasks/",
        params={
            "project": project_id,
            "page": 1,
            "page_size": 1,
            "include": "id,updated_at",
            "query": json.dumps({"ordering": ["-tasks:updated_at"]}),
        },
        request_options={"timeout_in_seconds": PAGE_TIMEOUT},
    )
    if not isinstance(project, dict) or not isinstance(newest, dict):
        raise ValueError(f"unexpected answer reading the state of project {project_id}")
    tasks = newest.get("tasks") or [{}]
    first = tasks[0] if isinstance(tasks[0], dict) else {}
    parts = [
        project.get("label_config"),
        newest.get("total"),
        newest.get("total_annotations"),
        first.get("id"),
        first.get("updated_at"),
    ]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()
