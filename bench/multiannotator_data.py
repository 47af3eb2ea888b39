"""Label Studio projects where several annotators of known accuracy label each task.

For ``bench/multiannotator.py`` and the bundled ``examples/annotators/``. A case is a
Label Studio JSON export (a list of task dicts, each annotation's ``completed_by`` a
``{"id", "email"}`` user as Label Studio writes it), its label config, and the truth: each
task's true class, each annotator's accuracy, which annotations are wrong.

**Inputs**, single-choice classification:

* **text** (Debian package ``fortunes``): short fortunes (<= MAX_CHARS characters) of
  ``bench/detection.py``'s held-out categories, at most ``ceil(tasks / K)`` per category
  (``startrek`` has only 222, so that class is smaller); which fortunes follows the seed.
  Config ``<Text>`` + ``<Choices>``, data ``{"text": ...}``.
* **tabular**: ``sklearn.datasets.make_classification`` (TABULAR_PARAMS, ``random_state``
  = the seed, so every seed has its own data), 12 columns in one ``<Table>`` field as a
  ``{column: number}`` object, as ``examples/tabular/`` does.

**Annotators**: ANNOTATORS users whose accuracies are spread evenly from ACCURACY_RANGE[0]
to ACCURACY_RANGE[1], assigned to user ids in a seeded random order (an id says nothing
about quality). Each task is labelled by PER_TASK distinct annotators drawn uniformly
(variant ``"3"``), or by 1, 2 or 3 with probabilities MIXED_P (variant ``"1-3"``: some
tasks have a single annotation). An annotator gives the true class with its accuracy;
otherwise a wrong class drawn from the true class's row of the **confusion structure**:
classes are paired into look-alike "twins", closest class centroids first (cosine
similarity of word TF-IDF centroids for text, Euclidean distance of standardised means for
tabular), and TWIN_SHARE of a class's errors go to its twin, the rest evenly to the other
classes. So errors go mostly to the class that looks most alike, as people's do, and a
model trained on the data tends to confuse the same pairs. (Ranking every class by
distance instead sent most errors of every class to one "hub" class, the centroid nearest
all others.) All randomness comes from ``numpy.random.default_rng``
seeded with the case's seed.

Run ``python bench/multiannotator_data.py --example examples/annotators`` to write the
bundled example (EXAMPLE_* below): ``export.json``, ``config.xml``, ``truth.json``.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORTUNES = Path("/usr/share/games/fortunes")
#: Fortune files (joined with "+" into one class) -> class name: ``bench/detection.py``'s
#: held-out categories, the most distinct fortune files.
TEXT_CLASSES = {
    "definitions": "Definition",
    "zippy": "Zippy",
    "perl+linux+linuxcookie+debian": "Computing",
    "startrek": "Star Trek",
    "riddles+disclaimer": "Riddle",
    "songs-poems": "Verse",
}
MAX_CHARS = 300
TABULAR_PARAMS: dict[str, Any] = {
    "n_features": 12,
    "n_informative": 6,
    "n_redundant": 2,
    "n_classes": 5,
    "n_clusters_per_class": 1,
    "class_sep": 1.0,
}
TABULAR_CLASSES = ("Alpha", "Bravo", "Charlie", "Delta", "Echo")
TASKS = 1500
ANNOTATORS = 8
ACCURACY_RANGE = (0.55, 0.96)
PER_TASK = 3
#: P(1, 2, 3 annotations) of a task in the "1-3" variant.
MIXED_P = (0.3, 0.2, 0.5)
#: Of an annotator's errors, this share goes to the true class's look-alike ("twin").
TWIN_SHARE = 0.6
VARIANTS = ("3", "1-3")
KINDS = ("text", "tabular")
TIMESTAMP = "2026-12-02T12:00:00.000000Z"
#: The bundled example: 300 texts of examples/text/'s four classes, 6 annotators (two bad).
EXAMPLE_CLASSES = {
    "startrek": "Star Trek",
    "zippy": "Zippy",
    "definitions": "Definition",
    "songs-poems": "Verse",
}
EXAMPLE_TASKS = 300
EXAMPLE_ACCURACIES = (0.96, 0.93, 0.90, 0.86, 0.70, 0.55)
EXAMPLE_SEED = 0


@dataclass
class AnnotatorCase:
    """One project: its export and config, inputs for the baselines, and the truth."""

    name: str
    kind: str  # "text" or "tabular"
    variant: str  # "3" or "1-3" annotations per task
    seed: int
    tasks: list[dict[str, Any]]  # the Label Studio JSON export
    config: str  # the label config XML
    classes: tuple[str, ...]
    features: Any  # list of texts, or (n_tasks, n_features) floats; row i is tasks[i]
    true: np.ndarray  # (n_tasks,) true class index
    users: list[int]  # Label Studio user id of annotator m
    emails: list[str]
    accuracy: np.ndarray  # (n_annotators,) the accuracy each annotator was simulated with
    confusion: np.ndarray  # (K, K) P(wrong class j | true class i, an error), zero diagonal
    # One entry per annotation, in export order:
    row_task: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    row_annotator: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    row_label: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    row_annotation_id: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def wrong(self) -> np.ndarray:
        """(n_annotations,) whether each annotation differs from its task's true class."""
        return self.row_label != self.true[self.row_task]

    @property
    def task_ids(self) -> np.ndarray:
        return np.array([t["id"] for t in self.tasks], dtype=np.int64)

    def realised_accuracy(self) -> np.ndarray:
        """(n_annotators,) the fraction of each annotator's annotations that are right."""
        m = len(self.users)
        right = np.bincount(self.row_annotator, weights=~self.wrong, minlength=m)
        return right / np.maximum(np.bincount(self.row_annotator, minlength=m), 1)

    def labels_matrix(self) -> np.ndarray:
        """(n_tasks, n_annotators) given classes as floats, NaN where an annotator did not label."""
        out = np.full((len(self.tasks), len(self.users)), np.nan)
        out[self.row_task, self.row_annotator] = self.row_label
        return out


