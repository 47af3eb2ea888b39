"""Single choice: one ``<Choices>`` control (``choice="single"``, ``"single-radio"`` or unset).

Labels are class indices into ``kind.classes``. Cross-validation is K folds over *tasks*
(all annotations of a task fall in the same fold, so a task's input never trains the model
that judges it), each task's fold a seeded hash of its id, so a re-audit after a fix moves
no task (:mod:`backend.tasktypes.folds`); a class with fewer examples than folds still gets
one example into every training fold (cleanlab's rule). ``core.filter.find_label_issues`` judges
the labels over the classes present.

**Suspicion** of an annotation is the estimated probability that its label is wrong:
``1 - P(true = given | x, given)``, Bayes' rule with the out-of-fold probabilities
(temperature-fitted through the noise) as prior and confident learning's noise matrix as
likelihood (:mod:`backend.tasktypes.calibration` derives it). 0.9 means that of
annotations like this one, about 9 in 10 are wrong. Ground-truth annotations are their own
truth (suspicion 0) and help fit the temperature. Whether an annotation is flagged is
decided by confident learning with the configured ``filter_by``, not by a fixed suspicion
cut-off.

**One row again, at once** (instant feedback) is :mod:`backend.tasktypes.one_row`.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.labelstudio.dataset import Malformed, TaskKind, UnsupportedConfig, type_name
from backend.tasktypes import Judgement, NothingToAudit, Rejudged, TaskType, register
from backend.tasktypes.one_row import OneRowRule, one_row_rule, over_present, rejudge_row

if TYPE_CHECKING:
    from backend.pipeline import AuditResult, Prepared
    from backend.settings import Settings

#: What a single-choice Choices may say in its ``choice`` attribute (absent means single).
SINGLE_CHOICE_MODES = ("single", "single-radio")
#: Choices attributes that make a control something else than one label per task.
UNSUPPORTED_FLAGS = ("perRegion", "perItem", "allowNested")
#: The Label Studio result type (and value key) of a Choices control.
RESULT_TYPE = "choices"


def _describe(tag: Any) -> str:
    return f"<{tag.tag} name={tag.name!r}>"


@register
class SingleChoice(TaskType):
    """One class per annotation, from a single-choice ``<Choices>``."""

    name = "single_choice"
    control_tag = "choices"
    default_filter_by = "prune_by_noise_rate"
    instant = True
    in_place = True
    suspicion = (
        "estimated probability that the given label is wrong: 1 - its posterior from the "
        "out-of-fold probabilities (temperature-calibrated) and the estimated noise matrix"
    )
    suspicion_words = (
        "The estimated probability that the annotator's label is wrong: of the annotations "
        "scored about 0.8, about 80% are wrong (bench/detection.py measures it). It comes, "
        "by Bayes' rule, from what a model that never saw the task believes (out-of-fold, by "
        "cross-validation, with a temperature fitted to the labels) and from how often each "
        "true class is given each label (the noise matrix). Ground-truth annotations score 0."
    )

    def accepts(self, control: Any) -> bool:
        mode = (control.attr or {}).get("choice")
        return super().accepts(control) and mode != "multiple"

    # ------------------------------------------------------------------ label config

    def classes(self, control: Any) -> tuple[str, ...]:
        mode = (control.attr or {}).get("choice")
        if mode is not None and mode not in SINGLE_CHOICE_MODES:
            raise UnsupportedConfig(f"{_describe(control)} has choice={mode!r}")
        return choices_classes(control)

    # ------------------------------------------------------------------ annotations

    def read_label(self, result: Any, kind: TaskKind) -> int:
        ours = choices_regions(result, kind)
        if not ours:
            raise Malformed(f"annotation has no {RESULT_TYPE} result for {kind.control!r}")
        if len(ours) > 1:
            raise Malformed(
                f"annotation has {len(ours)} {RESULT_TYPE} results for {kind.control!r}"
            )
        value = ours[0].get("value")
        picked = value.get(RESULT_TYPE) if isinstance(value, dict) else None
        if not isinstance(picked, list) or len(picked) != 1:
            got = len(picked) if isinstance(picked, list) else type_name(picked)
            raise Malformed(f"{kind.control!r} result must hold exactly one choice; got {got}")
        (label,) = picked
        if not isinstance(label, str) or label not in kind.classes:
            raise Malformed(f"label {label!r} is not one of the classes {list(kind.classes)}")
        return kind.classes.index(label)

    def encode(self, labels: list[Any], kind: TaskKind) -> np.ndarray:
        return np.asarray(labels, dtype=np.intp)

    def present(self, labels: np.ndarray) -> np.ndarray:
        return np.unique(labels)

    def check(self, labels: np.ndarray, kind: TaskKind) -> None:
        present = np.unique(labels)
        if len(present) < 2:
            only = kind.classes[int(present[0])]
            raise NothingToAudit(
                f"every usable annotation has the same label ({only!r}); "
                "at least two classes are needed to find wrong labels"
            )

    # ------------------------------------------------------------------ cross-validation

    def fold_splits(
        self, prepared: Prepared, *, folds: int, seed: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        from backend.tasktypes.folds import stable_task_folds

        return stable_task_folds(prepared.labels, prepared.groups, folds=folds, seed=seed)

    def fit_predict_fold(
        self, prepared: Prepared, settings: Settings, train: np.ndarray, test: np.ndarray
    ) -> np.ndarray:
        """Fit a fresh model on ``train``; return ``predict_proba`` of ``test`` over all classes.

        A class missing from ``train`` borrows one held-out example of that class (cleanlab's
        rule), whose own prediction is then set to that class.
        """
        model = self.classifier(prepared, settings, n_samples=len(prepared.labels))
        return fit_predict_classes(
            model, prepared.X, prepared.labels, train, test, prepared.num_classes
        )

    # ------------------------------------------------------------------ confident learning

    def judge(self, prepared: Prepared, probs: np.ndarray, settings: Settings) -> Judgement:
        from backend.tasktypes.calibration import fitted_posterior
        from core.count import compute_confident_joint, estimate_latent
        from core.dataset import health_summary
        from core.filter import find_label_issues

        kind, labels = prepared.dataset.kind, prepared.labels
        trusted = prepared.dataset.ground_truth[prepared.rows]
        present = np.unique(labels)
        num_classes = prepared.num_classes
        # core works over the classes present; classes nobody chose get no column.
        local = np.searchsorted(present, labels)
        local_probs = over_present(probs, present)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # One calibrated confident joint serves the flags, the noise matrix and health.
            joint = compute_confident_joint(local, local_probs)
            filter_by = self.filter_by(settings.filter_by)
            issues = find_label_issues(
                local, local_probs, filter_by=filter_by, confident_joint=joint
            )
            _, noise_local, _ = estimate_latent(joint, local)
            health = health_summary(
                local,
                local_probs,
                class_names=[kind.classes[c] for c in present],
                confident_joint=joint,
                verbose=False,
            )
        # The probability each label is wrong, and that the suggestion is right
        # (calibration.py derives the posterior).
        post, temperature = fitted_posterior(local_probs, local, noise_local, trusted=trusted)
        rows = np.arange(len(local))
        suggested = local_probs.argmax(axis=1)
        suspicion = 1.0 - post[rows, local]
        health["model_temperature"] = round(temperature, 6)
        noise_matrix = np.zeros((num_classes, num_classes))
        noise_matrix[np.ix_(present, present)] = noise_local
        return Judgement(
            given=labels,
            suggested=present[suggested],
            suspicion=suspicion,
            is_label_issue=issues,
            noise_matrix=noise_matrix,
            health=health,
            notes=sorted({str(w.message) for w in caught}),
            confidence=post[rows, suggested],
        )

    def final_model(self, prepared: Prepared, result: AuditResult, settings: Settings) -> Any:
        """CleanLearning without the flagged rows, classes weighted by their noise."""
        from backend.models import Featurized
        from core.classification import CleanLearning

        issues = np.asarray(result.is_label_issue, dtype=bool)
        if len(np.unique(prepared.labels[~issues])) < 2:
            issues = np.zeros_like(issues)
        present = np.unique(prepared.labels)
        codes = np.searchsorted(present, prepared.labels)
        clf = self.classifier(prepared, settings, n_samples=int((~issues).sum()))
        learner = CleanLearning(clf=clf, seed=settings.seed)
        # cleanlab's way to fit on issues found elsewhere: estimates first (here from the
        # audit's out-of-fold probabilities and noise matrix, no cross-validation), then fit
        # with those issues; CleanLearning weighs class k by 1 / P(given=k | true=k).
        learner.find_label_issues(
            labels=codes,
            pred_probs=over_present(result.pred_probs, present),
            noise_matrix=result.noise_matrix[np.ix_(present, present)],
        )
        learner.fit(prepared.X, codes, label_issues=issues)
        return ClassMapped(Featurized(prepared.features, learner), present, prepared.num_classes)

    # ------------------------------------------------------------------ what is written back

    def summary(self, result: AuditResult) -> dict[str, Any]:
        return {
            "noise_matrix": {
                "description": "P(given label = row | true label = column), estimated",
                "classes": list(result.kind.classes),
                "matrix": np.round(result.noise_matrix, 6).tolist(),
            }
        }

    def report(self, result: AuditResult) -> Any:
        from backend.report.single_choice import report_parts

        return report_parts(result)

    def suggest(self, probs: np.ndarray) -> np.ndarray:
        return probs.argmax(axis=1)

    # ------------------------------------------------------------------ instant feedback

    def instant_state(self, result: AuditResult) -> OneRowRule:
        temperature = result.health.get("model_temperature")
        return one_row_rule(
            result.given,
            result.pred_probs,
            result.is_label_issue,
            noise_matrix=result.noise_matrix,
            temperature=None if temperature is None else float(temperature),
            trusted=result.ground_truth,
        )

    def rejudge(self, state: Any, probs: np.ndarray, label: Any, *, trusted: bool) -> Rejudged:
        return rejudge_row(state, probs, int(label), trusted=trusted)

    def label_text(self, kind: TaskKind, label: Any) -> str:
        return kind.classes[int(label)]

    def result(self, kind: TaskKind, label: Any) -> list[dict[str, Any]]:
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
            raise TypeError(f"label must be a class index; got {type(label).__name__}")
        if not 0 <= label < len(kind.classes):
            raise ValueError(
                f"label must be a class index in 0..{len(kind.classes) - 1}; got {label}"
            )
        return [
            {
                "from_name": kind.control,
                "to_name": kind.object_name,
                "type": RESULT_TYPE,
                "value": {RESULT_TYPE: [kind.classes[int(label)]]},
            }
        ]


def task_folds(
    strata: np.ndarray, groups: np.ndarray, *, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K folds over tasks (``groups``): a task's rows share a fold, seeded.

    ``strata`` is one class per row that the folds keep balanced; a class rarer than the
    folds is spread as far as it goes (the fitting step handles the rest).
    """
    from sklearn.model_selection import StratifiedGroupKFold

    n_splits = max(2, min(folds, len(np.unique(groups))))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # "The least populated class in y has only 1 members": the fitting step handles it.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return list(splitter.split(np.zeros(len(strata)), strata, groups))


