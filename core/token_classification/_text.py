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
    text = "".join([word if word in _ATTACHED else " " + word for word in words])
    return text.replace(" '", "'").replace("( ", "(").strip()


def highlight(sentence: str, word: str) -> str:
    """``sentence`` with every whole-word occurrence of ``word`` in red (as the regular
    expression ``\\bword\\b`` finds them, left to right), or, if it never occurs as a
    whole word, every occurrence at all."""
    marked = f"{_RED}{word}{_RESET}"
    if not word:  # an empty pattern matches between characters: leave it to re
        text, found = re.subn(r"\b\b", lambda _: marked, sentence)
        return text if found else sentence.replace(word, marked)
    starts = _whole_word_starts(sentence, word)
    if not starts:
        return sentence.replace(word, marked)
    parts, end = [], 0
    for start in starts:
        parts += [sentence[end:start], marked]
        end = start + len(word)
    parts.append(sentence[end:])
    return "".join(parts)


def _is_word_char(char: str) -> bool:
    """Whether ``re`` counts ``char`` as a word character (``\\w``) in a str pattern."""
    return char.isalnum() or char == "_"


def _whole_word_starts(sentence: str, word: str) -> list[int]:
    """Where ``\\b`` + ``word`` + ``\\b`` matches in ``sentence``: non-overlapping, left to
    right (a match needs a word boundary before its first and after its last character)."""
    first, last = _is_word_char(word[0]), _is_word_char(word[-1])
    starts, at = [], sentence.find(word)
    while at >= 0:
        end = at + len(word)
        before = at > 0 and _is_word_char(sentence[at - 1])
        after = end < len(sentence) and _is_word_char(sentence[end])
        if before != first and after != last:
            starts.append(at)
            at = sentence.find(word, end)
        else:
            at = sentence.find(word, at + 1)
    return starts
