"""Talk to a Label Studio server: connect, read a project into an AuditDataset, fetch media.

Both kinds of Label Studio API key work: a legacy token (40 hex characters, sent as
``Authorization: Token ...``) and a personal access token (a JWT refresh token, which
label-studio-sdk exchanges at ``/api/token/refresh/`` for short-lived access tokens sent
as ``Authorization: Bearer ...``). The SDK tells them apart by trying to decode the key as
a JWT, so the same ``api_key`` argument takes either.

Errors never carry the key: HTTP failures are reported by status and URL (query strings
removed), and transport failures become ``ConnectionError``/``TimeoutError`` so callers
can retry them, while answers that will not change on retry (401, 403, 404, 400) become
``ValueError``/``PermissionError``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from backend.labelstudio.config import parse_label_config
from backend.labelstudio.dataset import AuditDataset
from backend.labelstudio.export import dataset_from_tasks

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

logger = logging.getLogger("labelaudit.client")

#: ``progress(done, total)`` is called after each page of tasks (total may be None).
PageProgress = Callable[[int, "int | None"], None]

#: Tasks fetched per API call (Label Studio's own default page size is 100).
TASKS_PAGE_SIZE = 100
#: Largest media file fetch_bytes reads; past it the fetch fails rather than fill memory.
MAX_FETCH_BYTES = 64 * 2**20
#: Path prefixes of Label Studio's own media routes (relative URLs found in task data).
LABEL_STUDIO_MEDIA_PREFIXES = ("/data/", "/storage-data/", "/tasks/")


def _redact(url: str) -> str:
    """Return ``url`` without its query string, fragment or credentials, for messages."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc.rpartition("@")[2]  # without user:password@; [::1] keeps brackets
    if parts.scheme in {"http", "https"}:
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return url.split("?", 1)[0]


def _check_url(url: str) -> str:
    """Validate a Label Studio base URL; return it with exactly one trailing slash."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("Label Studio URL is empty; set LABEL_STUDIO_URL or pass --url")
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(
            "Label Studio URL must be an http(s) URL like http://localhost:8080; "
            f"got {_redact(url)!r}"
        )
    return url.strip().rstrip("/") + "/"


def _check_key(api_key: str) -> str:
    if not isinstance(api_key, str) or not api_key.strip():
        raise ValueError(
            "Label Studio API key is empty; set LABEL_STUDIO_API_KEY (a legacy token or a "
            "personal access token from Account & Settings)"
        )
    key = api_key.strip()
    if any(c.isspace() or not c.isprintable() for c in key):
        raise ValueError(
            "Label Studio API key holds spaces or control characters; a token is one word"
        )
    return key


def _describe_body(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("detail", "validation_errors", "error", "message"):
            if key in body:
                return str(body[key])[:500]
    return str(body)[:500]


@contextlib.contextmanager
def translate_errors(what: str, url: str = "") -> Iterator[None]:
    """Turn SDK/httpx failures inside the block into clear errors that hold no secret."""
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    where = f" ({_redact(url)})" if url else ""
    try:
        yield
    except ApiError as err:
        status = err.status_code
        detail = _describe_body(err.body)
        message = f"{what} failed{where}: HTTP {status}: {detail}"
        if status == 401:
            raise PermissionError(
                f"{what} failed{where}: Label Studio rejected the API key (HTTP 401: {detail})"
            ) from None
        if status == 403:
            raise PermissionError(message) from None
        if status is not None and status >= 500:
            raise ConnectionError(message) from None
        raise ValueError(message) from None
    except httpx.TimeoutException:
        raise TimeoutError(f"{what} timed out{where}") from None
    except httpx.TransportError as err:
        raise ConnectionError(f"{what} failed{where}: {type(err).__name__}") from None


def connect(url: str, api_key: str) -> LabelStudio:
    """Return a label-studio-sdk client for ``url``; the key may be legacy or a PAT."""
    from label_studio_sdk import LabelStudio

    base_url = _check_url(url)
    key = _check_key(api_key)
    # The trailing slash matters: the SDK joins "api/token/refresh/" onto base_url with
    # urljoin, which drops a last path segment without one (Label Studio under a prefix).
    with translate_errors("connecting to Label Studio", base_url):
        return LabelStudio(base_url=base_url, api_key=key)


def close(ls: LabelStudio) -> None:
    """Close the HTTP connections of a client made by :func:`connect`."""
    ls._client_wrapper.httpx_client.httpx_client.close()


def sdk_request(ls: LabelStudio, method: str, path: str, **kwargs: Any) -> Any:
    """Call a Label Studio API route the SDK has no method for, with the SDK's auth."""
    # The SDK's HTTP client adds the right Authorization header (Token or Bearer, refreshing
    # a PAT's access token when it expires), retries and timeouts.
    http = ls._client_wrapper.httpx_client
    url = ls._client_wrapper.get_base_url().rstrip("/") + "/" + path.lstrip("/")
    with translate_errors(f"{method} /{path.lstrip('/')}", url):
        response = http.request(path, method=method, **kwargs)
        if response.status_code >= 400:
            from label_studio_sdk.core.api_error import ApiError

            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            raise ApiError(status_code=response.status_code, body=body)
        if not response.content:
            return None
        return response.json()


