"""Local storage keys: the ones Meshmill makes work, anything that could leave the root is refused."""

from __future__ import annotations

import pytest

from tasks.storage import LocalStorage, StorageError, artifact_key, input_key


@pytest.fixture
def storage(tmp_path):
    return LocalStorage(tmp_path / "root")


def test_meshmill_keys_round_trip(storage):
    for key in (input_key("ab" * 32), artifact_key("0f8e2c1a-5d7b-4c3e-9a61-2b4d6f8a0c1e", "repaired.stl")):
        storage.put_bytes(key, b"data")
        assert storage.exists(key) and storage.get_bytes(key) == b"data"
        assert (storage.root / key).read_bytes() == b"data"


@pytest.mark.parametrize("key", ["../x", "inputs/../../x", "/etc/passwd", "inputs//x", "inputs/./x", "a\\b",
                                 "inputs/x\n", "", "inputs/", "~/x", "a b"])
def test_keys_that_could_leave_the_root_are_refused(storage, key):
    with pytest.raises(StorageError):
        storage.put_bytes(key, b"data")
    with pytest.raises(StorageError):
        storage.get_bytes(key)
    assert list(storage.root.parent.iterdir()) == [storage.root]  # nothing written outside
