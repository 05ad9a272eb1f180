"""JSON of results and artifacts (``tasks.json_codec``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tasks.json_codec import to_json, to_json_text


def test_arrays_are_written_as_the_lists_json_would_write():
    value = {"vertices": np.round(np.random.default_rng(7).random((50, 2)) * 300, 4),
             "triangles": np.arange(30, dtype=np.int32).reshape(10, 3), "hull": np.int64(4),
             "metadata": {"coverage": np.float64(0.5), "width": 64}}
    expected = json.loads(json.dumps(value, default=lambda a: a.tolist()))
    assert json.loads(to_json(value)) == expected


def test_strided_arrays_and_numpy_scalars_go_through_their_lists():
    grid = np.arange(12.0).reshape(3, 4)
    assert json.loads(to_json({"column": grid[:, 1], "flag": np.bool_(True)})) == {"column": [1.0, 5.0, 9.0],
                                                                                    "flag": True}


def test_what_orjson_refuses_json_still_writes():
    huge = 2 ** 70
    assert json.loads(to_json({"n": huge})) == {"n": huge}
    assert json.loads(to_json_text({1: "a"})) == {"1": "a"}  # keys as json.dumps writes them


def test_not_a_number_is_null_and_unknown_types_are_refused():
    assert json.loads(to_json([float("nan"), float("inf")])) == [None, None]
    with pytest.raises(TypeError):
        to_json({"x": object()})
