"""The dissection stage: label every unit of the chosen layers with a concept.

Layout, one folder per model (``runfolder.Stage``: resumable, one item per layer)::

    dissect/<model>/descriptions.csv   layer,unit,description,similarity (the published format)
    dissect/<model>/top_concepts.csv   each unit's 5 best concepts with their scores
    dissect/<model>/top_images.csv     each unit's most activating probe images
    dissect/<model>/probe_images.csv   probe_index,path of the probe images used
    dissect/<model>/top_maps.npz       layer -> each unit's map on its top images (regions.py)
    dissect/<model>/args.json          the run's arguments, weights, probe set, notes

CLIP image features are computed once per (probe set, subset, CLIP model) and text
features once per (concept set, CLIP model); activations once per (model, weights
checksum, layer, probe set, subset, pooling); the units' maps on their top images once
per (model, weights checksum, layer, probe set, subset, top images). All are cached (see ``cache.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from explainlab import runfolder
from explainlab.dissect.activations import (
    TargetModel,
    canonical_layers,
    load_target,
    record_activations,
)
from explainlab.dissect.cache import Arrays, FeatureCache
from explainlab.dissect.clip_features import ConceptEncoder, OpenClipEncoder, clip_identity
from explainlab.dissect.concepts import ConceptSet, load_concepts
from explainlab.dissect.describe import describe, top_concepts, top_images
from explainlab.dissect.probes import ProbeSet, probe_loader, resolve_probe
from explainlab.dissect.regions import MAPS_FILE, MODEL_MAPS, top_grid, top_maps
from explainlab.dissect.settings import SIMILARITY_PARAMS, DissectSettings
from explainlab.dissect.similarity import FactoredScores, compute_similarity
from explainlab.errors import InputError
from explainlab.images import Failure
from explainlab.models import resolve_device, weights_sha256
from explainlab.stages import stage_dir
from explainlab.versions import package_versions

# the tables of one model, one row per unit (or unit and rank)
MODEL_TABLES = ("descriptions.csv", "top_concepts.csv", "top_images.csv")

# settings that change no number (only speed or memory) stay out of the fingerprints
_SPEED_ONLY = ("models", "batch_size", "num_workers", "shard_size", "memory_mb", "cache_dir")


@dataclass
class DissectOutcome:
    folders: dict[str, Path] = field(default_factory=dict)  # model -> dissect/<model>
    failures: list[Failure] = field(default_factory=list)  # probe images that could not be read
    skipped: list[str] = field(default_factory=list)  # models already complete
    notes: list[str] = field(default_factory=list)  # random weights and other caveats


def _numbers_settings(settings: DissectSettings) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(settings).items() if k not in _SPEED_ONLY}


class _Features:
    """CLIP features and activations through the cache; CLIP is loaded only if needed."""

    def __init__(
        self,
        settings: DissectSettings,
        probe: ProbeSet,
        concepts: ConceptSet,
        encoder: ConceptEncoder | None,
        device: torch.device,
    ) -> None:
        self.settings, self.probe, self.concepts, self.device = settings, probe, concepts, device
        self.cache = FeatureCache(settings.cache_dir or None)
        self._encoder = encoder
        self.clip_id = (
            encoder.identity
            if encoder is not None
            else clip_identity(
                settings.clip_model,
                settings.clip_pretrained,
                settings.seed,
                precision=settings.clip_precision,
                device=device,
            )
        )
        self.clip_note = encoder.note if encoder is not None else ""

    @property
    def encoder(self) -> ConceptEncoder:
        if self._encoder is None:
            s = self.settings
            self._encoder = OpenClipEncoder(
                s.clip_model,
                s.clip_pretrained,
                device=self.device,
                seed=s.seed,
                precision=s.clip_precision,
            )
            self.clip_note = self._encoder.note
        return self._encoder

    def _pass(
        self,
        kind: str,
        about: dict[str, Any],
        run: Callable[[Sequence[Path]], tuple[Arrays, np.ndarray, list[tuple[int, str]]]],
        desc: str,
        extra: Callable[[], dict[str, Any]] = dict,
    ) -> Arrays:
        """A cached, sharded pass over the probe images."""
        key = runfolder.fingerprint(about)
        cached = self.cache.get(kind, key)
        if cached is not None:
            return cached
        paths = self.probe.paths

        def shard(start: int, stop: int) -> Arrays:
            arrays, valid, failures = run(paths[start:stop])
            arrays = dict(arrays)
            arrays["valid"] = valid
            arrays["failed_index"] = np.array([start + i for i, _ in failures], dtype=np.int64)
            arrays["failed_error"] = np.array([e for _, e in failures], dtype=str)
            return arrays

        merged = self.cache.sharded_pass(
            key, len(paths), self.settings.shard_size, shard, desc=desc
        )
        self.cache.put(kind, key, merged, about | extra())
        self.cache.drop_shards(key)
        return merged

    def loader(self, paths: Sequence[Path], transform) -> torch.utils.data.DataLoader:
        s = self.settings
        return probe_loader(paths, transform, batch_size=s.batch_size, num_workers=s.num_workers)

    def image_features(self) -> Arrays:
        about = {"kind": "clip-images", "clip": self.clip_id, "probe": self.probe.identity}

        def run(paths: Sequence[Path]):
            encoder = self.encoder
            feats, valid, failures = [], [], []
            for indices, batch, errors in self.loader(paths, encoder.preprocess):
                feats.append(encoder.encode_images(batch))
                valid.extend(not e for e in errors)
                failures.extend((int(i), e) for i, e in zip(indices, errors, strict=True) if e)
            return {"features": torch.cat(feats).numpy()}, np.array(valid), failures

        arrays = self._pass(
            "clip-images", about, run, "CLIP image features", lambda: {"note": self.clip_note}
        )
        note = (self.cache.describe("clip-images", runfolder.fingerprint(about)) or {}).get("note")
        self.clip_note = self.clip_note or note or ""
        return arrays

    def text_features(self) -> np.ndarray:
        about = {"kind": "clip-texts", "clip": self.clip_id, "concepts": self.concepts.digest}
        key = runfolder.fingerprint(about)
        cached = self.cache.get("clip-texts", key)
        if cached is not None:
            return cached["features"]
        features = self.encoder.encode_texts(self.concepts.words).numpy()
        about |= {"concept_set": self.concepts.name, "note": self.clip_note}
        return self.cache.put("clip-texts", key, {"features": features}, about)["features"]

    def activations(
        self, target: TargetModel, checksum: str, layers: dict[str, str]
    ) -> dict[str, Arrays]:
        """Per canonical layer name: ``activations`` (images x units) and ``valid``."""
        about = {
            name: {
                "kind": "activations",
                "model": target.name,
                "weights_sha256": checksum,
                "layer": canonical,
                "geometry": target.geometry.to_dict(),
                "probe": self.probe.identity,
                "pooling": self.settings.pooling,
            }
            for name, canonical in layers.items()
        }
        found = {
            n: self.cache.get("activations", runfolder.fingerprint(a)) for n, a in about.items()
        }
        missing = [n for n, arrays in found.items() if arrays is None]
        if missing:

            def run(paths: Sequence[Path]):
                acts, valid, failures = record_activations(
                    target,
                    missing,
                    self.loader(paths, target.geometry.transform),
                    self.settings.pooling,
                    desc=f"{target.name} activations",
                )
                return acts, valid, failures

            pass_about = {"kind": "activations-pass", "layers": [about[n] for n in missing]}
            merged = self._pass("activations-pass", pass_about, run, f"{target.name} activations")
            for name in missing:
                arrays = {"activations": merged[name], "valid": merged["valid"]}
                key = runfolder.fingerprint(about[name])
                found[name] = self.cache.put("activations", key, arrays, about[name])
            pass_path = self.cache.path("activations-pass", runfolder.fingerprint(pass_about))
            pass_path.unlink(missing_ok=True)
            pass_path.with_suffix(".json").unlink(missing_ok=True)
        return {layers[n]: arrays for n, arrays in found.items()}  # type: ignore[misc]

    def top_maps(
        self, target: TargetModel, checksum: str, layer: str, top: pd.DataFrame
    ) -> np.ndarray | None:
        """The (units, k, h, w) maps of ``layer``'s units on their top images (``top``, the
        layer's top_images.csv); None for a layer whose output has no spatial map."""
        grid = top_grid(top)
        about = {
            "kind": "top-maps",
            "model": target.name,
            "weights_sha256": checksum,
            "layer": layer,
            "geometry": target.geometry.to_dict(),
            "probe": self.probe.identity,
            "top_images": runfolder.fingerprint(grid),
        }
        key = runfolder.fingerprint(about)
        cached = self.cache.get("top-maps", key)
        if cached is None:
            s = self.settings
            maps = top_maps(
                target,
                {layer: grid},
                self.probe.paths,
                batch_size=s.batch_size,
                num_workers=s.num_workers,
            ).get(layer, np.empty(0, dtype=np.float16))  # none: remembered as empty
            cached = self.cache.put("top-maps", key, {"maps": maps}, about)
        return cached["maps"] if cached["maps"].ndim == 4 else None


