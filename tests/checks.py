"""Checks the tests share: what Label Studio itself would say about what we send it."""

from __future__ import annotations

from typing import Any

from label_studio_sdk.label_interface import LabelInterface


def validate_prediction(label_config: str, prediction: dict[str, Any]) -> None:
    """Raise ValueError if ``prediction`` does not fit ``label_config`` (the SDK's own check)."""
    errors = LabelInterface(label_config).validate_prediction(prediction, return_errors=True)
    if errors:
        raise ValueError("prediction does not fit the label config: " + "; ".join(map(str, errors)))
