"""``explainlab dissect run`` end to end on the ten images (random CLIP and ResNet
weights, labelled as such), and the ``[dissect]`` table of a run config."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from explainlab.cli import main
from explainlab.config import load_config
from explainlab.errors import ConfigError


def test_cli_dissect_run_with_random_weights(tmp_path, mirror, torch_home, capsys):
    concepts = tmp_path / "words.txt"
    concepts.write_text("fish\nbird\ncar\nfruit\ndog\n")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        status = main(
            [
                "dissect", "run", "--models", "resnet18", "--layers", "layer3", "layer4",
                "--probe", str(mirror / "imagenet-samples"), "--concept-set", str(concepts),
                "--clip-pretrained", "none", "--param", "top_k=4", "--workers", "0",
                "--allow-random-weights", "--cache-dir", str(tmp_path / "cache"),
                "--out", str(tmp_path / "run"), "--device", "cpu",
            ]
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "weights unavailable, dissecting random weights instead" in out
    folder = tmp_path / "run" / "dissect" / "resnet18"
    table = pd.read_csv(folder / "descriptions.csv")
    assert table.groupby("layer").size().to_dict() == {"layer3": 256, "layer4": 512}
    args = json.loads((folder / "args.json").read_text())
    assert args["random_weights"] and args["similarity"]["params"]["top_k"] == 4
    summary = (tmp_path / "run" / "dissect" / "analysis" / "summary.md").read_text()
    assert "random weights" in summary and "RANDOM" in summary  # said in the analysis too
    assert list((tmp_path / "run" / "dissect" / "analysis").glob("montage_resnet18_*.png"))


def test_cli_rejects_bad_parameters(capsys):
    assert main(["dissect", "run", "--param", "top_k"]) == 2
    assert "expected NAME=NUMBER" in capsys.readouterr().err
    assert main(["dissect", "run", "--param", "lam=2", "--similarity", "cos_similarity"]) == 2
    assert "unknown for cos_similarity" in capsys.readouterr().err


def test_dissect_table_of_a_run_config(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        '[run]\nname = "x"\n[dissect]\nmodels = ["resnet18"]\nlayers = ["layer4", "fc"]\n'
        'probe_limit = 2000\nsimilarity = "wpmi"\nsimilarity_params = { top_k = 20 }\n'
    )
    config = load_config(path)
    assert config.dissect.layers == ("layer4", "fc") and config.dissect.probe_limit == 2000
    assert config.dissect.similarity_params == {"top_k": 20}
    path.write_text('[dissect]\npooling = "median"\n')
    with pytest.raises(ConfigError, match="pooling must be one of avg, max"):
        load_config(path)
    path.write_text("[dissect]\nprobe_limitt = 3\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(path)
