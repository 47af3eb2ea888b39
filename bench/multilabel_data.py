"""Multi-label datasets with known wrong label sets, for ``bench/detection_multilabel.py``.

* **Text** (Debian package ``fortunes``): each task's text joins 1-3 short fortunes
  (<= MAX_CHARS characters each) from *different* fortune categories, in random order,
  separated by a blank line; its true label set is those categories. The number of
  passages is drawn with PASSAGES_P; the categories are drawn without replacement with
  weights proportional to the fortunes each still has left, and every fortune is used at
  most once (no text is repeated across tasks, so no fold sees a test passage in
  training). A fortune that appears in two categories of a set is left out (its true
  class would be ambiguous). Which fortunes, how they are combined and the noise all
  follow the seed.
* **Tabular**: ``sklearn.datasets.make_multilabel_classification`` (integer word counts
  as numeric columns; its ``allow_unlabeled=True`` default leaves some true sets empty).
  The data are fixed per shape (its own ``random_state``), as in ``bench/detection.py``;
  the seed changes the noise and the folds.

**Noise** (:func:`inject_noise`): each task, with probability NOISE_RATE, gets exactly
one of three changes, drawn uniformly among those possible for its true set:

* ``dropped``: one true label removed (a one-label set becomes the empty set, which a
  ``choice="multiple"`` Choices allows);
* ``added``: one class not in the true set added;
* ``swapped``: one true label replaced by a class not in the true set.

A task is *wrong* when its given set differs from its true set (every changed task is).
All randomness comes from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORTUNES = Path("/usr/share/games/fortunes")
#: Fortune files (joined with "+" into one class). The held-out set is
#: ``bench/detection.py``'s held-out set (the most distinct fortune files, chosen before
#: any model saw them); the tuning set is its tuning set (overlapping topics, harder).
TEXT_HELD_OUT = (
    "definitions",
    "zippy",
    "perl+linux+linuxcookie+debian",
    "startrek",
    "riddles+disclaimer",
    "songs-poems",
)
TEXT_TUNING = ("computers", "fortunes", "men-women", "platitudes", "politics", "science")
MAX_CHARS = 300
#: P(1, 2, 3 passages) of a text task (mean 1.75).
PASSAGES_P = (0.45, 0.35, 0.20)
TEXT_TASKS = 1800
#: (name, split, make_multilabel_classification arguments); random_state fixed per shape.
TABULAR = (
    ("2000x20, 5 classes", "tuning", {"n_samples": 2000, "n_features": 20, "n_classes": 5,
                                      "n_labels": 2, "random_state": 0}),
    ("3000x30, 8 classes", "held-out", {"n_samples": 3000, "n_features": 30, "n_classes": 8,
                                        "n_labels": 3, "random_state": 1}),
    ("1500x12, 4 classes", "held-out", {"n_samples": 1500, "n_features": 12, "n_classes": 4,
                                        "n_labels": 1, "random_state": 2}),
)  # fmt: skip
NOISE_RATE = 0.12
#: Noise kinds; ``inject_noise`` codes them 1, 2, 3 (0: unchanged).
NOISE_KINDS = ("dropped", "added", "swapped")


@dataclass
class MultiCase:
    """One multi-label dataset: raw inputs for the audit, true label sets, class names."""

    name: str
    split: str
    input_type: str
    inputs: list[Any]
    true: np.ndarray  # bool (n_tasks, n_classes)
    classes: tuple[str, ...]


def fortune_pools(categories: tuple[str, ...]) -> list[list[str]]:
    """Return each category's short fortunes (sorted), without those shared by two categories."""
    pools: list[set[str]] = []
    for category in categories:
        entries: set[str] = set()
        for part in category.split("+"):
            raw = (FORTUNES / part).read_text(encoding="utf-8")
            entries.update(e.strip() for e in raw.split("\n%\n"))
        pools.append({e for e in entries if e and len(e) <= MAX_CHARS})
    shared = {e for i, a in enumerate(pools) for b in pools[i + 1 :] for e in a & b}
    return [sorted(pool - shared) for pool in pools]


def text_case(name: str, split: str, categories: tuple[str, ...], *, seed: int) -> MultiCase:
    """Return up to TEXT_TASKS texts of 1-3 fortunes from different categories, seeded."""
    rng = np.random.default_rng(seed)
    pools = [list(rng.permutation(pool)) for pool in fortune_pools(categories)]
    texts: list[str] = []
    true: list[np.ndarray] = []
    while len(texts) < TEXT_TASKS:
        left = np.array([len(pool) for pool in pools], dtype=float)
        m = int(rng.choice(len(PASSAGES_P), p=PASSAGES_P)) + 1
        if np.count_nonzero(left) < m:
            break
        chosen = rng.choice(len(pools), size=m, replace=False, p=left / left.sum())
        passages = [str(pools[k].pop()) for k in chosen]  # chosen is already in random order
        row = np.zeros(len(categories), dtype=bool)
        row[chosen] = True
        texts.append("\n\n".join(passages))
        true.append(row)
    return MultiCase(name, split, "text", texts, np.array(true), categories)


def tabular_case(name: str, split: str, params: dict[str, Any]) -> MultiCase:
    """Return make_multilabel_classification(**params) as lists of floats and true sets."""
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(**params)
    classes = tuple(f"c{k}" for k in range(Y.shape[1]))
    return MultiCase(name, split, "numeric", X.tolist(), Y.astype(bool), classes)


def cases(seed: int) -> list[MultiCase]:
    """Return the benchmark's datasets for one seed (text ones only if fortunes is installed)."""
    out: list[MultiCase] = []
    if FORTUNES.is_dir():
        out.append(text_case("fortunes, 6 classes", "held-out", TEXT_HELD_OUT, seed=seed))
        out.append(text_case("fortunes, 6 other classes", "tuning", TEXT_TUNING, seed=seed))
    else:
        print(f"note: {FORTUNES} not found (apt-get install fortunes): text rows skipped\n")
    for name, split, params in TABULAR:
        out.append(tabular_case(f"make_multilabel_classification {name}", split, params))
    return out


def inject_noise(
    true: np.ndarray, *, rate: float = NOISE_RATE, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (given sets, noise kind per task: 0 none, 1 dropped, 2 added, 3 swapped)."""
    rng = np.random.default_rng(seed)
    given = true.copy()
    kinds = np.zeros(len(true), dtype=np.int8)
    for i in np.flatnonzero(rng.random(len(true)) < rate):
        present = np.flatnonzero(true[i])
        absent = np.flatnonzero(~true[i])
        possible = [
            kind
            for kind, ok in (
                (1, len(present) > 0),
                (2, len(absent) > 0),
                (3, len(present) > 0 and len(absent) > 0),
            )
            if ok
        ]
        kind = int(rng.choice(possible))
        if kind in (1, 3):
            given[i, rng.choice(present)] = False
        if kind in (2, 3):
            given[i, rng.choice(absent)] = True
        kinds[i] = kind
    return given, kinds
