"""Shared fixtures: the corpora in ../shared/corpora (read through the project's loading code) and
isolated data/models directories for every test."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPORA = REPO.parent / "shared" / "corpora"

torch.set_num_threads(1)  # tests run in parallel workers on two cores


def shared_corpus(name: str) -> Path:
    path = SHARED_CORPORA / name
    if not path.exists():
        pytest.skip(f"shared corpus {path} is not available")
    return path


@pytest.fixture
def nietzsche_path() -> Path:
    return shared_corpus("nietzsche.txt")


@pytest.fixture
def shakespeare_path() -> Path:
    return shared_corpus("tinyshakespeare.txt")


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs and corpus caches go to the test's own folder, never the checkout's models/ and data/."""
    monkeypatch.setenv("TUIRNN_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TUIRNN_DATA_DIR", str(tmp_path / "data"))
