"""The benchmarks' corpus lookup: a clear exit, not a traceback, when the shared corpus is missing."""

import pytest

from bench.corpus import corpus_files, shared_dir


def test_missing_corpus_exits_with_where_it_looked(tmp_path):
    with pytest.raises(SystemExit) as exc:
        corpus_files(tmp_path / "sprites", "*.png")
    assert str(tmp_path / "sprites") in str(exc.value) and "MESHMILL_SHARED_DIR" in str(exc.value)
    (tmp_path / "sprites").mkdir()
    (tmp_path / "sprites" / "notes.txt").write_text("no sprites here")
    with pytest.raises(SystemExit):
        corpus_files(tmp_path / "sprites", "*.png")


def test_corpus_files_sorted_and_shared_dir_from_env(tmp_path, monkeypatch):
    for name in ("b.png", "a.png"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in corpus_files(tmp_path, "*.png")] == ["a.png", "b.png"]
    monkeypatch.setenv("MESHMILL_SHARED_DIR", str(tmp_path))
    assert shared_dir() == tmp_path
    monkeypatch.delenv("MESHMILL_SHARED_DIR")
    assert shared_dir().name == "shared"
