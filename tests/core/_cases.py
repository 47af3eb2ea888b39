"""Shapes the oracle tests sweep: (id, seed, n, k, options for the data generator)."""

from __future__ import annotations

from typing import Any

CASES: list[tuple[str, int, int, int, dict[str, Any]]] = [
    ("binary-small", 0, 30, 2, {}),
    ("binary-noisy", 1, 500, 2, {"noise": 0.4}),
    ("k3-float32", 2, 400, 3, {"float32": True}),
    ("k5-ties", 3, 800, 5, {"round_to": 2}),
    ("k7-missing", 4, 600, 7, {"missing": (2, 5)}),
    ("k6-tiny", 5, 300, 6, {"tiny": (1, 4)}),
    ("k10-imbalanced", 6, 2_000, 10, {"imbalance": 0.4}),
    ("k20-flat", 7, 1_500, 20, {"concentration": 0.5}),
    ("k25-ties-f32", 8, 3_000, 25, {"round_to": 3, "float32": True}),
    ("k50-tiny-missing", 9, 2_500, 50, {"tiny": (3,), "missing": (7, 8)}),
    ("k100", 10, 5_000, 100, {"noise": 0.25}),
    ("n1e5-k10", 11, 100_000, 10, {"noise": 0.1}),
    ("n1e5-k100", 12, 100_000, 100, {"noise": 0.2, "imbalance": 0.02}),
]

#: For :func:`tests.core.conftest.noisy_multilabel_problem`.
ML_CASES: list[tuple[str, int, int, int, dict[str, Any]]] = [
    ("k2-small", 0, 40, 2, {}),
    ("k3-float32", 1, 300, 3, {"float32": True}),
    ("k4-coarse-ties", 2, 120, 4, {"round_to": 1}),
    ("k5-ties", 3, 500, 5, {"round_to": 2}),
    ("k6-tiny", 4, 300, 6, {"tiny": (1, 4)}),
    ("k10-noisy-mostly-empty", 5, 1_000, 10, {"noise": 0.3, "empty": 0.6}),
    ("k20-flat", 6, 800, 20, {"sharpness": 0.5}),
    ("k25-ties-f32", 7, 1_500, 25, {"round_to": 1, "float32": True}),
    ("k50-tiny", 8, 2_000, 50, {"tiny": (5, 9), "noise": 0.05}),
]

#: Cases with a class nobody was given (cleanlab's predicted_neq_given refuses them).
ML_MISSING_CASES: list[tuple[str, int, int, int, dict[str, Any]]] = [
    ("k7-missing", 10, 400, 7, {"missing": (2,)}),
    ("k30-missing-ties", 11, 1_200, 30, {"missing": (3, 7), "round_to": 2}),
]

#: For :func:`tests.core.conftest.noisy_multiannotator_problem`: (id, seed, n, m, k, options).
MA_CASES: list[tuple[str, int, int, int, int, dict[str, Any]]] = [
    ("m2-k2-pairs", 0, 60, 2, 2, {"coverage": 0.9}),
    ("m4-k3", 1, 120, 4, 3, {}),
    ("m10-k5-sparse", 2, 300, 10, 5, {"coverage": 0.2}),
    ("once-alone-single", 3, 250, 8, 4, {"once": 3, "alone": 1, "single": 0.3}),
    ("classes-nobody-chose-or-rare", 4, 150, 5, 6, {"missing": (1, 4), "rare": (2,)}),
    ("ties-two-per-row", 5, 200, 6, 3, {"round_to": 1, "max_per_row": 2}),
    ("float32", 6, 180, 7, 4, {"float32": True}),
    ("m30-k10", 7, 400, 30, 10, {"coverage": 0.1}),
    ("dense-12-per-row", 8, 80, 12, 3, {"coverage": 0.95}),
    ("k12-ties-once-alone", 9, 300, 15, 12, {"round_to": 2, "once": 2, "alone": 2, "rare": (5,)}),
]

#: For :func:`tests.core.conftest.noisy_token_problem`: (id, seed, sentences, K, options).
TOKEN_CASES: list[tuple[str, int, int, int, dict[str, Any]]] = [
    ("k2-short", 0, 40, 2, {"max_len": 4}),
    ("k3-one-token", 1, 200, 3, {"one_token": 0.6}),
    ("k4-float32", 2, 150, 4, {"float32": True}),
    ("k5-ties", 3, 300, 5, {"round_to": 2}),
    ("k6-missing", 4, 250, 6, {"missing": (2, 5)}),
    ("k9-ner", 5, 400, 9, {"other": 0.8, "noise": 0.05}),
    ("k12-noisy-flat", 6, 300, 12, {"noise": 0.3, "concentration": 1.0}),
    ("k20-long-ties-f32", 7, 200, 20, {"max_len": 60, "round_to": 2, "float32": True}),
]

#: Cases with sentences that have no tokens (cleanlab's filter takes them, its rank not).
TOKEN_EMPTY_CASES: list[tuple[str, int, int, int, dict[str, Any]]] = [
    ("k3-empty", 10, 120, 3, {"empty": 0.2}),
    ("k7-empty-missing", 11, 300, 7, {"empty": 0.1, "missing": (4,), "one_token": 0.3}),
]
