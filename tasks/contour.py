"""Contour domain step (seed 002): sprite image(s) in -> 2D mesh result and Spine artifacts out.

The input is the uploaded file (an image, or a zip of images) or ``params["image_url"]``
/ ``params["image_urls"]``, fetched here with :func:`tasks.fetch.fetch_url` (checked and
pinned again at fetch time; the API checked them when the job was created).

One image: the result is ``mesh_sprite``'s (vertices, triangles, uvs, boundary_edges,
internal_edges, hull, metadata); artifacts ``mesh.json`` (the result) and ``spine.json``
(a Spine mesh attachment).

Several images (a zip, or ``image_urls``): the result is ``{"items": [{"name", "result"} |
{"name", "error"}], "summary": {...}}`` with one entry per image; an image that fails
(no contour, not decodable, a URL answering 404) gets its own error and the others still
mesh. Artifacts: ``mesh.json`` (that whole result) and ``spine-<safe name>.json`` per
meshed image. A transient fetch error (timeout, 5xx) retries the whole step.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlparse

from celery import signals

from pipelines.contour_params import ContourParams, make_params
from pipelines.errors import InputError
from pipelines.image_io import IMAGE_SUFFIXES, iter_zip_images
from pipelines.limits import Limits
from pipelines.progress import scaled
from pipelines.sniff import sniff
from pipelines.spine_export import spine_mesh_attachment
from tasks.base import StepContext, job_step
from tasks.fetch import fetch_url
from tasks.json_codec import to_json
from tasks.settings import get_settings
from tasks.submit import register_operation

GENERATE = "meshmill.contour.generate"
JSON = "application/json"
# keys of the job's params that are not ContourParams fields
INPUT_KEYS = frozenset({"image_url", "image_urls", "preset"})


QUEUE = "contour"


def _mesher() -> ModuleType:
    """``pipelines.contour``, imported on first use: it brings numba (~100 MB a process, ~60 MB more
    once its loops are compiled), which only processes that mesh sprites need; the io worker and
    beat import this module too."""
    import pipelines.contour

    return pipelines.contour


@signals.worker_init.connect
def _compile_kernels(sender: Any = None, **_kwargs) -> None:
    """In a worker that consumes the contour queue, compile the mesher's loops (or load them from
    numba's disk cache) once in the parent, before the pool forks: no child pays it on its first
    sprite (``pipelines.contour_kernels``)."""
    if sender is not None and QUEUE not in sender.app.amqp.queues.consume_from:
        return
    from pipelines.contour_kernels import warm

    warm()


def contour_limits() -> Limits:
    return Limits()


@job_step(GENERATE, too_complex_code="CONTOUR_TOO_COMPLEX")
def generate(ctx: StepContext) -> dict[str, Any]:
    """Mesh a sprite (or a batch of sprites) into 2D triangle meshes with UVs, edges and Spine JSON."""
    params = contour_params(ctx.params)
    limits = contour_limits()
    urls = ctx.params.get("image_urls")
    if urls:
        return _batch(ctx, _fetch_many(ctx, urls), params, limits)
    url = ctx.params.get("image_url")
    if url:
        ctx.progress(2, "Fetching image...")
        data = fetch_url(url, max_bytes=get_settings().max_upload_bytes, timeout=get_settings().fetch_timeout)
        name = url_name(url)
    else:
        data = ctx.input_bytes()
        name = ctx.job["input_name"] or "sprite"
    if sniff(data[:16]) == "zip":
        ctx.progress(5, "Unpacking images...")
        return _batch(ctx, list(iter_zip_images(data, limits)), params, limits)
    result = _mesher().mesh_sprite(data, params, progress=ctx.progress, limits=limits)
    ctx.save_artifact("mesh.json", to_json(result), JSON)
    ctx.save_artifact("spine.json", to_json(_spine(result, name)), JSON)
    return result


def contour_params(stored: dict[str, Any]) -> ContourParams:
    """The job's parameters as validated ContourParams (the API resolved the preset already)."""
    values = {k: v for k, v in stored.items() if k not in INPUT_KEYS}
    return make_params(values, None)


def _fetch_many(ctx: StepContext, urls: list[str]) -> list[tuple[str, bytes | InputError]]:
    """Fetch each URL within one byte budget; a permanent failure is that image's error."""
    budget = get_settings().max_upload_bytes
    out: list[tuple[str, bytes | InputError]] = []
    for index, url in enumerate(urls):
        ctx.progress(5 * index // len(urls), f"Fetching image {index + 1}/{len(urls)}...")
        name = url_name(url, default=f"image-{index + 1}")
        try:
            data = fetch_url(url, max_bytes=max(budget, 1), timeout=get_settings().fetch_timeout)
        except InputError as exc:
            out.append((name, exc))
            continue
        budget -= len(data)
        out.append((name, data))
    return out


def _batch(ctx: StepContext, items: list[tuple[str, bytes | InputError]], params: ContourParams,
           limits: Limits) -> dict[str, Any]:
    fetched = [(name, data) for name, data in items if isinstance(data, bytes)]
    meshed = iter(_mesher().mesh_sprite_batch(fetched, params, progress=scaled(ctx.progress, 5, 95), limits=limits))
    entries = [{"name": name, "error": data.as_dict()} if isinstance(data, InputError) else next(meshed)
               for name, data in items]
    ok = [e for e in entries if "result" in e]
    ctx.progress(96, "Writing artifacts...")
    used: set[str] = set()
    for entry in ok:
        artifact = f"spine-{unique(safe_stem(entry['name']), used)}.json"
        entry["spine_artifact"] = artifact
        ctx.save_artifact(artifact, to_json(_spine(entry["result"], entry["name"])), JSON)
    result = {"items": entries,
              "summary": {"images": len(entries), "succeeded": len(ok), "failed": len(entries) - len(ok)}}
    ctx.save_artifact("mesh.json", to_json(result), JSON)
    return result


def _spine(result: dict[str, Any], name: str) -> dict[str, Any]:
    return spine_mesh_attachment(result, path=attachment_path(name))


def url_name(url: str, default: str = "image") -> str:
    """The last path segment of a URL (percent-decoded), or ``default``."""
    segment = unquote(PurePosixPath(urlparse(url).path).name)
    return segment[:200] or default


def attachment_path(name: str) -> str:
    """Spine's attachment path: the image name without folders or image extension."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    lower = base.lower()
    for suffix in IMAGE_SUFFIXES:
        if lower.endswith(suffix):
            return base[: -len(suffix)] or base
    return base


def safe_stem(name: str) -> str:
    """An artifact-safe name from a member or URL name: folders joined with ``_``, no image suffix,
    only ``[A-Za-z0-9._-]``, at most 80 characters."""
    path = name.replace("\\", "/").strip("/")
    lower = path.lower()
    for suffix in IMAGE_SUFFIXES:
        if lower.endswith(suffix):
            path = path[: -len(suffix)]
            break
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", path.replace("/", "_")).strip("._-")
    return stem[:80] or "image"


def unique(stem: str, used: set[str]) -> str:
    candidate, n = stem, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}-{n}"
    used.add(candidate)
    return candidate


register_operation("contour", "generate", [GENERATE])
