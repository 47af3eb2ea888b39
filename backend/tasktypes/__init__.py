"""Task types: what a project asks annotators to produce. One module per type.

A task type owns everything about its labels: which label-config control it audits and
its classes (:meth:`TaskType.classes`), reading an annotation's result into a label
(:meth:`TaskType.read_label`), the cross-validation that gives out-of-fold probabilities
(:meth:`TaskType.fold_splits`, :meth:`TaskType.fit_predict_fold`), which ``core``
function judges the labels (:meth:`TaskType.judge`), the noise-aware model for new tasks
(:meth:`TaskType.final_model`), and the Label Studio result it writes back
(:meth:`TaskType.result`, :meth:`TaskType.label_text` for issues.csv and the report).
The pipeline (:mod:`backend.pipeline`) asks :func:`get` and never names a concrete type.

To add one: write a module with a subclass of :class:`TaskType` decorated with
:func:`register`, and import it at the bottom of this file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

if TYPE_CHECKING:
    from backend.labelstudio.dataset import TaskKind
    from backend.pipeline import AuditResult, Prepared
    from backend.settings import Settings

__all__ = [
    "Judgement",
    "NothingToAudit",
    "Rejudged",
    "ReportParts",
    "TaskType",
    "get",
    "names",
    "register",
]


class NothingToAudit(ValueError):
    """The dataset holds too little to audit (no annotations, a single class, ...)."""


@dataclass
class Judgement:
    """A task type's verdict on every audited row (rows aligned with ``Prepared``).

    ``given``/``suggested`` are labels in the task type's encoding; ``suspicion`` is in
    [0, 1]; ``noise_matrix`` is P(given = i | true = j) over ``kind.classes``; ``health``
    holds JSON-ready figures for the summary and report.
    """

    given: np.ndarray
    suggested: np.ndarray
    suspicion: np.ndarray
    is_label_issue: np.ndarray
    noise_matrix: np.ndarray
    health: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    #: The task type's own tables (:attr:`TaskType.tables`), each a list of rows.
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Per row, the probability that ``suggested`` is the true label (NaN where the task
    #: type cannot say); ``--clean relabel`` relabels only confident suggestions.
    confidence: np.ndarray | None = None


@dataclass(frozen=True)
class Rejudged:
    """One row judged again at once (instant feedback): its suspicion, whether it is
    flagged, and the suggested label (in the task type's encoding)."""

    suspicion: float
    flagged: bool
    suggested: Any


@dataclass
class ReportParts:
    """A task type's part of the HTML report (:mod:`backend.report.page` adds the rest).

    ``plots`` are (name, PNG data URI) shown under "Where the labels go wrong";
    ``definitions`` are (term, HTML) added to "What the figures mean"; ``sections`` are
    (title, HTML) shown after the table of flagged annotations.
    """

    plots: list[tuple[str, str]] = field(default_factory=list)
    definitions: list[tuple[str, str]] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)


