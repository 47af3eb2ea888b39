"""Small matplotlib helpers the report's sections share: each returns a PNG data URI."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np


def png(fig: Any) -> str:
    """Return ``fig`` as a ``data:image/png`` URI and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def heatmap(
    matrix: np.ndarray,
    *,
    rows: Sequence[str],
    columns: Sequence[str],
    title: str,
    xlabel: str,
    ylabel: str,
    vmax: float = 1.0,
) -> str:
    """A blue heatmap of ``matrix`` (values in [0, vmax]), cells written when it is small."""
    import matplotlib.pyplot as plt

    n_rows, n_cols = matrix.shape
    size = min(1.0 + 0.55 * max(n_rows, n_cols), 14.0)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=vmax)
    ax.set_xticks(range(n_cols), list(columns), rotation=45, ha="right")
    ax.set_yticks(range(n_rows), list(rows))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if max(n_rows, n_cols) <= 15:
        for i in range(n_rows):
            for j in range(n_cols):
                value = matrix[i, j]
                ax.text(j, i, f"{value:.2f}", ha="center", va="center",
                        color="white" if value > 0.5 * vmax else "black", fontsize=8)  # fmt: skip
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title(title)
    return png(fig)


def bars(
    names: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    title: str,
    xlabel: str,
    xlim: tuple[float, float] | None = None,
) -> str:
    """Horizontal bars, one group per name, one bar per series (a legend when several)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.35 * len(names) * max(1, len(series)) ** 0.5 + 1.2))
    height = 0.8 / max(len(series), 1)
    colors = ("#4c72b0", "#c44e52", "#55a868", "#8172b2")
    positions = np.arange(len(names))
    for n, (label, values) in enumerate(series.items()):
        offset = (n - (len(series) - 1) / 2) * height
        ax.barh(positions + offset, list(values), height=height, color=colors[n % 4], label=label)
    ax.set_yticks(positions, list(names))
    if xlim is not None:
        ax.set_xlim(*xlim)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    if len(series) > 1:
        ax.legend()
    return png(fig)


def quality_bars(records: Sequence[dict[str, Any]], *, title: str, xlabel: str) -> str:
    """Per-class quality bars from core's class-quality table (records with "Class Name"
    and "Label Quality Score"), on a 0-1 axis."""
    return bars(
        [str(r["Class Name"]) for r in records],
        {"quality": [float(r["Label Quality Score"]) for r in records]},
        title=title,
        xlabel=xlabel,
        xlim=(0, 1),
    )


def suspicion_histogram(suspicion: np.ndarray, flagged: np.ndarray, *, xlabel: str) -> str:
    """Suspicion of every audited row, flagged rows in red over the rest."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    edges = np.linspace(0, 1, 21).tolist()
    ax.hist(suspicion[~flagged], bins=edges, color="#9bbbd4", label="not flagged")
    ax.hist(suspicion[flagged], bins=edges, color="#c44e52", label="flagged")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("annotations")
    ax.legend()
    ax.set_title("Suspicion of every audited annotation")
    return png(fig)
