"""Confident learning for token classification (NER): every token of a sentence has a class.

Mirrors ``cleanlab.token_classification`` (2.x): :mod:`.filter` flags the tokens whose
given label is probably wrong (``find_label_issues``), :mod:`.rank` scores every token and
every sentence (``get_label_quality_scores``, ``issues_from_scores``), and :mod:`.summary`
turns issues into tables and text for people (``common_label_issues``,
``filter_by_token``, ``display_issues``). Inputs are per sentence: ``labels[i]`` lists
the classes of sentence ``i``'s tokens and ``pred_probs[i]`` is its ``(n_tokens,
n_classes)`` array of predicted probabilities.
"""

from core.token_classification import filter, rank, summary
from core.token_classification.filter import find_label_issues
from core.token_classification.rank import get_label_quality_scores, issues_from_scores

__all__ = [
    "filter",
    "find_label_issues",
    "get_label_quality_scores",
    "issues_from_scores",
    "rank",
    "summary",
]