def confusion_from_centroids(centroids: np.ndarray, *, cosine: bool) -> np.ndarray:
    """Return the (K, K) error distribution: TWIN_SHARE to a class's twin, the rest evenly.

    Twins are paired greedily, closest centroids first; with an odd K the class left over
    takes its nearest class as twin (which keeps its own).
    """
    k = len(centroids)
    if cosine:
        unit = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)
        distance = 1.0 - unit @ unit.T
    else:
        distance = np.linalg.norm(centroids[:, None, :] - centroids[None, :, :], axis=2)
    np.fill_diagonal(distance, np.inf)
    twin = np.full(k, -1)
    for flat in np.argsort(distance, axis=None, kind="stable"):
        i, j = divmod(int(flat), k)
        if i != j and twin[i] < 0 and twin[j] < 0:
            twin[i], twin[j] = j, i
    for i in np.flatnonzero(twin < 0):
        twin[i] = int(np.argmin(distance[i]))
    out = np.full((k, k), (1.0 - TWIN_SHARE) / max(k - 2, 1))
    out[np.arange(k), twin] = TWIN_SHARE if k > 2 else 1.0
    np.fill_diagonal(out, 0.0)
    return out


def read_fortunes(categories: list[str]) -> list[list[str]]:
    """Return each category's distinct short fortunes, sorted, none shared by two categories."""
    if not FORTUNES.is_dir():
        raise FileNotFoundError(f"{FORTUNES} not found (apt-get install fortunes)")
    pools: list[set[str]] = []
    for category in categories:
        entries: set[str] = set()
        for part in category.split("+"):
            raw = (FORTUNES / part).read_text(encoding="utf-8")
            entries.update(e.strip() for e in raw.split("\n%\n"))
        pools.append({e for e in entries if e and len(e) <= MAX_CHARS})
    shared = {e for i, a in enumerate(pools) for b in pools[i + 1 :] for e in a & b}
    return [sorted(pool - shared) for pool in pools]


