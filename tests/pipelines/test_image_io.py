"""Image decoding guards: bombs, palettes, grey+alpha, 16-bit, non-images, zips."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from pipelines.errors import InputError, TooComplexError
from pipelines.image_io import iter_zip_images, load_rgba
from tests.archives import zip_bytes


def pil_png(image: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", **kw)
    return buf.getvalue()


def header_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims width x height (RGBA 8-bit) with a token IDAT."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(20000, 20000), (20000, 4), (9000, 9000)])
def test_header_bomb_refused_before_decoding(size):
    with pytest.raises(TooComplexError) as err:
        load_rgba(header_bomb(*size))
    assert err.value.code == "IMAGE_TOO_LARGE"
    assert err.value.kind == "permanent"


def test_paletted_with_trns():
    img = Image.new("P", (4, 2))
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.putdata([0, 1, 1, 0, 1, 1, 0, 0])
    rgba = load_rgba(pil_png(img, transparency=0))
    assert rgba.shape == (2, 4, 4) and rgba.dtype == np.uint8
    assert rgba[0, 0, 3] == 0 and rgba[0, 1, 3] == 255 and tuple(rgba[0, 1, :3]) == (255, 0, 0)


def test_grey_alpha_and_no_alpha():
    la = Image.new("LA", (3, 3), (200, 0))
    la.putpixel((1, 1), (90, 255))
    rgba = load_rgba(pil_png(la))
    assert rgba[1, 1, 3] == 255 and rgba[0, 0, 3] == 0 and rgba[1, 1, 0] == 90
    rgb = load_rgba(pil_png(Image.new("RGB", (5, 4), (1, 2, 3))))
    assert (rgb[..., 3] == 255).all()


def test_sixteen_bit_rgba():
    img = np.zeros((6, 6, 4), np.uint16)
    img[2:4, 2:4] = 65535
    rgba = load_rgba(cv2.imencode(".png", img)[1].tobytes())
    assert rgba.dtype == np.uint8 and rgba[2, 2, 3] == 255 and rgba[0, 0, 3] == 0


def test_sixteen_bit_grey():
    grey = np.full((4, 4), 40000, np.uint16)
    rgba = load_rgba(cv2.imencode(".png", grey)[1].tobytes())
    assert rgba[0, 0, 0] == 40000 >> 8 and rgba[0, 0, 3] == 255


@pytest.mark.parametrize("data", [b"", b"hello world", b"\x89PNG\r\n\x1a\ntruncated"])
def test_non_image(data):
    with pytest.raises(InputError) as err:
        load_rgba(data)
    assert err.value.code == "IMAGE_LOAD_FAILED"




def test_zip_images_and_bomb():
    good = pil_png(Image.new("RGBA", (2, 2)))
    names = [n for n, _ in iter_zip_images(zip_bytes({"a.png": good, "__MACOSX/a.png": good, "notes.txt": b"x"}))]
    assert names == ["a.png"]
    with pytest.raises(TooComplexError) as err:
        list(iter_zip_images(zip_bytes({"big.png": b"\0" * 5_000_000})))
    assert err.value.code == "ARCHIVE_TOO_LARGE"
    with pytest.raises(InputError):
        list(iter_zip_images(b"not a zip"))