def fit_predict_classes(
    model: Any,
    X: Any,
    labels: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    num_classes: int,
) -> np.ndarray:
    """Fit ``model`` on the ``train`` rows; return ``predict_proba`` of ``test`` over all classes.

    A class missing from ``train`` borrows one held-out example of that class (cleanlab's
    rule), whose own prediction is then set to that class.
    """
    missing = np.setdiff1d(np.unique(labels), labels[train])
    borrowed = {int(test[labels[test] == cls][0]): int(cls) for cls in missing}
    train_rows = np.concatenate([train, np.array(sorted(borrowed), dtype=train.dtype)])
    model.fit(X[train_rows], labels[train_rows])
    probs = np.zeros((len(test), num_classes))
    probs[:, model.classes_] = model.predict_proba(X[test])
    for offset, row in enumerate(test.tolist()):
        if row in borrowed:
            probs[offset] = 0.0
            probs[offset, borrowed[row]] = 1.0
    return probs


def choices_classes(control: Any) -> tuple[str, ...]:
    """Return a ``<Choices>``'s values in config order; raise UnsupportedConfig if unusable
    (flags that make it per region or per item, values loaded from task data, no values)."""
    where = _describe(control)
    for attr in UNSUPPORTED_FLAGS:
        if str(control.get_attr(attr, "false")).lower() == "true":
            raise UnsupportedConfig(f'{where} has {attr}="true"')
    if control.get_attr("value"):
        raise UnsupportedConfig(
            f"{where} loads its choices from task data "
            f"(value={control.get_attr('value')!r}); labelaudit needs the classes "
            "written in the config"
        )
    classes = tuple(control.labels or ())
    if not classes:
        raise UnsupportedConfig(f"{where} has no <Choice> values")
    return classes


def choices_regions(result: Any, kind: TaskKind) -> list[dict[str, Any]]:
    """Return the ``choices`` regions of ``kind.control`` in an annotation's ``result``."""
    if not isinstance(result, list):
        raise Malformed(f"annotation result must be a list; got {type_name(result)}")
    return [
        r
        for r in result
        if isinstance(r, dict)
        and r.get("from_name") == kind.control
        and str(r.get("type", "")).lower() == RESULT_TYPE
    ]


class ClassMapped:
    """A model trained on the classes present, answering over all of the config's classes."""

    def __init__(self, model: Any, present: np.ndarray, num_classes: int) -> None:
        self.model = model
        self.present = present
        self.num_classes = num_classes

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return probabilities with one column per class of the label config."""
        probs = np.zeros((X.shape[0] if hasattr(X, "shape") else len(X), self.num_classes))
        probs[:, self.present] = self.model.predict_proba(X)
        return probs
