"""api/multipart.py's decoder emits exactly werkzeug's events, on generated and hostile bodies."""

from __future__ import annotations

import random

import pytest
from werkzeug.sansio import multipart as wz

from api import multipart

BOUNDARIES = [b"x", b"0123456789abcdef0123456789abcdef", b"------------------------d74496d66958873e",
              b"a'()+_,-./:=?b", b"--", b"meshmill"]


def events(decoder_cls, boundary: bytes, body: bytes, chunks: list[int]) -> list:
    decoder = decoder_cls(boundary, None)
    out, at = [], 0
    for size in [*chunks, len(body)]:
        decoder.receive_data(body[at:at + size])
        at += size
        if at >= len(body):
            decoder.receive_data(None)
        while True:
            try:
                event = decoder.next_event()
            except ValueError as exc:  # werkzeug's "unexpected end" and friends
                out.append(("error", str(exc)))
                return out
            if event is wz.NEED_DATA:
                break
            out.append(repr(event))
            if isinstance(event, wz.Epilogue):
                return out
        if at >= len(body):
            return out
    return out


def body_for(boundary: bytes, rng: random.Random) -> bytes:
    """A form body with awkward content: partial boundaries, bare CR/LF, trailing spaces."""
    lb = rng.choice([b"\r\n", b"\n"])
    noise = [b"", b"--", b"\r\n--" + boundary[:-1], b"\r\n--" + boundary + b"x", b"\r", b"\n\r", b"--" + boundary,
             bytes(rng.randrange(256) for _ in range(rng.randrange(40)))]
    parts = [rng.choice([b"", b"preamble text" + lb])]
    for n in range(rng.randrange(1, 4)):
        head = b'Content-Disposition: form-data; name="f%d"; filename="a.bin"' % n + lb
        data = b"".join(rng.choice(noise) for _ in range(rng.randrange(6)))
        parts.append(b"--" + boundary + rng.choice([b"", b" ", b"\t "]) + lb + head + lb + data + lb)
    parts.append(b"--" + boundary + b"--" + rng.choice([b"", lb, b"  " + lb + b"epilogue"]))
    return b"".join(parts)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_same_events_as_werkzeug_on_generated_bodies(boundary):
    rng = random.Random(boundary)
    for _ in range(300):
        body = body_for(boundary, rng)
        if rng.random() < 0.2:  # truncated or corrupted uploads too
            cut = rng.randrange(len(body))
            body = body[:cut] + (b"" if rng.random() < 0.5 else body[cut + 1:])
        chunks = [rng.randrange(1, 24) for _ in range(rng.randrange(8))]
        assert events(multipart.MultipartDecoder, boundary, body, chunks) == \
            events(wz.MultipartDecoder, boundary, body, chunks), body


def test_installed_only_on_the_werkzeug_it_was_checked_on(monkeypatch):
    import werkzeug.formparser

    monkeypatch.setattr(werkzeug.formparser, "MultipartDecoder", wz.MultipartDecoder)
    assert not multipart.install("4.0.0") and werkzeug.formparser.MultipartDecoder is wz.MultipartDecoder
    assert multipart.install() and werkzeug.formparser.MultipartDecoder is multipart.MultipartDecoder
