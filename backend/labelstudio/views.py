"""Data Manager tabs ("views") that Label Studio's web page can render.

The API accepts tabs that the page cannot show: a filter whose operator is not in the page's
own filter menu (``filter:tasks:id`` / ``in_list``) lists the right tasks through the API
but leaves the project's Data Manager on its loading animation, for every tab and user
(seen on 1.23.2). So every tab written here uses only filters the page offers:

* **A list of tasks** is ``filter:tasks:annotations_ids`` / ``contains`` with annotation ids
  separated by spaces. Label Studio splits the string on ``,``, ``;`` and spaces, keeps the
  whole numbers and matches ``annotations__id IN (...)``: exact ids, no substring matches.
  One annotation per task keeps every task once; ``"0"`` (no annotation has id 0) gives
  an empty tab.

A tab is written with ``hiddenColumns`` chosen for reading (without them the page shows
~20 columns and pushes the task's content off-screen), and a project that has no tab yet
first gets the "Default" all-tasks tab the page would have made on its first visit
(the page makes it only when the project has no tab at all).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from backend.labelstudio.client import sdk_request, translate_errors

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

#: Title of the page's own all-tasks tab.
DEFAULT_TITLE = "Default"
#: Data Manager ordering by prediction score, highest (most suspicious) first.
BY_SCORE_DESC = ["-tasks:predictions_score"]
#: Value of an annotation-id filter that matches no task (Label Studio ids start at 1).
NO_ANNOTATION = "0"
#: Columns a review tab shows besides the task's data, per Data Manager mode.
REVIEW_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "explore": (
        "id",
        "annotators",
        "annotations_results",
        "predictions_results",
        "predictions_score",
    ),
    "labeling": ("id", "predictions_score"),
}
#: The two Data Manager modes a tab keeps hidden columns for.
MODES = ("explore", "labeling")


def annotation_filter(annotation_ids: Iterable[int]) -> dict[str, Any]:
    """Return tab filters matching exactly the tasks of ``annotation_ids``."""
    ids = [int(i) for i in annotation_ids]
    if any(i <= 0 for i in ids):
        raise ValueError(f"annotation ids must be positive; got {[i for i in ids if i <= 0]}")
    value = " ".join(str(i) for i in ids) or NO_ANNOTATION
    return {
        "conjunction": "and",
        "items": [
            {
                "filter": "filter:tasks:annotations_ids",
                "operator": "contains",
                "type": "String",
                "value": value,
            }
        ],
    }


def columns(ls: LabelStudio, project_id: int) -> list[dict[str, Any]]:
    """Return the project's Data Manager columns (``GET /api/dm/columns``)."""
    found = sdk_request(ls, "GET", f"api/dm/columns?project={int(project_id)}")
    items = found.get("columns") if isinstance(found, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"unexpected Data Manager columns of project {project_id}: {found!r:.200}")
    return [c for c in items if isinstance(c, dict) and isinstance(c.get("id"), str)]


def _column_key(column: Mapping[str, Any]) -> str:
    """The key of a column in ``hiddenColumns``: ``tasks:<id>`` or ``tasks:data.<id>``."""
    target = column.get("target") or "tasks"
    parent = column.get("parent")
    return f"{target}:{parent}.{column['id']}" if parent else f"{target}:{column['id']}"


def _leaves(cols: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Columns that are shown as such (the ``data`` group column has children instead)."""
    parents = {c.get("parent") for c in cols if c.get("parent")}
    return [c for c in cols if c["id"] not in parents or c.get("parent")]


def default_hidden(cols: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The hidden columns of the page's own Default tab (each column's visibility_defaults)."""
    hidden: dict[str, list[str]] = {mode: [] for mode in MODES}
    for column in _leaves(cols):
        defaults = column.get("visibility_defaults") or {}
        for mode in MODES:
            if defaults.get(mode) is False:
                hidden[mode].append(_column_key(column))
    return hidden


def reading_hidden(
    cols: Sequence[Mapping[str, Any]], shown: Mapping[str, Iterable[str]] = REVIEW_COLUMNS
) -> dict[str, list[str]]:
    """Hide every column but the task's data and ``shown[mode]``, per mode."""
    hidden: dict[str, list[str]] = {mode: [] for mode in MODES}
    for column in _leaves(cols):
        is_data = column.get("parent") == "data"
        for mode in MODES:
            if not is_data and column["id"] not in set(shown.get(mode, ())):
                hidden[mode].append(_column_key(column))
    return hidden


def tab_data(
    title: str,
    filters: Mapping[str, Any],
    *,
    ordering: Sequence[str] = (),
    hidden: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Return a tab's ``data`` as the page stores it."""
    data: dict[str, Any] = {
        "title": title,
        "type": "list",
        "target": "tasks",
        "filters": dict(filters),
        "ordering": list(ordering),
    }
    if hidden is not None:
        data["hiddenColumns"] = {mode: list(hidden.get(mode, [])) for mode in MODES}
    return data


def _title(view: Any) -> Any:
    data = view.data if isinstance(view.data, dict) else {}
    return data.get("title")


def upsert_tab(
    ls: LabelStudio,
    project_id: int,
    title: str,
    filters: Mapping[str, Any],
    *,
    ordering: Sequence[str] = BY_SCORE_DESC,
    cols: Sequence[Mapping[str, Any]] | None = None,
) -> int:
    """Create the tab ``title`` or re-point its filters and ordering; return its id.

    An existing tab keeps what people set on it (columns, widths); a new one gets the
    reading columns. A project without any tab first gets the page's Default tab.
    """
    with translate_errors(f"listing tabs of project {project_id}"):
        views = list(ls.views.list(project=project_id))
    matching = sorted((v for v in views if _title(v) == title), key=lambda v: v.id or 0)
    with translate_errors(f"saving tab {title!r} of project {project_id}"):
        if len(matching) == len(views):  # no tab but this one: keep an all-tasks tab too
            cols = columns(ls, project_id) if cols is None else cols
            empty = {"conjunction": "and", "items": []}
            default = tab_data(DEFAULT_TITLE, empty, hidden=default_hidden(cols))
            ls.views.create(project=project_id, data=default)
        if matching:
            kept = matching[0].data if isinstance(matching[0].data, dict) else {}
            data = {**kept, **tab_data(title, filters, ordering=ordering)}
            if not isinstance(kept.get("hiddenColumns"), dict):  # a tab without column choices
                cols = columns(ls, project_id) if cols is None else cols
                data["hiddenColumns"] = reading_hidden(cols)
            return int(ls.views.update(str(matching[0].id), project=project_id, data=data).id)
        cols = columns(ls, project_id) if cols is None else cols
        data = tab_data(title, filters, ordering=ordering, hidden=reading_hidden(cols))
        return int(ls.views.create(project=project_id, data=data).id)
