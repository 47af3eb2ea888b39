"""Text inputs (``<Text>``/``<HyperText>`` reading one ``$field``): raw strings, vectorised
inside the model pipeline. Default model: TF-IDF word 1-2 + char 2-4 n-grams (sublinear tf)
-> ComplementNB, chosen by detection F1 (``bench/detection.py``, ``bench/RESULTS.md``).

The vectorizer is part of the model (see :func:`text_vectorizer`), not of the featurizer,
so that every cross-validation fold fits its own vocabulary and IDF weights on its own
training rows: a held-out task's words never shape the features it is judged with.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.inputs import Features, Fetch, InputType, RowProgress, register
from backend.inputs.fields import bare_field, one_string
from backend.labelstudio.dataset import UnsupportedConfig

if TYPE_CHECKING:
    from sklearn.pipeline import FeatureUnion, Pipeline

    from backend.settings import Settings

#: Word n-grams (unigrams and bigrams) and character n-grams within word boundaries.
WORD_NGRAMS = (1, 2)
#: ... and word unigrams only in the per-class (multi-label) model.
PER_CLASS_WORD_NGRAMS = (1, 1)
#: Words are runs of word characters, single letters and digits included (scikit-learn's
#: default drops them, which leaves no vocabulary at all for texts such as "a b c").
WORD_PATTERN = r"(?u)\b\w+\b"
CHAR_NGRAMS = (2, 4)
#: Character n-grams seen in fewer documents than this are dropped (typos, noise) ...
CHAR_MIN_DF = 2
#: ... once there are at least this many rows; tiny projects keep every n-gram, so that
#: a fold of a handful of short texts still has a vocabulary.
CHAR_MIN_DF_FROM = 100
#: Longest excerpt of a text the report shows.
TEXT_EXCERPT = 400


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


def text_vectorizer(*, n_samples: int, word_ngrams: tuple[int, int] = WORD_NGRAMS) -> FeatureUnion:
    """Return TF-IDF word (``word_ngrams``, default 1-2) and character (2-4, within words)
    n-grams, sublinear tf."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    char_min_df = CHAR_MIN_DF if n_samples >= CHAR_MIN_DF_FROM else 1
    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=word_ngrams, token_pattern=WORD_PATTERN, sublinear_tf=True
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


@register
class Text(InputType):
    """A string from one task-data field."""

    name = "text"
    priority = 30
    describes = "one <Text>/<HyperText> reading a $field (text)"

    def claim(self, tag: str, value: str, attrs: Mapping[str, Any]) -> tuple[str, ...] | None:
        field = bare_field(value)
        if tag not in {"text", "hypertext"} or field is None:
            return None
        if str(attrs.get("valueType", "")).lower() == "url":
            raise UnsupportedConfig(
                f'<{tag} value="{value}"> has valueType="url": labelaudit reads text from task '
                "data, not from URLs"
            )
        return (field,)

    def reader(self, data_keys: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
        return lambda data: one_string(data, data_keys)

    def featurize(
        self,
        inputs: Sequence[Any],
        settings: Settings,
        *,
        fetch: Fetch | None = None,
        progress: RowProgress | None = None,
    ) -> Features:
        features = Features(*featurize_text(inputs))
        if progress is not None:
            progress(len(inputs), len(inputs))
        return features

    def default_model(self, settings: Settings, *, n_samples: int) -> Pipeline:
        from sklearn.naive_bayes import ComplementNB
        from sklearn.pipeline import Pipeline

        return Pipeline(
            [("tfidf", text_vectorizer(n_samples=n_samples)), ("complementnb", ComplementNB())]
        )

    def per_class_model(self, settings: Settings, *, n_samples: int) -> Pipeline:
        # Measured on multi-label text (bench/detection_multilabel.py): ComplementNB's yes/no
        # probabilities rank poorly; a logistic regression per class finds twice as many.
        # liblinear's dual form solves the same problem ~10x faster when, as with n-grams,
        # features outnumber rows. Word unigrams (no bigrams) cut the featurizing by a
        # fifth at the same F1 (bench/RESULTS.md, "Multi-label detection", After).
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        return Pipeline(
            [
                ("tfidf", text_vectorizer(n_samples=n_samples, word_ngrams=PER_CLASS_WORD_NGRAMS)),
                ("logisticregression", LogisticRegression(solver="liblinear", dual=True)),
            ]
        )

    def adapt(self, estimator: Any, *, n_samples: int) -> Pipeline:
        from sklearn.pipeline import Pipeline

        return Pipeline([("tfidf", text_vectorizer(n_samples=n_samples)), ("model", estimator)])

    def cell(self, value: Any, fetch: Fetch | None) -> str:
        text = str(value)
        excerpt = text if len(text) <= TEXT_EXCERPT else text[:TEXT_EXCERPT] + "…"
        return html.escape(excerpt)
