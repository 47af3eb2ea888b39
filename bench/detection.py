"""How well labelaudit's defaults find wrong labels, against cleanlab with a plain baseline.

For each dataset: flip labels with a class-dependent noise matrix (core.benchmarking.noise,
seeded), then

* **labelaudit**: the whole audit on an AuditDataset of the raw inputs (texts, PNG
  bytes, numbers): featurize, the default model (``model="auto"``) in 5 stratified folds,
  ``find_label_issues`` with the default ``filter_by`` (prune_by_noise_rate);
* **cleanlab**: ``cleanlab.classification.CleanLearning(clf, cv_n_folds=5)
  .find_label_issues(X, labels)`` with TF-IDF + LogisticRegression (text), native pixels
  + LogisticRegression (images), standardised columns + LogisticRegression (tabular).

and report precision, recall and F1 of the flagged set against the flips, and wall time
(one run each, same process). "held-out" datasets played no part in choosing the
defaults; "tuning" datasets are the ones they were chosen on.

Then how well the *suspicion* means what it says, read as the probability that the label
is wrong: expected calibration error over 10 bins (ECE), AUROC and average precision of
the score against the flips, for labelaudit's suspicion (calibrated,
``backend.tasktypes.calibration``), for the suspicion labelaudit gave before it
(``1 - p(given label)`` from the same out-of-fold probabilities) and for cleanlab's
recipe (``1 - label_quality``, its self-confidence, from the run above); and a
reliability table of labelaudit's suspicion per dataset (mean suspicion, share truly
wrong, count, per bin).

Text comes from the Debian package ``fortunes`` (``apt-get install fortunes``; its
categories are the classes); without it the text rows are skipped. Everything else is
bundled with scikit-learn.

Run: ``.venv/bin/python bench/detection.py`` (about 40 s on 2 cores);
``--seed 0 1 2`` runs several seeds and ends with one row per dataset and seed.
Multi-label sets (``<Choices choice="multiple">``) have their own script,
``bench/detection_multilabel.py``.
"""

from __future__ import annotations

import argparse
import io
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from backend.labelstudio.dataset import AuditDataset, TaskKind
from backend.pipeline import AuditResult, run_audit
from backend.settings import load_settings
from backend.tasktypes.calibration import (
    expected_calibration_error,
    label_error_probability,
    reliability,
)
from core.benchmarking.noise import (
    generate_noise_matrix_from_trace,
    generate_noisy_labels,
)
from core.filter import FILTER_BY, find_label_issues

FORTUNES = Path("/usr/share/games/fortunes")
#: Fortune files (joined with "+" into one class) of the text sets, chosen before any
#: model was tried on them: the held-out set's cleanlab baseline is near the issue's
#: reference (F1 ~0.7); the tuning set is harder (quotes on overlapping topics).
TEXT_HELD_OUT = (
    "definitions",
    "zippy",
    "perl+linux+linuxcookie+debian",
    "startrek",
    "riddles+disclaimer",
    "songs-poems",
)
TEXT_TUNING = ("computers", "fortunes", "men-women", "platitudes", "politics", "science")
#: Fortunes longer than this are left out (the sets are of short texts), and at most
#: this many are drawn per class.
MAX_CHARS = 300
PER_CLASS = 600
NOISE_RATE = 0.12
FOLDS = 5


@dataclass
class Case:
    """One dataset: the audit's inputs, the baseline's features and model, true labels."""

    name: str
    split: str
    input_type: str
    inputs: list[Any]
    baseline_X: Any
    baseline_clf: Any
    labels: np.ndarray
    fetch: Callable[[str], bytes] | None = None


def fortunes(categories: tuple[str, ...], *, seed: int) -> tuple[list[str], np.ndarray]:
    """Return short fortunes of each category (up to PER_CLASS, seeded) and their class."""
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    labels: list[int] = []
    for k, category in enumerate(categories):
        entries: set[str] = set()
        for part in category.split("+"):
            raw = (FORTUNES / part).read_text(encoding="utf-8")
            entries.update(e.strip() for e in raw.split("\n%\n"))
        short = sorted(e for e in entries if e and len(e) <= MAX_CHARS)
        chosen = np.sort(rng.permutation(len(short))[:PER_CLASS])
        texts += [short[i] for i in chosen]
        labels += [k] * len(chosen)
    return texts, np.asarray(labels)


