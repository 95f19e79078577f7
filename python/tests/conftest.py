"""Shared fixtures: where the assets and the build are, and the small model most tests run on."""

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def build_dir() -> pathlib.Path:
    """The CMake build tree with the kvlab program (KVLAB_BUILD_DIR, default build/)."""
    return pathlib.Path(os.environ.get("KVLAB_BUILD_DIR", REPO / "build"))


@pytest.fixture(scope="session")
def assets() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("KVLAB_ASSETS", REPO.parent / "shared"))
    if not (path / "models").is_dir():
        pytest.fail(f"no assets at {path}: set KVLAB_ASSETS")
    os.environ.setdefault("KVLAB_ASSETS", str(path))
    return path


@pytest.fixture(scope="session")
def kvlab_program() -> pathlib.Path:
    path = build_dir() / "kvlab"
    if not path.exists():
        pytest.fail(f"{path} is missing: build the project first (or set KVLAB_BUILD_DIR)")
    return path


@pytest.fixture(scope="session")
def model(assets):
    import kvlab

    return kvlab.load("stories260K")


@pytest.fixture(scope="session")
def story_ids(model, assets):
    """The first 300 ids of a TinyStories validation text."""
    text = (assets / "text" / "tinystories_val.txt").read_text()[:4000]
    return model.tokenizer.encode(text)[:300]
