"""Model files are pickles: one this service did not write is refused unloaded (issue 9.7)."""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import stat
import tracemalloc

import numpy as np
import pytest

from backend.store import Artifacts
from backend.store.artifacts import KEY_FILE, MAGIC


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


def test_the_format_is_magic_then_the_hmac_of_the_pickle_then_the_pickle(tmp_path):
    """Streamed writes and reads keep the file format: files written before still load."""
    key = "k" * 40
    data = pickle.dumps({"model": [1, 2, 3]}, protocol=pickle.HIGHEST_PROTOCOL)
    path = tmp_path / "old.pkl"
    path.write_bytes(MAGIC + hmac.new(key.encode(), data, hashlib.sha256).digest() + data)
    artifacts = Artifacts(tmp_path, key=key)
    assert artifacts.read_pickle(path) == {"model": [1, 2, 3]}
    artifacts.write_pickle(tmp_path / "new.pkl", {"model": [1, 2, 3]})
    blob = (tmp_path / "new.pkl").read_bytes()
    assert blob[len(MAGIC) + 32 :] == data
    assert blob == path.read_bytes()


def test_a_big_pickle_is_never_held_whole_beside_its_value(tmp_path):
    """Issue 14: a 100,000-task work item is ~200 MiB; writing and reading it must not
    hold its bytes (or two copies of them) in memory beside the value itself."""
    value = np.arange(4_000_000, dtype=np.float64)  # 32 MB
    artifacts = Artifacts(tmp_path, key="k" * 40)
    path = tmp_path / "big.pkl"
    tracemalloc.start()
    try:
        artifacts.write_pickle(path, value)
        _, written = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        loaded = artifacts.read_pickle(path)
        _, read = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.array_equal(loaded, value)
    assert written < value.nbytes / 4
    assert read < 1.5 * value.nbytes  # the loaded array, and no copy of the file


def test_a_truncated_or_tampered_file_is_refused(tmp_path):
    artifacts = Artifacts(tmp_path, key="k" * 40)
    path = tmp_path / "x.pkl"
    artifacts.write_pickle(path, list(range(1000)))
    blob = path.read_bytes()
    for broken in (blob[:-10], blob[: len(MAGIC) + 10], blob[:-1] + b"\x00"):
        path.write_bytes(broken)
        with pytest.raises(ValueError, match="signature does not match"):
            artifacts.read_pickle(path)