def _failures(probe: ProbeSet, arrays: Arrays) -> list[Failure]:
    return [
        Failure(probe.paths[int(i)].name, probe.paths[int(i)], str(e))
        for i, e in zip(arrays["failed_index"], arrays["failed_error"], strict=True)
    ]


def _features(
    settings: DissectSettings, encoder: ConceptEncoder | None, device: torch.device
) -> _Features:
    concepts = load_concepts(settings.concept_set)
    probe = resolve_probe(settings.probe, limit=settings.probe_limit, seed=settings.seed)
    return _Features(settings, probe, concepts, encoder, device)


def run_dissect(
    settings: DissectSettings,
    run_dir: Path,
    *,
    targets: dict[str, TargetModel] | None = None,
    encoder: ConceptEncoder | None = None,
    device: str | torch.device = "auto",
    force: bool = False,
    on_start: Callable[[], None] | None = None,
) -> DissectOutcome:
    """Dissect every model of ``settings`` (or the given ``targets``) under ``run_dir``;
    ``on_start`` is called once, before the first model that is not up to date."""
    dev = resolve_device(device)
    features = _features(settings, encoder, dev)
    outcome = DissectOutcome()
    names = list(targets) if targets else list(settings.models)
    for name in names:
        target = (targets or {}).get(name) or load_target(name, dev)
        target.module.to(dev)
        target.device = dev
        folder = _dissect_model(
            settings, run_dir, target, features, outcome, force=force, on_start=on_start
        )
        on_start = None  # announced once
        outcome.folders[name] = folder
    return outcome


