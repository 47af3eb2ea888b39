"""The token model's clause features and the token noise matrix's floor (spans projects)."""

from __future__ import annotations

import numpy as np

from backend.tasktypes.span_beliefs import (
    NOISE_FLOOR,
    floored_noise,
    token_error_probability,
)
from backend.tasktypes.token_model import RUN, clause_features, token_features
from backend.tasktypes.tokens import tokenize


def words_of(text: str) -> list[str]:
    return [text[a:b] for a, b in tokenize(text).tolist()]


def clauses(text: str) -> dict[str, list[str]]:
    """Each token's clause features (gl, gr, gl2, gr2), by token."""
    words = words_of(text)
    rows = token_features(words)
    return {w: [f for f in row if f.split("=")[0] in {"gl", "gr", "gl2", "gr2"}]
            for w, row in zip(words, rows, strict=True)}  # fmt: skip


def test_a_name_run_shares_the_wording_of_its_clause():
    found = clauses("Jordan and Egypt signed a trade agreement.")
    assert found["Jordan"] == ["gl=<s>", "gr=and", f"gr2=and {RUN} signed a trade agreement . </s>"]
    assert found["Egypt"] == [
        "gl=and",
        "gr=signed a trade agreement . </s>",
        f"gl2=<s> {RUN} and",
    ]
    assert found["signed"] == found["and"] == []
    # A run's first token has its clause (counted once per run); the run ends at a
    # lower-case word.
    both = clauses("Yesterday Maria Garcia met Khan.")
    assert both["Yesterday"] == ["gl=<s>", "gr=met", f"gr2=met {RUN} . </s>"]
    assert both["Maria"] == both["Garcia"] == []
    assert both["Khan"] == ["gl=met", "gr=. </s>", f"gl2=<s> {RUN} met"]


def test_the_clause_tells_apart_what_the_nearest_words_do_not():
    """'Jordan' has the same words either side in both texts; only its clause differs."""
    place = token_features(words_of("Jordan and Egypt signed a trade agreement."))[0]
    person = token_features(words_of("Jordan and Smith founded a small firm."))[0]
    near = {f for f in place if f.split("=")[0] in {"w", "w1", "w-1", "s1", "ww"}}
    assert near <= set(person)
    assert {f for f in place if f.startswith("gr2=")} != {f for f in person if f.startswith("gr2=")}


def test_clause_wording_is_cut_to_the_nearest_words_and_lower_case_text_has_none():
    long_gap = "Paris " + " ".join(["and"] * 20) + " Rome"
    words = words_of(long_gap)
    (paris, paris_clause), (rome, rome_clause) = clause_features(words, [w.lower() for w in words])
    assert (words[paris], words[rome]) == ("Paris", "Rome")
    assert paris_clause[1] == "gr=" + " ".join(["and"] * 6)
    assert rome_clause[0] == "gl=" + " ".join(["and"] * 6)
    text = "prices rose again this week ."
    assert clause_features(text.split(), text.split()) == []


def test_the_noise_floor_lifts_only_unseen_slips_and_keeps_columns_summing_to_one():
    noise = np.array([[0.99, 0.02, 0.0], [0.01, 0.98, 0.0], [0.0, 0.0, 1.0]])
    floored = floored_noise(noise, 0.003)
    np.testing.assert_allclose(floored.sum(axis=0), 1.0)
    off = ~np.eye(3, dtype=bool)
    assert (floored[off] >= 0.003 / (1 + 2 * 0.003)).all()
    # A slip already seen more often than the floor keeps its share of the column.
    np.testing.assert_allclose(floored[1, 0] / floored[0, 0], noise[1, 0] / noise[0, 0])
    assert (np.diag(floored) > 0.97).all()


def synthetic_tokens(seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """2,000 texts of 5 tokens over O, PER, LOC, ORG; the model is right and sure on every
    token but one: given LOC, with P(ORG) 0.72 and P(LOC) 0.007. No other token's given
    class differs from the model's, so confident learning sees no ORG given as LOC."""
    rng = np.random.default_rng(seed)
    labels, probs = [], []
    for _ in range(2000):
        y = rng.choice(4, size=5, p=[0.7, 0.1, 0.1, 0.1])
        p = np.full((5, 4), 0.01)
        p[np.arange(5), y] = 0.97
        labels.append(y)
        probs.append(p / p.sum(axis=1, keepdims=True))
    labels[0][0] = 2
    probs[0][0] = [0.023, 0.25, 0.007, 0.72]
    # Some slips the model catches, between other classes.
    for r in range(1, 40):
        labels[r][1] = 1 if labels[r][1] != 1 else 0
    return labels, probs


def test_a_slip_never_seen_elsewhere_is_still_found():
    labels, probs = synthetic_tokens()
    beliefs = token_error_probability(labels, probs, np.zeros(len(labels), dtype=bool))
    assert beliefs.noise[2, 3] >= NOISE_FLOOR / 2  # ORG given as LOC: possible, rare
    assert beliefs.errors[0][0] > 0.5
    assert beliefs.posterior[0][0].argmax() == 3
    # The tokens the model agrees with are not suspected.
    assert max(float(e.max()) for e in beliefs.errors[40:]) < 0.5
