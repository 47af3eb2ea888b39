"""Image inputs: references fetched and decoded into fixed-length pixel vectors.

Every image becomes ``size x size`` RGB pixels in [0, 1], flattened (``3 * size**2``
values): EXIF orientation applied, transparency composited onto white, squashed to a
square (no crop, so nothing at the edges is lost). The default model reduces these with
PCA, so the vectors need no further scaling.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Images fetched and decoded at once (fetching is I/O bound; Pillow releases the GIL
#: while it decodes and resizes).
FETCH_WORKERS = 8
#: Background that transparent pixels are composited onto (white, as viewers show them).
BACKGROUND = (255, 255, 255, 255)

#: Errors that make one image unusable without stopping the audit: unreadable or
#: unfetchable references (ValueError, OSError and its ConnectionError/TimeoutError/
#: PermissionError), bytes Pillow cannot decode (UnidentifiedImageError is an OSError),
#: and images too large to decode safely.
ROW_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, Image.DecompressionBombError)
#: Failures that say the server, not the image, is the problem: when *every* image fails
#: with one of these, featurizing raises it so a worker can retry later.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)

Fetch = Callable[[str], bytes]


def read_local(ref: str) -> bytes:
    """Return the bytes of a local path or ``file://`` URL; other URLs need a fetch function."""
    parts = urlsplit(ref)
    scheme = parts.scheme.lower()
    if scheme == "file":
        path = Path(unquote(parts.path))
    elif scheme in {"http", "https"} or ref.startswith("/data/") or (scheme and len(scheme) > 1):
        raise ValueError(
            f"image reference {ref[:80]!r} is a URL; reading it needs a fetch function "
            "(the audit passes one that knows the Label Studio URL and API key)"
        )
    else:
        path = Path(ref)  # a plain path (a one-letter "scheme" is a Windows drive)
    try:
        return path.read_bytes()
    except OSError as err:
        raise ValueError(f"cannot read image file {str(path)[:200]}: {err.strerror}") from None


def image_vector(data: bytes, size: int) -> np.ndarray:
    """Decode image bytes into ``3 * size**2`` float32 RGB values in [0, 1]."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.draft("RGB", (size, size))  # JPEG: decode at a reduced scale directly
            image = ImageOps.exif_transpose(opened)
            if image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info:
                image = Image.alpha_composite(
                    Image.new("RGBA", image.size, BACKGROUND), image.convert("RGBA")
                )
            image = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    except Image.DecompressionBombError as err:
        raise ValueError(f"image too large to decode safely: {err}") from None
    except UnidentifiedImageError:
        raise ValueError(
            f"cannot decode image: {len(data)} bytes in no format Pillow reads"
        ) from None
    except OSError as err:  # truncated or corrupt files
        raise ValueError(f"cannot decode image: {err}") from None
    return np.asarray(image, dtype=np.float32).reshape(-1) / 255.0


def featurize_images(
    inputs: Sequence[Any],
    *,
    size: int,
    fetch: Fetch | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """Return ``(X, ok, failures)``: one pixel vector per row (zeros where it failed).

    Raises
    ------
    ConnectionError, TimeoutError
        When no image at all could be fetched and the first failure was one of these (the
        server is down or unreachable: worth retrying, not worth auditing nothing).
    """
    if size < 1:
        raise ValueError(f"image_size must be >= 1; got {size}")
    read = fetch if fetch is not None else read_local

    def attempt(ref: Any) -> np.ndarray | BaseException:
        if not isinstance(ref, str) or not ref.strip():
            return ValueError(f"image reference must be a non-empty string; got {ref!r:.80}")
        try:
            return image_vector(read(ref.strip()), size)
        except ROW_ERRORS as err:
            return err

    total = len(inputs)
    X = np.zeros((total, 3 * size * size), dtype=np.float32)
    ok = np.zeros(total, dtype=bool)
    failures: list[tuple[int, str]] = []
    transient: BaseException | None = None
    with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
        for row, outcome in enumerate(pool.map(attempt, inputs)):
            if isinstance(outcome, BaseException):
                failures.append((row, str(outcome) or type(outcome).__name__))
                if transient is None and isinstance(outcome, TRANSIENT_ERRORS):
                    transient = outcome
            else:
                X[row] = outcome
                ok[row] = True
            if progress is not None:
                progress(row + 1, total)
    if total and not ok.any() and transient is not None:
        raise transient
    return X, ok, failures
