"""Tokens as text: a sentence written out from its words, one word marked in it (private).

The rules are cleanlab's (``cleanlab.internal.token_classification_utils``), so that the
text :mod:`core.token_classification.summary` prints is the same as cleanlab's.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

#: Tokens written without a space before them: punctuation (any run of
#: ``string.punctuation``, as cleanlab tests it) other than an opening bracket or a dash.
_ATTACHED = frozenset(
    string.punctuation[a:b]
    for a in range(len(string.punctuation) + 1)
    for b in range(a, len(string.punctuation) + 1)
) - {"-", "("}

#: How a flagged word is marked in its sentence: red, as the ANSI terminal code.
_RED, _RESET = "\x1b[31m", "\x1b[0m"


def join_words(words: Sequence[str]) -> str:
    """The words as one readable line: spaces between them, none before punctuation, none
    inside brackets or before an apostrophe."""
    text = "".join(word if word in _ATTACHED else " " + word for word in words)
    return text.replace(" '", "'").replace("( ", "(").strip()


def highlight(sentence: str, word: str) -> str:
    """``sentence`` with every whole-word occurrence of ``word`` in red, or, if it never
    occurs as a whole word, every occurrence at all."""
    marked = f"{_RED}{word}{_RESET}"
    text, found = re.subn(rf"\b{re.escape(word)}\b", lambda _: marked, sentence)
    return text if found else sentence.replace(word, marked)
