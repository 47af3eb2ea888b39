"""Text inputs: raw strings, vectorised inside the model pipeline.

The vectorizer is part of the model (see :func:`text_vectorizer`), not of the featurizer,
so that every cross-validation fold fits its own vocabulary and IDF weights on its own
training rows: a held-out task's words never shape the features it is judged with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

#: Word n-grams (unigrams and bigrams) and character n-grams within word boundaries.
WORD_NGRAMS = (1, 2)
#: Words are runs of word characters, single letters and digits included (scikit-learn's
#: default drops them, which leaves no vocabulary at all for texts such as "a b c").
WORD_PATTERN = r"(?u)\b\w+\b"
CHAR_NGRAMS = (2, 4)
#: Character n-grams seen in fewer documents than this are dropped (typos, noise) ...
CHAR_MIN_DF = 2
#: ... once there are at least this many rows; tiny projects keep every n-gram, so that
#: a fold of a handful of short texts still has a vocabulary.
CHAR_MIN_DF_FROM = 100


def featurize_text(inputs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """Return the texts as a 1-D object array, the ok mask, and the failed rows with why.

    A row fails when it is not a string or holds only whitespace; its slot in the array
    holds ``""``.
    """
    X = np.empty(len(inputs), dtype=object)
    ok = np.zeros(len(inputs), dtype=bool)
    failures: list[tuple[int, str]] = []
    for row, value in enumerate(inputs):
        if not isinstance(value, str):
            X[row] = ""
            failures.append((row, f"text input must be a string; got {type(value).__name__}"))
        elif not value.strip():
            X[row] = ""
            failures.append((row, "text input is empty"))
        else:
            X[row] = value
            ok[row] = True
    return X, ok, failures


def text_vectorizer(*, n_samples: int) -> FeatureUnion:
    """Return TF-IDF word (1-2) and character (2-4, within words) n-grams, sublinear tf."""
    char_min_df = CHAR_MIN_DF if n_samples >= CHAR_MIN_DF_FROM else 1
    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=WORD_NGRAMS, token_pattern=WORD_PATTERN, sublinear_tf=True
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=CHAR_NGRAMS,
                    sublinear_tf=True,
                    min_df=char_min_df,
                ),
            ),
        ]
    )
