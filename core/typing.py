"""Type aliases shared by the public functions of :mod:`core`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np
import numpy.typing as npt
import pandas as pd

#: Integer class labels ``0..K-1``: a list, a 1-D array or a pandas Series.
LabelLike = Union[Sequence[int], npt.NDArray[Any], "pd.Series[Any]"]

#: Multi-label labels, cleanlab's format: per example, the list of its class indices
#: (``[[0, 2], [1], []]``); an example may have none.
MultiLabelLike = Sequence[Sequence[int]]

#: A 2-D float array of shape ``(n_samples, n_classes)`` whose rows sum to 1.
PredProbs = npt.NDArray[np.floating[Any]]

#: Anything a scikit-learn estimator accepts as ``X``.
DatasetLike = Any

__all__ = ["DatasetLike", "LabelLike", "MultiLabelLike", "PredProbs"]
