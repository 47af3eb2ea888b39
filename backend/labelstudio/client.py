"""Talk to a Label Studio server: connect, read a project into an AuditDataset (media: media.py).

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

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from backend.labelstudio.config import parse_label_config
from backend.labelstudio.dataset import AuditDataset
from backend.labelstudio.export import dataset_from_tasks

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

logger = logging.getLogger("labelaudit.client")

#: ``progress(done, total)`` is called after each page of tasks (total may be None).
PageProgress = Callable[[int, "int | None"], None]


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


def same_origin(a: str, b: str) -> bool:
    """Whether two URLs share scheme, host and port (False when either does not parse)."""
    try:
        pa, pb = urlsplit(a), urlsplit(b)
        return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)
    except ValueError:
        return False


def is_one_word(token: str) -> bool:
    """Whether a token is one word of printable characters (a header can carry it as is)."""
    return not any(c.isspace() or not c.isprintable() for c in token)


def _check_key(api_key: str) -> str:
    if not isinstance(api_key, str) or not api_key.strip():
        raise ValueError(
            "Label Studio API key is empty; set LABEL_STUDIO_API_KEY (a legacy token or a "
            "personal access token from Account & Settings)"
        )
    key = api_key.strip()
    if not is_one_word(key):
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
    except (httpx.LocalProtocolError, httpx.UnsupportedProtocol) as err:
        # A request that cannot be sent at all: retrying sends the same one.
        raise ValueError(f"{what} failed{where}: {type(err).__name__}") from None
    except httpx.ConnectError as err:
        if _unresolvable(err):
            raise ValueError(f"{what} failed{where}: the host name does not resolve") from None
        raise ConnectionError(f"{what} failed{where}: {type(err).__name__}") from None
    except httpx.TransportError as err:
        raise ConnectionError(f"{what} failed{where}: {type(err).__name__}") from None


def _unresolvable(err: BaseException) -> bool:
    """Whether a connection failed because its host name does not resolve (not transient)."""
    import socket

    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return True
        seen = seen.__cause__ or seen.__context__
    return "Name or service not known" in str(err) or "nodename nor servname" in str(err)


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


def iter_project_tasks(
    url: str, api_key: str, project_id: int, *, pages: bool = False
) -> Iterator[dict[str, Any]]:
    """Yield every task of a project as exported (id, data, annotations), batch by batch
    (``pages``: from task pages, not the export)."""
    from backend.labelstudio.reading import iter_task_batches

    ls = connect(url, api_key)
    try:
        for batch, _ in iter_task_batches(ls, project_id, pages=pages):
            yield from batch
    finally:
        close(ls)


def load_project(
    url: str,
    api_key: str,
    project_id: int,
    *,
    progress: PageProgress | None = None,
    page_size: int | None = None,
    keep: Callable[[dict[str, Any]], None] | None = None,
    pages: bool = False,
) -> AuditDataset:
    """Read a Label Studio project (config and every task) into an AuditDataset.

    Tasks come from the export, streamed, else (refused, or ``pages``) from task pages of
    ``page_size`` (default ``TASKS_PAGE_SIZE``; ``reading.iter_task_batches``), and are
    turned into dataset rows batch by batch, so the project's raw tasks are never all in
    memory at once; ``keep`` is handed each task as read (the service keeps what the
    export reads of them, ``backend.service.changelog``).
    """
    from backend.labelstudio.reading import TASKS_PAGE_SIZE, iter_task_batches

    if isinstance(project_id, bool) or not isinstance(project_id, int) or project_id < 1:
        raise ValueError(f"project_id must be a positive int; got {project_id!r}")
    page_size = TASKS_PAGE_SIZE if page_size is None else page_size
    source = f"{_redact(_check_url(url))}projects/{project_id}"
    ls = connect(url, api_key)
    try:
        with translate_errors(f"reading project {project_id}", url):
            project = ls.projects.get(id=project_id)
        kind = parse_label_config(project.label_config or "")

        notes: list[str] = []

        def tasks() -> Iterator[dict[str, Any]]:
            done = 0
            read = iter_task_batches(
                ls, project_id, page_size=page_size, pages=pages, refused=notes.append
            )
            for page, total in read:
                if keep is not None:
                    for task in page:
                        keep(task)
                yield from page
                done += len(page)
                if progress is not None:
                    progress(done, total)

        dataset = dataset_from_tasks(tasks(), kind, source=source, title=project.title or "")
        dataset.read_notes = notes
        emails = user_emails(ls)
    finally:
        close(ls)
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