def text_inputs(
    categories: dict[str, str], tasks: int, rng: np.random.Generator
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return (texts, true classes, confusion) of up to ``tasks`` fortunes, shuffled."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    pools = read_fortunes(list(categories))
    per_class = math.ceil(tasks / len(pools))
    texts: list[str] = []
    true: list[int] = []
    for k, pool in enumerate(pools):
        picked = np.sort(rng.permutation(len(pool))[:per_class])
        texts += [pool[i] for i in picked]
        true += [k] * len(picked)
    order = rng.permutation(len(texts))[:tasks]
    texts = [texts[i] for i in order]
    labels = np.asarray(true)[order]
    X = TfidfVectorizer(sublinear_tf=True).fit_transform(texts)
    centroids = np.vstack([np.asarray(X[labels == k].mean(axis=0)) for k in range(len(pools))])
    return texts, labels, confusion_from_centroids(centroids, cosine=True)


def tabular_inputs(tasks: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (features, true classes, confusion) of make_classification with ``seed``."""
    from sklearn.datasets import make_classification

    X, y = make_classification(tasks, random_state=seed, **TABULAR_PARAMS)
    z = (X - X.mean(axis=0)) / X.std(axis=0)
    centroids = np.vstack([z[y == k].mean(axis=0) for k in range(TABULAR_PARAMS["n_classes"])])
    return X.round(4), y, confusion_from_centroids(centroids, cosine=False)


def choice_result(control: str, obj: str, label: str) -> dict[str, Any]:
    return {
        "id": "r",
        "type": "choices",
        "value": {"choices": [label]},
        "origin": "manual",
        "to_name": obj,
        "from_name": control,
    }


def annotation(annotation_id: int, task_id: int, user: int, email: str, result: dict) -> dict:
    """One annotation as Label Studio's JSON export writes it (user expanded to id + email)."""
    return {
        "id": annotation_id,
        "completed_by": {"id": user, "email": email, "first_name": "", "last_name": ""},
        "result": [result],
        "was_cancelled": False,
        "ground_truth": False,
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "lead_time": 4.2,
        "prediction": {},
        "result_count": 1,
        "task": task_id,
        "project": 1,
        "updated_by": user,
        "parent_prediction": None,
        "parent_annotation": None,
    }


def config_xml(obj_tag: str, obj: str, field_name: str, control: str, classes: tuple) -> str:
    choices = "\n".join(f'    <Choice value="{c}"/>' for c in classes)
    return (
        "<View>\n"
        f'  <{obj_tag} name="{obj}" value="${field_name}"/>\n'
        f'  <Choices name="{control}" toName="{obj}" choice="single" showInline="true">\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


def annotate(
    case: AnnotatorCase,
    rng: np.random.Generator,
    *,
    counts_p: tuple[float, ...],
    control: str,
    obj: str,
) -> None:
    """Draw who labels each task and what they answer; fill the case's tasks and rows."""
    n, m = len(case.true), len(case.users)
    counts = rng.choice(np.arange(1, len(counts_p) + 1), size=n, p=counts_p)
    rows_task, rows_annotator, rows_label, rows_id = [], [], [], []
    next_id = 1
    for i, task in enumerate(case.tasks):
        who = rng.choice(m, size=int(counts[i]), replace=False)
        for a in who:
            truth = int(case.true[i])
            if rng.random() < case.accuracy[a]:
                label = truth
            else:
                label = int(rng.choice(len(case.classes), p=case.confusion[truth]))
            result = choice_result(control, obj, case.classes[label])
            task["annotations"].append(
                annotation(next_id, task["id"], case.users[a], case.emails[a], result)
            )
            rows_task.append(i)
            rows_annotator.append(int(a))
            rows_label.append(label)
            rows_id.append(next_id)
            next_id += 1
        task["total_annotations"] = len(task["annotations"])
    case.row_task = np.asarray(rows_task, dtype=np.intp)
    case.row_annotator = np.asarray(rows_annotator, dtype=np.intp)
    case.row_label = np.asarray(rows_label, dtype=np.intp)
    case.row_annotation_id = np.asarray(rows_id, dtype=np.int64)


def make_case(
    kind: str,
    *,
    seed: int,
    tasks: int = TASKS,
    variant: str = "3",
    accuracies: tuple[float, ...] | None = None,
    text_classes: dict[str, str] | None = None,
) -> AnnotatorCase:
    """Return one simulated project (``kind`` "text" or "tabular"), seeded."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}; got {variant!r}")
    rng = np.random.default_rng(seed)
    if accuracies is None:
        accuracies = tuple(np.linspace(*ACCURACY_RANGE, ANNOTATORS).round(3))
    accuracy = rng.permutation(np.asarray(accuracies, dtype=float))
    users = list(range(1, len(accuracy) + 1))
    emails = [f"annotator{u}@example.com" for u in users]
    features: Any
    if kind == "text":
        categories = text_classes or TEXT_CLASSES
        features, true, confusion = text_inputs(categories, tasks, rng)
        classes = tuple(categories.values())
        data = [{"text": t} for t in features]
        obj_tag, obj, field_name, control = "Text", "text", "text", "label"
    else:
        features, true, confusion = tabular_inputs(tasks, seed)
        classes = TABULAR_CLASSES[: TABULAR_PARAMS["n_classes"]]
        columns = [f"x{j:02d}" for j in range(features.shape[1])]
        data = [{"features": dict(zip(columns, map(float, row), strict=True))} for row in features]
        obj_tag, obj, field_name, control = "Table", "table", "features", "label"
    task_list = [
        {
            "id": i + 1,
            "data": row,
            "annotations": [],
            "predictions": [],
            "meta": {},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "inner_id": i + 1,
            "total_annotations": 0,
            "cancelled_annotations": 0,
            "total_predictions": 0,
            "project": 1,
        }
        for i, row in enumerate(data)
    ]
    case = AnnotatorCase(
        name=f"{kind}, {variant} per task",
        kind=kind,
        variant=variant,
        seed=seed,
        tasks=task_list,
        config=config_xml(obj_tag, obj, field_name, control, classes),
        classes=classes,
        features=features,
        true=true,
        users=users,
        emails=emails,
        accuracy=accuracy,
        confusion=confusion,
    )
    counts_p = (0.0, 0.0, 1.0) if variant == "3" else MIXED_P
    annotate(case, rng, counts_p=counts_p, control=control, obj=obj)
    return case


def truth_summary(case: AnnotatorCase) -> dict[str, Any]:
    """Return the case's truth as JSON-able data (``truth.json`` of the example)."""
    realised = case.realised_accuracy()
    counts = np.bincount(case.row_annotator, minlength=len(case.users))
    wrong = case.wrong
    return {
        "seed": case.seed,
        "tasks": len(case.tasks),
        "annotations": len(case.row_task),
        "wrong_annotations": int(wrong.sum()),
        "classes": list(case.classes),
        "annotators": [
            {
                "id": case.users[a],
                "email": case.emails[a],
                "simulated_accuracy": float(case.accuracy[a]),
                "annotations": int(counts[a]),
                "wrong": int(counts[a] - round(realised[a] * counts[a])),
                "accuracy": round(float(realised[a]), 3),
            }
            for a in np.argsort(-case.accuracy, kind="stable")
        ],
        "tasks_true_label": {
            str(t["id"]): case.classes[int(c)] for t, c in zip(case.tasks, case.true, strict=True)
        },
        "wrong": [
            {
                "task_id": int(case.tasks[i]["id"]),
                "annotation_id": int(aid),
                "annotator": case.emails[a],
                "given_label": case.classes[int(g)],
                "true_label": case.classes[int(case.true[i])],
            }
            for i, a, g, aid, w in zip(
                case.row_task,
                case.row_annotator,
                case.row_label,
                case.row_annotation_id,
                wrong,
                strict=True,
            )
            if w
        ],
    }


def write_example(folder: Path) -> AnnotatorCase:
    """Write the bundled example project into ``folder``; return its case."""
    case = make_case(
        "text",
        seed=EXAMPLE_SEED,
        tasks=EXAMPLE_TASKS,
        accuracies=EXAMPLE_ACCURACIES,
        text_classes=EXAMPLE_CLASSES,
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "export.json").write_text(
        json.dumps(case.tasks, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (folder / "config.xml").write_text(case.config, encoding="utf-8")
    (folder / "truth.json").write_text(json.dumps(truth_summary(case), indent=1) + "\n")
    return case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--example", type=Path, help="write the bundled example into this folder")
    args = parser.parse_args(argv)
    if args.example is None:
        for kind in KINDS:
            for variant in VARIANTS:
                case = make_case(kind, seed=0, variant=variant)
                summary = truth_summary(case)
                print(
                    f"{case.name}: {summary['tasks']} tasks, {summary['annotations']} annotations,"
                    f" {summary['wrong_annotations']} wrong; accuracies "
                    + ", ".join(f"{a['accuracy']:.2f}" for a in summary["annotators"])
                )
        return 0
    case = write_example(args.example)
    summary = truth_summary(case)
    print(
        f"{args.example}: {summary['tasks']} tasks, {summary['annotations']} annotations, "
        f"{summary['wrong_annotations']} wrong"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
