"""Named-entity datasets with known wrong spans (``bench/detection_ner.py``, ``examples/ner``).

Every dataset is a list of Label Studio tasks (``data = {"text": ...}``, one annotation by
user 1 whose result is a list of ``labels`` regions with character offsets), the true
spans of each task and what the noise changed. Five entity types, CLASSES.

* **template** (:func:`template_case`): sentences from TEMPLATES (news-like, 0-4 entity
  slots each, a few with none) whose slots are filled by :func:`entity`: one- and
  multi-word names (``Rio de Janeiro``, ``Bank of England``, ``O'Brien``, dates with a
  comma inside), names that are also common words (``Rose``, ``Will``, ``May``, ``Nice``,
  ``Apple``), the same word as different types (``Washington`` a person, a place and part
  of an organisation; ``Jordan``, ``Georgia``, ``Ford``, ``Oscar``, ``Chase``, ...), and
  sentences that open with a capitalised common word (``Will``, ``Hope``, ``Rose``).
* **free** (:func:`free_case`): 5-40 tokens of FILLER words drawn at random (the same
  ambiguous common words among them, lower-case, or capitalised at the start) with 0-4
  entities inserted at random places; FREE_EMPTY of the sentences have none. No context
  helps here: a model has only the words themselves.

* **lower** (:func:`lower_case`): the template sentences lower-cased (held-out shape).

**Noise** (:func:`inject_noise`): each task, with probability NOISE_RATE, gets exactly
one change, drawn uniformly among those possible for it:

* ``flipped``: one span's type replaced by a confusable one (CONFUSABLE);
* ``dropped``: one span removed (an entity left unlabelled);
* ``shifted``: one span's boundary moved by one token: extended over the neighbouring
  word (one not in another span), or cut by its first or last word (when it has two);
* ``spurious``: a span put on one word outside every entity (and not next to one), of a
  random type.

A task is *wrong* when its given spans differ from its true spans (every changed task
is). All randomness comes from ``numpy.random.default_rng(seed)``; the same seed writes
the same tasks.

Run ``.venv/bin/python bench/ner_data.py --kind template --tasks 5`` to print a few.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CLASSES = ("PER", "LOC", "ORG", "DATE", "MISC")
#: A type flips to one of these (uniformly): the types a careless annotator mixes up.
CONFUSABLE = {
    "PER": ("ORG", "LOC"),
    "LOC": ("ORG", "PER", "MISC"),
    "ORG": ("LOC", "PER", "MISC"),
    "DATE": ("MISC",),
    "MISC": ("ORG", "LOC", "DATE"),
}
NOISE_RATE = 0.10
#: Noise kinds; :func:`inject_noise` codes them 1..4 (0: unchanged).
NOISE_KINDS = ("flipped", "dropped", "shifted", "spurious")
#: The Label Studio label config of every dataset (control "label" over object "text").
CONFIG = (
    "<View>\n"
    '  <Labels name="label" toName="text">\n'
    + "".join(f'    <Label value="{c}"/>\n' for c in CLASSES)
    + "  </Labels>\n"
    '  <Text name="text" value="$text"/>\n'
    "</View>\n"
)
#: The tokenizer of ``backend.tasktypes.tokens`` (copied so that the data need no backend).
TOKEN = re.compile(r"\w+|[^\w\s]")

# ---------------------------------------------------------------------------- vocabulary

#: First names; many are also common words (Rose, Will, May) or places (Jordan, Georgia).
FIRST = (
    "John", "Maria", "Wei", "Anna", "Peter", "Olga", "Ahmed", "Lucy", "Tom", "Sara", "Ivan",
    "Nina", "James", "Fatima", "Carlos", "Yuki", "Priya", "David", "Elena", "Kwame", "Aisha",
    "Lars", "Ingrid", "Mohammed", "Sofia", "Diego", "Chen", "Hannah", "Omar", "Grace",
    "Rose", "Hope", "Faith", "Joy", "Bill", "Mark", "Will", "Jack", "Frank", "Pat", "Dawn",
    "Summer", "April", "May", "June", "Art", "Sunny", "Jordan", "Georgia", "Victoria",
    "Paris", "Florence", "Sydney", "Austin", "Dallas", "Charlotte", "Madison", "Chelsea",
    "Brooklyn", "Chad", "Oscar", "Chase", "Morgan", "Lincoln", "Kent", "Troy", "Dakota",
)  # fmt: skip
#: Surnames; again some common words (Baker, Young, Long) and shared with other types.
LAST = (
    "Smith", "Garcia", "Chen", "Novak", "Brown", "Petrova", "Khan", "Gray", "Baker",
    "Lee", "Horvat", "Kowalski", "Okafor", "Nakamura", "Patel", "Schmidt", "Rossi",
    "Dubois", "Silva", "Kim", "Nguyen", "Mensah", "Andersen", "Ivanova", "Cohen", "Haddad",
    "Cook", "Young", "White", "Long", "King", "Mason", "Hunter", "Porter", "Little", "Strong",
    "Bird", "Hill", "Rivers", "Park", "Green", "Stone", "Wood", "Washington", "Jordan",
    "Ford", "Houston", "Lincoln", "Morgan", "Chase", "Kent", "Dell", "O'Brien", "McDonald",
)  # fmt: skip
#: Places: one word, several words, and words that are also names or common words.
PLACES = (
    "Paris", "Berlin", "Tokyo", "Lagos", "Lima", "Oslo", "Cairo", "Madrid", "Seoul", "Rome",
    "Dublin", "Nairobi", "Hanoi", "Quito", "Warsaw", "Vienna", "Prague", "Manila", "Perth",
    "Ghana", "Peru", "Canada", "Norway", "Brazil", "Kenya", "India", "Egypt", "Chile",
    "New York", "Rio de Janeiro", "Cape Town", "Buenos Aires", "San Francisco", "Hong Kong",
    "Salt Lake City", "New Delhi", "Isle of Man", "Trinidad and Tobago", "Sri Lanka",
    "Washington", "Jordan", "Georgia", "Victoria", "Lincoln", "Madison", "Houston",
    "Chelsea", "Sydney", "Florence", "Austin", "Dallas", "Charlotte", "Kent", "Troy",
    "Phoenix", "Dakota", "Nice", "Reading", "Bath", "Mobile", "Split", "Turkey", "China",
    "Chad", "Jersey", "Amazon",
)  # fmt: skip
#: Organisations (whole names), more are made by :func:`entity` from patterns.
ORGS = (
    "Acme Corp", "Globex", "Initech", "Umbrella Inc", "Stark Industries", "Hooli",
    "Vandelay Industries", "Cyberdyne", "United Nations", "Red Cross", "World Bank",
    "Bank of England", "General Motors", "Washington Post", "Morgan Stanley", "Ford",
    "Apple", "Amazon", "Shell", "Dell", "Chase", "Jaguar", "Oracle", "Houston Rockets",
    "Chelsea", "Phoenix Suns", "Reuters", "Interpol", "NATO", "UNICEF", "BBC",
)  # fmt: skip
ORG_PATTERNS = (
    "{last} & Sons", "{last} Holdings", "{place} Bank", "University of {place}",
    "{word} Systems", "{word} Labs", "{place} City Council", "{last} Group",
)  # fmt: skip
ORG_WORDS = ("Blue", "Summit", "Apex", "Nova", "Delta", "Green", "Stone", "Bright", "Iron")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MISC = (
    "French", "German", "Japanese", "Brazilian", "Nigerian", "Korean", "Mexican", "Polish",
    "English", "Spanish", "Arabic", "Olympics", "World Cup", "Tour de France",
    "Nobel Prize", "Oscar", "Grammy", "Golden Globe", "Champions League", "Super Bowl",
    "iPhone", "Windows", "Python", "Linux", "Christmas", "Ramadan", "Easter", "Brexit",
    "Cold War", "Renaissance", "Catholic", "Buddhist", "Jaguar", "Apple Watch",
)  # fmt: skip

#: Sentence templates: slots {PER} {LOC} {ORG} {DATE} {MISC}, everything else literal.
TEMPLATES = (
    "{PER} moved to {LOC} in {DATE}.",
    "{PER}, a spokesman for {ORG}, said the deal was done.",
    "Shares of {ORG} fell 3 percent on {DATE}.",
    "{ORG} opened a new office in {LOC} last year.",
    "According to {PER}, the {MISC} market is growing fast.",
    "Dr. {PER} of {ORG} will speak at the {MISC} ceremony.",
    "In {DATE}, {PER} won the {MISC}.",
    "{LOC} and {LOC} signed a trade agreement on {DATE}.",
    "Yesterday {PER} met {PER} at the {ORG} headquarters.",
    "{PER} was born in {LOC} on {DATE}.",
    "Flights from {LOC} to {LOC} were cancelled because of the storm.",
    "{ORG} hired {PER} as chief financial officer.",
    "Police in {LOC} said {PER} had been arrested.",
    "{PER} told reporters that {ORG} would not comment.",
    "The {MISC} was held in {LOC} for the first time.",
    "Mr. {PER} said he would visit {LOC} in the spring.",
    "{PER} will sing at a {MISC} concert in {LOC}.",
    "It rained in {LOC} for most of {DATE}.",
    "Investors sold {ORG} stock after {PER} resigned.",
    "We may see {PER} in {LOC} next week.",
    "{PER} said the {MISC} version costs less.",
    "Rose petals covered the streets of {LOC}.",
    "Will {PER} join {ORG} before {DATE}?",
    "Hope is fading for the miners trapped near {LOC}.",
    "The bill was passed by the parliament of {LOC} on {DATE}.",
    "In {DATE} the mayor of {LOC}, {PER}, stepped down.",
    "{ORG} and {ORG} agreed to merge.",
    "A {MISC} tourist was rescued near {LOC} on {DATE}.",
    "Nobody from {ORG} attended the meeting.",
    "{PER}'s new book about {LOC} sold well.",
    "The {ORG} report, published {DATE}, criticised {PER}.",
    "{PER} and {PER} founded {ORG} in {LOC}.",
    "Fans in {LOC} celebrated the {MISC} victory.",
    "{ORG} says it will cut 200 jobs in {LOC}.",
    "Coach {PER} praised the young players.",
    "The museum in {LOC} reopens on {DATE}.",
    "Mark the date: {DATE} in {LOC}.",
    "{PER} speaks {MISC} and {MISC}.",
    "Prices rose again this week.",
    "Nobody answered the phone.",
    "The long road home took three days.",
    "Frank talks between the two sides went on all night.",
    "May brings warm weather and long evenings.",
    "A little bird sat on the green stone wall.",
)
#: Lower-case words of the free sentences; some are also names, places or firms.
FILLER = (
    "the", "a", "an", "of", "to", "in", "on", "at", "for", "with", "from", "by", "and",
    "or", "but", "not", "was", "is", "are", "were", "be", "has", "had", "have", "will",
    "may", "can", "would", "should", "said", "says", "told", "made", "took", "gave", "saw",
    "went", "came", "found", "left", "kept", "put", "ran", "sold", "bought", "sent", "met",
    "new", "old", "big", "small", "long", "short", "young", "little", "strong", "green",
    "white", "brown", "gray", "rich", "poor", "nice", "mobile", "split", "reading", "bath",
    "early", "late", "good", "bad", "high", "low", "first", "last", "next", "other",
    "house", "road", "city", "river", "school", "market", "company", "office", "price",
    "water", "food", "paper", "report", "plan", "team", "game", "week", "year", "day",
    "night", "morning", "letter", "phone", "car", "train", "ship", "bridge", "wall",
    "garden", "window", "door", "table", "chair", "book", "music", "story", "idea",
    "rose", "hope", "grace", "faith", "joy", "bill", "mark", "jack", "frank", "art",
    "dawn", "summer", "park", "stone", "wood", "hill", "king", "hunter", "baker", "cook",
    "porter", "mason", "bird", "apple", "shell", "turkey", "china", "jersey", "chase",
    "oracle", "jaguar", "python", "windows", "march", "august", "sunny", "rivers", "troy",
    "very", "quite", "again", "still", "never", "always", "often", "soon", "here",
    "there", "then", "now", "today", "yesterday", "slowly", "quickly", "together", "about",
    "after", "before", "under", "over", "between", "into", "through", "during", "without",
    "three", "seven", "twenty", "many", "few", "some", "every", "each", "all", "most",
    "people", "children", "workers", "voters", "players", "farmers", "police", "doctors",
)  # fmt: skip
#: P(a free sentence has no entity); otherwise 1..FREE_MAX_ENTITIES, fewer when short.
FREE_EMPTY = 0.15
FREE_MAX_ENTITIES = 4
FREE_TOKENS = (5, 40)
FREE_COMMA = 0.06


@dataclass
class NerCase:
    """One dataset: Label Studio tasks (given spans), true and given spans, noise per task."""

    name: str
    kind: str
    seed: int
    texts: list[str]
    true: list[list[tuple[int, int, str]]]
    given: list[list[tuple[int, int, str]]] = field(default_factory=list)
    noise: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def wrong(self) -> np.ndarray:
        """Whether each task's given spans differ from its true spans."""
        return np.array(
            [sorted(t) != sorted(g) for t, g in zip(self.true, self.given, strict=True)]
        )

    def tasks(self, *, first_id: int = 1) -> list[dict[str, Any]]:
        """The tasks as Label Studio exports them (minimal fields), with the given spans."""
        return [
            {
                "id": first_id + i,
                "data": {"text": text},
                "annotations": [
                    {"id": first_id + i, "completed_by": 1, "result": regions(text, spans)}
                ],
            }
            for i, (text, spans) in enumerate(zip(self.texts, self.given, strict=True))
        ]


