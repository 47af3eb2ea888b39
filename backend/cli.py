"""The ``labelaudit`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    """Flip labels of a synthetic dataset at a known rate and see how many core finds."""
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from core.benchmarking.noise import generate_noise_matrix_from_trace, generate_noisy_labels
    from core.count import estimate_cv_predicted_probabilities
    from core.filter import find_label_issues

    started = time.perf_counter()
    features, true_labels = make_classification(
        n_samples=args.n,
        n_features=20,
        n_informative=10,
        n_classes=args.k,
        n_clusters_per_class=1,
        class_sep=1.5,
        random_state=args.seed,
    )
    priors = np.bincount(true_labels, minlength=args.k) / len(true_labels)
    noise_matrix = generate_noise_matrix_from_trace(
        args.k, args.k * (1 - args.noise), py=priors, valid_noise_matrix=True, seed=args.seed
    )
    labels = generate_noisy_labels(true_labels, noise_matrix, random_state=args.seed)
    flipped = labels != true_labels
    pred_probs = estimate_cv_predicted_probabilities(
        features, labels, LogisticRegression(max_iter=1000), seed=args.seed
    )
    issues = find_label_issues(labels, pred_probs, filter_by=args.filter_by)
    found = int((issues & flipped).sum())
    precision = found / max(int(issues.sum()), 1)
    recall = found / max(int(flipped.sum()), 1)
    print(
        f"labelaudit demo: {args.n} synthetic examples, {args.k} classes, "
        f"{int(flipped.sum())} labels flipped ({flipped.mean():.1%}), seed {args.seed}"
    )
    print(f"flagged {int(issues.sum())} examples as label issues (filter_by={args.filter_by})")
    print(f"precision {precision:.3f}  recall {recall:.3f}  against the known flips")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``labelaudit`` command."""
    parser = argparse.ArgumentParser(
        prog="labelaudit", description="Find wrong labels with confident learning."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="find known label flips in a synthetic dataset (no servers needed)"
    )
    demo.add_argument("--n", type=int, default=3000, help="number of examples")
    demo.add_argument("--k", type=int, default=5, help="number of classes")
    demo.add_argument("--noise", type=float, default=0.2, help="fraction of labels flipped")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--filter-by", default="prune_by_noise_rate")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``labelaudit`` command line; return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ValueError as err:
        print(f"labelaudit: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
