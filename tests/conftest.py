"""Shared fixtures. Tests never touch the network (unless EXPLAINLAB_NETWORK=1) nor the
user's caches: assets and torch caches live in temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NETWORK = os.environ.get("EXPLAINLAB_NETWORK") == "1"


def _default_mirror() -> str:
    if os.environ.get("EXPLAINLAB_MIRROR"):
        return os.environ["EXPLAINLAB_MIRROR"]
    candidate = REPO.parent / "shared" / "data"
    return str(candidate) if candidate.is_dir() else ""


MIRROR = _default_mirror()

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: more threads per worker oversubscribe the CPU and
    # slow torch down by an order of magnitude.
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory):
    cache = tmp_path_factory.mktemp("explainlab-cache")
    saved = {
        k: os.environ.get(k)
        for k in ("EXPLAINLAB_CACHE", "EXPLAINLAB_OFFLINE", "EXPLAINLAB_MIRROR")
    }
    os.environ["EXPLAINLAB_CACHE"] = str(cache)
    os.environ["EXPLAINLAB_MIRROR"] = MIRROR
    if not NETWORK:
        os.environ["EXPLAINLAB_OFFLINE"] = "1"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_network = pytest.mark.skip(reason="needs the internet; set EXPLAINLAB_NETWORK=1")
    skip_mirror = pytest.mark.skip(
        reason="needs the offline mirror (EXPLAINLAB_MIRROR or ../shared/data)"
    )
    no_wordnet = None
    for item in items:
        if "network" in item.keywords and not NETWORK:
            item.add_marker(skip_network)
        if "mirror" in item.fixturenames and not MIRROR:
            item.add_marker(skip_mirror)
        if "wordnet" in item.fixturenames:
            if no_wordnet is None:
                from explainlab.dissect.wordnet import available

                no_wordnet = available()
            if no_wordnet:
                item.add_marker(pytest.mark.skip(reason=f"needs WordNet 3.0: {no_wordnet}"))


@pytest.fixture(scope="session")
def mirror() -> Path:
    return Path(MIRROR)


@pytest.fixture(scope="session")
def wordnet():
    """WordNet 3.0's categories (``make test`` installs wordnet-base; skipped without it)."""
    from explainlab.dissect.wordnet import load_wordnet_categories

    return load_wordnet_categories()


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torchvision weights cache (TORCH_HOME) for this test."""
    import torch

    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return home


@pytest.fixture(scope="session")
def lite0():
    """The offline, really trained ImageNet model (EfficientNet-Lite0) on the CPU."""
    from explainlab.models import load_model

    return load_model("efficientnet_lite0", "cpu")


@pytest.fixture(scope="session")
def mission_samples(lite0, mirror):
    """The ten mission images on the one geometry, normalised for EfficientNet-Lite0."""
    from explainlab.images import load_samples, mission_sources

    samples, failures = load_samples(mission_sources(), lite0.geometry)
    assert not failures
    return {s.key: s for s in samples}


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module of tiny tensors: on a shared 2-core machine,
    intra-op threads only add contention (use with pytest.mark.usefixtures)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
