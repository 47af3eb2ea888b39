"""How an audit reads its tasks: from the last audit's kept tasks and the webhooks' changes
since (:mod:`backend.service.changelog`) when every change is known and applicable, else the
whole project from Label Studio (which reconciles)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backend.progress import Progress
from backend.service import changelog
from backend.service.changelog import KeptTasks
from backend.store import Artifacts, Store

if TYPE_CHECKING:
    from backend.labelstudio.dataset import AuditDataset
    from backend.publish import LabelStudioIO

logger = logging.getLogger("labelaudit.service")


@dataclass(frozen=True)
class Read:
    """How an audit read its tasks: its timing's name and a sentence for notes and logs."""

    timing: str  # read_tasks (the project read whole) or read_changes (the webhooks')
    how: str


def read_tasks(
    store: Store,
    artifacts: Artifacts,
    io: LabelStudioIO,
    where: tuple[int, str, str],
    progress: Progress,
) -> tuple[AuditDataset, KeptTasks, Read]:
    """The dataset to audit, the tasks to keep, and how they were read.

    ``where`` is (project, Label Studio URL, API key). The last audit's kept tasks with the
    logged changes since applied, when every one is known and applicable; else the project
    read whole.
    """
    project, url, key = where
    previous = kept_tasks(store, artifacts, project)
    why = "no tasks kept by the last audit"
    if previous is not None:
        end, entries = store.changes_since(project, previous.position)
        following = None if entries is None else changelog.apply(previous, entries, end)
        if following is not None and entries is not None:
            progress("export", 1, 1)
            kinds = Counter(str(e.get("kind")) for e in entries)
            listed = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            how = f"{len(entries)} webhook changes applied to the last audit's tasks ({listed})"
            how += f", log {previous.position}..{end}"
            return following.dataset(), following, Read("read_changes", how)
        why = "changes since the last audit were dropped from the log"
        if entries is not None:
            why = next(
                (str(e.get("why")) for e in entries if e.get("kind") == "full"),
                "a change to a task the last audit did not read",
            )
    # The log's end before reading: entries after it may or may not be in the read, and
    # applying them again is safe (changelog.apply is idempotent per annotation).
    end, _ = store.changes_since(project, None)
    tasks: list[Any] = []

    def keep(task: dict[str, Any]) -> None:
        tasks.append(changelog.slim_task(task))

    dataset = io.load(url, key, project, progress, keep=keep)
    kept = changelog.kept_of(dataset, tasks, end)
    how = "; ".join([f"project read whole ({why})", *dataset.read_notes])
    return dataset, kept, Read("read_tasks", how)


def kept_tasks(store: Store, artifacts: Artifacts, project: int) -> KeptTasks | None:
    """The tasks the current version's audit kept, or None."""
    version = store.current_version(project)
    if version is None:
        return None
    path = artifacts.version_dir(project, version) / changelog.TASKS_FILE
    try:
        kept = artifacts.read_pickle(path) if path.is_file() else None
    except (OSError, ValueError, EOFError) as err:
        logger.warning("project %s: kept tasks unreadable (%s)", project, type(err).__name__)
        return None
    return kept if isinstance(kept, KeptTasks) else None
