"""Label configs and exports -> TaskKind: every supported kind, every refusal, XXE safety."""

from __future__ import annotations

import pytest

from backend.labelstudio.config import (
    infer_task_kind,
    is_embedding_field,
    is_image_reference,
    parse_label_config,
)
from backend.labelstudio.dataset import TaskKind, UnsupportedConfig

CHOICES = '<Choice value="a"/><Choice value="b"/>'


def view(*tags: str) -> str:
    """Wrap tags in a <View>."""
    return "<View>" + "".join(tags) + "</View>"


# --- supported configs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (
            view(
                '<Text name="text" value="$text"/>',
                '<Choices name="sentiment" toName="text">'
                '<Choice value="pos"/><Choice value="neg"/><Choice value="neutral"/></Choices>',
            ),
            TaskKind("sentiment", "text", "text", ("text",), ("pos", "neg", "neutral")),
        ),
        (
            view(
                '<HyperText name="page" value="$html"/>',
                f'<Choices name="topic" toName="page" choice="single">{CHOICES}</Choices>',
            ),
            TaskKind("topic", "page", "text", ("html",), ("a", "b")),
        ),
        (
            view(
                '<Image name="img" value="$image"/>',
                '<Choices name="animal" toName="img" choice="single-radio">'
                '<Choice value="cat"/><Choice value="dog"/></Choices>',
            ),
            TaskKind("animal", "img", "image", ("image",), ("cat", "dog")),
        ),
        (  # Label Studio's tabular template: a Table over a {column: value} field
            view(
                '<Header value="Table with {key: value} pairs"/>',
                '<Table name="table" value="$item"/>',
                f'<Choices name="choice" toName="table">{CHOICES}</Choices>',
            ),
            TaskKind("choice", "table", "numeric", ("item",), ("a", "b")),
        ),
        (  # several $fields in one object: numeric columns in the order written
            view(
                '<Text name="row" value="income: $income, age: $age, $income"/>',
                f'<Choices name="risk" toName="row">{CHOICES}</Choices>',
            ),
            TaskKind("risk", "row", "numeric", ("income", "age"), ("a", "b")),
        ),
        (
            view(
                '<Text name="vec" value="$embedding"/>',
                f'<Choices name="c" toName="vec">{CHOICES}</Choices>',
            ),
            TaskKind("c", "vec", "embedding", ("embedding",), ("a", "b")),
        ),
        (
            view(
                '<Table name="t" value="$clip_vector"/>',
                f'<Choices name="c" toName="t">{CHOICES}</Choices>',
            ),
            TaskKind("c", "t", "embedding", ("clip_vector",), ("a", "b")),
        ),
    ],
    ids=["text", "hypertext", "image", "table", "several-fields", "embedding", "embedding-suffix"],
)
def test_supported_configs(xml, expected):
    assert parse_label_config(xml) == expected


def test_classes_keep_config_order_and_use_aliases():
    xml = view(
        '<Text name="t" value="$t"/>',
        '<Choices name="c" toName="t">'
        '<Choice value="zebra"/><Choice value="Apple" alias="apple"/><Choice value="mango"/>'
        "</Choices>",
    )
    assert parse_label_config(xml).classes == ("zebra", "apple", "mango")


def test_other_controls_next_to_the_choices_are_left_alone():
    xml = view(
        '<Text name="t" value="$t"/>',
        f'<Choices name="c" toName="t">{CHOICES}</Choices>',
        '<TextArea name="notes" toName="t"/>',
        '<Rating name="stars" toName="t"/>',
    )
    assert parse_label_config(xml).control == "c"


def test_nested_view_layouts_are_fine():
    xml = view(
        '<View style="display: flex"><View><Text name="t" value="$t"/></View></View>',
        f'<View><Header value="Pick one"/><Choices name="c" toName="t">{CHOICES}</Choices></View>',
    )
    assert parse_label_config(xml).data_keys == ("t",)


