"""Data Manager tabs in the forms the page renders (backend/labelstudio/views.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.labelstudio import views
from tests.backend.test_predictions import COLUMNS


def test_annotation_filter_lists_ids_the_way_the_page_filter_menu_does():
    filters = views.annotation_filter([np.int64(40), 7, 123])
    assert filters == {
        "conjunction": "and",
        "items": [
            {
                "filter": "filter:tasks:annotations_ids",
                "operator": "contains",
                "type": "String",
                "value": "40 7 123",
            }
        ],
    }
    json.dumps(filters)


def test_no_annotation_gives_a_filter_that_matches_nothing():
    assert views.annotation_filter([])["items"][0]["value"] == "0"


@pytest.mark.parametrize("bad", [[0], [5, -1]])
def test_annotation_filter_refuses_ids_that_are_not_positive(bad):
    with pytest.raises(ValueError, match="annotation ids must be positive"):
        views.annotation_filter(bad)


def test_default_hidden_is_the_page_s_own_choice():
    hidden = views.default_hidden(COLUMNS)
    assert hidden["explore"] == [
        "tasks:inner_id",
        "tasks:annotations_results",
        "tasks:predictions_score",
    ]
    assert "tasks:id" in hidden["labeling"] and "tasks:data.text" not in hidden["labeling"]
    assert all("tasks:data" != key for keys in hidden.values() for key in keys)


def test_reading_hidden_shows_the_data_the_results_and_the_score():
    hidden = views.reading_hidden(COLUMNS)
    assert hidden["explore"] == ["tasks:inner_id"]
    assert hidden["labeling"] == ["tasks:inner_id", "tasks:annotations_results"]


def test_tab_data_has_what_the_page_stores():
    data = views.tab_data(
        "t", views.annotation_filter([1]), ordering=views.BY_SCORE_DESC, hidden={"explore": ["a"]}
    )
    assert data["ordering"] == ["-tasks:predictions_score"]
    assert data["hiddenColumns"] == {"explore": ["a"], "labeling": []}
    assert (data["type"], data["target"]) == ("list", "tasks")