def regions(text: str, spans: list[tuple[int, int, str]]) -> list[dict[str, Any]]:
    """Label Studio ``labels`` results of ``spans`` over ``text`` (control "label")."""
    return [
        {
            "id": f"s{start}-{end}",
            "from_name": "label",
            "to_name": "text",
            "type": "labels",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]},
            "origin": "manual",
        }
        for start, end, label in sorted(spans)
    ]


def pick(rng: np.random.Generator, items: tuple[str, ...]) -> str:
    return str(items[int(rng.integers(len(items)))])


def entity(label: str, rng: np.random.Generator) -> str:
    """One entity string of type ``label``."""
    if label == "PER":
        form = rng.random()
        if form < 0.6:
            return f"{pick(rng, FIRST)} {pick(rng, LAST)}"
        if form < 0.75:
            return pick(rng, LAST)
        if form < 0.85:
            return pick(rng, FIRST)
        if form < 0.95:  # a middle initial: "John F. Kennedy"
            return f"{pick(rng, FIRST)} {chr(ord('A') + int(rng.integers(26)))}. {pick(rng, LAST)}"
        return f"{pick(rng, FIRST)} {pick(rng, LAST)}-{pick(rng, LAST)}"
    if label == "LOC":
        return pick(rng, PLACES)
    if label == "ORG":
        if rng.random() < 0.55:
            return pick(rng, ORGS)
        pattern = pick(rng, ORG_PATTERNS)
        return pattern.format(
            last=pick(rng, LAST), place=pick(rng, PLACES), word=pick(rng, ORG_WORDS)
        )
    if label == "DATE":
        year = int(rng.integers(1950, 2030))
        day = int(rng.integers(1, 29))
        month = pick(rng, MONTHS)
        forms = (
            f"{day} {month} {year}",
            f"{month} {day}, {year}",
            f"{month} {day}",
            f"{month} {year}",
            str(year),
            month,
            pick(rng, DAYS),
        )
        return forms[int(rng.choice(len(forms), p=(0.2, 0.2, 0.15, 0.15, 0.1, 0.1, 0.1)))]
    if label == "MISC":
        return pick(rng, MISC)
    raise ValueError(f"label must be one of {CLASSES}; got {label!r}")


