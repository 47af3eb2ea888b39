"""Image inputs (``<Image value="$field"/>``): references fetched and decoded into
fixed-length pixel vectors. Default model: PCA(50) -> RBF SVC with sigmoid calibration
(logistic regression past ``SVC_MAX_SAMPLES`` rows), chosen by detection F1
(``bench/detection.py``).

Every image becomes ``size x size`` RGB pixels in [0, 1], flattened (``3 * size**2``
values): EXIF orientation applied, transparency composited onto white, squashed to a
square (no crop, so nothing at the edges is lost). The default model reduces these with
PCA, so the vectors need no further scaling.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from backend.inputs import Features, Fetch, InputType, RowProgress, register
from backend.inputs.fields import bare_field, one_string
from backend.labelstudio.dataset import Malformed

if TYPE_CHECKING:
    from backend.settings import Settings

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

#: Components kept by the default model's PCA (fewer when there are fewer rows or pixels).
IMAGE_COMPONENTS = 50
#: Edge of the report's thumbnails, pixels.
THUMBNAIL = 96


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


def thumbnail(ref: str, fetch: Fetch | None) -> str:
    """Return a small inline PNG (data URI) of an image reference, or '' if it cannot be read."""
    if fetch is None:
        return ""
    try:
        image: Image.Image = Image.open(io.BytesIO(fetch(ref)))
        scale = THUMBNAIL / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        # Small images (icons, digits) are enlarged with hard pixel edges, large ones shrunk.
        image = image.resize(
            size, Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS
        )
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
    except Exception:  # a broken image must not break the report
        return ""
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@register
class ImageInput(InputType):
    """An image reference (URL, Label Studio upload, path or data URI) from one field."""

    name = "image"
    priority = 20
    describes = "one <Image> (image)"

    def claim(self, tag: str, value: str, attrs: Mapping[str, Any]) -> tuple[str, ...] | None:
        field = bare_field(value)
        return (field,) if tag == "image" and field is not None else None

    def reader(self, data_keys: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
        def read(data: dict[str, Any]) -> str:
            value = one_string(data, data_keys)
            if not value.strip():
                raise Malformed(f"data field {data_keys[0]!r} is an empty image reference")
            return value

        return read

    def featurize(
        self,
        inputs: Sequence[Any],
        settings: Settings,
        *,
        fetch: Fetch | None = None,
        progress: RowProgress | None = None,
    ) -> Features:
        return Features(
            *featurize_images(inputs, size=settings.image_size, fetch=fetch, progress=progress)
        )

    def default_model(self, settings: Settings, *, n_samples: int) -> Any:
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        from backend.inputs.estimators import LR_MAX_ITER, SVC_MAX_SAMPLES, CalibratedSVC

        pixels = 3 * settings.image_size**2
        components = max(1, min(IMAGE_COMPONENTS, pixels, n_samples // 2))
        head = PCA(n_components=components, random_state=settings.seed)
        if n_samples > SVC_MAX_SAMPLES:
            return make_pipeline(head, LogisticRegression(C=0.1, max_iter=LR_MAX_ITER))
        return make_pipeline(head, CalibratedSVC())

    def cell(self, value: Any, fetch: Fetch | None) -> str:
        src = thumbnail(str(value), fetch)
        label = html.escape(str(value))
        if src:
            return f'<img src="{src}" alt="{label}" title="{label}">'
        return f"<code>{label}</code>"
