"""A pytest plugin (``-p bench.cleanlab_swap``): cleanlab's modules replaced by core's.

Loaded before any test module, it imports cleanlab whole (its other modules keep what they
import from each other), then puts core's modules in ``sys.modules`` and on the packages under
cleanlab's names, so ``from cleanlab import count`` in cleanlab's own tests gets ``core.count``.
"""

from __future__ import annotations

import importlib
import sys

#: cleanlab module -> the core module that stands in for it.
SWAPS = {
    "cleanlab.count": "core.count",
    "cleanlab.filter": "core.filter",
    "cleanlab.rank": "core.rank",
    "cleanlab.classification": "core.classification",
    "cleanlab.dataset": "core.dataset",
    "cleanlab.benchmarking.noise_generation": "core.benchmarking.noise_generation",
    "cleanlab.multilabel_classification": "core.multilabel_classification",
    "cleanlab.multilabel_classification.filter": "core.multilabel_classification.filter",
    "cleanlab.multilabel_classification.rank": "core.multilabel_classification.rank",
    "cleanlab.multilabel_classification.dataset": "core.multilabel_classification.dataset",
    "cleanlab.token_classification": "core.token_classification",
    "cleanlab.token_classification.filter": "core.token_classification.filter",
    "cleanlab.token_classification.rank": "core.token_classification.rank",
    "cleanlab.token_classification.summary": "core.token_classification.summary",
    "cleanlab.multiannotator": "core.multiannotator",
    "cleanlab.experimental.label_issues_batched": "core.experimental.label_issues_batched",
    # the helpers cleanlab's multi-annotator tests import (input checks, label formatting)
    "cleanlab.internal.multiannotator_utils": "core.multiannotator.utils",
}

for _name in SWAPS:
    importlib.import_module(_name)  # cleanlab's own, so the package imports completely
for _name, _core in SWAPS.items():
    sys.modules[_name] = importlib.import_module(_core)
    _parent, _, _child = _name.rpartition(".")
    setattr(sys.modules[_parent], _child, sys.modules[_name])
