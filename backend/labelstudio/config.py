"""Turn a Label Studio label config, or an export without one, into a :class:`TaskKind`.

What labelaudit audits is one control a registered task type audits (:mod:`backend.tasktypes`;
today one ``<Choices>``, single-choice or ``choice="multiple"``) whose ``toName`` object
holds the input. The object decides the input type, the first registered input type
(:mod:`backend.inputs`, by priority) that claims it:

==========================================================  ==========  ==================
object the Choices points at                                input type  data_keys
==========================================================  ==========  ==================
``<Text>`` / ``<HyperText>`` with ``value="$field"``        text        ``(field,)``
``<Image value="$field"/>``                                 image       ``(field,)``
``<Table value="$field"/>`` (Label Studio's tabular         numeric     ``(field,)``; the
template; the field holds ``{"column": number, ...}``)                  columns are the
                                                                        dict's sorted keys
``<Text>`` / ``<HyperText>`` whose value reads several      numeric     ``(a, b, ...)`` in
fields, e.g. ``value="age=$age income=$income"``                        the order written
any of these reading one field named ``embedding``,         embedding   ``(field,)``
``embeddings``, ``vector`` or ``*_embedding``/``*_vector``
/``*_emb`` (a list of numbers, the same length in every
task)
==========================================================  ==========  ==================

Other control tags next to the Choices (a TextArea for notes, a Rating, ...) are left
alone. The XML is parsed by label-studio-sdk's ``LabelInterface``; a config with a
document type declaration is refused before it gets there (label configs never need one,
and entity declarations are the way XML parsers get tricked into reading files).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from backend import inputs, tasktypes
from backend.inputs.embedding import (
    EMBEDDING_FIELD_NAMES,
    EMBEDDING_FIELD_SUFFIXES,
    is_embedding_field,
)
from backend.labelstudio.dataset import TaskKind, UnsupportedConfig, is_number

#: File extensions that make a task-data string an image reference.
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".svg", ".avif"}
)

SUPPORTED = (
    'labelaudit supports exactly one <Choices> control (single-choice: choice="single", '
    '"single-radio" or unset; multi-label: choice="multiple") whose toName is one '
    "<Text>/<HyperText> (text), <Image> "
    "(image) or <Table> (numeric dict) object, a <Text>/<HyperText> reading several "
    "$fields (numeric columns), or an object reading an embedding field "
    f"({', '.join(EMBEDDING_FIELD_NAMES)} or *{', *'.join(EMBEDDING_FIELD_SUFFIXES)}); "
    "or exactly one <Labels> control (entity spans) over one <Text>"
)

#: What a data-value kind seen in an export means as an input type.
_INFERRED_TYPES: Mapping[str, str] = {
    "image": "image",
    "text": "text",
    "embedding": "embedding",
    "table": "numeric",
    "number": "numeric",
}
__all__ = ["SUPPORTED", "infer_task_kind", "is_embedding_field", "parse_label_config"]


def _refuse_doctype(xml: str) -> None:
    """Raise UnsupportedConfig if ``xml`` declares a document type or is not well-formed."""
    from lxml import etree

    # Parsers that resolve nothing and load nothing. The first recovers from errors so a
    # DOCTYPE is seen even when an entity use makes the rest malformed; the second is strict.
    def parser(recover: bool) -> etree.XMLParser:
        return etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, recover=recover
        )

    data = xml.encode("utf-8")
    try:
        root = etree.fromstring(data, parser(recover=True))
    except etree.XMLSyntaxError:
        root = None  # the strict parse below reports it
    if root is not None and root.getroottree().docinfo.doctype:
        raise UnsupportedConfig(
            "label config declares a <!DOCTYPE> (entity declarations are refused); "
            "remove it: Label Studio configs never need one"
        )
    try:
        etree.fromstring(data, parser(recover=False))
    except etree.XMLSyntaxError as err:
        raise UnsupportedConfig(f"label config is not well-formed XML: {err}") from None


def _describe(tag: Any) -> str:
    return f"<{tag.tag} name={tag.name!r}>"


def parse_label_config(xml: str) -> TaskKind:
    """Return the TaskKind of a label config, or raise UnsupportedConfig saying why."""
    if not isinstance(xml, str):
        raise TypeError(f"label config must be a str; got {type(xml).__name__}")
    if not xml.strip():
        raise UnsupportedConfig(f"label config is empty. {SUPPORTED}")
    _refuse_doctype(xml)

    from label_studio_sdk.label_interface import LabelInterface

    try:
        interface = LabelInterface(xml)
    except Exception as err:  # the SDK raises its own exception types for bad XML
        raise UnsupportedConfig(f"label config could not be parsed: {err}") from None

    controls = list(interface.controls or [])
    audited = [(c, t) for c in controls if (t := tasktypes.for_control(c)) is not None]
    if not audited:
        found = ", ".join(_describe(c) for c in controls) or "no control tags"
        raise UnsupportedConfig(
            f"label config has no <Choices> or <Labels> control (found {found}). {SUPPORTED}"
        )
    if len(audited) > 1:
        names = ", ".join(_describe(c) for c, _ in audited)
        raise UnsupportedConfig(
            f"label config has {len(audited)} audited controls ({names}). {SUPPORTED}"
        )
    ((control, task_type),) = audited
    where = _describe(control)
    try:
        classes = task_type.classes(control)
    except UnsupportedConfig as err:
        raise UnsupportedConfig(f"{err}. {SUPPORTED}") from None
    if len(control.to_name) != 1:
        raise UnsupportedConfig(
            f"{where} has toName={','.join(control.to_name)!r}; it must name one object. "
            + SUPPORTED
        )
    object_name = control.to_name[0]
    objects = {o.name: o for o in (interface.objects or [])}
    if object_name not in objects:
        raise UnsupportedConfig(
            f"{where} has toName={object_name!r} but no object tag with that name and a "
            f"$field value exists. {SUPPORTED}"
        )
    input_type, data_keys = _object_input(objects[object_name])
    problem = task_type.object_problem(objects[object_name].tag, input_type)
    if problem is not None:
        raise UnsupportedConfig(f"{where}: {problem}. {SUPPORTED}")
    return TaskKind(
        control=control.name,
        object_name=object_name,
        input_type=input_type,
        data_keys=data_keys,
        classes=classes,
        task_type=task_type.name,
    )


def _object_input(obj: Any) -> tuple[str, tuple[str, ...]]:
    """Return the input type and data fields of the object the control points at."""
    where = _describe(obj)
    tag = obj.tag.lower()
    if obj.attr.get("valueList"):
        raise UnsupportedConfig(f"{where} reads a list (valueList). {SUPPORTED}")
    value = str(obj.value or "")
    for input_type in inputs.ordered():
        try:
            keys = input_type.claim(tag, value, obj.attr or {})
        except UnsupportedConfig as err:
            raise UnsupportedConfig(f"{where}: {err}. {SUPPORTED}") from None
        if keys:
            return input_type.name, keys
    if not any(t.claim(tag, "$x", {}) for t in inputs.ordered()):
        raise UnsupportedConfig(
            f"the <Choices> points at {where}, an unsupported object. {SUPPORTED}"
        )
    raise UnsupportedConfig(f"{where} has value={value!r}, not a $field reference. {SUPPORTED}")


def is_image_reference(value: Any) -> bool:
    """Return whether a task-data value looks like an image URL or path."""
    if not isinstance(value, str) or not value or "\n" in value or len(value) > 4096:
        return False
    if value.startswith("data:image/"):
        return True
    parts = urlsplit(value)
    candidates = [parts.path, *(v for vs in parse_qs(parts.query).values() for v in vs)]
    for candidate in candidates:
        suffix = candidate.rsplit("/", 1)[-1]
        if "." in suffix and "." + suffix.rsplit(".", 1)[-1].lower() in IMAGE_EXTENSIONS:
            return True
    # Label Studio's own file URLs (/data/upload/..., /data/local-files/?d=...) with no
    # extension that says otherwise.
    return value.startswith("/data/") and "." not in candidates[-1].rsplit("/", 1)[-1]


def _value_kind(value: Any) -> str | None:
    """Classify one task-data value: image, text, embedding, number, table, or None."""
    if isinstance(value, str):
        return "image" if is_image_reference(value) else "text"
    if is_number(value):
        return "number"
    if isinstance(value, list) and value and all(is_number(v) for v in value):
        return "embedding"
    if isinstance(value, dict) and value and all(is_number(v) for v in value.values()):
        return "table"
    return None


def _results(tasks: Iterable[Any], result_type: str) -> tuple[set[tuple[str, str]], set[str], bool]:
    """Collect (from_name, to_name) pairs and values of ``result_type`` results (``choices``
    or ``labels``: ``value[result_type]`` lists them), and whether one region held several."""
    pairs: set[tuple[str, str]] = set()
    seen: set[str] = set()
    multi = False
    for task in tasks:
        if not isinstance(task, dict) or not isinstance(task.get("annotations"), list):
            continue
        for annotation in task["annotations"]:
            if not isinstance(annotation, dict) or annotation.get("was_cancelled"):
                continue
            result = annotation.get("result")
            for region in result if isinstance(result, list) else ():
                if not isinstance(region, dict):
                    continue
                if str(region.get("type", "")).lower() != result_type:
                    continue
                from_name, to_name = region.get("from_name"), region.get("to_name")
                value = region.get("value")
                picked = value.get(result_type) if isinstance(value, dict) else None
                if not isinstance(from_name, str) or not isinstance(to_name, str):
                    continue
                if not isinstance(picked, list):
                    continue
                pairs.add((from_name, to_name))
                if len(picked) > 1:
                    multi = True
                seen.update(c for c in picked if isinstance(c, str))
    return pairs, seen, multi


def infer_task_kind(tasks: list[dict]) -> TaskKind:
    """Guess the TaskKind of a Label Studio JSON export that came without its config:
    choices results make a (multi-)choice project, labels results (spans) a span project;
    the classes are the values the annotations use, sorted."""
    if not isinstance(tasks, list):
        raise TypeError(f"tasks must be a list of task dicts; got {type(tasks).__name__}")
    choices, choice_values, multi = _results(tasks, "choices")
    spans, span_values, _ = _results(tasks, "labels")
    pairs = choices | spans
    if not pairs:
        raise UnsupportedConfig(
            "the export has no choices or labels (spans) annotations to audit; pass the "
            f"project's label config (--config FILE) if it has some. {SUPPORTED}"
        )
    if len(pairs) > 1:
        named = ", ".join(f"{f!r}->{t!r}" for f, t in sorted(pairs))
        raise UnsupportedConfig(
            f"the export has choices or labels results from {len(pairs)} controls ({named}); "
            f"pass --config FILE to say which to audit. {SUPPORTED}"
        )
    ((control, object_name),) = pairs
    input_type, data_keys = _infer_input(tasks, object_name)
    if spans:
        if input_type != "text":
            raise UnsupportedConfig(
                f"the export's labels (spans) point at {object_name!r}, whose data is not "
                f"text; pass --config FILE. {SUPPORTED}"
            )
        return TaskKind(
            control=control,
            object_name=object_name,
            input_type="text",
            data_keys=data_keys,
            classes=tuple(sorted(span_values)),
            task_type="spans",
        )
    return TaskKind(
        control=control,
        object_name=object_name,
        input_type=input_type,
        data_keys=data_keys,
        classes=tuple(sorted(choice_values)),
        # An annotation picking several choices at once makes the project multi-label.
        task_type="multi_choice" if multi else "single_choice",
    )


def _infer_input(tasks: list[dict], object_name: str) -> tuple[str, tuple[str, ...]]:
    """Pick the data field(s) holding the input from the values seen in task data."""
    kinds: dict[str, set[str | None]] = {}
    for task in tasks:
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict):
            continue
        for key, value in data.items():
            if value is not None:
                kinds.setdefault(str(key), set()).add(_value_kind(value))
    # A field is of a kind only if every non-null value it holds is of that kind.
    by_kind: dict[str, list[str]] = {}
    for key, found in kinds.items():
        (only,) = found if len(found) == 1 else (None,)
        if only is not None:
            by_kind.setdefault(only, []).append(key)

    def chosen(kind: str, key: str) -> tuple[str, tuple[str, ...]]:
        return _INFERRED_TYPES[kind], (key,)

    # The object is most often named after its field (<Text name="text" value="$text"/>).
    for kind, keys in by_kind.items():
        if object_name in keys:
            return chosen(kind, object_name)
    for kind in ("image", "embedding", "table"):
        if len(by_kind.get(kind, [])) == 1:
            return chosen(kind, by_kind[kind][0])
    texts, numbers = by_kind.get("text", []), by_kind.get("number", [])
    if len(texts) == 1:
        return "text", (texts[0],)
    if not texts and numbers:
        return "numeric", tuple(numbers)
    described = ", ".join(f"{k} ({'/'.join(sorted(map(str, v)))})" for k, v in kinds.items())
    raise UnsupportedConfig(
        f"cannot tell which task-data field holds the input of {object_name!r} "
        f"(fields: {described or 'none'}); pass the project's label config (--config FILE)"
    )
