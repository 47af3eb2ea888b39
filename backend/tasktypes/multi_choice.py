"""Multi-label: one ``<Choices choice="multiple">`` control; an annotation picks a set.

Labels are a boolean matrix, one row per annotation and one column per class of
``kind.classes`` (an empty row is an annotation that picked nothing). Cross-validation is
K folds over tasks, stratified by each row's rarest chosen class; the model is one binary
classifier per class (scikit-learn's ``OneVsRestClassifier`` over the input type's default
model, after its shared feature steps), so each class gets its own out-of-fold probability
and the rows of probabilities do not sum to 1. ``core.multilabel_classification`` judges
the sets (cleanlab's method: confident learning per class, one-vs-rest).

**Suggested set**: per class, the model's confident call (the class's probability over its
average among the annotations that give it, against the same for not giving it), so a rare
class is not swamped by its many negatives. **Missing** labels are suggested but not
given, **extra** ones given but not suggested.

**Suspicion** is the estimated probability that the annotation's set is not the true set:
for each class, the posterior that its given value (chosen or not) is right, from the
out-of-fold probability (rescaled per class) and that class's noise rates (how often the
class is left out when true, and added when not), all four fitted per class by likelihood
of the given sets (:mod:`backend.tasktypes.multilabel_calibration`); one minus the product
over classes. Flags stay with confident learning.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.labelstudio.dataset import Malformed, TaskKind
from backend.tasktypes import Judgement, NothingToAudit, ReportParts, TaskType, register
from backend.tasktypes.single_choice import (
    RESULT_TYPE,
    choices_classes,
    choices_regions,
)

if TYPE_CHECKING:
    from backend.pipeline import AuditResult, Prepared
    from backend.settings import Settings

#: Joins the labels of a set in issues.csv and the report.
SEPARATOR = ";"
#: A forest's trees are fitted in at most this many threads.
MAX_FIT_THREADS = 4


@register
class MultiChoice(TaskType):
    """A set of classes per annotation, from a ``<Choices choice="multiple">``."""

    name = "multi_choice"
    control_tag = "choices"
    default_filter_by = "confident_learning"
    suspicion = "estimated probability that the annotation's set of labels is not the true set"
    suspicion_words = (
        "The estimated probability that the annotation's set of labels is wrong (a label "
        "missing or one too many), from a model that never saw the task (out-of-fold, by "
        "cross-validation) and each label's estimated rates of being left out and added."
    )
    detail_columns = ("missing_labels", "extra_labels")

    def accepts(self, control: Any) -> bool:
        return super().accepts(control) and (control.attr or {}).get("choice") == "multiple"

    def classes(self, control: Any) -> tuple[str, ...]:
        return choices_classes(control)

    # ------------------------------------------------------------------ annotations

    def read_label(self, result: Any, kind: TaskKind) -> tuple[int, ...]:
        """The chosen classes' indices, ascending; no choices result is the empty set."""
        ours = choices_regions(result, kind)
        if len(ours) > 1:
            raise Malformed(
                f"annotation has {len(ours)} {RESULT_TYPE} results for {kind.control!r}"
            )
        if not ours:
            return ()
        value = ours[0].get("value")
        picked = value.get(RESULT_TYPE) if isinstance(value, dict) else None
        if not isinstance(picked, list):
            raise Malformed(f"{kind.control!r} result must hold a list of choices")
        unknown = [c for c in picked if not isinstance(c, str) or c not in kind.classes]
        if unknown:
            raise Malformed(f"labels {unknown!r} are not among the classes {list(kind.classes)}")
        return tuple(sorted({kind.classes.index(c) for c in picked}))

    def encode(self, labels: list[Any], kind: TaskKind) -> np.ndarray:
        matrix = np.zeros((len(labels), len(kind.classes)), dtype=bool)
        for row, chosen in enumerate(labels):
            matrix[row, list(chosen)] = True
        return matrix

    def present(self, labels: np.ndarray) -> np.ndarray:
        return np.flatnonzero(labels.any(axis=0))

    def check(self, labels: np.ndarray, kind: TaskKind) -> None:
        if not labels.any():
            raise NothingToAudit("no usable annotation picks any label")
        if (labels == labels[0]).all():
            chosen = [kind.classes[j] for j in np.flatnonzero(labels[0])]
            raise NothingToAudit(
                f"every usable annotation picks the same labels ({chosen!r}); "
                "different sets are needed to find wrong labels"
            )

    # ------------------------------------------------------------------ cross-validation

    def fold_splits(
        self, prepared: Prepared, *, folds: int, seed: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        return stratified_task_folds(
            rarest_class(prepared.labels), prepared.groups, folds=folds, seed=seed
        )

    def model(self, kind: TaskKind, settings: Settings, *, n_samples: int) -> Any:
        from backend.models import make_model

        return make_model(kind, settings, n_samples=n_samples, per_class=True)

    def classifier(self, prepared: Prepared, settings: Settings, *, n_samples: int) -> Any:
        """The per-class model made to answer one probability per class: a classifier that
        learns several outputs at once (trees, forests: scikit-learn's ``multi_output``
        tag) learns them all in one fit; any other becomes one binary classifier per class
        (``OneVsRestClassifier``)."""
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.utils import get_tags

        model = super().classifier(prepared, settings, n_samples=n_samples)
        if get_tags(model).target_tags.multi_output:
            if model.get_params().get("n_jobs", 0) is None:
                # A forest's trees are seeded before they are fitted, so fitting them in
                # threads gives the same forest, sooner.
                model.set_params(n_jobs=fit_threads())
            return MultiOutputProbabilities(model)
        # One process, one thread: liblinear draws from one random generator shared by the
        # whole process, so fitting classes in threads would make the audit irreproducible.
        return OneVsRestClassifier(model)

    def fit_predict_fold(
        self, prepared: Prepared, settings: Settings, train: np.ndarray, test: np.ndarray
    ) -> np.ndarray:
        """Fit one binary model per class on ``train``; return each class's probability."""
        model = self.classifier(prepared, settings, n_samples=len(prepared.labels))
        with warnings.catch_warnings():
            # "Label not N is present in all training examples": a constant column is fine.
            warnings.filterwarnings("ignore", message="Label not", category=UserWarning)
            model.fit(prepared.X[train], prepared.labels[train])
        return np.asarray(model.predict_proba(prepared.X[test]), dtype=float)

    # ------------------------------------------------------------------ confident learning

    def judge(self, prepared: Prepared, probs: np.ndarray, settings: Settings) -> Judgement:
        from backend.tasktypes.multilabel_calibration import (
            fit_channels,
            set_error_probability,
        )
        from core.multilabel_classification.dataset import multilabel_health_summary
        from core.multilabel_classification.filter import find_label_issues

        kind, given = prepared.dataset.kind, prepared.labels
        present = self.present(given)
        local_given, local_probs = given[:, present], np.clip(probs[:, present], 0.0, 1.0)
        as_lists = [np.flatnonzero(row).tolist() for row in local_given]
        noise = np.tile(np.eye(2), (len(kind.classes), 1, 1))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            filter_by = self.filter_by(settings.filter_by)
            issues = find_label_issues(as_lists, local_probs, filter_by=filter_by)
            health = multilabel_health_summary(
                as_lists,
                local_probs,
                class_names=[kind.classes[j] for j in present],
                verbose=False,
            )
            counted = per_class_noise(local_given, local_probs)
        # Confident learning's rates start the fit; the fitted ones are reported.
        trusted = prepared.dataset.ground_truth[prepared.rows]
        channels = fit_channels(
            local_given,
            local_probs,
            start_rates=np.column_stack([counted[:, 0, 1], counted[:, 1, 0]]),
            trusted=trusted,
        )
        noise[present] = channels.noise_matrices()
        suggested = np.zeros_like(given)
        suggested[:, present] = confident_calls(local_given, local_probs)
        return Judgement(
            given=given,
            suggested=suggested,
            suspicion=set_error_probability(local_given, local_probs, channels, trusted=trusted),
            is_label_issue=np.asarray(issues, dtype=bool),
            noise_matrix=noise,
            health={
                "overall_label_health_score": health["overall_multilabel_health_score"],
                "classes_by_multilabel_quality": health["classes_by_multilabel_quality"],
                "common_multilabel_issues": health["common_multilabel_issues"],
            },
            notes=sorted({str(w.message) for w in caught}),
        )

    def final_model(self, prepared: Prepared, result: AuditResult, settings: Settings) -> Any:
        """One binary model per class, trained without the flagged rows."""
        keep = ~np.asarray(result.is_label_issue, dtype=bool)
        if not prepared.labels[keep].any():
            keep[:] = True
        from backend.models import Featurized

        model = self.classifier(prepared, settings, n_samples=int(keep.sum()))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Label not", category=UserWarning)
            model.fit(prepared.X[keep], prepared.labels[keep])
        return Featurized(prepared.features, model)

    # ------------------------------------------------------------------ what is written back

    def suggest(self, probs: np.ndarray) -> np.ndarray:
        """Each class whose binary model calls it (probability at least one half)."""
        return np.asarray(probs) >= 0.5

    def label_text(self, kind: TaskKind, label: Any) -> str:
        return SEPARATOR.join(kind.classes[j] for j in np.flatnonzero(label))

    def details(self, kind: TaskKind, given: Any, suggested: Any) -> dict[str, str]:
        given, suggested = np.asarray(given, dtype=bool), np.asarray(suggested, dtype=bool)
        return {
            "missing_labels": self.label_text(kind, suggested & ~given),
            "extra_labels": self.label_text(kind, given & ~suggested),
        }

    def result(self, kind: TaskKind, label: Any) -> list[dict[str, Any]]:
        chosen = np.asarray(label)
        if chosen.dtype != bool or chosen.shape != (len(kind.classes),):
            raise ValueError(
                f"label must be {len(kind.classes)} booleans (one per class); "
                f"got {chosen.dtype} of shape {chosen.shape}"
            )
        if not chosen.any():
            return []
        return [
            {
                "from_name": kind.control,
                "to_name": kind.object_name,
                "type": RESULT_TYPE,
                "value": {RESULT_TYPE: [kind.classes[j] for j in np.flatnonzero(chosen)]},
            }
        ]

    def summary(self, result: AuditResult) -> dict[str, Any]:
        from backend.report.multi_choice import label_noise

        return {"label_noise": label_noise(result)}

    def report(self, result: AuditResult) -> ReportParts:
        from backend.report.multi_choice import report_parts

        return report_parts(result)


def fit_threads() -> int:
    """Threads a multi-output model (a forest) fits in: the CPUs this process may run on,
    at most MAX_FIT_THREADS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_FIT_THREADS))


def stratified_task_folds(
    strata: np.ndarray, groups: np.ndarray, *, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K folds over tasks (``groups``), seeded: a task's rows share a fold.

    scikit-learn's ``StratifiedGroupKFold`` rule (tasks shuffled, those with the most
    uneven strata first, each put in the fold that keeps every stratum's share across the
    folds most even, the smaller fold on a tie), with each candidate fold's spread
    computed from running sums, in time linear in the tasks, where scikit-learn's took
    1.0-1.5 s of a 1,800-task audit. Its folds differ from scikit-learn's where two folds
    tie to within rounding (scikit-learn's pick then follows its sums' last bits). A
    stratum rarer than the folds is spread as far as it goes.
    """

    def isclose(a: float, b: float) -> bool:  # numpy's default tolerances
        return abs(a - b) <= 1e-8 + 1e-5 * abs(b)

    _, stratum = np.unique(np.asarray(strata), return_inverse=True)
    _, task = np.unique(groups, return_inverse=True)
    n_tasks, n_strata = int(task.max()) + 1, int(stratum.max()) + 1
    n_splits = max(2, min(folds, n_tasks))
    per_task = np.zeros((n_tasks, n_strata))
    np.add.at(per_task, (task, stratum), 1.0)
    shuffled = np.arange(n_tasks)
    np.random.RandomState(seed).shuffle(shuffled)  # scikit-learn's draw
    order = shuffled[np.argsort(-per_task[shuffled].std(axis=1), kind="stable")]
    share = per_task / per_task.sum(axis=0)  # a task's share of each stratum
    fold_share = np.zeros((n_splits, n_strata))
    sums, squares = np.zeros(n_strata), np.zeros(n_strata)
    size = [0.0] * n_splits
    fold_of = np.empty(n_tasks, dtype=np.intp)
    for t in order.tolist():
        d = share[t]
        # each stratum's spread over the folds if this task went to fold i (rows)
        mean = (sums + d) / n_splits
        second = (squares + 2.0 * fold_share * d + d * d) / n_splits
        spread = np.sqrt(np.maximum(second - mean * mean, 0.0)).mean(axis=1).tolist()
        i, least = 0, spread[0]
        for j in range(1, n_splits):  # scikit-learn's order of comparisons
            if spread[j] < least or (isclose(spread[j], least) and size[j] < size[i]):
                i, least = j, spread[j]
        fold_of[t] = i
        fold_share[i] += d
        sums += d
        squares = (fold_share * fold_share).sum(axis=0)
        size[i] += float(per_task[t].sum())
    row_fold = fold_of[task]
    return [(np.flatnonzero(row_fold != i), np.flatnonzero(row_fold == i)) for i in range(n_splits)]


def rarest_class(labels: np.ndarray) -> np.ndarray:
    """Each row's rarest chosen class (the number of classes for an empty row): the
    stratum that spreads every class over the folds as evenly as one stratum can."""
    counts = labels.sum(axis=0)
    order = np.where(labels, counts[None, :], np.iinfo(np.int64).max)
    rarest = order.argmin(axis=1)
    return np.where(labels.any(axis=1), rarest, labels.shape[1])


class MultiOutputProbabilities:
    """A multi-output classifier whose ``predict_proba`` is one column per class: the
    probability of each output being True (its list of per-output tables, flattened)."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: Any, Y: np.ndarray) -> MultiOutputProbabilities:
        self.estimator.fit(X, np.asarray(Y, dtype=bool))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        tables = self.estimator.predict_proba(X)
        columns = []
        for classes, table in zip(self.estimator.classes_, tables, strict=True):
            on = np.flatnonzero(np.asarray(classes) == True)  # noqa: E712 (numpy bools)
            columns.append(table[:, on[0]] if len(on) else np.zeros(len(table)))
        return np.column_stack(columns)


def class_thresholds(given: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per class, the average probability of the class among the rows that give it, and of
    its absence among the rows that do not (0.5 where no row is on that side)."""
    chosen, absent = given.sum(axis=0), (~given).sum(axis=0)
    on = np.where(chosen > 0, (probs * given).sum(axis=0) / np.maximum(chosen, 1), 0.5)
    off = np.where(absent > 0, ((1 - probs) * ~given).sum(axis=0) / np.maximum(absent, 1), 0.5)
    return np.clip(on, 1e-6, None), np.clip(off, 1e-6, None)


def confident_calls(given: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per row and class: is the class's probability, over its threshold, at least its
    absence's probability over that threshold (cleanlab's per-class confident call)."""
    on, off = class_thresholds(given, probs)
    return probs / on >= (1 - probs) / off


def per_class_noise(given: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per class, the estimated 2 x 2 noise matrix P(given = i | true = j), i, j in
    {absent, chosen}, from the class's confident joint (core.count, one-vs-rest)."""
    from core.count import compute_confident_joint, estimate_latent

    out = np.tile(np.eye(2), (given.shape[1], 1, 1))
    for j in range(given.shape[1]):
        column = given[:, j].astype(np.intp)
        if column.min() == column.max():
            continue
        two = np.column_stack([1.0 - probs[:, j], probs[:, j]])
        joint = compute_confident_joint(column, two)
        _, out[j], _ = estimate_latent(joint, column)
    return out
