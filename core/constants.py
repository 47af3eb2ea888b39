"""Tolerances and thresholds used across :mod:`core`, in one place.

The values match cleanlab 2.x so that results agree to the last bit.
"""

from __future__ import annotations

#: Fuzzy-equality tolerance for probability comparisons (cleanlab's FLOATING_POINT_COMPARISON).
FLOATING_POINT_COMPARISON: float = 1e-6

#: Smallest temperature the multi-label softmin aggregation divides by (cleanlab's EPSILON).
SOFTMIN_MIN_TEMPERATURE: float = 1e-6

#: Lower bound used when clipping probabilities and priors.
CLIPPING_LOWER_BOUND: float = 1e-6

#: Per-class confident thresholds are clipped from below to this value; it must exceed
#: :data:`FLOATING_POINT_COMPARISON` so that a threshold never admits a probability of 0.
CONFIDENT_THRESHOLDS_LOWER_BOUND: float = 2 * FLOATING_POINT_COMPARISON

#: Guard against division by zero in normalisations.
TINY_VALUE: float = 1e-100

#: Threshold given to a class that never appears in ``labels``: larger than any
#: probability, so no example is ever confidently counted in it.
MISSING_CLASS_THRESHOLD: float = 2.0

#: Noise rates (off-diagonal entries of noise matrices) are clipped to at most this value.
MAX_NOISE_RATE: float = 0.9999

#: How far a row of ``pred_probs`` may sum from 1 before it is rejected as not being
#: probabilities. Generous enough for float32 softmax output and rounded probabilities.
ROW_SUM_TOLERANCE: float = 1e-2

#: How far ``pred_probs`` values may fall outside [0, 1]: float32 (and float16) softmax output
#: rounds past the bounds (the IMDb pred_probs in cleanlab's tests reach 1.00001). Values are
#: used as given, as cleanlab uses them.
PROBABILITY_TOLERANCE: float = 1e-3

#: 1.x behaviour: ``pruning.get_noise_indices`` always keeps this many examples per class.
LEGACY_MIN_EXAMPLES_PER_CLASS: int = 5

#: ``CleanLearning`` passes this ``min_examples_per_class`` to ``filter.find_label_issues``
#: unless ``find_label_issues_kwargs`` says otherwise (cleanlab's default for the class).
CLEAN_LEARNING_MIN_EXAMPLES_PER_CLASS: int = 10

#: Automatic sample weights are ``1 / max(noise_matrix[k, k], this)``: a class whose
#: estimated consistency is tiny still gets a finite weight (at most 1000).
MIN_CONSISTENCY_FOR_SAMPLE_WEIGHT: float = 1e-3

#: The ``filter_by`` methods of :func:`core.filter.find_label_issues` (here, so that callers
#: can validate a setting without importing the numerical modules).
FILTER_BY: tuple[str, ...] = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)

#: Multi-annotator temperature scaling clips probabilities from below at this before taking
#: logs (cleanlab's SMALL_CONST in its multi-annotator helpers).
LOG_PROBABILITY_FLOOR: float = 1e-30

#: Softmax temperatures are raised to at least this before dividing by them (cleanlab's
#: EPSILON in its softmax).
MIN_SOFTMAX_TEMPERATURE: float = 1e-6

#: Default softmax temperature of the "softmin" sentence score of token classification
#: (cleanlab's ``sentence_score_kwargs={"temperature": 0.05}``).
SENTENCE_SOFTMIN_TEMPERATURE: float = 0.05

#: Default score below which ``token_classification.rank.issues_from_scores`` reports a
#: token (or sentence) as an issue (cleanlab's ``threshold=0.1``).
TOKEN_ISSUE_THRESHOLD: float = 0.1

#: Sentence score of a sentence with no tokens: nothing in it can be mislabeled.
EMPTY_SENTENCE_SCORE: float = 1.0
