"""The pipeline error family survives pickling (Celery's prefork pool and retries pickle exceptions)."""

from __future__ import annotations

import pickle

import pytest

from pipelines.contour_simplify import OverBudget
from pipelines.errors import DependencyError, InputError, RemoteError, TooComplexError


@pytest.mark.parametrize("error", [
    InputError("MESH_PARSE_ERROR", "not a mesh", {"offset": 84}),
    TooComplexError("JOB_TOO_COMPLEX", "too many triangles", {"triangles": 9_000_000}),
    RemoteError("REMOTE_TIMEOUT", "no answer in 30 s"),
    DependencyError("MODEL_MISSING", "no model file"),
    OverBudget("outline needs more vertices than max_vertices", 41, {"vertex_count": 41, "max_vertices": 40}),
])
def test_errors_pickle_with_their_code_details_and_kind(error):
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert again.as_dict() == error.as_dict() and again.kind == error.kind and str(again) == str(error)
    assert getattr(again, "needed", None) == getattr(error, "needed", None)
