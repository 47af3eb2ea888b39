"""Publishing an audit: its outputs written here first, then pushed to Label Studio last.

:func:`publish` serves the CLI and the service alike:

1. name the version: the project's next ``labelaudit-<n>`` (:meth:`LabelStudioIO.next_version`),
   or :data:`LOCAL_VERSION` when nothing is pushed;
2. write issues.csv, predictions.json, summary.json and report.html for that version, and
   whatever else the caller keeps with it (``keep``: the service's final model);
3. push the same predictions and the review tab (:func:`backend.labelstudio.push.push_audit`;
   a task type with ``in_place`` (single choice) updates a project that already shows a
   version of ours in place, only what changed);
   the moment the project shows the audit, summary.json and report.html are written
   again with the push's time, and ``switched(version, summary, pushed)`` lets the caller
   make it current (``pushed``: the predictions Label Studio now shows, which after an
   update in place carry the version the project shows).

So nothing reaches Label Studio that is not saved here first.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.progress import Progress, no_progress

if TYPE_CHECKING:
    from backend.labelstudio.dataset import AuditDataset
    from backend.pipeline import AuditResult

logger = logging.getLogger("labelaudit.publish")

#: The version of an audit that is not pushed (a file, or a live project without --push).
LOCAL_VERSION = "labelaudit-file"
#: The files that show the push's time: written again once the project shows the version.
PUSH_TIMED = frozenset({"summary", "report"})


class LabelStudioIO:
    """Reading projects from and pushing audits to Label Studio (tests pass a fake).

    ``export``: whole projects are read with Label Studio's export API (else task pages;
    the ``read_with_export`` setting).
    """

    def __init__(self, *, export: bool = True) -> None:
        self.export = export

    def load(
        self,
        url: str,
        api_key: str,
        project: int,
        progress: Progress,
        *,
        keep: Callable[[dict[str, Any]], None] | None = None,
        pages: bool = False,
    ) -> AuditDataset:
        """Read a project through the Label Studio API (``keep``: handed each task read):
        its export in one call, or task pages when refused, asked (``pages``) or this reader
        does not export: ~4x the cost to Label Studio, but no copy of the export left in
        its data dir."""
        from backend.labelstudio.client import load_project

        return load_project(
            url,
            api_key,
            project,
            progress=lambda done, total: progress("export", done, total or done),
            keep=keep,
            pages=pages or not self.export,
        )

    def export_tasks(self, url: str, api_key: str, project: int) -> Iterator[dict[str, Any]]:
        """Every task of a project as an export has it (id, data, annotations), page by page."""
        from backend.labelstudio.client import iter_project_tasks

        return iter_project_tasks(url, api_key, project, pages=not self.export)

    def state(self, url: str, api_key: str, project: int) -> str:
        """A digest of what a whole read of the project depends on, from two small requests
        (``backend.labelstudio.reading.project_state``)."""
        from backend.labelstudio.client import close, connect
        from backend.labelstudio.reading import project_state

        client = connect(url, api_key)
        try:
            return project_state(client, project)
        finally:
            close(client)

    def next_version(self, url: str, api_key: str, project: int) -> str:
        """Return the name the project's next audit is pushed under."""
        from backend.labelstudio.client import close, connect
        from backend.labelstudio.versions import next_version

        client = connect(url, api_key)
        try:
            return next_version(client, project)
        finally:
            close(client)

    def push(
        self,
        url: str,
        api_key: str,
        project: int,
        predictions: list[dict[str, Any]],
        flagged: dict[int, int],
        *,
        version: str,
        progress: Progress,
        switched: Callable[[str], None],
        tabs: dict[str, dict[int, int]] | None = None,
        guard: Callable[[], AbstractContextManager[Any]] | None = None,
        in_place: bool = False,
    ) -> None:
        """Push predictions and the review tab (and ``tabs``, title -> task id -> annotation
        id); ``switched`` once the project shows them; the switch runs inside ``guard()``.

        ``in_place``: a project that already shows a version of ours keeps it, only what
        changed is written, and ``predictions`` become, in the list itself, what the
        project shows."""
        from backend.labelstudio.client import close, connect
        from backend.labelstudio.push import push_audit

        client = connect(url, api_key)
        try:
            push_audit(
                client,
                project,
                predictions,
                flagged,
                version=version,
                tabs=tabs,
                progress=lambda done, total: progress("push", done, total),
                switched=switched,
                guard=guard,
                in_place=in_place,
            )
        finally:
            close(client)

    def show(
        self,
        url: str,
        api_key: str,
        project: int,
        *,
        version: str,
        predictions: Mapping[int, Mapping[str, Any] | None],
        tabs: Mapping[str, Iterable[int]] | None = None,
    ) -> None:
        """Instant feedback: re-point ``tabs`` (title -> annotation ids) when given, then
        make each task show its prediction (task id -> a /predict answer of ``version``;
        None: no prediction of ours)."""
        from backend.labelstudio.client import close, connect
        from backend.labelstudio.instant_push import point_tabs, replace_task_prediction

        client = connect(url, api_key)
        try:
            if tabs:
                point_tabs(client, project, tabs)
            for task, prediction in predictions.items():
                replace_task_prediction(client, project, task, prediction, version=version)
        finally:
            close(client)


