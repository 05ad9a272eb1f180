"""Image bytes -> RGBA uint8 arrays, with decompression- and zip-bomb guards."""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Iterator

import cv2
import numpy as np
from PIL import Image

from pipelines.errors import InputError, TooComplexError
from pipelines.limits import LIMITS, Limits

MAX_SIDE = 16384
MAX_ZIP_MEMBERS = 1000
IMAGE_SUFFIXES = (".png", ".webp", ".gif", ".bmp", ".jpg", ".jpeg", ".tga", ".tif", ".tiff")


def load_rgba(data: bytes, limits: Limits = LIMITS) -> np.ndarray:
    """Decode image bytes to an ``(h, w, 4) uint8`` RGBA array (alpha 255 when the image has none).

    The size is checked from the header before any pixel is decoded.
    """
    image = _open(data)
    _check_size(image.size, limits)
    fast = _decode_png_cv2(data, image)
    if fast is not None:
        return fast
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            return _to_rgba(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InputError("IMAGE_LOAD_FAILED", f"cannot decode image: {exc}") from exc


def _open(data: bytes) -> Image.Image:
    """Open lazily (header only); non-images raise IMAGE_LOAD_FAILED."""
    if not data:
        raise InputError("IMAGE_LOAD_FAILED", "empty file", {"bytes": 0})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise TooComplexError("IMAGE_TOO_LARGE", str(exc)) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError("IMAGE_LOAD_FAILED", "not a readable image",
                         {"bytes": len(data), "reason": str(exc)}) from exc


def _check_size(size: tuple[int, int], limits: Limits) -> None:
    """Refuse images over the pixel or side limit, and empty ones."""
    width, height = size
    details = {"width": width, "height": height, "max_pixels": limits.max_image_pixels,
               "max_side": MAX_SIDE}
    if width * height > limits.max_image_pixels or max(width, height) > MAX_SIDE:
        raise TooComplexError("IMAGE_TOO_LARGE", f"image is {width}x{height}, over the limit", details)
    if width < 1 or height < 1:
        raise InputError("IMAGE_LOAD_FAILED", "image has no pixels", details)


# Pillow modes of PNGs that OpenCV decodes to the same RGBA as ``_to_rgba`` (checked on the
# shared sprite corpus and in the tests): paletted (with or without tRNS), grey, grey+alpha,
# RGB(A), 8 or 16 bits. Colour-keyed tRNS on grey/RGB images goes through Pillow.
_CV2_PNG_MODES = frozenset({"P", "L", "LA", "RGB", "RGBA", "I;16", "I;16B", "I;16L", "1"})


def _decode_png_cv2(data: bytes, image: Image.Image) -> np.ndarray | None:
    """RGBA uint8 decoded by OpenCV (several times faster than Pillow for PNG), or None to
    let Pillow decode: not a PNG, a mode not listed above, or anything OpenCV cannot read.
    Called only after the header's size has passed the limits."""
    if image.format != "PNG" or image.mode not in _CV2_PNG_MODES:
        return None
    if "transparency" in image.info and image.mode != "P":
        return None
    try:
        array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    if array is None or array.shape[:2] != (image.size[1], image.size[0]):
        return None
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    elif array.dtype != np.uint8:
        return None
    if array.ndim == 2:
        array = array[..., None]
    channels = array.shape[2]
    if channels == 1:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2RGBA)
    if channels == 2:
        grey, alpha = array[..., 0], array[..., 1]
        return np.ascontiguousarray(np.dstack([grey, grey, grey, alpha]))
    if channels == 3:
        return cv2.cvtColor(array, cv2.COLOR_BGR2RGBA)
    if channels == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA)
    return None


def _to_rgba(image: Image.Image) -> np.ndarray:
    """Any Pillow mode (P+tRNS, LA, L, I;16, RGB, RGBA, ...) to RGBA uint8."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(image, dtype=np.uint32)
        shift = 8 if image.mode.startswith("I;16") or grey.max(initial=0) > 255 else 0
        grey = (grey >> shift).clip(0, 255).astype(np.uint8)
        alpha = np.full_like(grey, 255)
        return np.dstack([grey, grey, grey, alpha])
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("PA")
    return np.ascontiguousarray(np.asarray(image.convert("RGBA"), dtype=np.uint8))


def iter_zip_images(data: bytes, limits: Limits = LIMITS) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, bytes)`` for each image in a zip, refusing zip bombs before inflating."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError("IMAGE_LOAD_FAILED", "not a zip archive", {"reason": str(exc)}) from exc
    members = [m for m in archive.infolist() if _is_image_member(m)]
    _check_archive(members, len(data), limits)
    for member in members:
        with archive.open(member) as stream:
            payload = stream.read(member.file_size + 1)
        if len(payload) > member.file_size:
            raise TooComplexError("ARCHIVE_TOO_LARGE", "zip member larger than declared",
                                  {"name": member.filename})
        yield member.filename, payload


def _is_image_member(member: zipfile.ZipInfo) -> bool:
    """Regular files with an image suffix, skipping macOS metadata and hidden files."""
    name = member.filename
    base = name.rsplit("/", 1)[-1]
    return (not member.is_dir() and not name.startswith("__MACOSX/") and not base.startswith(".")
            and base.lower().endswith(IMAGE_SUFFIXES))


def _check_archive(members: list[zipfile.ZipInfo], packed: int, limits: Limits) -> None:
    """Refuse too many members, too many bytes, or a suspicious compression ratio."""
    total = sum(m.file_size for m in members)
    details = {"members": len(members), "uncompressed_bytes": total, "bytes": packed}
    if not members:
        raise InputError("IMAGE_LOAD_FAILED", "zip holds no images", details)
    if len(members) > MAX_ZIP_MEMBERS:
        raise TooComplexError("ARCHIVE_TOO_LARGE", f"more than {MAX_ZIP_MEMBERS} images", details)
    if total > limits.max_archive_bytes or total > limits.max_archive_ratio * max(packed, 1):
        raise TooComplexError("ARCHIVE_TOO_LARGE", "zip inflates too much", details)
