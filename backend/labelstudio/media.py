"""Fetching the media a task refers to (images), and what may be fetched at all.

Task data is written by whoever can create tasks, so a reference in it must not make the
backend fetch what the operator did not mean it to (server-side request forgery). With a
:class:`MediaPolicy` that restricts hosts (the service always passes one):

* Label Studio's own media routes (``/data/...``, ``/storage-data/...``, ``/tasks/...``),
  relative or on Label Studio's origin, are fetched with the API key; the path is decoded
  and normalised first, and one that climbs out (``..``) or leaves those routes is refused
  (``/data/upload/../../api/projects/1/export`` never becomes an API call);
* any other http(s) URL only from a host on ``LABELAUDIT_MEDIA_HOSTS`` (empty by default),
  never with the key, and never to a link-local, multicast or unspecified address (cloud
  metadata endpoints such as 169.254.169.254), whatever its name resolves to;
* redirects are followed by hand, each hop checked by the same rules (the key only ever
  goes to Label Studio's media routes);
* local paths and ``file://`` only where ``allow_local`` (the CLI's own exports).

A refusal is a ``ValueError`` whose message says "refused" and what rule, never what the
address would have answered. The CLI fetches for its own user and passes no host list.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import posixpath
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

from backend.labelstudio.client import (
    _check_key,
    _check_url,
    _redact,
    connect,
    same_origin,
    translate_errors,
)

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

#: Largest media file fetch_bytes reads; past it the fetch fails rather than fill memory.
MAX_FETCH_BYTES = 64 * 2**20
#: Path prefixes of Label Studio's own media routes (relative URLs found in task data).
LABEL_STUDIO_MEDIA_PREFIXES = ("/data/", "/storage-data/", "/tasks/")
#: Redirects followed per fetch (each one checked like the first URL).
MAX_REDIRECTS = 5

_lock = threading.Lock()


@dataclass(frozen=True)
class MediaPolicy:
    """Where media may come from: Label Studio's media routes, plus ``hosts`` (host or
    host:port, lower case). ``hosts=None`` restricts nothing (the CLI's own use)."""

    hosts: frozenset[str] | None = frozenset()

    @classmethod
    def from_setting(cls, value: str) -> MediaPolicy:
        """Build the policy of ``LABELAUDIT_MEDIA_HOSTS`` (comma-separated hosts)."""
        hosts = {h.strip().lower() for h in value.split(",") if h.strip()}
        return cls(frozenset(hosts))

    def allows_host(self, host: str, port: int | None) -> bool:
        """Whether a host that is not Label Studio's is on the list."""
        if self.hosts is None:
            return True
        host = host.lower()
        return host in self.hosts or (port is not None and f"{host}:{port}" in self.hosts)


#: What the CLI fetches with: anything its user's own export names.
UNRESTRICTED = MediaPolicy(hosts=None)


@functools.lru_cache(maxsize=1)
def _http() -> Any:
    """Return the one httpx client media fetches share (connection reuse across images)."""
    import httpx

    return httpx.Client(follow_redirects=False)


@functools.lru_cache(maxsize=8)
def _authed_client(base_url: str, api_key: str) -> LabelStudio:
    return connect(base_url, api_key)


def auth_header(base_url: str, api_key: str) -> dict[str, str]:
    """Return the Authorization header for Label Studio at ``base_url`` (Token or Bearer)."""
    with _lock:
        ls = _authed_client(_check_url(base_url), _check_key(api_key))
    with translate_errors("authenticating to Label Studio", base_url):
        headers = ls._client_wrapper.get_headers()  # refreshes a PAT's access token if due
    return {"Authorization": headers["Authorization"]}


def _read_limited(chunks: Iterator[bytes], what: str) -> bytes:
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > MAX_FETCH_BYTES:
            raise ValueError(f"{what} is larger than {MAX_FETCH_BYTES} bytes")
    return bytes(out)


def media_path(path: str) -> str | None:
    """Return a URL path normalised if it is one of Label Studio's media routes, else None.

    Percent-escapes are decoded before the check, so ``%2e%2e`` counts as ``..``; a path
    that climbs out of a media route, or has empty segments, is not a media route.
    """
    decoded = unquote(path)
    if "\\" in decoded or "\0" in decoded:
        return None
    segments = decoded.split("/")
    if ".." in segments or "." in segments or "" in segments[1:-1]:
        return None
    normal = posixpath.normpath(decoded)
    if decoded.endswith("/") and not normal.endswith("/"):
        normal += "/"
    return normal if normal.startswith(LABEL_STUDIO_MEDIA_PREFIXES) else None


def _split(ref: str) -> tuple[SplitResult, str]:
    """Return a reference's parts and its scheme in lower case ('' for a plain path)."""
    parts = urlsplit(ref)
    scheme = parts.scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter (C:\...), not a URL scheme
        scheme = ""
    return parts, scheme


def local_path(ref: str) -> Path | None:
    """Return the file a reference names (a path or ``file://`` URL), or None if it is not one."""
    ref = ref.strip()
    parts, scheme = _split(ref)
    if scheme == "file":
        return Path(unquote(parts.path))
    if not scheme and not ref.startswith(LABEL_STUDIO_MEDIA_PREFIXES):
        return Path(ref)
    return None


def _refused(url: str, why: str) -> ValueError:
    return ValueError(f"refused to fetch {_redact(url)!r}: {why}")


def _check_address(url: str) -> None:
    """Refuse a host whose addresses include a link-local, multicast or unspecified one."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 80, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ConnectionError(
            f"fetching {_redact(url)} failed: the host does not resolve"
        ) from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address.is_link_local or address.is_multicast or address.is_unspecified:
            raise _refused(url, "its host resolves to a link-local or reserved address")


def _vet(url: str, base_url: str, policy: MediaPolicy) -> bool:
    """Check ``url`` against the policy; return whether it is Label Studio's (gets the key)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise _refused(url, "only http(s) URLs are fetched")
    if base_url and same_origin(url, base_url):
        if media_path(parts.path) is not None:
            return True
        if policy.hosts is not None:
            raise _refused(url, "on Label Studio's host only its media routes are fetched")
        return False
    if not policy.allows_host(parts.hostname, parts.port):
        raise _refused(url, "its host is neither Label Studio nor on LABELAUDIT_MEDIA_HOSTS")
    if policy.hosts is not None:
        _check_address(url)
    return False


def fetch_bytes(
    ref: str,
    *,
    base_url: str = "",
    api_key: str = "",
    timeout: float = 10.0,
    allow_local: bool = True,
    policy: MediaPolicy = UNRESTRICTED,
) -> bytes:
    """Return the bytes a media reference in task data points at.

    ``ref`` may be a local path or ``file://`` URL (unless ``allow_local`` is false, as a
    service reading other people's task data sets it), a ``data:`` URI, an http(s) URL, or
    a Label Studio relative URL (``/data/upload/...``, ``/data/local-files/?d=...``) joined
    to ``base_url``. What may be fetched is ``policy``'s (see the module doc); the API key
    is sent only to Label Studio's media routes on ``base_url``'s origin.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(f"media reference must be a non-empty string; got {ref!r}")
    ref = ref.strip()
    parts, scheme = _split(ref)
    if scheme == "data":
        return _decode_data_uri(ref)
    path = local_path(ref)
    if path is not None:
        if not allow_local:
            raise _refused(ref, "local files are not fetched here (allow_local=False)")
        try:
            with path.open("rb") as fh:
                return _read_limited(iter(lambda: fh.read(1 << 20), b""), f"file {path}")
        except OSError as err:
            raise ValueError(f"cannot read media file {path}: {err.strerror}") from None
    base = _check_url(base_url) if base_url else ""
    if not scheme:
        if not base:
            raise ValueError(
                f"{_redact(ref)!r} is a Label Studio URL; pass base_url (the Label Studio URL) "
                "to fetch it"
            )
        if media_path(parts.path) is None:
            raise _refused(ref, "it leaves Label Studio's media routes")
        url = base.rstrip("/") + ref
    elif scheme in {"http", "https"}:
        url = ref
    else:
        raise ValueError(
            f"cannot fetch {_redact(ref)!r}: scheme {scheme!r} is not supported (cloud storage "
            "URIs must be served through Label Studio; use http(s), a path or file://)"
        )
    for _ in range(MAX_REDIRECTS + 1):
        ours = _vet(url, base, policy)
        headers = auth_header(base, api_key) if ours and api_key else {}
        body, location = _http_get(url, headers, timeout)
        if location is None:
            return body
        url = urljoin(url, location)
    raise ValueError(f"fetching {_redact(ref)} failed: more than {MAX_REDIRECTS} redirects")


def _http_get(url: str, headers: dict[str, str], timeout: float) -> tuple[bytes, str | None]:
    """GET ``url``; return its body, or ``(b"", location)`` for a redirect."""
    import httpx

    shown = _redact(url)
    try:
        with _http().stream("GET", url, headers=headers, timeout=timeout) as response:
            if response.is_redirect and response.headers.get("location"):
                return b"", response.headers["location"]
            if response.status_code >= 400:
                status = response.status_code
                if status in (401, 403):
                    raise PermissionError(
                        f"fetching {shown} failed: HTTP {status} (is the Label Studio API key "
                        "set and allowed to read this project?)"
                    )
                if status >= 500 or status == 429:
                    raise ConnectionError(f"fetching {shown} failed: HTTP {status}")
                raise ValueError(f"fetching {shown} failed: HTTP {status}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > MAX_FETCH_BYTES:
                raise ValueError(f"{shown} is larger than {MAX_FETCH_BYTES} bytes")
            return _read_limited(response.iter_bytes(), shown), None
    except httpx.TimeoutException:
        raise TimeoutError(f"fetching {shown} timed out after {timeout} s") from None
    except httpx.TransportError as err:
        raise ConnectionError(f"fetching {shown} failed: {type(err).__name__}") from None


def _decode_data_uri(ref: str) -> bytes:
    header, sep, payload = ref.partition(",")
    if not sep:
        raise ValueError("data: URI has no ',' separating its header from its data")
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("data: URI is not valid base64") from None
    return unquote(payload).encode("utf-8")
