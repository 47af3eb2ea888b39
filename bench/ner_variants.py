"""Token-model variants of the spans audit on bench/ner_data.py's datasets (tuning aid).

For each dataset and seed: out-of-fold token probabilities from the spans task type's own
folds (``backend.pipeline``) under each variant of the token model (context window,
character n-grams, C), then the task-level F1 of every ``filter_by`` of
``core.token_classification.find_label_issues`` (a task is flagged when any of its tokens
is: the spans judging flags the same tasks, ``bench/RESULTS.md``), beside cleanlab's
recipe (``bench/detection_ner.py``'s ``recipe``) on the same tasks. Seconds are the
cross-validation's (features built once, then the folds), one BLAS thread.

Run: ``.venv/bin/python bench/ner_variants.py --seeds 0 1 2`` (tuning seeds only when
choosing).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from detection_ner import FOLDS, recipe, scores
from ner_data import CONFIG, MAKERS

FILTERS = ("prune_by_noise_rate", "both", "low_self_confidence", "low_normalized_margin")
#: name -> (context, char n-grams, C)
VARIANTS = {
    "ctx2 C1": (2, (), 1.0),
    "ctx2 c3 C1": (2, (3,), 1.0),
    "ctx3 c3 C1": (3, (3,), 1.0),
    "ctx2 c3 C4": (2, (3,), 4.0),
    "ctx2 c3 C0.25": (2, (3,), 0.25),
    "ctx1 c3 C1": (1, (3,), 1.0),
}


def oof(tasks: list, seed: int, context: int, ngrams: tuple, C: float) -> tuple:
    from backend.labelstudio.config import parse_label_config
    from backend.labelstudio.export import dataset_from_tasks
    from backend.pipeline import fold_splits, prepare
    from backend.settings import load_settings
    from backend.tasktypes import token_model

    token_model.CONTEXT, token_model.CHAR_NGRAMS = context, ngrams
    dataset = dataset_from_tasks(tasks, parse_label_config(CONFIG), source="bench")
    settings = load_settings({"seed": seed, "folds": FOLDS}, environ={})
    start = time.perf_counter()
    prepared = prepare(dataset, settings)
    prepared.features.steps[0][1].set_params(context=context, char_ngrams=ngrams)
    prepared.X = prepared.features.transform([r.text for r in prepared.X])
    probs = np.empty(len(prepared.labels), dtype=object)
    for train, test in fold_splits(prepared, folds=FOLDS, seed=seed):
        model = token_model.TokenModel(len(dataset.kind.classes) + 1, C=C, seed=seed)
        model.fit(list(prepared.X[train]), list(prepared.labels[train]))
        probs[test] = model.predict_proba(list(prepared.X[test]))
    return prepared, probs, time.perf_counter() - start


def task_f1(prepared, probs, wrong: np.ndarray, filter_by: str) -> float:
    from backend.tasktypes.tokens import token_classes
    from core.token_classification import find_label_issues

    labels = [token_classes(p.offsets, s)[0] for p, s in zip(probs, prepared.labels, strict=True)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        issues = find_label_issues(
            labels, [p.probs for p in probs], filter_by=filter_by, return_indices_ranked_by=None
        )
    flags = np.zeros(len(wrong), dtype=bool)
    rows = sorted({int(s) for s, _ in issues})
    flags[np.asarray(prepared.groups, dtype=np.int64)[rows] - 1] = True
    return scores(flags, wrong)[2]


def main() -> int:
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--kinds", nargs="+", default=list(MAKERS))
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--recipe", action="store_true", help="also cleanlab's recipe")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    results: dict = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for kind in args.kinds:
            for seed in args.seeds:
                case = MAKERS[kind](args.tasks, seed=seed)
                tasks, wrong = case.tasks(), case.wrong
                base, spent = np.nan, np.nan
                if args.recipe:
                    start = time.perf_counter()
                    theirs, _ = recipe(tasks, seed)
                    spent = time.perf_counter() - start
                    base = scores(theirs["flags"], wrong)[2]
                    results.setdefault((kind, "recipe"), []).append((base, spent))
                for name in args.variants:
                    prepared, probs, secs = oof(tasks, seed, *VARIANTS[name])
                    f1 = [task_f1(prepared, probs, wrong, f) for f in FILTERS]
                    results.setdefault((kind, name), []).append((*f1, secs))
                    print(
                        f"{kind} seed {seed} {name}: "
                        + " ".join(f"{x:.3f}" for x in f1)
                        + f" ({secs:.1f} s; recipe {base:.3f}, {spent:.1f} s)",
                        flush=True,
                    )
    print("\n| data | variant | " + " | ".join(FILTERS) + " | seconds |")
    print("|---|---|" + "---|" * (len(FILTERS) + 1))
    for (kind, name), rows in results.items():
        mean = np.mean(rows, axis=0)
        cells = [f"{x:.3f}" for x in mean[:-1]]
        if name == "recipe":
            cells = [cells[0]] * len(FILTERS)
        print(f"| {kind} | {name} | " + " | ".join(cells) + f" | {mean[-1]:.1f} |")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
