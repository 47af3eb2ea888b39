"""Confident learning for multi-label data: examples may have any set of classes.

Mirrors ``cleanlab.multilabel_classification`` (2.x): :mod:`.filter` flags examples
(``find_label_issues``), :mod:`.rank` scores them (``get_label_quality_scores``),
:mod:`.dataset` summarises classes and the whole dataset, and :mod:`.scorer` holds the
aggregations of per-class scores. ``labels`` are lists of class indices per example
(``[[0, 2], [1], []]``) and ``pred_probs`` one probability per class, rows not summing
to 1.

Results equal cleanlab 2.9's, except where cleanlab fails or is inconsistent:

* with a ``low_*`` filter and ``return_indices_ranked_by``, the flagged set is ranked by
  its scores (cleanlab returns the same set in a scrambled order);
* degenerate data gets an answer where cleanlab raises: a single class (K = 1), no
  example with any class, a class nobody has (``predicted_neq_given``), a class everybody
  has (this one also warns);
* class indices outside ``0..K-1`` raise ``ValueError`` (cleanlab warns and drops them).

``low_memory=True`` judges each class chunk by chunk
(:mod:`core.experimental.label_issues_batched`), with cleanlab's answers.
"""

from core.multilabel_classification import dataset, filter, rank
from core.multilabel_classification.rank import get_label_quality_scores

__all__ = ["dataset", "filter", "get_label_quality_scores", "rank"]
