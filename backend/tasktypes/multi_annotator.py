"""Several annotators per task: a single-choice project where some task has 2+ annotations.

Not claimed from the label config: the export (:mod:`backend.labelstudio.export`) turns a
``single_choice`` dataset into this type when enough tasks (10%, and 20 at least) were
labelled by two or more people (:func:`has_several_annotators`); with less overlap the
annotators cannot be weighed against each other, and each annotation is judged alone.
Labels are class indices, as in :mod:`backend.tasktypes.single_choice`, which this type
extends:

* **Cross-validation** over tasks, one training row per task labelled with its
  *consensus* (the majority vote; a ground-truth annotation decides its task).
* **Judging**: CROWDLAB (``core.multiannotator``) on the out-of-fold probabilities gives
  each task a first consensus, each annotator a quality and the ActiveLab scores. From
  that consensus the model's temperature and each annotator's accuracy are estimated, and
  a *calibrated* posterior combines them (:mod:`backend.tasktypes.consensus`); its most
  likely class is the task's consensus label. Ground-truth tasks keep their ground truth,
  and their model probabilities are replaced by it, so they anchor the annotators.
* **Suspicion** of an annotation is ``1 - P(its label)`` under that calibrated posterior.
  CROWDLAB's own posterior ranks well but is no probability (three agreeing annotators
  score ~0.8). An annotation is flagged when it is probably wrong (suspicion above one
  half; such a label is never the consensus).
* A task **needs another annotator** when the calibrated probability of its consensus is
  below the ``consensus_min_probability`` setting; ActiveLab scores order them (lowest
  first: the annotation that helps most).

Tables beside issues.csv: ``tasks.csv`` (one row per task) and ``annotators.csv``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from backend.tasktypes import Judgement, register
from backend.tasktypes.calibration import fit_temperature
from backend.tasktypes.consensus import annotator_accuracy, posterior
from backend.tasktypes.multi_annotator_tables import (
    ANNOTATOR_COLUMNS,
    TASK_COLUMNS,
    Verdicts,
    annotator_noise,
    annotator_rows,
    task_rows,
)
from backend.tasktypes.single_choice import (
    ClassMapped,
    SingleChoice,
    fit_predict_classes,
    task_folds,
)

if TYPE_CHECKING:
    from backend.labelstudio.dataset import TaskKind
    from backend.pipeline import AuditResult, Prepared
    from backend.settings import Settings

#: The title of the tab of tasks whose consensus is too uncertain to trust.
ANOTHER_ANNOTATOR_TITLE = "Needs another annotator"
#: What a ground-truth task's model probabilities become (its given class, nearly certain).
GROUND_TRUTH_PROBABILITY = 0.999


#: Below this share of tasks labelled by two or more people (and this many tasks), a
#: project is judged one annotation at a time: too little overlap to weigh annotators.
MIN_SHARED_SHARE = 0.1
MIN_SHARED_TASKS = 20


def min_shared_tasks(num_tasks: int) -> int:
    """How many tasks two or more people must have labelled to weigh the annotators."""
    return max(MIN_SHARED_TASKS, int(np.ceil(MIN_SHARED_SHARE * num_tasks)))


def shared_tasks(task_ids: np.ndarray, annotators: list[str] | np.ndarray) -> np.ndarray:
    """The ids of the tasks that two or more different people labelled."""
    if len(task_ids) == 0:
        return np.zeros(0, dtype=np.int64)
    _, who = np.unique(np.asarray(annotators, dtype=object), return_inverse=True)
    pairs = np.unique(np.stack([np.asarray(task_ids, dtype=np.int64), who]), axis=1)
    ids, people = np.unique(pairs[0], return_counts=True)
    return ids[people >= 2]


def has_several_annotators(
    task_ids: np.ndarray, annotators: list[str] | np.ndarray, trusted: np.ndarray
) -> bool:
    """Whether enough tasks were labelled by two or more people (ground truth set apart)
    to weigh the annotators against each other (:func:`min_shared_tasks`)."""
    keep = ~np.asarray(trusted, dtype=bool)
    crowd = np.asarray(annotators, dtype=object)[keep]
    shared = shared_tasks(np.asarray(task_ids)[keep], crowd)
    return len(set(crowd.tolist())) >= 2 and len(shared) >= min_shared_tasks(
        len(np.unique(task_ids))
    )


def count_annotations(task_ids: np.ndarray) -> int:
    """The most usable annotations any one task has (2+ makes a multi-annotator project)."""
    return int(np.unique(task_ids, return_counts=True)[1].max()) if len(task_ids) else 0


class Tasks:
    """The rows of an audit grouped by task: ``pos[row]`` is the row's task, 0..T-1."""

    def __init__(self, groups: np.ndarray) -> None:
        self.ids, self.heads, self.pos = np.unique(groups, return_index=True, return_inverse=True)

    def __len__(self) -> int:
        return len(self.ids)

    def vote(self, labels: np.ndarray, num_classes: int, trusted: np.ndarray) -> np.ndarray:
        """Each task's majority vote (ties: the class chosen most overall, then the lower
        index); a task with a trusted (ground-truth) row takes that row's label."""
        counts = np.zeros((len(self), num_classes))
        np.add.at(counts, (self.pos, labels), 1.0)
        overall = counts.sum(axis=0)
        # Lexicographic: votes first, then overall frequency (scaled below one vote).
        score = counts + overall / (overall.sum() + 1.0)
        vote = score.argmax(axis=1)
        vote[self.pos[trusted]] = labels[trusted]
        return vote