@dataclass(frozen=True)
class Target:
    """The Label Studio project an audit is pushed to."""

    url: str
    api_key: str = field(repr=False)
    project: int


@dataclass
class Published:
    """What :func:`publish` did: the version, the files written, the summary they hold."""

    version: str
    paths: dict[str, Path]
    summary: dict[str, Any]


def publish(
    result: AuditResult,
    *,
    folder: Callable[[str], Path],
    settings: dict[str, Any],
    source: str,
    title: str = "",
    target: Target | None = None,
    io: LabelStudioIO | None = None,
    fetch: Callable[[str], bytes] | None = None,
    task_url: Callable[[int], str] | None = None,
    progress: Progress = no_progress,
    keep: Callable[[str, Path], None] | None = None,
    switched: Callable[[str, dict[str, Any], list[dict[str, Any]]], None] | None = None,
    guard: Callable[[], AbstractContextManager[Any]] | None = None,
    latest: str | None = None,
) -> Published:
    """Write an audit's outputs into ``folder(version)``, then push it to ``target``.

    ``settings`` (redacted), ``source`` and ``title`` go into the summary; ``fetch`` and
    ``task_url`` into the report. ``keep(version, folder)`` saves more with the version
    before anything is pushed; ``switched(version, summary, pushed)`` is called once the
    project shows the version (never without a target); the switch and ``switched`` run
    inside ``guard()`` when given. ``latest`` is the caller's newest version: a project
    updated in place keeps showing an older one, so the next version is counted from both.
    """
    from backend import report, tasktypes

    io = io if io is not None else LabelStudioIO()
    if fetch is not None:  # the report is rendered twice (before the push, and with its time)
        fetch = functools.cache(fetch)
    version = (
        io.next_version(target.url, target.api_key, target.project) if target else LOCAL_VERSION
    )
    if target is not None and latest is not None:
        from backend.labelstudio.versions import later_version

        version = later_version(version, latest)
    out = folder(version)

    def write(only: Collection[str] | None = None) -> dict[str, Any]:
        summary = report.summary(
            result, settings=settings, source=source, model_version=version, title=title
        )
        published.paths = report.write_outputs(
            result, out, summary, fetch=fetch, task_url=task_url, only=only
        )
        published.summary = summary
        return summary

    published = Published(version, {}, {})
    write()
    if keep is not None:
        keep(version, out)
    if target is None:
        return published

    started = time.perf_counter()
    pushed = report.predictions(result, version)

    def shown(pushed_version: str) -> None:
        result.timings["push"] = round(time.perf_counter() - started, 3)
        summary = published.summary
        try:
            summary = write(PUSH_TIMED)  # again, now with the push's time
        except OSError as err:  # the files written before the push stand
            logger.warning("could not add the push time to %s's report: %s", version, err)
        if switched is not None:
            switched(pushed_version, summary, pushed)

    io.push(
        target.url,
        target.api_key,
        target.project,
        pushed,
        result.flagged_annotations(),
        version=version,
        progress=progress,
        switched=shown,
        tabs=tasktypes.get(result.kind.task_type).tabs(result),
        guard=guard,
        in_place=tasktypes.get(result.kind.task_type).in_place,
    )
    return published
