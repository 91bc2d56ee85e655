"""The dissection stage end to end, without downloads.

Known answer: probe images hold known concepts (a bright blob in one cell of a 4x4 grid
per concept), a synthetic CLIP embeds an image as the sum of the known embeddings of
the concepts it holds and a word as its concept's embedding, and a target network's
units are planted to respond to known concepts. The pipeline must recover the planted
labels (at least 95% of units)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

from explainlab.dissect.activations import TargetModel
from explainlab.dissect.analysis import analyze_run
from explainlab.dissect.run import run_dissect
from explainlab.dissect.settings import DissectSettings
from explainlab.errors import UnknownNameError
from explainlab.images import IMAGENET_GEOMETRY
from explainlab.models import weights_sha256

GRID = 4
N_CONCEPTS = GRID * GRID
WORDS = [f"concept{k:02d}" for k in range(N_CONCEPTS)]
DISTRACTORS = ["volcano", "violin", "harbor", "velvet", "lantern", "meadow", "anvil", "comet"]
DIM = 32


class SyntheticClip:
    """Image embedding = background + sum of the embeddings of the concepts present (a
    cell is 'present' when its blob is bright); word embedding = its concept's row."""

    def __init__(self) -> None:
        q, _ = torch.linalg.qr(torch.randn(DIM, DIM, generator=torch.Generator().manual_seed(0)))
        self.concepts = q[:N_CONCEPTS]  # orthonormal rows
        self.distractors = q[N_CONCEPTS : N_CONCEPTS + len(DISTRACTORS)]
        self.background = q[-1]
        self.identity = {"synthetic": "grid-clip", "dim": DIM}
        self.note = "synthetic CLIP (test)"
        self.images_seen = 0

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return torchvision.transforms.functional.to_tensor(image.resize((224, 224)))

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        self.images_seen += len(batch)
        presence = _cell_presence(batch)
        return self.background + presence @ self.concepts

    def encode_texts(self, words) -> torch.Tensor:
        table = dict(zip(WORDS, self.concepts, strict=True))
        table |= dict(zip(DISTRACTORS, self.distractors, strict=True))
        return torch.stack([table[w] for w in words])