SLOT = re.compile(r"\{(PER|LOC|ORG|DATE|MISC)\}")


def template_sentence(rng: np.random.Generator) -> tuple[str, list[tuple[int, int, str]]]:
    """One sentence of TEMPLATES with its slots filled, and its spans."""
    template = pick(rng, TEMPLATES)
    text, spans, at = "", [], 0
    for m in SLOT.finditer(template):
        text += template[at : m.start()]
        name = entity(m.group(1), rng)
        spans.append((len(text), len(text) + len(name), m.group(1)))
        text += name
        at = m.end()
    return text + template[at:], spans


def free_sentence(rng: np.random.Generator) -> tuple[str, list[tuple[int, int, str]]]:
    """FREE_TOKENS random filler tokens (about) with 0-4 entities at random places."""
    target = int(rng.integers(FREE_TOKENS[0], FREE_TOKENS[1] + 1))
    n_entities = 0
    if rng.random() >= FREE_EMPTY:
        n_entities = int(rng.integers(1, min(FREE_MAX_ENTITIES, max(1, target // 5)) + 1))
    pieces: list[tuple[str, str | None]] = []
    for _ in range(n_entities):
        label = pick(rng, CLASSES)
        pieces.append((entity(label, rng), label))
    used = sum(len(TOKEN.findall(p)) for p, _ in pieces) + 1  # the full stop
    fillers = [(pick(rng, FILLER), None) for _ in range(max(target - used, 1))]
    # Entities go between filler words at random places, never two side by side.
    slots = np.sort(rng.choice(len(fillers) + 1, size=len(pieces), replace=False))
    words: list[tuple[str, str | None]] = []
    for i, filler in enumerate(fillers):
        words.extend(piece for s, piece in zip(slots, pieces, strict=True) if s == i)
        words.append(filler)
    words.extend(piece for s, piece in zip(slots, pieces, strict=True) if s == len(fillers))
    text, spans = "", []
    for i, (word, label) in enumerate(words):
        if i == 0 and label is None:
            word = word[0].upper() + word[1:]
        elif i:
            text += " "
        if label is not None:
            spans.append((len(text), len(text) + len(word), label))
        text += word
        if label is None and 0 < i < len(words) - 1 and rng.random() < FREE_COMMA:
            text += ","
    return text + ".", spans


def template_case(n_tasks: int, *, seed: int) -> NerCase:
    """``n_tasks`` template sentences with NOISE_RATE of them changed (seeded)."""
    rng = np.random.default_rng(seed)
    texts, true = zip(*(template_sentence(rng) for _ in range(n_tasks)), strict=True)
    case = NerCase(f"template {n_tasks}", "template", seed, list(texts), [list(t) for t in true])
    return inject_noise(case, seed=seed)


def free_case(n_tasks: int, *, seed: int) -> NerCase:
    """``n_tasks`` free sentences with NOISE_RATE of them changed (seeded)."""
    rng = np.random.default_rng(seed)
    texts, true = zip(*(free_sentence(rng) for _ in range(n_tasks)), strict=True)
    case = NerCase(f"free {n_tasks}", "free", seed, list(texts), [list(t) for t in true])
    return inject_noise(case, seed=seed)


def lower_case(n_tasks: int, *, seed: int) -> NerCase:
    """:func:`template_case` with every text lower-cased (offsets unchanged): no capital
    letter tells a name from a word. Added after the token model was tuned, to check it on a
    shape the tuning never saw."""
    case = template_case(n_tasks, seed=seed)
    case.name, case.kind = f"lower {n_tasks}", "lower"
    case.texts = [text.lower() for text in case.texts]
    for change in case.changes:
        for key in ("true_span", "given_span"):
            if change[key]:
                change[key]["text"] = change[key]["text"].lower()
    return case


MAKERS = {"template": template_case, "free": free_case, "lower": lower_case}


def _word_tokens(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in TOKEN.finditer(text) if m.group()[0].isalnum()]


def _shifts(text: str, spans: list[tuple[int, int, str]], i: int) -> list[tuple[int, int]]:
    """The (start, end) one token off span ``i``: over a free neighbouring word, or one
    word shorter at either end (when the span has two or more words)."""
    start, end, _ = spans[i]
    tokens = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
    inside = [t for t in tokens if t[0] >= start and t[1] <= end]
    before = [t for t in tokens if t[1] <= start]
    after = [t for t in tokens if t[0] >= end]
    taken = [(s, e) for j, (s, e, _) in enumerate(spans) if j != i]

    def free_word(t: tuple[int, int]) -> bool:
        return text[t[0]].isalnum() and not any(s < t[1] and t[0] < e for s, e in taken)

    out = []
    if before and free_word(before[-1]):
        out.append((before[-1][0], end))
    if after and free_word(after[0]):
        out.append((start, after[0][1]))
    words = [t for t in inside if text[t[0]].isalnum()]
    if len(words) >= 2:
        out.append((words[1][0], end))  # without the first word (and what precedes the next)
        out.append((start, words[-2][1]))  # without the last word
    return out


def _spurious_words(text: str, spans: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Words outside every span whose neighbouring tokens are outside every span too."""
    tokens = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
    in_span = [any(s < b and a < e for s, e, _ in spans) for a, b in tokens]
    return [
        t
        for j, t in enumerate(tokens)
        if text[t[0]].isalnum()
        and not in_span[j]
        and not (j > 0 and in_span[j - 1])
        and not (j + 1 < len(tokens) and in_span[j + 1])
    ]


def inject_noise(case: NerCase, *, rate: float = NOISE_RATE, seed: int) -> NerCase:
    """Fill ``case.given``, ``case.noise`` (0 none, 1.. NOISE_KINDS) and ``case.changes``."""
    rng = np.random.default_rng([seed, 1])  # its own stream: the texts do not move it
    case.given = [list(spans) for spans in case.true]
    case.noise = np.zeros(len(case.texts), dtype=np.int8)
    case.changes = []
    for i in np.flatnonzero(rng.random(len(case.texts)) < rate):
        text, spans = case.texts[i], case.given[i]
        shiftable = [j for j in range(len(spans)) if _shifts(text, spans, j)]
        free = _spurious_words(text, spans)
        possible = [
            kind
            for kind, ok in zip(
                NOISE_KINDS, (bool(spans), bool(spans), bool(shiftable), bool(free)), strict=True
            )
            if ok
        ]
        if not possible:
            continue
        kind = str(rng.choice(possible))
        before: tuple[int, int, str] | None = None
        after: tuple[int, int, str] | None = None
        if kind == "spurious":
            start, end = free[int(rng.integers(len(free)))]
            after = (start, end, pick(rng, CLASSES))
            spans.append(after)
        else:
            j = int(rng.choice(shiftable)) if kind == "shifted" else int(rng.integers(len(spans)))
            before = spans[j]
            if kind == "flipped":
                after = (before[0], before[1], pick(rng, CONFUSABLE[before[2]]))
            elif kind == "shifted":
                options = _shifts(text, spans, j)
                start, end = options[int(rng.integers(len(options)))]
                after = (start, end, before[2])
            if after is None:
                spans.pop(j)
            else:
                spans[j] = after
        spans.sort()
        case.noise[i] = 1 + NOISE_KINDS.index(kind)
        case.changes.append(
            {
                "task": int(i),
                "change": kind,
                "true_span": _span_dict(text, before),
                "given_span": _span_dict(text, after),
            }
        )
    return case


def _span_dict(text: str, span: tuple[int, int, str] | None) -> dict[str, Any] | None:
    if span is None:
        return None
    start, end, label = span
    return {"start": start, "end": end, "text": text[start:end], "label": label}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=list(MAKERS), default="template")
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    case = MAKERS[args.kind](args.tasks, seed=args.seed)
    changed = {c["task"]: c for c in case.changes}
    for i, (text, spans) in enumerate(zip(case.texts, case.given, strict=True)):
        marks = ", ".join(f"{label}: {text[s:e]!r}" for s, e, label in spans)
        print(f"{i + 1}. {text}\n   {marks or '(no entity)'}")
        if i in changed:
            c = changed[i]
            print(f"   ** {c['change']}: true {c['true_span']} given {c['given_span']}")
    counts = {k: int((case.noise == 1 + n).sum()) for n, k in enumerate(NOISE_KINDS)}
    print(f"\n{len(case.texts)} tasks, {int(case.wrong.sum())} wrong: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
