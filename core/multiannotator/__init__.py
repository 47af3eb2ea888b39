"""Classification data labelled by several annotators: consensus, quality, what to label next.

Mirrors ``cleanlab.multiannotator`` (2.x): same names, signatures, DataFrames and numbers.

* :func:`get_label_quality_multiannotator` (CROWDLAB): a consensus label per example, how
  likely it is correct, how good each annotator's labels and each annotator are
  (Goh, Tkachenko & Mueller, arXiv:2210.06812); :func:`get_label_quality_multiannotator_ensemble`
  for an ensemble of models.
* :func:`get_active_learning_scores` (ActiveLab): which examples, labelled or not, to send
  for one more label (Goh & Mueller, arXiv:2301.11856); ``_ensemble`` likewise.
* :func:`get_majority_vote_label`, with cleanlab's tie-breaks.
* :func:`convert_long_to_wide_dataset`: one row per annotation to the wide matrix.

Labels come as a wide matrix ``labels_multiannotator`` of shape ``(N, M)``: entry
``[n, m]`` is the class ``0..K-1`` annotator ``m`` gave example ``n``, NaN where none
(a DataFrame's columns name the annotators). :mod:`.utils` holds cleanlab's helpers
(``format_multiannotator_labels`` for class names, input checks, temperature scaling).

The modules: :mod:`.label_quality`, :mod:`.active_learning`, :mod:`.majority_vote`,
:mod:`.calibration`, :mod:`.formats`, and private ``_annotations`` (reading and checking
the matrix), ``_crowdlab`` (posteriors and weights), ``_annotator_stats``.
"""

from core.multiannotator.active_learning import (
    get_active_learning_scores,
    get_active_learning_scores_ensemble,
)
from core.multiannotator.formats import convert_long_to_wide_dataset
from core.multiannotator.label_quality import (
    get_label_quality_multiannotator,
    get_label_quality_multiannotator_ensemble,
)
from core.multiannotator.majority_vote import get_majority_vote_label

__all__ = [
    "convert_long_to_wide_dataset",
    "get_active_learning_scores",
    "get_active_learning_scores_ensemble",
    "get_label_quality_multiannotator",
    "get_label_quality_multiannotator_ensemble",
    "get_majority_vote_label",
]
