"""Where the benchmarks' shared corpora live: ``$MESHMILL_SHARED_DIR``, else ``../shared`` beside the
repository (``meshes/``, ``step/``, ``sprites/``), and a clear exit when one is missing."""

from __future__ import annotations

import os
from pathlib import Path


def shared_dir() -> Path:
    """The shared folder: ``$MESHMILL_SHARED_DIR`` or ``<repo>/../shared``."""
    env = os.environ.get("MESHMILL_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"


def corpus_files(folder: Path, pattern: str) -> list[Path]:
    """The files in ``folder`` matching ``pattern``, sorted; exits with a message saying where it
    looked (not a traceback) when there are none."""
    paths = sorted(folder.glob(pattern)) if folder.is_dir() else []
    if not paths:
        raise SystemExit(f"no {pattern} in {folder}: put the shared corpus at ../shared beside the "
                         "repository or set MESHMILL_SHARED_DIR to the folder holding it")
    return paths
