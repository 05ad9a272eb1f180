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


def _pillow_rgba(data: bytes) -> np.ndarray:
    """The reference decode: Pillow only (what load_rgba did before the OpenCV fast path)."""
    from pipelines.image_io import _to_rgba
    image = Image.open(io.BytesIO(data))
    image.load()
    return _to_rgba(image)


def test_opencv_png_path_matches_pillow_for_every_mode():
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (9, 13, 4), dtype=np.uint8)
    rgba[0, :, 3] = 0
    images = [Image.fromarray(rgba, "RGBA"), Image.fromarray(rgba[..., :3], "RGB"),
              Image.fromarray(rgba[..., 0], "L"), Image.fromarray(rgba[..., [0, 3]], "LA"),
              Image.fromarray(rgba[..., 0] > 128)]
    paletted = Image.fromarray(rgba, "RGBA").quantize(colors=16)
    datas = [pil_png(im) for im in images]
    datas.append(pil_png(paletted, transparency=0))
    datas.append(pil_png(Image.fromarray(rgba[..., 0], "L"), transparency=7))  # colour key: Pillow path
    datas.append(pil_png(Image.fromarray(rgba[..., :3], "RGB"), transparency=(1, 2, 3)))
    for sixteen in (rgba.astype(np.uint16) * 257 + 3, (rgba[..., 0].astype(np.uint16) * 257 + 5)):
        ok, buf = cv2.imencode(".png", cv2.cvtColor(sixteen, cv2.COLOR_RGBA2BGRA) if sixteen.ndim == 3 else sixteen)
        assert ok
        datas.append(buf.tobytes())
    for data in datas:
        got = load_rgba(data)
        assert got.dtype == np.uint8 and got.shape == (9, 13, 4) and got.flags.c_contiguous
        assert np.array_equal(got, _pillow_rgba(data))


def test_corrupt_png_body_is_a_load_error():
    data = bytearray(pil_png(Image.new("RGBA", (40, 40), (9, 9, 9, 255))))
    data[-30:-12] = b"\0" * 18  # damage the image data, keep the header
    with pytest.raises(InputError) as err:
        load_rgba(bytes(data))
    assert err.value.code == "IMAGE_LOAD_FAILED"
