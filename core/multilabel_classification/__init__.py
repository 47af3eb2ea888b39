"""Confident learning for multi-label data: examples may have any set of classes.

Mirrors ``cleanlab.multilabel_classification`` (2.x): :mod:`.filter` flags examples
(``find_label_issues``), :mod:`.rank` scores them (``get_label_quality_scores``),
:mod:`.dataset` summarises classes and the whole dataset, and :mod:`.scorer` holds the
aggregations of per-class scores. ``labels`` are lists of class indices per example
(``[[0, 2], [1], []]``) and ``pred_probs`` one probability per class, rows not summing
to 1.
"""

from core.multilabel_classification import dataset, filter, rank
from core.multilabel_classification.rank import get_label_quality_scores

__all__ = ["dataset", "filter", "get_label_quality_scores", "rank"]
