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


def _runs_folder(folder):
    """Two runs of one model, four units of which units 0 and 2 keep their label."""
    folder.mkdir(parents=True, exist_ok=True)
    for run, words in (("a", ["dog", "dog", "sky", "red"]), ("b", ["dog", "sky", "sky", "sky"])):
        rows = [("layer4", u, w, 0.1 * (u + 1)) for u, w in enumerate(words)]
        pd.DataFrame(rows, columns=["layer", "unit", "description", "similarity"]).to_csv(
            folder / f"net_run_{run}.csv", index=False
        )
    return folder


def test_cli_analyze_several_runs(tmp_path, capsys, wordnet):
    runs = _runs_folder(tmp_path / "runs")
    out = tmp_path / "analysis"
    assert main(["dissect", "analyze", "--runs", str(runs), "--out", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert "## Label stability across runs" in summary
    assert "layer4 2 of 4 units (50%)" in summary
    agreement = pd.read_csv(out / "run_agreement.csv")
    assert agreement[["run_a", "run_b", "same_label_rate"]].values.tolist() == [["a", "b", 0.5]]
    assert (out / "label_stability.png").is_file()
    # a main file with its further run given apart
    other = tmp_path / "analysis2"
    status = main(
        ["dissect", "analyze", str(runs / "net_run_a.csv"), "--runs", str(runs / "net_run_b.csv"),
         "--out", str(other)]
    )  # fmt: skip
    assert status == 0
    assert pd.read_csv(other / "run_agreement.csv").same_label.tolist() == [2]
    capsys.readouterr()


def test_cli_analyze_runs_bad_inputs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["dissect", "analyze", "--runs", str(tmp_path / "empty")]) == 2
    assert "empty: a folder without .csv files" in capsys.readouterr().err
    runs = _runs_folder(tmp_path / "runs")
    pd.DataFrame(
        [("layer4", 0, "dog", 0.1)], columns=["layer", "unit", "description", "similarity"]
    ).to_csv(runs / "net_run_c.csv", index=False)
    assert main(["dissect", "analyze", "--runs", str(runs), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "net_run_c.csv: layer4 labels 4 units in one and 1 in the other" in err
    lone = runs / "net_run_a.csv"
    stray = tmp_path / "other_run_b.csv"
    stray.write_text("layer,unit,description\nlayer4,0,dog\n")
    assert (
        main(["dissect", "analyze", str(lone), "--runs", str(stray), "--out", str(tmp_path / "p")])
        == 2
    )
    assert "a run of other, which none of the files analysed is" in capsys.readouterr().err