class TaskType:
    """The contract of a task type (subclass it and :func:`register` the subclass)."""

    #: The registry name, stored in ``TaskKind.task_type``.
    name: ClassVar[str]
    #: The Label Studio control tag it audits, in lower case (``choices``, ``labels``).
    control_tag: ClassVar[str]
    #: What an annotation's suspicion is, as a formula (summary.json, the report's axis).
    suspicion: ClassVar[str]
    #: The same in a sentence or two for people (the report's definitions).
    suspicion_words: ClassVar[str]
    #: What "flagged" means, as HTML for the report ("": confident learning with filter_by).
    flagged_words: ClassVar[str] = ""
    #: What the label health score is, as HTML for the report ("": cleanlab's).
    health_words: ClassVar[str] = ""
    #: Whether its flags come from a ``filter_by`` (the report's header names it).
    uses_filter_by: ClassVar[bool] = True
    #: The ``filter_by`` the setting ``"auto"`` means: the best measured for this type
    #: (bench/detection.py, bench/detection_multilabel.py).
    default_filter_by: ClassVar[str]
    #: issues.csv columns this type adds after the shared ones (:meth:`details` fills them).
    detail_columns: ClassVar[tuple[str, ...]] = ()
    #: Tables this type writes beside issues.csv, as ``<name>.csv``: name -> columns
    #: (:attr:`Judgement.tables` holds their rows).
    tables: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Whether a changed annotation is judged again at once (:meth:`instant_state`,
    #: :meth:`rejudge`) and its flag's verdict remembered (:mod:`backend.verdicts`).
    instant: ClassVar[bool] = False
    #: Whether a re-audit is written into Label Studio in place (only the predictions that
    #: changed, under the version the project shows: backend.labelstudio.inplace). Worth it
    #: only where a fixed label moves few predictions: folds that stay put (single choice).
    in_place: ClassVar[bool] = False

    def filter_by(self, setting: str) -> str:
        """Return the ``filter_by`` the setting means for this type (``"auto"``: its default)."""
        return self.default_filter_by if setting == "auto" else setting

    def accepts(self, control: Any) -> bool:
        """Whether this type audits a label-config control (label-studio-sdk's tag object)."""
        return str(control.tag).lower() == self.control_tag

    def classes(self, control: Any) -> tuple[str, ...]:
        """Return the control's classes in config order; raise UnsupportedConfig if unusable."""
        raise NotImplementedError

    def object_problem(self, tag: str, input_type: str) -> str | None:
        """Why this type cannot audit its control's object (``tag``, read as ``input_type``),
        or None when it can (the default)."""
        return None

    def read_label(self, result: Any, kind: TaskKind) -> Any:
        """Return the label an annotation's ``result`` gives; raise ``Malformed`` saying why."""
        raise NotImplementedError

    def encode(self, labels: list[Any], kind: TaskKind) -> np.ndarray:
        """Return ``read_label``'s answers, one per row, as the dataset's ``labels`` array."""
        raise NotImplementedError

    def present(self, labels: np.ndarray) -> np.ndarray:
        """Return the indices of the classes that some row of ``labels`` gives, ascending."""
        raise NotImplementedError

    def check(self, labels: np.ndarray, kind: TaskKind) -> None:
        """Raise :class:`NothingToAudit` if the usable labels cannot be audited."""

    def fold_splits(
        self, prepared: Prepared, *, folds: int, seed: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Return (train, test) row indices per fold; a task's rows share a fold."""
        raise NotImplementedError

    def model(self, kind: TaskKind, settings: Settings, *, n_samples: int) -> Any:
        """Return the unfitted model (feature steps, then classifier) this type trains."""
        from backend.models import make_model

        return make_model(kind, settings, n_samples=n_samples)

    def classifier(self, prepared: Prepared, settings: Settings, *, n_samples: int) -> Any:
        """Return an unfitted classifier over ``prepared.X``: :meth:`model` without the
        feature steps :func:`backend.pipeline.prepare` already fitted."""
        from backend.models import split_features

        return split_features(self.model(prepared.dataset.kind, settings, n_samples=n_samples))[1]

    def empty_probs(self, n_rows: int, num_classes: int) -> np.ndarray:
        """The array the folds' probabilities are gathered in (rows: ``probs[test] = ...``)."""
        return np.zeros((n_rows, num_classes))

    def fit_predict_fold(
        self, prepared: Prepared, settings: Settings, train: np.ndarray, test: np.ndarray
    ) -> np.ndarray:
        """Fit on ``train``; return the probabilities of ``test`` (one column per class)."""
        raise NotImplementedError

    def judge(self, prepared: Prepared, probs: np.ndarray, settings: Settings) -> Judgement:
        """Confident learning on the out-of-fold ``probs``: which labels look wrong."""
        raise NotImplementedError

    def final_model(self, prepared: Prepared, result: AuditResult, settings: Settings) -> Any:
        """Return a fitted model whose ``predict_proba`` has one column per class."""
        raise NotImplementedError

    def suggest(self, probs: np.ndarray) -> np.ndarray:
        """Return the label a model suggests for each row of its probabilities (/predict)."""
        raise NotImplementedError

    def label_text(self, kind: TaskKind, label: Any) -> str:
        """Return how issues.csv and the report write a label (encoded as ``read_label`` does)."""
        raise NotImplementedError

    def result(self, kind: TaskKind, label: Any) -> list[dict[str, Any]]:
        """Return the Label Studio ``result`` of a prediction suggesting ``label`` (encoded)."""
        raise NotImplementedError

    def issues_columns(self) -> tuple[str, ...] | None:
        """issues.csv's columns when this type writes its own rows (:meth:`issue_rows`);
        None: the shared columns, one row per annotation, then :attr:`detail_columns`."""
        return None

    def issue_rows(self, result: AuditResult) -> list[dict[str, Any]] | None:
        """issues.csv's rows when this type has its own (spans: one per span), most
        suspicious first; None: one row per annotation (the shared form)."""
        return None

    def details(self, kind: TaskKind, given: Any, suggested: Any) -> dict[str, str]:
        """Return the :attr:`detail_columns` of an issues.csv row (none by default)."""
        return {}

    def summary(self, result: AuditResult) -> dict[str, Any]:
        """Return this type's figures for summary.json (merged into its top level)."""
        return {}

    def tabs(self, result: AuditResult) -> dict[str, dict[int, int]]:
        """Return the Data Manager tabs this type adds to "Needs re-review": title -> task id
        -> one of the task's annotation ids (the tab lists tasks through them), tab order."""
        return {}

    def report(self, result: AuditResult) -> ReportParts:
        """Return this type's plots, definitions and sections of the HTML report."""
        return ReportParts()

    # ------------------------------------------------------------------ instant feedback

    def instant_state(self, result: AuditResult) -> Any | None:
        """What judging one row again at once needs from this audit besides the row's own
        out-of-fold probabilities (picklable), or None: this type is only re-audited (the
        default; the debounced audit follows every change either way)."""
        return None

    def rejudge(self, state: Any, probs: np.ndarray, label: Any, *, trusted: bool) -> Rejudged:
        """Judge one row again with a new ``label`` from its out-of-fold ``probs`` (one
        column per class; they never depended on the row's own label) and ``state`` from
        :meth:`instant_state`; a ``trusted`` row (ground truth, confirmed) is never flagged."""
        raise NotImplementedError


REGISTRY: dict[str, TaskType] = {}

T = TypeVar("T", bound=type[TaskType])


def register(cls: T) -> T:
    """Class decorator: make ``cls`` the task type of its ``name`` (replacing any before)."""
    REGISTRY[cls.name] = cls()
    return cls


def get(name: str) -> TaskType:
    """Return the task type registered as ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown task type {name!r}; known: {', '.join(names())}") from None


def names() -> list[str]:
    """Return the registered task types' names."""
    return sorted(REGISTRY)


def for_control(control: Any) -> TaskType | None:
    """Return the first registered task type that audits ``control``, or None."""
    return next((t for t in REGISTRY.values() if t.accepts(control)), None)


# The built-in types register themselves on import (kept last: they import the above).
from backend.tasktypes import multi_annotator, multi_choice, single_choice, spans  # noqa: E402, F401