def _cell_presence(batch: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> (N, 16): 0 for a cell of background (grey 0.2), 1 for a
    cell holding its blob (about a quarter to a third of the cell at 0.9)."""
    cells = nn.functional.adaptive_avg_pool2d(batch.mean(dim=1, keepdim=True), GRID)
    return ((cells - 0.2) / 0.15).clamp(0.0, 1.0).flatten(1)


class _Units(nn.Module):
    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, presence: torch.Tensor) -> torch.Tensor:
        # 4-D like a conv layer: (N, units, 2, 2), the same value at each position
        return (presence @ self.weight.T)[:, :, None, None].expand(-1, -1, 2, 2)


class PlantedNet(nn.Module):
    """Units of ``layer_a`` / ``layer_b`` respond to the concepts ``plant_a`` / ``plant_b``
    (weight 1), with small random weights on the other concepts."""

    def __init__(self, plant_a: list[int], plant_b: list[int], seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.layer_a = _Units(self._weights(plant_a, g))
        self.layer_b = _Units(self._weights(plant_b, g))
        self.head = nn.Linear(len(plant_b), 3)
        with torch.no_grad():
            self.head.weight.copy_(torch.rand(self.head.weight.shape, generator=g))
            self.head.bias.zero_()

    @staticmethod
    def _weights(plant: list[int], g: torch.Generator) -> torch.Tensor:
        w = 0.1 * torch.rand(len(plant), N_CONCEPTS, generator=g)
        w[torch.arange(len(plant)), torch.tensor(plant)] = 1.0
        return w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(IMAGENET_GEOMETRY.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_GEOMETRY.std, device=x.device).view(1, 3, 1, 1)
        presence = _cell_presence(x * std + mean)  # back to [0, 1] pixels
        self.layer_a(presence)
        return self.head(self.layer_b(presence).mean(dim=(2, 3)))


def write_probe_images(folder: Path, n: int, seed: int = 0) -> np.ndarray:
    """``n`` 64x64 PNGs; concept k present (a bright blob in the centre of cell k) with
    probability 0.3. Returns the presence matrix (n x 16)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    present = rng.random((n, N_CONCEPTS)) < 0.3
    cell = 64 // GRID
    for i in range(n):
        image = rng.normal(0.2, 0.04, (64, 64, 3))
        for k in np.flatnonzero(present[i]):
            r, c = divmod(k, GRID)
            top, left = r * cell + cell // 4, c * cell + cell // 4
            image[top : top + cell // 2, left : left + cell // 2] = rng.uniform(0.8, 1.0)
        Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(
            folder / f"p{i:04d}.png"
        )
    return present


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def probe_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("probe") / "images"
    write_probe_images(folder, 240)
    return folder


@pytest.fixture(scope="module")
def concept_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("concepts") / "grid.txt"
    path.write_text("\n".join(WORDS[:8] + DISTRACTORS[:4] + WORDS[8:] + DISTRACTORS[4:]) + "\n\n")
    return path


def _planted(seed: int = 0):
    # every concept is some unit's in each layer: a concept that no unit has would, by
    # the PMI's design (lam = 1), go to the unit that has most of it
    rng = np.random.default_rng(seed)
    plant_a = rng.permutation(N_CONCEPTS).tolist() + rng.integers(0, N_CONCEPTS, 8).tolist()
    plant_b = rng.permutation(N_CONCEPTS).tolist() * 2
    return plant_a, plant_b


def _settings(probe_folder, concept_file, tmp_path, **kw) -> DissectSettings:
    base = dict(
        models=("planted",),
        layers=("layer_a", "layer_b"),
        probe=(str(probe_folder),),
        concept_set=str(concept_file),
        batch_size=32,
        num_workers=0,
        shard_size=100,
        cache_dir=str(tmp_path / "cache"),
    )
    return DissectSettings(**(base | kw))


def _target(plant_a, plant_b, seed=0) -> TargetModel:
    return TargetModel(
        name="planted", module=PlantedNet(plant_a, plant_b, seed).eval(), weights="planted"
    )


def test_known_answer_recovers_planted_labels(probe_folder, concept_file, tmp_path, wordnet):
    plant_a, plant_b = _planted()
    settings = _settings(probe_folder, concept_file, tmp_path)
    encoder = SyntheticClip()
    outcome = run_dissect(
        settings, tmp_path / "run", targets={"planted": _target(plant_a, plant_b)}, encoder=encoder
    )
    folder = outcome.folders["planted"]
    assert folder == tmp_path / "run" / "dissect" / "planted"
    table = pd.read_csv(folder / "descriptions.csv")
    assert list(table.columns) == ["layer", "unit", "description", "similarity"]
    assert table.groupby("layer")["unit"].apply(list).to_dict() == {
        "layer_a": list(range(24)),
        "layer_b": list(range(32)),
    }
    planted = [WORDS[k] for k in plant_a + plant_b]
    recovered = np.mean(table["description"].to_numpy() == np.array(planted))
    assert recovered >= 0.95, f"recovered {recovered:.0%} of planted labels"

    top = pd.read_csv(folder / "top_concepts.csv")
    assert len(top) == 5 * len(table)
    first = top[top["rank"] == 1].reset_index(drop=True)
    assert (first["concept"] == table["description"]).all()
    assert np.allclose(first["similarity"], table["similarity"])
    assert (
        top.groupby(["layer", "unit"])["similarity"].apply(lambda s: s.is_monotonic_decreasing)
    ).all()

    images = pd.read_csv(folder / "top_images.csv")
    probe = pd.read_csv(folder / "probe_images.csv")
    assert len(probe) == 240 and len(images) == 10 * len(table)
    # a unit's top images contain its planted concept
    present = write_probe_images(tmp_path / "again", 240)  # same seed: same presence
    unit0 = images[(images.layer == "layer_b") & (images.unit == 0)]["probe_index"]
    assert present[unit0.to_numpy(), plant_b[0]].all()

    # the analysis of our own output, with montages of the top images
    analysis = analyze_run(tmp_path / "run")
    assert len(analysis.montages) == 4 and all(p.is_file() for p in analysis.montages)
    assert "montage_planted_concept" in analysis.montages[0].name

    args = json.loads((folder / "args.json").read_text())
    assert args["similarity"]["name"] == "soft_wpmi"
    assert args["similarity"]["params"]["top_k"] == 100
    assert args["probe"]["images"] == 240 and args["concept_set"]["concepts"] == 24
    assert args["weights_sha256"] == weights_sha256(_target(plant_a, plant_b).module)


@pytest.mark.parametrize(
    ("similarity", "params"),
    [
        ("wpmi", {}),
        ("cos_similarity", {}),
        ("cos_similarity_cubed", {}),
        # here a unit's top 20% of images all hold its concept, which leaves rank_reorder
        # nothing to rank by; half of the images include ones without it
        ("rank_reorder", {"top_fraction": 0.5}),
    ],
)
def test_other_similarities_recover_planted_labels(
    similarity, params, probe_folder, concept_file, tmp_path
):
    plant_a, plant_b = _planted()
    settings = _settings(
        probe_folder, concept_file, tmp_path, similarity=similarity, similarity_params=params
    )
    outcome = run_dissect(
        settings,
        tmp_path / "run",
        targets={"planted": _target(plant_a, plant_b)},
        encoder=SyntheticClip(),
    )
    table = pd.read_csv(outcome.folders["planted"] / "descriptions.csv")
    planted = [WORDS[k] for k in plant_a + plant_b]
    assert np.mean(table["description"].to_numpy() == np.array(planted)) >= 0.9


def test_cache_reuse_resume_and_keys(probe_folder, concept_file, tmp_path):
    plant_a, plant_b = _planted()
    settings = _settings(probe_folder, concept_file, tmp_path, probe_limit=150, seed=3)
    encoder = SyntheticClip()
    target = _target(plant_a, plant_b)
    calls = {"n": 0}
    target.module.register_forward_pre_hook(lambda *_: calls.__setitem__("n", calls["n"] + 1))
    first = run_dissect(settings, tmp_path / "run", targets={"planted": target}, encoder=encoder)
    assert encoder.images_seen == 150 and calls["n"] > 0
    descriptions = (first.folders["planted"] / "descriptions.csv").read_text()

    # the same settings: the stage is complete, nothing is recomputed
    calls["n"] = 0
    again = run_dissect(settings, tmp_path / "run", targets={"planted": target}, encoder=encoder)
    assert again.skipped == ["planted"] and calls["n"] == 0 and encoder.images_seen == 150

    # another run folder: features and activations come from the cache
    other = run_dissect(settings, tmp_path / "run2", targets={"planted": target}, encoder=encoder)
    assert calls["n"] == 0 and encoder.images_seen == 150
    assert (other.folders["planted"] / "descriptions.csv").read_text() == descriptions

    # new weights (same architecture and name): the activations are recomputed
    changed = _target(plant_a, plant_b, seed=1)
    run_dissect(settings, tmp_path / "run3", targets={"planted": changed}, encoder=encoder)
    assert encoder.images_seen == 150  # CLIP features are still reused

    # another subset: everything depending on the images is recomputed
    other_subset = _settings(probe_folder, concept_file, tmp_path, probe_limit=150, seed=4)
    run_dissect(other_subset, tmp_path / "run4", targets={"planted": target}, encoder=encoder)
    assert encoder.images_seen == 300


def test_interrupted_pass_resumes_from_its_shards(probe_folder, concept_file, tmp_path):
    plant_a, plant_b = _planted()
    settings = _settings(probe_folder, concept_file, tmp_path, shard_size=64)

    class Interrupting(SyntheticClip):
        def encode_images(self, batch):
            if self.images_seen >= 128:
                raise KeyboardInterrupt
            return super().encode_images(batch)

    broken = Interrupting()
    with pytest.raises(KeyboardInterrupt):
        run_dissect(
            settings,
            tmp_path / "run",
            targets={"planted": _target(plant_a, plant_b)},
            encoder=broken,
        )
    assert not (tmp_path / "run" / "dissect" / "planted").exists()  # nothing half-written
    encoder = SyntheticClip()
    outcome = run_dissect(
        settings, tmp_path / "run", targets={"planted": _target(plant_a, plant_b)}, encoder=encoder
    )
    assert encoder.images_seen == 240 - 128  # the two finished shards were kept
    assert len(pd.read_csv(outcome.folders["planted"] / "descriptions.csv")) == 56


def test_bad_probe_images_are_reported_and_left_out(concept_file, tmp_path):
    folder = tmp_path / "probe"
    write_probe_images(folder, 120, seed=1)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "empty.jpg").write_bytes(b"")
    plant_a, plant_b = _planted()
    settings = _settings(folder, concept_file, tmp_path, similarity_params={"top_k": 50})
    outcome = run_dissect(
        settings,
        tmp_path / "run",
        targets={"planted": _target(plant_a, plant_b)},
        encoder=SyntheticClip(),
    )
    assert sorted(f.key for f in outcome.failures) == ["broken.png", "empty.jpg"]
    assert any("empty" in f.error for f in outcome.failures)
    args = json.loads((outcome.folders["planted"] / "args.json").read_text())
    assert args["probe"] == {**args["probe"], "images": 122, "used": 120}
    top = pd.read_csv(outcome.folders["planted"] / "top_images.csv")
    probe = pd.read_csv(outcome.folders["planted"] / "probe_images.csv")
    bad = set(probe[probe.path.str.contains("broken|empty")]["probe_index"])
    assert not bad & set(top["probe_index"])


def test_unknown_layer_is_a_clear_error(probe_folder, concept_file, tmp_path):
    settings = _settings(probe_folder, concept_file, tmp_path, layers=("layer_a", "layer9"))
    with pytest.raises(UnknownNameError, match=r"no child 'layer9'.*|children there"):
        run_dissect(
            settings,
            tmp_path / "run",
            targets={"planted": _target(*_planted())},
            encoder=SyntheticClip(),
        )
    assert not (tmp_path / "run" / "dissect" / "planted").exists()


def test_dissection_through_the_python_api(probe_folder, concept_file, monkeypatch, tmp_path):
    """xl.dissect_model on one's own module (the planted one, wrapped: the known answer)
    and on a random-weight torchvision model, with the synthetic CLIP."""
    import explainlab as xl

    monkeypatch.setenv("EXPLAINLAB_CACHE", str(tmp_path / "cache"))
    plant_a, plant_b = _planted()
    planted = xl.wrap(PlantedNet(plant_a, plant_b), classes=["a", "b", "c"], name="planted")
    units = xl.dissect_model(
        planted,
        layers=["layer_a", "layer_b"],
        probe=probe_folder,
        concepts=concept_file,
        encoder=SyntheticClip(),
    )
    recovered = np.mean(
        units.labels["description"].to_numpy() == np.array([WORDS[k] for k in plant_a + plant_b])
    )
    assert recovered >= 0.95 and units.args["model"] == "planted"
    random = xl.load_model("torchvision:resnet18:none", "cpu")
    units = xl.dissect_model(
        random,
        layers=["layer4"],
        probe=probe_folder,
        concepts=concept_file,
        encoder=SyntheticClip(),
    )
    assert len(units.labels) == 512 and set(units.labels["description"]) <= set(WORDS + DISTRACTORS)
    assert units.save(tmp_path / "saved").joinpath("descriptions.csv").is_file()


class _Colours(nn.Module):
    """Two units on a 7x7 grid: unit 0 is how red each cell is, unit 1 how green."""

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        r, g, b = pixels.unbind(dim=1)
        colours = torch.stack([r - (g + b) / 2, g - (r + b) / 2], dim=1).clamp(min=0)
        return nn.functional.adaptive_avg_pool2d(colours, 7)


class ColourNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.colours = _Colours()
        self.head = nn.Linear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(IMAGENET_GEOMETRY.mean).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_GEOMETRY.std).view(1, 3, 1, 1)
        return self.head(self.colours(x * std + mean).mean(dim=(2, 3)))


