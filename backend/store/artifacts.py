"""The artifact store: an audit's files on disk under MODEL_DIR (:class:`Artifacts`)."""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: The first bytes of every pickle this store writes, before its signature.
MAGIC = b"labelaudit-pickle-1\n"
#: The signing key's file under MODEL_DIR when LABELAUDIT_SIGNING_KEY is not set.
KEY_FILE = ".labelaudit-signing-key"
#: HMAC-SHA256's length, the signature's place after MAGIC.
SIGNATURE_BYTES = 32
#: Bytes read at a time while a pickle's signature is checked.
READ_CHUNK = 1 << 20


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
    file (the outputs, backend.report.write_outputs, likewise). Loading a pickle runs code,
    so every pickle carries an HMAC-SHA256 of its bytes with the signing key (``key``:
    LABELAUDIT_SIGNING_KEY; without it a random key kept in ``<model_dir>/.labelaudit-
    signing-key``, mode 0600, shared by the processes using this MODEL_DIR); a file whose
    signature does not match is refused before it is unpickled. Only labelaudit may write
    under MODEL_DIR (see README, "Security model").
    """

    def __init__(self, root: str | os.PathLike[str], *, key: str = "") -> None:
        self.root = Path(root)
        self._key = key.encode("utf-8") if key else b""
        self._key_lock = threading.Lock()

    def _signing_key(self) -> bytes:
        with self._key_lock:
            if not self._key:
                self._key = self._key_from_file()
            return self._key

    def _key_from_file(self) -> bytes:
        path = self.root / KEY_FILE
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(32))
            except FileExistsError:  # another process made it first
                pass
        key = path.read_text().strip()
        if len(key) < 32:
            raise ValueError(f"signing key file {path} is damaged; remove it to make a new one")
        return key.encode()

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
        """Pickle ``value`` to ``path`` atomically, signed.

        The pickle is streamed into the file through the signature (its place written
        last), so its bytes are never all in memory: a 100,000-task work item is ~200 MiB.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(MAGIC + bytes(SIGNATURE_BYTES))
                mac = hmac.new(self._signing_key(), digestmod=hashlib.sha256)
                pickle.dump(value, _Signing(fh, mac), protocol=pickle.HIGHEST_PROTOCOL)
                fh.seek(len(MAGIC))
                fh.write(mac.digest())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read_pickle(self, path: Path) -> Any:
        """Unpickle a file this store wrote; refuse (ValueError) one it did not sign.

        The signature is checked over the file read in chunks, then the pickle is loaded
        from the same open file: its bytes are never held whole beside what they make.
        """
        with path.open("rb") as fh:
            head = fh.read(len(MAGIC) + SIGNATURE_BYTES)
            mac = hmac.new(self._signing_key(), digestmod=hashlib.sha256)
            for chunk in iter(lambda: fh.read(READ_CHUNK), b""):
                mac.update(chunk)
            if not head.startswith(MAGIC) or not hmac.compare_digest(
                head[len(MAGIC) :], mac.digest()
            ):
                raise ValueError(
                    f"refused to load {path.name}: it was not written by this service (its "
                    "signature does not match; see LABELAUDIT_SIGNING_KEY)"
                )
            fh.seek(len(head))
            return pickle.load(fh)  # signed by this service: only files it wrote

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


class _Signing:
    """A file-like writer that feeds every byte written to ``mac`` too."""

    def __init__(self, fh: Any, mac: hmac.HMAC) -> None:
        self.fh = fh
        self.mac = mac

    def write(self, data: Any) -> int:
        self.mac.update(data)
        return int(self.fh.write(data))