def _task_dict(task: Any) -> dict[str, Any]:
    """Return the fields of an SDK task model that an export task has, as plain data."""
    if isinstance(task, dict):
        return task
    return {
        "id": getattr(task, "id", None),
        "data": getattr(task, "data", None),
        "annotations": getattr(task, "annotations", None) or [],
    }


def iter_task_pages(
    ls: LabelStudio, project_id: int, *, page_size: int = TASKS_PAGE_SIZE
) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
    """Yield ``(tasks, total)`` page by page: every task of the project, with annotations."""
    from label_studio_sdk.core.api_error import ApiError

    page, seen = 1, 0
    while True:
        with translate_errors(f"reading tasks of project {project_id}"):
            try:
                pager: Any = ls.tasks.list(
                    project=project_id,
                    page=page,
                    page_size=page_size,
                    # fields="all" is what brings full annotations. (Narrowing it with
                    # include="id,data,annotations" turns annotations into {"id": n} stubs.)
                    fields="all",
                )
            except ApiError as err:
                if err.status_code == 404 and page > 1:  # Label Studio's "no more pages"
                    return
                raise
        items = [_task_dict(t) for t in (pager.items or [])]
        total = getattr(pager.response, "total", None)
        if not items:
            return
        seen += len(items)
        yield items, total
        if total is not None and seen >= total:
            return
        page += 1


def load_project(
    url: str, api_key: str, project_id: int, *, progress: PageProgress | None = None
) -> AuditDataset:
    """Read a Label Studio project (config and every task) into an AuditDataset."""
    if isinstance(project_id, bool) or not isinstance(project_id, int) or project_id < 1:
        raise ValueError(f"project_id must be a positive int; got {project_id!r}")
    ls = connect(url, api_key)
    try:
        with translate_errors(f"reading project {project_id}", url):
            project = ls.projects.get(id=project_id)
        kind = parse_label_config(project.label_config or "")
        tasks: list[dict[str, Any]] = []
        for page, total in iter_task_pages(ls, project_id):
            tasks.extend(page)
            if progress is not None:
                progress(len(tasks), total)
        emails = user_emails(ls)
    finally:
        close(ls)
    source = f"{_redact(_check_url(url))}projects/{project_id}"
    dataset = dataset_from_tasks(tasks, kind, source=source, title=project.title or "")
    known = {key: emails[key] for key in set(dataset.annotators) if key in emails}
    dataset.annotator_emails = known | dataset.annotator_emails
    return dataset