# --- refused configs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "names"),
    [
        (
            view(
                '<Text name="t" value="$t"/>',
                f'<Choices name="c" toName="t" choice="several">{CHOICES}</Choices>',
            ),
            r"<Choices name='c'> has choice='several'",
        ),
        (
            view(
                '<Text name="t" value="$t"/>',
                f'<Choices name="c1" toName="t">{CHOICES}</Choices>',
                f'<Choices name="c2" toName="t">{CHOICES}</Choices>',
            ),
            r"2 audited controls \(<Choices name='c1'>, <Choices name='c2'>\)",
        ),
        (
            view(
                '<Image name="i" value="$i"/>',
                '<Labels name="ner" toName="i"><Label value="PER"/></Labels>',
            ),
            r"<Labels name='ner'>: <Labels> spans are audited over a <Text> object; got <Image>",
        ),
        (
            view(
                '<Image name="i" value="$i"/>',
                '<RectangleLabels name="box" toName="i"><Label value="car"/></RectangleLabels>',
            ),
            r"found <RectangleLabels name='box'>",
        ),
        (
            view(
                '<Image name="i" value="$i"/>',
                '<PolygonLabels name="p" toName="i"><Label value="x"/></PolygonLabels>',
            ),
            r"found <PolygonLabels name='p'>",
        ),
        (view('<Text name="t" value="$t"/>'), r"found no control tags"),
        (
            view(
                '<Audio name="a" value="$audio"/>',
                f'<Choices name="c" toName="a">{CHOICES}</Choices>',
            ),
            r"points at <Audio name='a'>",
        ),
        (
            view(
                '<Video name="v" value="$video"/>',
                f'<Choices name="c" toName="v">{CHOICES}</Choices>',
            ),
            r"points at <Video name='v'>",
        ),
        (
            view(
                '<Image name="i" valueList="$images"/>',
                f'<Choices name="c" toName="i">{CHOICES}</Choices>',
            ),
            r"<Image name='i'> reads a list",
        ),
        (
            view('<Text name="t" value="$t"/>', '<Choices name="c" toName="t" value="$options"/>'),
            r"loads its choices from task data",
        ),
        (
            view('<Text name="t" value="$t"/>', '<Choices name="c" toName="t"></Choices>'),
            r"<Choices name='c'> has no <Choice> values",
        ),
        (
            view(
                '<Text name="t" value="$t"/>',
                f'<Choices name="c" toName="nowhere">{CHOICES}</Choices>',
            ),
            r"toName='nowhere' but no object tag",
        ),
        (
            view(
                '<Text name="t" value="$t"/>',
                '<Image name="i" value="$i"/>',
                f'<Choices name="c" toName="t,i">{CHOICES}</Choices>',
            ),
            r"toName='t,i'; it must name one object",
        ),
        (
            view(
                '<Image name="i" value="$i"/>',
                '<RectangleLabels name="box" toName="i"><Label value="car"/></RectangleLabels>',
                f'<Choices name="c" toName="i" perRegion="true">{CHOICES}</Choices>',
            ),
            r"perRegion=\"true\"",
        ),
        (
            view(
                '<Text name="t" value="$url" valueType="url"/>',
                f'<Choices name="c" toName="t">{CHOICES}</Choices>',
            ),
            r"valueType=\"url\"",
        ),
        (
            view(
                '<Text name="t" value="fixed text"/>',
                f'<Choices name="c" toName="t">{CHOICES}</Choices>',
            ),
            r"value='fixed text', not a \$field",
        ),
    ],
    ids=[
        "unknown-choice-mode",
        "two-choices",
        "labels-over-image",
        "rectanglelabels-only",
        "polygonlabels-only",
        "no-controls",
        "audio",
        "video",
        "image-list",
        "dynamic-choices",
        "no-choice-values",
        "dangling-toname",
        "two-objects",
        "per-region",
        "text-url",
        "no-field",
    ],
)
def test_unsupported_configs_name_the_tag_and_list_what_works(xml, names):
    with pytest.raises(UnsupportedConfig, match=names) as caught:
        parse_label_config(xml)
    assert "labelaudit supports exactly one <Choices> control" in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("xml", ["", "   ", "<View>", "<View><Text></View>", "not xml at all"])
def test_malformed_configs(xml):
    with pytest.raises(UnsupportedConfig, match=r"empty|not well-formed"):
        parse_label_config(xml)


def test_config_must_be_a_string():
    with pytest.raises(TypeError, match="label config must be a str"):
        parse_label_config(b"<View/>")  # type: ignore[arg-type]


# --- XML safety --------------------------------------------------------------------------


def test_xxe_does_not_read_a_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    xml = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE View [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        '<View><Text name="t" value="$t"/>'
        '<Choices name="c" toName="t"><Choice value="&xxe;"/><Choice value="b"/></Choices></View>'
    )
    with pytest.raises(UnsupportedConfig) as caught:
        parse_label_config(xml)
    assert "TOP-SECRET-CONTENT" not in str(caught.value)
    assert "DOCTYPE" in str(caught.value)


def test_the_sdk_itself_does_not_resolve_external_entities(tmp_path):
    """Even without our DOCTYPE guard, LabelInterface (lxml >= 5) leaves the file unread."""
    from label_studio_sdk.label_interface import LabelInterface

    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    xml = (
        f'<!DOCTYPE View [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<View><Text name="t" value="$t"/>'
        '<Choices name="c" toName="t"><Choice value="&xxe;"/><Choice value="b"/></Choices></View>'
    )
    try:
        labels = LabelInterface(xml).get_control("c").labels
    except Exception as err:  # lxml refuses the undefined entity: also safe
        assert "TOP-SECRET-CONTENT" not in str(err)
    else:
        assert "TOP-SECRET-CONTENT" not in "".join(labels)


def test_internal_entity_expansion_is_refused():
    bomb = (
        '<!DOCTYPE View [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<View><Text name="t" value="$t"/>'
        '<Choices name="c" toName="t"><Choice value="&b;"/><Choice value="x"/></Choices></View>'
    )
    with pytest.raises(UnsupportedConfig, match="DOCTYPE"):
        parse_label_config(bomb)