def text_case(name: str, split: str, categories: tuple[str, ...], seed: int) -> Case:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts, labels = fortunes(categories, seed=seed)
    baseline = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
    return Case(name, split, "text", texts, np.asarray(texts, dtype=object), baseline, labels)


def digits_case(name: str, split: str, rows: slice) -> Case:
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    digits = load_digits()
    images = (digits.images[rows] * (255 / 16)).round().astype(np.uint8)
    pngs: dict[str, bytes] = {}
    for i, image in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(image, mode="L").save(buffer, format="PNG")
        pngs[f"digit-{i}.png"] = buffer.getvalue()
    baseline_X = digits.data[rows]
    baseline = LogisticRegression(max_iter=1000)
    return Case(
        name,
        split,
        "image",
        list(pngs),
        baseline_X,
        baseline,
        digits.target[rows],
        pngs.__getitem__,
    )


def tabular_case(name: str, split: str, X: np.ndarray, y: np.ndarray) -> Case:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    baseline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return Case(name, split, "numeric", X.tolist(), X, baseline, np.asarray(y))


def cases(seed: int) -> list[Case]:
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine, make_classification

    out: list[Case] = []
    if FORTUNES.is_dir():
        out.append(text_case("fortunes, 6 classes", "held-out", TEXT_HELD_OUT, seed))
        out.append(text_case("fortunes, 6 other classes", "tuning", TEXT_TUNING, seed))
    else:
        print(f"note: {FORTUNES} not found (apt-get install fortunes): text rows skipped\n")
    out.append(digits_case("digits 898-1796 (PNG)", "held-out", slice(898, None)))
    out.append(digits_case("digits 0-897 (PNG)", "tuning", slice(0, 898)))
    out.append(tabular_case("breast_cancer", "held-out", *load_breast_cancer(return_X_y=True)))
    out.append(tabular_case("iris", "held-out", *load_iris(return_X_y=True)))
    X, y = make_classification(
        3000, 12, n_informative=6, n_redundant=2, n_classes=5, n_clusters_per_class=1,
        class_sep=1.2, random_state=1,
    )  # fmt: skip
    out.append(tabular_case("make_classification 3000x12, 5 classes", "held-out", X, y))
    out.append(tabular_case("wine", "tuning", *load_wine(return_X_y=True)))
    X, y = make_classification(
        2000, 20, n_informative=8, n_classes=4, n_clusters_per_class=2, random_state=0
    )
    out.append(tabular_case("make_classification 2000x20, 4 classes", "tuning", X, y))
    return out


def noisy_labels(labels: np.ndarray, *, seed: int) -> np.ndarray:
    """Flip NOISE_RATE of the labels with a seeded class-dependent noise matrix."""
    num_classes = len(np.unique(labels))
    prior = np.bincount(labels) / len(labels)
    noise_matrix = generate_noise_matrix_from_trace(
        num_classes, num_classes * (1 - NOISE_RATE), py=prior, valid_noise_matrix=True, seed=seed
    )
    return generate_noisy_labels(labels, noise_matrix, random_state=seed)


