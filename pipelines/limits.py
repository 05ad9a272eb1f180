"""Tolerances and guards shared by pipelines, in one place (cf. trimesh.constants.tol)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Default guards; tasks pass their configured values explicitly."""

    max_triangles: int = 5_000_000
    max_archive_ratio: int = 200          # uncompressed / compressed for zip containers (3MF)
    max_archive_bytes: int = 512 * 2**20  # uncompressed bytes in a zip container
    max_image_pixels: int = 64 * 2**20    # decompression-bomb guard for images


LIMITS = Limits()