# --- exports without a config ------------------------------------------------------------


def task(task_id, data, *labels, control="sentiment", obj="text", **annotation):
    """A Label Studio export task with one annotation per label."""
    return {
        "id": task_id,
        "data": data,
        "annotations": [
            {
                "id": task_id * 10 + i,
                "result": [
                    {
                        "from_name": control,
                        "to_name": obj,
                        "type": "choices",
                        "value": {"choices": [lab]},
                    }
                ],
                **annotation,
            }
            for i, lab in enumerate(labels)
        ],
    }


def test_infer_text_classes_sorted():
    tasks = [
        task(1, {"text": "good", "meta": "x"}, "pos"),
        task(2, {"text": "bad", "meta": "y"}, "neg"),
        task(3, {"text": "so-so", "meta": "z"}, "neutral", "neg"),
    ]
    assert infer_task_kind(tasks) == TaskKind(
        "sentiment", "text", "text", ("text",), ("neg", "neutral", "pos")
    )


@pytest.mark.parametrize(
    ("data", "input_type", "keys"),
    [
        ({"image": "/data/upload/1/abc-cat.png"}, "image", ("image",)),
        ({"img": "/data/local-files/?d=photos/cat.JPG", "caption": "a cat"}, "image", ("img",)),
        ({"img": "https://example.com/cat.webp?sig=1"}, "image", ("img",)),
        ({"img": "s3://bucket/cat.jpeg"}, "image", ("img",)),
        ({"picture": "/data/upload/7/no-extension"}, "image", ("picture",)),
        ({"emb": [0.1, 0.2, 0.3], "title": "x", "note": "y"}, "embedding", ("emb",)),
        ({"age": 31, "income": 5.5, "score": 2}, "numeric", ("age", "income", "score")),
        ({"row": {"age": 31, "income": 5.5}}, "numeric", ("row",)),
        ({"content": "hello world", "id_": 3}, "text", ("content",)),
    ],
    ids=[
        "upload",
        "local-files",
        "https",
        "s3",
        "ls-no-ext",
        "embedding",
        "fields",
        "dict",
        "text",
    ],
)
def test_infer_input_from_data(data, input_type, keys):
    kind = infer_task_kind([task(1, data, "a", control="c", obj="obj")])
    assert (kind.input_type, kind.data_keys) == (input_type, keys)


def test_infer_prefers_the_field_named_like_the_object():
    tasks = [task(1, {"title": "short", "body": "long text"}, "a", control="c", obj="body")]
    assert infer_task_kind(tasks).data_keys == ("body",)


def test_infer_ignores_cancelled_and_non_choices_results():
    tasks = [
        task(1, {"text": "x"}, "pos"),
        task(2, {"text": "y"}, "never-seen", was_cancelled=True),
        {
            "id": 3,
            "data": {"text": "z"},
            "annotations": [
                {"result": [{"from_name": "ner", "type": "labels", "value": {"labels": ["PER"]}}]}
            ],
        },
    ]
    assert infer_task_kind(tasks).classes == ("pos",)


@pytest.mark.parametrize(
    ("tasks", "match"),
    [
        ([], "no choices or labels"),
        ([{"id": 1, "data": {"text": "x"}, "annotations": []}], "no choices or labels"),
        (
            [task(1, {"text": "x"}, "a", control="c1"), task(2, {"text": "y"}, "b", control="c2")],
            r"2 controls \('c1'->'text', 'c2'->'text'\)",
        ),
        (
            [task(1, {"a": "x", "b": "y"}, "l", control="c", obj="obj")],
            r"cannot tell which task-data field .* \(fields: a \(text\), b \(text\)\)",
        ),
        (
            [
                task(1, {"a": "x"}, "l", control="c", obj="obj"),
                task(2, {"a": 3}, "l", control="c", obj="obj"),
            ],
            "cannot tell which task-data field",
        ),
    ],
    ids=["empty", "unannotated", "two-controls", "two-texts", "mixed-types"],
)
def test_infer_refusals(tasks, match):
    with pytest.raises(UnsupportedConfig, match=match):
        infer_task_kind(tasks)


def test_infer_needs_a_list():
    with pytest.raises(TypeError, match="tasks must be a list"):
        infer_task_kind({"id": 1})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/data/upload/3/f00-x.png", True),
        ("/data/upload/3/f00-notes.txt", False),
        ("http://host/x.tiff", True),
        ("http://host/page.html", False),
        ("data:image/png;base64,AAAA", True),
        ("photos/cat.jpg", True),
        ("a cat sat on the mat.", False),
        ("line one\nline two.png", False),
        (12, False),
    ],
)
def test_is_image_reference(value, expected):
    assert is_image_reference(value) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("embedding", True),
        ("Embeddings", True),
        ("vector", True),
        ("clip_emb", True),
        ("text_embedding", True),
        ("vectors_count", False),
        ("text", False),
    ],
)
def test_is_embedding_field(name, expected):
    assert is_embedding_field(name) is expected
