"""What ``--clean`` leaves behind: remove vs relabel, and the relabel threshold.

For each of ``bench/detection.py``'s datasets and seeds (labels flipped with a seeded
class-dependent noise matrix, 12%), run labelaudit's audit, then clean the labels:

* **remove**: every flagged label left out;
* **relabel at t**: a flagged label whose suggestion has calibrated confidence
  (``AuditResult.confidence``, P(suggestion is the true label)) >= t becomes the
  suggestion; the other flagged labels are left out;
* **cleanlab's recipe**, in the same run: ``CleanLearning(clf).find_label_issues`` with
  ``bench/detection.py``'s baseline model, its flagged labels either removed or all
  relabelled to its ``predicted_label`` (the common "fix to the model's label" recipe).

and print, per strategy: labels kept, share of them wrong (the noise left), correct labels
lost, and the precision of the relabels. The default of ``relabel_min_confidence`` is chosen
on the tuning datasets (see bench/RESULTS.md, "Cleaned exports").

Run: ``.venv/bin/python bench/cleaning.py --seed 0 1 2``
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detection import FOLDS, Case, audit, cases, noisy_labels

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def outcome(
    kept: np.ndarray, labels: np.ndarray, truth: np.ndarray, relabelled: np.ndarray
) -> tuple[int, float, int, float]:
    """(labels kept, share wrong among them, correct labels lost, relabel precision)."""
    wrong = (labels != truth) & kept
    lost = int((~kept & (labels == truth)).sum())  # dropped rows keep their given label
    relabels = labels[relabelled] == truth[relabelled]
    precision = float(relabels.mean()) if relabelled.any() else float("nan")
    return int(kept.sum()), float(wrong.sum() / max(kept.sum(), 1)), lost, precision


def strategies(case: Case, given: np.ndarray, seed: int) -> list[tuple[str, tuple]]:
    truth = case.labels
    result, _ = audit(case, given, seed=seed)
    flagged = np.asarray(result.is_label_issue, dtype=bool)
    confidence = np.nan_to_num(np.asarray(result.confidence, dtype=float), nan=0.0)
    suggested = np.asarray(result.suggested)
    rows: list[tuple[str, tuple]] = []
    none = np.zeros_like(flagged)
    rows.append(("nothing", outcome(~none, given, truth, none)))
    rows.append(("remove", outcome(~flagged, given, truth, none)))
    for t in THRESHOLDS:
        relabel = flagged & (confidence >= t)
        labels = np.where(relabel, suggested, given)
        rows.append((f"relabel >= {t}", outcome(~flagged | relabel, labels, truth, relabel)))
    from cleanlab.classification import CleanLearning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = CleanLearning(case.baseline_clf, seed=seed, cv_n_folds=FOLDS).find_label_issues(
            case.baseline_X, given
        )
    theirs = found["is_label_issue"].to_numpy()
    predicted = found["predicted_label"].to_numpy()
    rows.append(("cleanlab remove", outcome(~theirs, given, truth, np.zeros_like(theirs))))
    relabelled = np.where(theirs, predicted, given)
    rows.append(("cleanlab relabel", outcome(np.ones(len(given), bool), relabelled, truth, theirs)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)
    print(
        "| dataset | split | seed | strategy | kept | wrong among kept | correct lost "
        "| relabel precision |"
    )
    print("|---|---|---|---|---|---|---|---|")
    by_split: dict[tuple[str, str], list[tuple[int, float, int, float]]] = {}
    for seed in args.seed:
        for case in cases(seed):
            given = noisy_labels(case.labels, seed=seed)
            for name, (kept, wrong, lost, precision) in strategies(case, given, seed):
                by_split.setdefault((case.split, name), []).append((kept, wrong, lost, precision))
                print(
                    f"| {case.name} | {case.split} | {seed} | {name} | {kept} | {wrong:.3f} "
                    f"| {lost} | {precision:.3f} |",
                    flush=True,
                )
    print("\nMeans over the datasets and seeds of each split:\n")
    print(
        "| split | strategy | kept | correct kept | wrong among kept | correct lost "
        "| relabel precision |"
    )
    print("|---|---|---|---|---|---|---|")
    for (split, name), runs in by_split.items():
        table = np.asarray(runs, dtype=float)
        correct = (table[:, 0] * (1 - table[:, 1])).mean()
        precision = np.nanmean(table[:, 3]) if not np.isnan(table[:, 3]).all() else float("nan")
        print(
            f"| {split} | {name} | {table[:, 0].mean():.1f} | {correct:.1f} "
            f"| {table[:, 1].mean():.4f} | {table[:, 2].mean():.1f} | {precision:.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