def user_emails(ls: LabelStudio) -> dict[str, str]:
    """Return user id (as a string) -> email of every user; {} if Label Studio will not say.

    Emails only make a report easier to read, so a failure here never fails an audit.
    """
    out = {}
    try:
        with translate_errors("listing users"):
            users = ls.users.list()
        for user in users:
            user_id, email = getattr(user, "id", None), getattr(user, "email", None)
            if isinstance(user_id, int) and isinstance(email, str) and email:
                out[str(user_id)] = email
    except (ConnectionError, TimeoutError, ValueError, PermissionError) as err:  # no secret
        logger.warning("annotators are shown by user id (%s: %s)", type(err).__name__, err)
        return {}
    return out


def task_page(url: str, project_id: int) -> Callable[[int], str]:
    """Return task id -> the task's page in Label Studio (the Data Manager's labeling view).

    The link never carries credentials: user:password@ in ``url`` is left out, and so are a
    query string and fragment.
    """
    base = _redact(_check_url(url)).rstrip("/")
    return lambda task_id: f"{base}/projects/{int(project_id)}/data?task={int(task_id)}"


# --- media -------------------------------------------------------------------------------

_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _http() -> Any:
    """Return the one httpx client media fetches share (connection reuse across images)."""
    import httpx

    return httpx.Client(follow_redirects=True)


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


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


def _read_limited(chunks: Iterator[bytes], what: str) -> bytes:
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > MAX_FETCH_BYTES:
            raise ValueError(f"{what} is larger than {MAX_FETCH_BYTES} bytes")
    return bytes(out)


def fetch_bytes(
    ref: str,
    *,
    base_url: str = "",
    api_key: str = "",
    timeout: float = 10.0,
    allow_local: bool = True,
) -> bytes:
    """Return the bytes an image reference in task data points at.

    ``ref`` may be a local path or ``file://`` URL (unless ``allow_local`` is false, as a
    service reading other people's task data should set it), a ``data:`` URI, an http(s)
    URL, or a Label Studio relative URL (``/data/upload/...``, ``/data/local-files/?d=...``)
    that is joined to ``base_url``. The API key is sent only to ``base_url``'s origin.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(f"media reference must be a non-empty string; got {ref!r}")
    ref = ref.strip()
    parts = urlsplit(ref)
    scheme = parts.scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter (C:\...), not a URL scheme
        scheme = ""
    if scheme == "data":
        return _decode_data_uri(ref)
    if scheme == "file" or (not scheme and not ref.startswith(LABEL_STUDIO_MEDIA_PREFIXES)):
        if not allow_local:
            raise ValueError(f"local file reference {_redact(ref)!r} refused (allow_local=False)")
        path = Path(unquote(parts.path)) if scheme == "file" else Path(ref)
        try:
            with path.open("rb") as fh:
                return _read_limited(iter(lambda: fh.read(1 << 20), b""), f"file {path}")
        except OSError as err:
            raise ValueError(f"cannot read media file {path}: {err.strerror}") from None
    if not scheme:
        if not base_url:
            raise ValueError(
                f"{_redact(ref)!r} is a Label Studio URL; pass base_url (the Label Studio URL) "
                "to fetch it"
            )
        url = _check_url(base_url).rstrip("/") + ref
    elif scheme in {"http", "https"}:
        url = ref
    else:
        raise ValueError(
            f"cannot fetch {_redact(ref)!r}: scheme {scheme!r} is not supported (cloud storage "
            "URIs must be served through Label Studio; use http(s), a path or file://)"
        )
    headers = {}
    if api_key and base_url and _same_origin(url, _check_url(base_url)):
        headers = auth_header(base_url, api_key)
    return _http_get(url, headers, timeout)


def _http_get(url: str, headers: dict[str, str], timeout: float) -> bytes:
    import httpx

    shown = _redact(url)
    try:
        with _http().stream("GET", url, headers=headers, timeout=timeout) as response:
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
            return _read_limited(response.iter_bytes(), shown)
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
