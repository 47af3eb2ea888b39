"""Model files are pickles: one this service did not write is refused unloaded (issue 9.7)."""

from __future__ import annotations

import os
import pickle
import stat

import pytest

from backend.store import Artifacts
from backend.store.artifacts import KEY_FILE


class Trap:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_planted_pickle_is_refused_before_it_runs(tmp_path):
    artifacts = Artifacts(tmp_path / "models", key="k" * 40)
    path = artifacts.version_dir(1, "labelaudit-1") / "model.pkl"
    artifacts.write_pickle(path, {"model": 1})
    assert artifacts.read_pickle(path) == {"model": 1}
    marker = tmp_path / "ran"
    path.write_bytes(pickle.dumps(Trap(str(marker))))
    with pytest.raises(ValueError, match=r"refused to load model\.pkl: it was not written"):
        artifacts.read_pickle(path)
    assert not marker.exists()


def test_a_file_signed_with_another_key_is_refused(tmp_path):
    path = tmp_path / "model.pkl"
    Artifacts(tmp_path, key="one" * 12).write_pickle(path, [1, 2])
    with pytest.raises(ValueError, match="signature does not match"):
        Artifacts(tmp_path, key="two" * 12).read_pickle(path)


def test_without_a_configured_key_processes_share_one_kept_in_model_dir(tmp_path):
    writer, reader = Artifacts(tmp_path), Artifacts(tmp_path)
    writer.write_pickle(tmp_path / "x.pkl", "shared")
    assert reader.read_pickle(tmp_path / "x.pkl") == "shared"
    mode = stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode)
    assert mode == 0o600