def test_each_units_map_on_its_top_images_shows_where_it_fires(concept_file, tmp_path):
    """Known answer: red squares in the top-left corner, green ones bottom-right; the red
    unit's maps peak top-left, and the viewer dims its thumbnails outside the square."""
    from explainlab.view import dissection, thumbs

    folder = tmp_path / "probe"
    folder.mkdir()
    for i in range(8):
        image = np.full((64, 64, 3), 128, dtype=np.uint8)
        square = (slice(8, 28), slice(8, 28)) if i < 4 else (slice(36, 56), slice(36, 56))
        image[square] = (230, 20, 20) if i < 4 else (20, 230, 20)
        image[square][..., 0 if i < 4 else 1] -= 10 * i  # distinct activations
        Image.fromarray(image).save(folder / f"{i}.png")
    settings = _settings(
        folder,
        concept_file,
        tmp_path,
        layers=("colours",),
        top_images=3,
        similarity="cos_similarity",
    )
    target = TargetModel(name="colours", module=ColourNet().eval(), weights="planted")
    outcome = run_dissect(
        settings, tmp_path / "run", targets={"colours": target}, encoder=SyntheticClip()
    )
    model = outcome.folders["colours"]
    with np.load(model / "top_maps.npz") as npz:
        assert npz.files == ["colours"]
        maps = npz["colours"]
    assert maps.shape == (2, 3, 7, 7) and maps.dtype == np.float16
    top = pd.read_csv(model / "top_images.csv")
    assert top[top.unit == 0].probe_index.tolist() == [0, 1, 2]  # the reddest first
    for rank in range(3):
        # 64 px resized to 256 and cropped to 224: the square is crop pixels 16-96 of 224
        # (the map's cells are 32 px: the square fills cells 1-2, half of cell 0, each way)
        red = maps[0, rank].astype(np.float32)
        row, col = np.unravel_index(red.argmax(), red.shape)
        assert row in (1, 2) and col in (1, 2)
        assert red[:3, :3].min() > 0 and max(red[4:].max(), red[:, 4:].max()) == 0
        green = maps[1, rank].astype(np.float32)
        assert green.argmax() // 7 >= 4 and green[:3, :3].max() == 0

    found = dissection.collect(tmp_path / "run", tmp_path / "view")
    units = {u[2]: u for u in found["units"]}
    assert units[0][found["columns"].index("region")] is True
    first = units[0][-1][0]
    with Image.open(tmp_path / "view" / first) as image:
        assert image.size == (thumbs.PROBE_PX, thumbs.PROBE_PX)
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    # the square in the thumbnail: crop pixels 16-96 of 224, thumbnail pixels about 5-27
    assert pixels[14, 14, 0] > 180  # inside the region: the red as it is
    assert pixels[50, 50].max() < 0.3 * 128 + 15  # outside: grey dimmed
    assert pixels[40, 10].max() < 0.3 * 128 + 15
