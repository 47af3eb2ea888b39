"""How well one row judged again at once stands in for confident learning (single choice).

Instant feedback (``backend.service.instant``) judges a changed label from the audit's
out-of-fold probabilities with :func:`backend.tasktypes.one_row.rejudge_row`, not by
running confident learning again. On the datasets of ``bench/detection.py`` (labels
flipped with its seeded noise, the whole audit with labelaudit's defaults), this prints:

* **own rows**: the rule on every audited row with its own label, against the audit's
  flags: agreement (share of rows decided alike), and how many of the audit's flags the
  rule reproduces (recall) and how many of the rule's are the audit's (precision);
* **after one change**: ``--changes`` rows each given another label at random, the rule's
  flag against ``find_label_issues`` run again on all rows with that one label changed
  (same probabilities: they never depended on the row's own label).

Both for the rule (``rule``) and for its first half alone (``confident only``: the new
label below its class threshold and the suggestion at or above its own, the off-diagonal
test of the confident joint), to show what the audit's margin cut adds.

Run: ``.venv/bin/python bench/instant_rule.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse

import numpy as np
from detection import audit, cases, noisy_labels

from backend import tasktypes
from backend.tasktypes.one_row import OneRowRule, over_present, rejudge_row
from core.filter import find_label_issues


def confident_only(rule: OneRowRule) -> OneRowRule:
    """The rule without the audit's margin cuts."""
    return OneRowRule(
        rule.present, rule.thresholds, np.full_like(rule.cuts, np.inf), rule.noise, rule.temperature
    )


def decide(rule: OneRowRule, probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.array(
        [
            rejudge_row(rule, p, int(label), trusted=False).flagged
            for p, label in zip(probs, labels, strict=True)
        ]
    )


def compare(mine: np.ndarray, theirs: np.ndarray) -> str:
    hits = int((mine & theirs).sum())
    recall = hits / max(int(theirs.sum()), 1)
    precision = hits / max(int(mine.sum()), 1)
    return f"{np.mean(mine == theirs):.3f} | {recall:.2f} | {precision:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="noise, model and sampling seed")
    parser.add_argument("--changes", type=int, default=150, help="rows changed per dataset")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print(
        f"one row judged again vs confident learning (prune_by_noise_rate), seed {args.seed}, "
        f"{args.changes} single changes per dataset\n"
    )
    print(
        "| dataset | n | flagged | own rows: agreement | recall | precision "
        "| confident only: agreement | recall | precision "
        "| after one change: CL flags | rule: agreement | recall | precision "
        "| confident only: agreement | recall | precision |"
    )
    print("|" + "---|" * 16)
    for case in cases(args.seed):
        given = noisy_labels(case.labels, seed=args.seed)
        result, _ = audit(case, given, seed=args.seed)
        flags, probs = result.is_label_issue, result.pred_probs
        rule = tasktypes.get(result.kind.task_type).instant_state(result)
        plain = confident_only(rule)
        present = np.unique(given)
        local_probs = over_present(probs, present)
        local = np.searchsorted(present, given)
        rows = rng.choice(len(given), size=min(args.changes, len(given)), replace=False)
        new_labels, again = [], []
        for row in rows:
            new = int(rng.choice([k for k in range(len(present)) if k != local[row]]))
            changed = local.copy()
            changed[row] = new
            again.append(
                find_label_issues(changed, local_probs, filter_by="prune_by_noise_rate")[row]
            )
            new_labels.append(present[new])
        again_arr = np.array(again)
        print(
            f"| {case.name} | {len(given)} | {int(flags.sum())} "
            f"| {compare(decide(rule, probs, given), flags)} "
            f"| {compare(decide(plain, probs, given), flags)} "
            f"| {again_arr.mean():.2f} "
            f"| {compare(decide(rule, probs[rows], np.array(new_labels)), again_arr)} "
            f"| {compare(decide(plain, probs[rows], np.array(new_labels)), again_arr)} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
