"""A JSON array parsed as its bytes arrive (backend.labelstudio.stream)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.labelstudio.stream import iter_json_array

TASKS = [
    {"id": 1, "data": {"text": 'naïve 🙂 "quoted"', "x": 1.5, "n": 3}, "annotations": []},
    {"id": 2, "data": {"text": ""}, "annotations": [{"id": 7, "result": [], "ground_truth": True}]},
    {"id": 3, "data": {"big": 12345678901234567890, "f": -0.0, "e": 1e-7}, "annotations": None},
]


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@given(size=st.integers(min_value=1, max_value=64), indent=st.sampled_from([None, 2]))
def test_items_come_out_as_json_loads_makes_them_whatever_the_chunks(size, indent):
    data = json.dumps(TASKS, ensure_ascii=False, indent=indent).encode()
    got = list(iter_json_array(_chunks(data, size)))
    assert got == json.loads(data)
    assert isinstance(got[0]["data"]["x"], float) and isinstance(got[0]["data"]["n"], int)


def test_items_are_handed_on_before_the_answer_ends():
    many = [{**TASKS[i % 3], "id": i} for i in range(3000)]
    data = json.dumps(many).encode()
    sent: list[int] = []

    def chunks():
        for chunk in _chunks(data, 100):
            sent.append(len(chunk))
            yield chunk

    items = iter_json_array(chunks())
    first = next(items)
    assert first["id"] == 0 and sum(sent) < 5000 < len(data)
    assert [t["id"] for t in items] == list(range(1, 3000))


@pytest.mark.parametrize("data", [b"[]", b"  \n[ ]\n", b""])
def test_an_empty_list_has_no_items_and_no_answer_is_an_error(data):
    if data:
        assert list(iter_json_array([data])) == []
    else:
        with pytest.raises(ValueError, match="the export is empty"):
            list(iter_json_array([data], what="the export"))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b'{"detail": "not allowed"}', "is not a JSON list"),
        (b"<html>proxy error</html>", "is not a JSON list"),
        (b'[{"id": 1}, {"id": ', "is not valid JSON"),
        (b"[1,,2]", "is not valid JSON"),
    ],
)
def test_anything_but_one_json_list_is_a_clear_error(data, match):
    with pytest.raises(ValueError, match=f"the export of project 3 {match}"):
        list(iter_json_array(_chunks(data, 4), what="the export of project 3"))
