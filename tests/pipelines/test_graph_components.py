"""Connected components in numpy agree with scipy's, label for label."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipelines.graph_components import TINY, component_count, components


def scipy_labels(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)[1]


@pytest.mark.parametrize(("n", "m"), [(1, 0), (7, 0), (10, 6), (TINY, TINY // 2), (TINY + 1, 60), (2000, 1500),
                                      (50_000, 60_000)])
def test_labels_and_counts_match_scipy_on_random_graphs(n, m):
    rng = np.random.default_rng(n + m)
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    expected = scipy_labels(n, a, b)
    assert np.array_equal(components(n, a, b), expected)
    assert component_count(n, a, b) == expected.max() + 1


def test_a_numbering_that_needs_many_rounds_still_ends_right():
    rng = np.random.default_rng(1)
    order = rng.permutation(30_000)  # one long path, visited in random node order
    a, b = order[:-1], order[1:]
    assert not components(len(order), a, b).any()
    assert not components(len(order), a, b, max_rounds=1).any()  # scipy finishes it


def test_no_nodes_no_components():
    empty = np.array([], dtype=np.int64)
    assert component_count(0, empty, empty) == 0 and len(components(0, empty, empty)) == 0