def scores(flagged: np.ndarray, flipped: np.ndarray) -> tuple[float, float, float]:
    hits = int((flagged & flipped).sum())
    precision = hits / max(int(flagged.sum()), 1)
    recall = hits / max(int(flipped.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return precision, recall, f1


def audit(case: Case, given: np.ndarray, *, seed: int) -> tuple[AuditResult, float]:
    """Run labelaudit's audit; return its result and seconds."""
    classes = tuple(str(c) for c in range(int(case.labels.max()) + 1))
    kind = TaskKind("label", "input", case.input_type, ("input",), classes)
    n = len(given)
    dataset = AuditDataset(
        kind=kind,
        task_ids=np.arange(1, n + 1, dtype=np.int64),
        annotation_ids=np.arange(1, n + 1, dtype=np.int64),
        annotators=["1"] * n,
        labels=given.astype(np.intp),
        ground_truth=np.zeros(n, dtype=bool),
        inputs=case.inputs,
        source=case.name,
    )
    settings = load_settings({"seed": seed, "folds": FOLDS}, environ={})
    start = time.perf_counter()
    result = run_audit(dataset, settings, fetch=case.fetch)
    seconds = time.perf_counter() - start
    if len(result.given) != n:
        raise RuntimeError(f"{case.name}: {n - len(result.given)} rows were skipped")
    return result, seconds


def baseline(case: Case, given: np.ndarray, *, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Run cleanlab's CleanLearning.find_label_issues; return its flags, its suspicion
    (``1 - label_quality``: one minus the self-confidence) and seconds."""
    from cleanlab.classification import CleanLearning

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab's own deprecation chatter
        issues = CleanLearning(case.baseline_clf, seed=seed, cv_n_folds=FOLDS).find_label_issues(
            case.baseline_X, given
        )
    seconds = time.perf_counter() - start
    return issues["is_label_issue"].to_numpy(), 1.0 - issues["label_quality"].to_numpy(), seconds


@dataclass
class Scored:
    """How well one suspicion score says which labels are wrong."""

    ece: float
    auroc: float
    ap: float

    @classmethod
    def of(cls, suspicion: np.ndarray, flipped: np.ndarray) -> Scored:
        from sklearn.metrics import average_precision_score, roc_auc_score

        return cls(
            expected_calibration_error(suspicion, flipped),
            float(roc_auc_score(flipped, suspicion)),
            float(average_precision_score(flipped, suspicion)),
        )

    def cells(self) -> str:
        return f"{self.ece:.3f} | {self.auroc:.3f} | {self.ap:.3f}"


def reliability_rows(suspicion: np.ndarray, flipped: np.ndarray) -> str:
    """The reliability table of one dataset as markdown rows (one per non-empty bin)."""
    return "\n".join(
        f"| {low:.1f}-{high:.1f} | {mean:.3f} | {share:.3f} | {count} |"
        for low, high, mean, share, count in reliability(suspicion, flipped)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help="noise and model seeds")
    args = parser.parse_args(argv)
    per_seed: list[str] = []
    for seed in args.seed:
        per_seed += run_seed(seed)
    if len(args.seed) > 1:
        print("\nEvery seed: labelaudit's F1, ECE and AP of the suspicion (before -> now), ")
        print("cleanlab's recipe's ECE and AP, seconds of the audit and of the calibration:\n")
        print(
            "| dataset | split | seed | F1 | ECE before | ECE now | ECE cleanlab | AP before "
            "| AP now | AP cleanlab | audit s | calibration s |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        print("\n".join(per_seed))
    return 0


def run_seed(seed: int) -> list[str]:
    """Print one seed's tables; return its rows of the every-seed table."""
    import cleanlab
    import sklearn

    print(
        f"labelaudit defaults vs cleanlab {cleanlab.__version__} CleanLearning; "
        f"scikit-learn {sklearn.__version__}, python {platform.python_version()}, "
        f"{FOLDS} folds, {NOISE_RATE:.0%} class-dependent noise, seed {seed}, one run\n"
    )
    header = (
        "| dataset | split | input | n | K | flips | labelaudit P | R | F1 | s "
        "| cleanlab P | R | F1 | s | time ratio |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    by_filter: list[str] = []
    calibration: list[str] = []
    tables: list[str] = []
    per_seed: list[str] = []
    for case in cases(seed):
        given = noisy_labels(case.labels, seed=seed)
        flipped = given != case.labels
        result, ours_s = audit(case, given, seed=seed)
        ours, probs = result.is_label_issue, result.pred_probs
        theirs, theirs_suspicion, theirs_s = baseline(case, given, seed=seed)
        p, r, f = scores(ours, flipped)
        bp, br, bf = scores(theirs, flipped)
        print(
            f"| {case.name} | {case.split} | {case.input_type} | {len(given)} "
            f"| {len(np.unique(case.labels))} | {int(flipped.sum())} "
            f"| {p:.3f} | {r:.3f} | **{f:.3f}** | {ours_s:.1f} "
            f"| {bp:.3f} | {br:.3f} | **{bf:.3f}** | {theirs_s:.1f} | {ours_s / theirs_s:.2f}x |",
            flush=True,
        )
        row = [
            scores(find_label_issues(given, probs, filter_by=fb), flipped)[2] for fb in FILTER_BY
        ]
        best = FILTER_BY[int(np.argmax(row))]
        above_half = scores(result.suspicion > 0.5, flipped)[2]
        by_filter.append(
            f"| {case.name} | {case.split} | "
            + " | ".join(f"{v:.3f}" for v in row)
            + f" | {best} | {above_half:.3f} |"
        )
        # The calibration step alone, timed again on the same arrays.
        start = time.perf_counter()
        label_error_probability(probs, given, result.noise_matrix)
        calibration_s = time.perf_counter() - start
        before = Scored.of(1.0 - probs[np.arange(len(given)), given], flipped)
        now = Scored.of(result.suspicion, flipped)
        theirs_scored = Scored.of(theirs_suspicion, flipped)
        temperature = result.health["model_temperature"]
        flagged_low = int((ours & (result.suspicion <= 0.5)).sum())
        unflagged_high = int((~ours & (result.suspicion > 0.5)).sum())
        calibration.append(
            f"| {case.name} | {case.split} | {before.cells()} | **{now.ece:.3f}** "
            f"| {now.auroc:.3f} | {now.ap:.3f} | {theirs_scored.cells()} | {temperature:.3f} "
            f"| {flagged_low} | {unflagged_high} | {calibration_s:.3f} |"
        )
        tables.append(
            f"\n{case.name} ({case.split}), seed {seed}, ECE {now.ece:.3f}:\n\n"
            "| suspicion | mean | truly wrong | count |\n|---|---|---|---|\n"
            + reliability_rows(result.suspicion, flipped)
        )
        per_seed.append(
            f"| {case.name} | {case.split} | {seed} | {f:.3f} | {before.ece:.3f} "
            f"| **{now.ece:.3f}** | {theirs_scored.ece:.3f} | {before.ap:.3f} | {now.ap:.3f} "
            f"| {theirs_scored.ap:.3f} | {ours_s:.1f} | {calibration_s:.3f} |"
        )
    print("\nF1 of labelaudit's default model's out-of-fold probabilities under each filter_by,")
    print("and of flagging every label more likely wrong than right (suspicion > 0.5):\n")
    print("| dataset | split | " + " | ".join(FILTER_BY) + " | best | suspicion > 0.5 |")
    print("|---|---|" + "---|" * (len(FILTER_BY) + 2))
    print("\n".join(by_filter))
    print(
        "\nThe suspicion read as P(label is wrong) against the flips: before (1 - p(given), "
        "labelaudit's\nout-of-fold probabilities), now (calibrated), cleanlab's recipe "
        "(1 - self-confidence);\nthe fitted temperature; flagged annotations with suspicion "
        "<= 0.5 and unflagged ones above it;\nseconds of the calibration step alone:\n"
    )
    print(
        "| dataset | split | before ECE | AUROC | AP | now ECE | AUROC | AP "
        "| cleanlab ECE | AUROC | AP | temperature | flagged <= 0.5 | unflagged > 0.5 "
        "| calibration s |"
    )
    print("|---|---|" + "---|" * 13)
    print("\n".join(calibration))
    print("\nReliability of labelaudit's suspicion (10 equal bins; empty bins left out):")
    print("\n".join(tables))
    print()
    return per_seed


if __name__ == "__main__":
    raise SystemExit(main())
