"""Run configuration: strict loading with errors naming the table and key."""

from __future__ import annotations

import pytest

from explainlab.cam.settings import CamSettings
from explainlab.config import load_config
from explainlab.errors import ConfigError


def _write(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_defaults_and_overrides(tmp_path):
    cfg = load_config(
        _write(tmp_path, '[run]\nname = "x"\n[cam]\nmethods = ["gradcam"]\nbatch_size = 8\n')
    )
    assert cfg.run.name == "x" and cfg.cam == CamSettings(methods=("gradcam",), batch_size=8)
    assert cfg.run_dir.as_posix() == "results/x"
    assert cfg.to_dict()["cam"]["methods"] == ["gradcam"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[cam]\nbatchsize = 3\n", "unknown key(s) batchsize"),
        ("[cam]\nbatch_size = '3'\n", "cam: batch_size: expected int"),
        ("[cam]\nbatch_size = 0\n", "batch_size must be at least 1"),
        ("[cam]\nmethods = ['gradcam', 'magic']\n", "unknown method 'magic'"),
        ("[nope]\nx = 1\n", "unknown key(s) nope"),
        ("[run]\nname = '../escape'\n", "plain folder name"),
        ("[run\n", "invalid TOML"),
    ],
)
def test_invalid_configs_are_refused(tmp_path, text, needle):
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, text))
    assert needle in str(err.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.toml")


def test_shipped_configs_load_by_name_and_by_path():
    from explainlab import configs

    assert {"assignment", "offline", "lime_params"} <= set(configs.names())
    by_name = load_config("offline")
    assert by_name.run.name == "offline" and by_name.cam.model == "efficientnet_lite0"
    assert load_config(by_name.source) == by_name  # the same file by its path
    assert load_config("assignment").cam.model == "resnet50"
    with pytest.raises(ConfigError, match="shipped configs: assignment"):
        load_config("no-such-config")


def test_a_file_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "offline").write_text('[run]\nname = "mine"\n')
    assert load_config("offline").run.name == "mine"


def test_run_config_tables_are_the_registered_stages():
    """Every stage with settings reads them from the run config table it declares."""
    import dataclasses

    from explainlab.config import config_class
    from explainlab.stages import STAGES

    tables = {f.name for f in dataclasses.fields(config_class())} - {
        "run",
        "images",
        "models",
        "source",
    }
    assert {s.table for s in STAGES if s.table} == tables


def test_cam_methods_take_the_attributions_with_their_settings_but_not_lime(tmp_path):
    cfg = load_config(
        _write(
            tmp_path,
            '[cam]\nmethods = ["gradcam", "saliency", "rise"]\n'
            "[cam.attributions]\nrise_masks = 64\n",
        )
    )
    assert cfg.cam.methods == ("gradcam", "saliency", "rise")
    assert cfg.cam.attributions.rise_masks == 64 and cfg.cam.attributions.ig_steps == 50
    with pytest.raises(ConfigError, match="LIME is a surrogate method: it runs in its own stage"):
        load_config(_write(tmp_path, '[cam]\nmethods = ["gradcam", "lime"]\n'))
    with pytest.raises(ConfigError, match="cam: attributions: rise_masks must be at least 1"):
        load_config(_write(tmp_path, "[cam.attributions]\nrise_masks = 0\n"))
    compare = load_config(
        _write(tmp_path, '[compare]\ncam_methods = ["saliency"]\nprimary_method = "rise"\n')
    )
    assert compare.compare.cam_methods == ("saliency",)