@dataclass(frozen=True, kw_only=True)
class ModelLabels:
    """One model's dissection in memory: what the stage writes to ``dissect/<model>/``."""

    tables: dict[str, pd.DataFrame]  # file name (MODEL_TABLES) -> every layer's rows
    args: dict[str, Any]  # args.json
    failures: list[Failure]  # probe images that could not be read


def label_model(
    settings: DissectSettings,
    target: TargetModel,
    *,
    encoder: ConceptEncoder | None = None,
    device: str | torch.device = "auto",
) -> ModelLabels:
    """The stage's work on one model, computed in memory: the same tables and arguments
    it writes (the feature cache aside), with nothing written to a run folder."""
    dev = resolve_device(device)
    features = _features(settings, encoder, dev)
    target.module.to(dev)
    target.device = dev
    checksum = weights_sha256(target.module)
    evidence = _evidence(target, features, checksum, settings.layers)
    per_layer = [_label_layer(settings, layer, evidence, features) for layer in evidence.layers]
    tables = {
        name: pd.concat([layer[name] for layer in per_layer], ignore_index=True)
        for name in MODEL_TABLES
    }
    notes = _notes(target, features)
    return ModelLabels(
        tables=tables,
        args=_model_args(settings, target, features, checksum, evidence, notes),
        failures=evidence.failures,
    )


@dataclass(frozen=True, kw_only=True)
class _Evidence:
    """What every layer's labels come from: CLIP's scores of the probe images every pass
    could read against the concepts, and each layer's activations."""

    layers: list[str]  # canonical names, in the given order, each once
    scores: FactoredScores
    activations: dict[str, Arrays]  # canonical layer -> activations (all probe images)
    valid: np.ndarray  # the probe images every pass could read
    failures: list[Failure]  # those CLIP could not read


def _evidence(
    target: TargetModel, features: _Features, checksum: str, layers: Sequence[str]
) -> _Evidence:
    named = canonical_layers(target.module, layers)  # unknown names fail here
    images = features.image_features()
    texts = features.text_features()
    acts = features.activations(target, checksum, named)
    valid = images["valid"].astype(bool)
    for arrays in acts.values():
        valid &= arrays["valid"].astype(bool)
    if not valid.any():
        raise InputError(f"none of the {len(features.probe)} probe images could be read")
    return _Evidence(
        layers=list(dict.fromkeys(named.values())),
        scores=FactoredScores(torch.from_numpy(images["features"][valid]), torch.from_numpy(texts)),
        activations=acts,
        valid=valid,
        failures=_failures(features.probe, images),
    )


