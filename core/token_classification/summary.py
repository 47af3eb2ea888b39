"""Summaries of the label issues of a token classification dataset, for people to read.

Names, signatures, tables and text mirror ``cleanlab.token_classification.summary``
(2.x): :func:`common_label_issues` counts the words most often flagged (and, given labels
and predictions, as which class swap), :func:`filter_by_token` keeps one word's issues,
and :func:`display_issues` shows each issue in its sentence with the word in red.

Printing is what these are for, so this module writes: :func:`display_issues` prints (to
``file``, default standard output) the text that :func:`format_issues` returns, and
:func:`common_label_issues` prints its report with ``verbose=True`` (the default, as in
cleanlab) and nothing without.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

import numpy as np
import pandas as pd

from core._validation import check_positive_int
from core.token_classification._issues import (
    Issue,
    check_issues,
    given_and_predicted,
    pairs_set,
)
from core.token_classification._text import highlight, join_words

__all__ = ["common_label_issues", "display_issues", "filter_by_token", "format_issues"]


_RULE = "-" * 87
_INDEX_NOTE = (
    "Classes will be printed in terms of their integer index since `class_names` was not provided."
)
_NAMES_NOTE = "Specify this argument to see the string names of each class."


def display_issues(
    issues: Sequence[Issue] | Sequence[int] | np.ndarray,
    tokens: Sequence[Sequence[str]],
    *,
    labels: Sequence[Sequence[int]] | None = None,
    pred_probs: Sequence[np.ndarray] | None = None,
    exclude: Iterable[tuple[int, int]] = (),
    class_names: Sequence[str] | None = None,
    top: int = 20,
    file: TextIO | None = None,
) -> None:
    """Print each issue within its sentence, the flagged word in red.

    Parameters
    ----------
    issues : list of tuple of (int, int), or array_like of int
        ``(i, j)`` pairs (token ``j`` of sentence ``i``), as
        :func:`core.token_classification.filter.find_label_issues` returns, or sentence
        indices, as :func:`core.token_classification.rank.issues_from_scores` returns
        without token scores.
    tokens : list of list of str
        The words of each sentence.
    labels : list of list of int, optional
        Given labels; shown for each flagged token.
    pred_probs : list of np.ndarray, optional
        Predicted probabilities, ``(n_tokens, n_classes)`` per sentence; the predicted
        class of each flagged token is shown.
    exclude : list of tuple of (int, int), default=()
        ``(given, predicted)`` class swaps not to show (with ``labels`` and
        ``pred_probs``).
    class_names : list of str, optional
        Names of the classes ``0..K-1``, shown instead of the indices.
    top : int >= 1, default=20
        Show at most this many issues.
    file : text stream, optional
        Where to write; standard output by default.

    Notes
    -----
    Where cleanlab differs: it fails on an empty ``issues`` (core prints only the note
    about class indices, if any), shows every issue when ``top=0`` (core asks for
    ``top >= 1``), fails on a word holding a backslash escape such as ``"C:\\dir"`` (it
    passes the coloured word to ``re.sub`` as a template; core takes it literally), and
    never matches ``exclude`` pairs given as lists (core reads any pair as a tuple).

    Examples
    --------
    >>> display_issues([(2, 0), (0, 1)], [["A", "?weird", "sentence"], ["Fine"], ["An", "typo"]])
    Sentence index: 2, Token index: 0
    Token: An
    ----
    \x1b[31mAn\x1b[0m typo
    <BLANKLINE>
    <BLANKLINE>
    Sentence index: 0, Token index: 1
    Token: ?weird
    ----
    A \x1b[31m?weird\x1b[0m sentence
    """
    text = format_issues(
        issues,
        tokens,
        labels=labels,
        pred_probs=pred_probs,
        exclude=exclude,
        class_names=class_names,
        top=top,
    )
    print(text, end="", file=sys.stdout if file is None else file)


def format_issues(
    issues: Sequence[Issue] | Sequence[int] | np.ndarray,
    tokens: Sequence[Sequence[str]],
    *,
    labels: Sequence[Sequence[int]] | None = None,
    pred_probs: Sequence[np.ndarray] | None = None,
    exclude: Iterable[tuple[int, int]] = (),
    class_names: Sequence[str] | None = None,
    top: int = 20,
) -> str:
    """Return the text :func:`display_issues` prints (the same parameters but ``file``).

    Returns
    -------
    str

    Examples
    --------
    >>> format_issues([1], [["Hello", "world", "!"], ["It", "'s", "(", "fine", ")"]])
    "Sentence issue: It's (fine)\\n"
    """
    top = check_positive_int("top", top)
    items = issues.tolist() if isinstance(issues, np.ndarray) else issues
    pairs = len(items) > 0 and isinstance(items[0], tuple)
    has_labels, has_probs = _given(labels), _given(pred_probs)
    excluded = pairs_set(exclude)
    out = []
    if not class_names and (has_labels or has_probs):
        out.append(f"{_INDEX_NOTE}\n{_NAMES_NOTE}\n\n")
    top = min(top, len(items))
    shown = 0
    issue: Any
    for issue in items:
        try:
            text = (
                _describe(
                    issue,
                    tokens,
                    labels if has_labels else None,
                    pred_probs if has_probs else None,
                    excluded,
                    class_names,
                )
                if pairs
                else f"Sentence issue: {join_words(tokens[issue])}\n"
            )
        except (IndexError, TypeError, ValueError):
            check_issues(items, tokens, allow_sentences=True)  # raises naming the culprit
            raise
        if text is None:  # an excluded class swap
            continue
        out.append(text)
        shown += 1
        if shown == top:
            break
        out.append("\n\n")
    return "".join(out)


def _describe(
    issue: Issue,
    tokens: Sequence[Sequence[str]],
    labels: Sequence[Sequence[int]] | None,
    pred_probs: Sequence[np.ndarray] | None,
    excluded: set[tuple[Any, ...]],
    class_names: Sequence[str] | None,
) -> str | None:
    """The lines that show token issue ``(i, j)``, or None if its class swap is excluded."""
    i, j = issue
    word = tokens[i][j]
    given: Any = None if labels is None else labels[i][j]
    predicted: Any = None if pred_probs is None else pred_probs[i][j].argmax()
    if labels is not None and pred_probs is not None and (given, predicted) in excluded:
        return None
    if class_names:
        given = None if labels is None else class_names[given]
        predicted = None if pred_probs is None else class_names[predicted]
    lines = [f"Sentence index: {i}, Token index: {j}", f"Token: {word}"]
    if labels is not None and pred_probs is not None:
        lines.append(
            f"Given label: {given}, predicted label according to provided pred_probs: {predicted}"
        )
    elif labels is not None:
        lines.append(f"Given label: {given}")
    elif pred_probs is not None:
        lines.append(f"Predicted label according to provided pred_probs: {predicted}")
    lines += ["----", highlight(join_words(tokens[i]), word), ""]
    return "\n".join(lines)


def common_label_issues(
    issues: Sequence[Issue],
    tokens: Sequence[Sequence[str]],
    *,
    labels: Sequence[Sequence[int]] | None = None,
    pred_probs: Sequence[np.ndarray] | None = None,
    class_names: Sequence[str] | None = None,
    top: int = 10,
    exclude: Iterable[tuple[int, int]] = (),
    verbose: bool = True,
    file: TextIO | None = None,
) -> pd.DataFrame:
    """Count the words most often flagged, and as which class swap.

    Parameters
    ----------
    issues : list of tuple of (int, int)
        ``(i, j)`` pairs, token ``j`` of sentence ``i``.
    tokens : list of list of str
        The words of each sentence.
    labels, pred_probs : optional
        Given labels and predicted probabilities per sentence. With both, issues are
        counted per word and per (given class, predicted class).
    class_names : list of str, optional
        Names of the classes ``0..K-1``, used instead of the indices.
    top : int >= 0, default=10
        How many words the printed report covers (the table has them all).
    exclude : list of tuple of (int, int), default=()
        ``(given, predicted)`` class swaps not to count (with ``labels`` and
        ``pred_probs``).
    verbose : bool, default=True
        Print cleanlab's report (each word's count and, with labels and predictions, its
        swaps). Unlike cleanlab, ``verbose=False`` prints nothing at all.
    file : text stream, optional
        Where to print; standard output by default.

    Returns
    -------
    pd.DataFrame
        With labels and predictions: columns ``token``, ``given_label``,
        ``predicted_label``, ``num_label_issues``, one row per word and class swap.
        Otherwise ``token``, ``num_label_issues``, one row per word. Most issues first,
        ties in order of first appearance.

    Notes
    -----
    Where cleanlab differs: it prints each word's count even with ``verbose=False`` (core
    then prints nothing), and it reads only the rows of ``labels`` and ``pred_probs`` that
    the issues name, while with more issues than sentences core checks every sentence's
    shapes (it takes the predictions from one argmax per sentence).

    Examples
    --------
    >>> tokens = [["A", "?weird", "sentence"], ["A", "valid", "sentence"], ["An", "typo"]]
    >>> common_label_issues([(2, 0), (0, 1)], tokens, verbose=False)
        token  num_label_issues
    0      An                 1
    1  ?weird                 1
    """
    top = check_positive_int("top", top, minimum=0)
    try:
        words = [tokens[i][j] for i, j in issues]
    except (IndexError, TypeError, ValueError):
        check_issues(issues, tokens, allow_sentences=False)  # raises naming the culprit
        raise
    names = list(dict.fromkeys(words))  # in order of first appearance
    index = {word: n for n, word in enumerate(names)}
    word_ids = np.fromiter(map(index.__getitem__, words), np.intp, len(words))
    report: list[str] = []
    if not (_given(labels) and _given(pred_probs)):
        freq = np.bincount(word_ids, minlength=len(names))
        for r in np.argsort(freq)[::-1][:top].tolist():
            report.append(
                f"Token '{names[r]}' is potentially mislabeled {freq[r]} times throughout the "
                "dataset\n\n"
            )
        _print(report, verbose, file)
        if not names:
            return pd.DataFrame([], columns=["token", "num_label_issues"])
        order = np.argsort(-freq, kind="stable")
        return pd.DataFrame(
            {"token": [names[r] for r in order.tolist()], "num_label_issues": freq[order]}
        )

    if not class_names:
        report.append(f"{_INDEX_NOTE} \n{_NAMES_NOTE} \n\n")
    given, predicted, k = given_and_predicted(issues, labels, pred_probs)  # type: ignore[arg-type]
    swaps = given * k + predicted
    excluded = pairs_set(exclude)
    if excluded:  # Python's == decides, as for cleanlab's `in` on a list of tuples
        dropped = [c for c in np.unique(swaps).tolist() if divmod(c, k) in excluded]
        keep = ~np.isin(swaps, dropped)
        word_ids, swaps = word_ids[keep], swaps[keep]
    # One key per (word, given, predicted), ascending: word by word, then row-major.
    keys, counts = np.unique(word_ids * (k * k) + swaps, return_counts=True)
    key_words, cells = np.divmod(keys, k * k)
    freq = np.bincount(key_words, weights=counts, minlength=len(names)).astype(np.int64)
    for r in np.argsort(freq)[::-1][:top].tolist():
        report.append(
            f"Token '{names[r]}' is potentially mislabeled {freq[r]} times throughout the dataset\n"
        )
        if verbose:
            report.append(f"{_RULE}\n")
            matrix = np.zeros(k * k, dtype=np.int64)
            matrix[cells[key_words == r]] = counts[key_words == r]
            for cell in np.argsort(matrix)[::-1].tolist():
                if matrix[cell] == 0:
                    break
                g, p = divmod(cell, k)
                swap = (
                    f"`{class_names[g]}` but predicted to actually be class `{class_names[p]}`"
                    if class_names
                    else f"{g} but predicted to actually be class {p}"
                )
                report.append(f"labeled as class {swap} {matrix[cell]} times\n")
        report.append("\n")
    _print(report, verbose, file)
    columns = ["token", "given_label", "predicted_label", "num_label_issues"]
    if len(keys) == 0:
        return pd.DataFrame([], columns=columns)
    order = np.argsort(-counts, kind="stable")
    given_class, predicted_class = np.divmod(cells[order], k)
    table: dict[str, Any] = {"token": [names[w] for w in key_words[order].tolist()]}
    if class_names:
        table["given_label"] = [class_names[g] for g in given_class.tolist()]
        table["predicted_label"] = [class_names[p] for p in predicted_class.tolist()]
    else:
        table["given_label"], table["predicted_label"] = given_class, predicted_class
    table["num_label_issues"] = counts[order]
    return pd.DataFrame(table)


def filter_by_token(
    token: str, issues: Sequence[Issue], tokens: Sequence[Sequence[str]]
) -> list[Issue]:
    """Return the issues whose word is ``token``, ignoring letter case, in their order.

    Parameters
    ----------
    token : str
    issues : list of tuple of (int, int)
        ``(i, j)`` pairs, token ``j`` of sentence ``i``.
    tokens : list of list of str
        The words of each sentence.

    Returns
    -------
    list of tuple of (int, int)

    Examples
    --------
    >>> filter_by_token("weird", [(2, 0), (0, 1)], [["A", "Weird", "one"], ["B"], ["C"]])
    [(0, 1)]
    """
    if not isinstance(token, str):
        raise TypeError(f"token must be a string; got {type(token).__name__}")
    wanted = token.lower()
    try:
        return [issue for issue in issues if tokens[issue[0]][issue[1]].lower() == wanted]
    except (IndexError, TypeError, KeyError, AttributeError):
        check_issues(issues, tokens, allow_sentences=False)  # raises naming the culprit
        raise


# --------------------------------------------------------------------------- helpers


def _given(value: Any) -> bool:
    """Whether an optional per-sentence argument was given (cleanlab tests its truth)."""
    return value is not None and len(value) > 0


def _print(report: list[str], verbose: bool, file: TextIO | None) -> None:
    if verbose and report:
        print("".join(report), end="", file=sys.stdout if file is None else file)
