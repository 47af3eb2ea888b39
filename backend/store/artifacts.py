"""The artifact store: an audit's files on disk under MODEL_DIR (:class:`Artifacts`)."""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class Artifacts:
    """Files under MODEL_DIR: an audit's work files, and per version its model and report.

    Layout::

        <model_dir>/projects/<project>/work/<ticket>/prepared.pkl   the featurized dataset
        <model_dir>/projects/<project>/work/<ticket>/fold-<i>.pkl   (out-of-fold probabilities,
                                                                      seconds the fold took)
        <model_dir>/projects/<project>/versions/<version>/model.pkl the final model
        <model_dir>/projects/<project>/versions/<version>/report.html, issues.csv,
            predictions.json, summary.json                          the audit's outputs

    Pickles are written to a temporary name and renamed, so a reader never sees half a
    file; the outputs (backend.report.write_outputs, plain writes) are written before their
    version becomes current, so nobody reads them while they are written. Pickles are read only
    from this directory, which only labelaudit writes.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def check_writable(self) -> None:
        """Raise OSError unless this service can write under MODEL_DIR (or create it)."""
        folder = self.root
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"MODEL_DIR is not writable ({type(self).__name__})")

    def project_dir(self, project: int) -> Path:
        """Return the directory of one project."""
        return self.root / "projects" / str(int(project))

    def work_dir(self, project: int, ticket: str) -> Path:
        """Return the work directory of one audit."""
        return self.project_dir(project) / "work" / _safe_name(ticket)

    def version_dir(self, project: int, version: str) -> Path:
        """Return the directory of one model version."""
        return self.project_dir(project) / "versions" / _safe_name(version)

    def write_pickle(self, path: Path, value: Any) -> None:
        """Pickle ``value`` to ``path`` atomically."""
        self._write(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def read_pickle(self, path: Path) -> Any:
        """Unpickle a file this store wrote."""
        with path.open("rb") as fh:
            return pickle.load(fh)  # only files this class wrote

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def clear_work(self, project: int, *, keep: str | None = None) -> None:
        """Remove the work files of the project's audits (all but ``keep``)."""
        work = self.project_dir(project) / "work"
        if not work.is_dir():
            return
        for entry in work.iterdir():
            if keep is None or entry.name != _safe_name(keep):
                shutil.rmtree(entry, ignore_errors=True)

    def prune_versions(self, project: int, keep: Iterable[str]) -> None:
        """Remove version directories not in ``keep``."""
        versions = self.project_dir(project) / "versions"
        if not versions.is_dir():
            return
        wanted = {_safe_name(v) for v in keep}
        for entry in versions.iterdir():
            if entry.name not in wanted:
                shutil.rmtree(entry, ignore_errors=True)


def _safe_name(name: str) -> str:
    """Return ``name`` if it is a plain file name; raise ValueError otherwise."""
    if not name or name in {".", ".."} or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"not a plain name: {name!r}")
    return name