@register
class MultiAnnotator(SingleChoice):
    """Single choice with several annotators per task: consensus and annotator quality."""

    name = "multi_annotator"
    instant = False  # a changed annotation moves its task's consensus: re-audited only
    in_place = False  # its folds are stratified by consensus: a re-audit moves many rows
    suspicion = (
        "1 - posterior probability of the given label (the out-of-fold model and every "
        "annotator of the task, each weighed by its estimated accuracy; calibrated)"
    )
    suspicion_words = (
        "The probability that the annotator's label is wrong, once the model (which never saw "
        "the task) and every annotator of the task are weighed by their estimated accuracy. "
        "It is calibrated: of the annotations scored about 0.8, about 80% are wrong "
        "(bench/multiannotator.py measures it)."
    )
    uses_filter_by = False  # flagged: suspicion above 0.5, from the calibrated posterior
    flagged_words = (
        "The annotation's label is probably wrong: its suspicion is above 0.5 (such a label "
        "is never the task's consensus)."
    )
    health_words = "1 &minus; the share of annotations flagged (1.00: none)."
    detail_columns = ("consensus_label",)
    tables: ClassVar[dict[str, tuple[str, ...]]] = {
        "tasks": TASK_COLUMNS,
        "annotators": ANNOTATOR_COLUMNS,
    }

    def accepts(self, control: Any) -> bool:
        return False  # chosen from the data (export.py), never from the config alone

    # ------------------------------------------------------------------ cross-validation

    def consensus_votes(self, prepared: Prepared) -> tuple[Tasks, np.ndarray]:
        """The tasks of ``prepared`` and each row's task's majority vote (training labels)."""
        tasks = Tasks(prepared.groups)
        trusted = prepared.dataset.ground_truth[prepared.rows]
        vote = tasks.vote(prepared.labels, prepared.num_classes, trusted)
        return tasks, vote[tasks.pos]

    def fold_splits(
        self, prepared: Prepared, *, folds: int, seed: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        _, votes = self.consensus_votes(prepared)
        return task_folds(votes, prepared.groups, folds=folds, seed=seed)

    def fit_predict_fold(
        self, prepared: Prepared, settings: Settings, train: np.ndarray, test: np.ndarray
    ) -> np.ndarray:
        """Fit on one row per training task (its consensus); predict every test row."""
        tasks, votes = self.consensus_votes(prepared)
        train_heads = np.intersect1d(train, tasks.heads)
        test_heads = np.intersect1d(test, tasks.heads)
        model = self.classifier(prepared, settings, n_samples=len(tasks))
        probs = fit_predict_classes(
            model, prepared.X, votes, train_heads, test_heads, prepared.num_classes
        )
        # Every row of a test task gets its task's probabilities.
        where = np.searchsorted(test_heads, tasks.heads[tasks.pos[test]])
        return probs[where]

    # ------------------------------------------------------------------ judging

    def judge(self, prepared: Prepared, probs: np.ndarray, settings: Settings) -> Judgement:
        dataset = prepared.dataset
        kind, labels, rows = dataset.kind, prepared.labels, prepared.rows
        tasks = Tasks(prepared.groups)
        trusted = dataset.ground_truth[rows]
        annotators = np.asarray([dataset.annotators[i] for i in rows], dtype=object)
        crowd = ~trusted
        names, cols = np.unique(annotators[crowd], return_inverse=True)
        # A person who labelled a task twice counts once (CROWDLAB takes one label each).
        shared_ids = shared_tasks(prepared.groups[crowd], cols)
        if len(names) < 2 or len(shared_ids) < min_shared_tasks(len(tasks)):
            judged = super().judge(prepared, probs, settings)
            judged.notes.append(
                f"{len(shared_ids)} of {len(tasks)} tasks have two or more annotators (once "
                f"ground truth is set apart), fewer than {min_shared_tasks(len(tasks))}: too "
                "little overlap to weigh annotators, judged one annotation at a time"
            )
            return judged

        model_probs = probs[tasks.heads]
        truth = tasks.vote(labels, prepared.num_classes, trusted)
        anchored = np.zeros(len(tasks), dtype=bool)
        anchored[tasks.pos[trusted]] = True
        # Ground truth decides its task: its model probabilities become (nearly) certain.
        task_probs = model_probs.copy()
        rest = (1.0 - GROUND_TRUTH_PROBABILITY) / max(1, prepared.num_classes - 1)
        task_probs[anchored] = rest
        task_probs[anchored, truth[anchored]] = GROUND_TRUTH_PROBABILITY

        crowd_tasks = np.unique(tasks.pos[crowd])  # tasks with a label to weigh
        matrix = np.full((len(crowd_tasks), len(names)), np.nan)
        matrix[np.searchsorted(crowd_tasks, tasks.pos[crowd]), cols] = labels[crowd]
        import pandas as pd  # imported here: the web process never judges

        wide = pd.DataFrame(matrix, columns=pd.Index(names, dtype=object))
        found = _crowdlab(wide, task_probs[crowd_tasks], seed=settings.seed)

        # CROWDLAB's consensus (cleanlab's answer) estimates the model's temperature and each
        # annotator's accuracy; the calibrated posterior built from them (consensus.py)
        # then decides: its most likely class is the consensus, and it says how likely
        # each label is wrong (measured better than CROWDLAB's own consensus:
        # bench/RESULTS.md, "Several annotators per task").
        crowdlab = truth.copy()  # tasks with ground truth alone keep it
        crowdlab[crowd_tasks] = found["label_quality"]["consensus_label"].to_numpy()
        crowdlab[anchored] = truth[anchored]
        # Estimated where several people labelled a task: there the consensus rests on
        # them, elsewhere mostly on the model itself (fitting the model's temperature to
        # its own argmax would make it certain).
        shared = np.isin(tasks.ids, shared_ids) | anchored
        temperature = fit_temperature(model_probs[shared], crowdlab[shared])
        on_shared = shared[tasks.pos[crowd]]
        accuracy = annotator_accuracy(
            labels[crowd][on_shared],
            crowdlab[tasks.pos[crowd]][on_shared],
            cols[on_shared],
            len(kind.classes),
            annotators=len(names),
        )
        post = posterior(
            task_probs, tasks.pos[crowd], labels[crowd], accuracy[cols], temperature=temperature
        )
        consensus = post.argmax(axis=1)
        consensus[anchored] = truth[anchored]
        probability = post[np.arange(len(tasks)), consensus]
        # CROWDLAB's quality score of that consensus (its posterior; certain for ground truth
        # alone), as cleanlab's consensus_quality_score would be.
        quality = task_probs[np.arange(len(tasks)), consensus]
        quality[crowd_tasks] = found["post_pred_probs"][
            np.arange(len(crowd_tasks)), consensus[crowd_tasks]
        ]
        quality[anchored] = np.maximum(quality[anchored], GROUND_TRUTH_PROBABILITY)
        suspicion = 1.0 - post[tasks.pos, labels]
        # Probably wrong (and so not the consensus, the most likely class).
        is_issue = (labels != consensus[tasks.pos]) & (suspicion > 0.5) & ~trusted
        activelab = np.full(len(tasks), np.nan)
        activelab[crowd_tasks] = found["activelab"]
        needs_more = (probability < settings.consensus_min_probability) & ~anchored

        table_tasks = task_rows(
            kind,
            tasks,
            labels,
            Verdicts(consensus, quality, probability, needs_more, activelab, anchored),
            suspicion,
            is_issue,
        )
        table_annotators = annotator_rows(
            kind,
            found["annotator_stats"],
            annotators,
            labels,
            consensus[tasks.pos],
            is_issue,
            anchored[tasks.pos],
            dataset.annotator_emails,
        )
        noise = annotator_noise(labels, consensus[tasks.pos], prepared.num_classes)
        health = {
            "overall_label_health_score": round(float(1.0 - is_issue.mean()), 6),
            "consensus_quality_mean": round(float(quality.mean()), 6),
            "consensus_probability_mean": round(float(probability.mean()), 6),
            "model_temperature": round(temperature, 6),
            "tasks_needing_another_annotator": int(needs_more.sum()),
            "annotators": len(names),
        }
        return Judgement(
            given=labels,
            suggested=consensus[tasks.pos],
            suspicion=suspicion,
            is_label_issue=is_issue,
            noise_matrix=noise,
            health=health,
            notes=found["notes"],
            confidence=probability[tasks.pos],
            tables={"tasks": table_tasks, "annotators": table_annotators},
        )

    def final_model(self, prepared: Prepared, result: AuditResult, settings: Settings) -> Any:
        """The classifier fitted on one row per task, labelled with its consensus."""
        from backend.models import Featurized

        tasks = Tasks(prepared.groups)
        consensus = np.asarray(result.suggested)[tasks.heads]
        present = np.unique(consensus)
        if len(present) < 2:  # one consensus class: fall back to every annotation
            return super().final_model(prepared, result, settings)
        clf = self.classifier(prepared, settings, n_samples=len(tasks))
        clf.fit(prepared.X[tasks.heads], np.searchsorted(present, consensus))
        return ClassMapped(Featurized(prepared.features, clf), present, prepared.num_classes)

    # ------------------------------------------------------------------ what is written back

    def details(self, kind: TaskKind, given: Any, suggested: Any) -> dict[str, str]:
        return {"consensus_label": self.label_text(kind, suggested)}

    def summary(self, result: AuditResult) -> dict[str, Any]:
        from backend.report.multi_annotator import summary_part

        return {**super().summary(result), **summary_part(result)}

    def report(self, result: AuditResult) -> Any:
        from backend.report.multi_annotator import report_parts

        return report_parts(result)

    def tabs(self, result: AuditResult) -> dict[str, dict[int, int]]:
        return {ANOTHER_ANNOTATOR_TITLE: needs_another_annotator(result)}


def needs_another_annotator(result: AuditResult) -> dict[int, int]:
    """Task id -> one of its annotation ids, for the tasks whose consensus is too uncertain,
    most useful to annotate first (lowest ActiveLab score)."""
    rows = [r for r in result.tables.get("tasks", []) if r["needs_another_annotator"]]
    rows.sort(key=lambda r: (r["activelab"] if r["activelab"] is not None else 1.0, r["task_id"]))
    first: dict[int, int] = {}
    for task, annotation in zip(
        result.task_ids.tolist(), result.annotation_ids.tolist(), strict=True
    ):
        if annotation > 0:
            first.setdefault(int(task), int(annotation))
    return {r["task_id"]: first[r["task_id"]] for r in rows if r["task_id"] in first}


def _crowdlab(matrix: Any, probs: np.ndarray, *, seed: int) -> dict[str, Any]:
    """CROWDLAB's answers on the wide label ``matrix`` (+ posteriors, ActiveLab, cautions)."""
    from core.multiannotator import get_active_learning_scores, get_label_quality_multiannotator

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = get_label_quality_multiannotator(
            matrix,
            probs,
            verbose=False,
            random_state=seed,
            return_post_pred_probs=True,
        )
        found["activelab"], _ = get_active_learning_scores(matrix, probs, random_state=seed)
    found["notes"] = sorted({str(w.message) for w in caught})
    return found


__all__ = [
    "ANOTHER_ANNOTATOR_TITLE",
    "MultiAnnotator",
    "Tasks",
    "count_annotations",
    "needs_another_annotator",
]