def _dissect_model(
    settings: DissectSettings,
    run_dir: Path,
    target: TargetModel,
    features: _Features,
    outcome: DissectOutcome,
    *,
    force: bool,
    on_start: Callable[[], None] | None = None,
) -> Path:
    checksum = weights_sha256(target.module)
    layers = canonical_layers(target.module, settings.layers)  # unknown names fail here
    stage = _model_stage(settings, run_dir, target, features, checksum, list(layers.values()))
    if force:
        stage.reset()
    if stage.complete and not force:
        outcome.skipped.append(target.name)
        args = _read_json(stage.final / "args.json")
        outcome.notes.extend(args.get("notes", []))
        return stage.final
    if on_start is not None:
        on_start()

    evidence = _evidence(target, features, checksum, settings.layers)
    outcome.failures.extend(f for f in evidence.failures if f not in outcome.failures)
    for layer in evidence.layers:
        if not stage.has_item(layer):
            with stage.item(layer) as item:
                tables = _label_layer(settings, layer, evidence, features)
                for name, table in tables.items():
                    runfolder.write_csv(item / name, table)
                maps = features.top_maps(target, checksum, layer, tables["top_images.csv"])
                if maps is not None:
                    runfolder.save_npy(item / MAPS_FILE, maps)

    notes = _notes(target, features)
    outcome.notes.extend(n for n in notes if n not in outcome.notes)
    with stage.finishing() as folder:
        # every layer's rows, from the layers' files (a resumed run computed only some)
        for name in MODEL_TABLES:
            frames = [pd.read_csv(folder / layer / name) for layer in evidence.layers]
            runfolder.write_csv(folder / name, pd.concat(frames, ignore_index=True))
        maps = {
            layer: np.load(folder / layer / MAPS_FILE)
            for layer in evidence.layers
            if (folder / layer / MAPS_FILE).is_file()
        }
        if maps:
            runfolder.save_npz(folder / MODEL_MAPS, maps)
        _write_probe_list(folder, features)
        runfolder.write_json(
            folder / "args.json",
            _model_args(settings, target, features, checksum, evidence, notes),
        )
    return stage.final


def _model_stage(
    settings: DissectSettings,
    run_dir: Path,
    target: TargetModel,
    features: _Features,
    checksum: str,
    layers: list[str],
) -> runfolder.Stage:
    """``dissect/<model>/``, fingerprinted by everything that changes its labels."""
    return runfolder.Stage(
        stage_dir(run_dir, "dissect"),
        target.name,
        {
            "settings": _numbers_settings(settings),
            "model": target.name,
            "weights_sha256": checksum,
            "geometry": target.geometry.to_dict(),
            "layers": layers,
            "probe": features.probe.identity,
            "concepts": features.concepts.digest,
            "clip": features.clip_id,
            "versions": package_versions("torch"),
        },
        items=list(dict.fromkeys(layers)),
    )


def _label_layer(
    settings: DissectSettings, layer: str, evidence: _Evidence, features: _Features
) -> dict[str, pd.DataFrame]:
    """One layer's labels, top concepts and top images (file name -> table)."""
    valid = evidence.valid
    activations = torch.from_numpy(evidence.activations[layer]["activations"][valid])
    similarity = compute_similarity(
        settings.similarity,
        evidence.scores,
        activations,
        settings.similarity_params,
        memory_mb=settings.memory_mb,
        seed=settings.seed,
    )
    words = features.concepts.words
    probe_index = np.flatnonzero(valid)
    return {
        "descriptions.csv": describe(layer, similarity, words),
        "top_concepts.csv": top_concepts(layer, similarity, words),
        "top_images.csv": top_images(layer, activations.numpy(), probe_index, settings.top_images),
    }


def _write_probe_list(folder: Path, features: _Features) -> None:
    runfolder.write_csv(
        folder / "probe_images.csv",
        pd.DataFrame(
            {
                "probe_index": np.arange(len(features.probe)),
                "path": [str(p) for p in features.probe.paths],
            }
        ),
    )


def _model_args(
    settings: DissectSettings,
    target: TargetModel,
    features: _Features,
    checksum: str,
    evidence: _Evidence,
    notes: list[str],
) -> dict[str, Any]:
    """``args.json``: the run's arguments, weights, probe set, concepts, CLIP and notes."""
    params = {**SIMILARITY_PARAMS[settings.similarity], **settings.similarity_params}
    return {
        "model": target.name,
        "weights": target.weights,
        "random_weights": target.random_weights,
        "weights_sha256": checksum,
        "geometry": target.geometry.describe(),
        "layers": evidence.layers,
        "settings": dataclasses.asdict(settings),
        "similarity": {"name": settings.similarity, "params": params},
        "probe": {
            "name": features.probe.name,
            "images": len(features.probe),
            "used": int(evidence.valid.sum()),
            "identity": features.probe.identity,
        },
        "concept_set": {
            "name": features.concepts.name,
            "path": str(features.concepts.path),
            "sha256": features.concepts.digest,
            "concepts": len(features.concepts),
        },
        "clip": {"identity": features.clip_id, "note": features.clip_note},
        "notes": notes,
        "versions": package_versions("torch"),
    }


def _notes(target: TargetModel, features: _Features) -> list[str]:
    notes = []
    if target.random_weights:
        notes.append(f"{target.name}: {target.weights}; its labels are not meaningful")
    if "pretrained" in features.clip_id and features.clip_id["pretrained"] is None:
        notes.append(f"CLIP: {features.clip_note or 'random weights'}")
    return notes


def _read_json(path: Path) -> dict[str, Any]:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
