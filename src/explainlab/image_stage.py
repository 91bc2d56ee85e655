"""The set-up every stage that explains images shares (cam, lime, tune, scoreboard):
the model, its target class checked, the images on the model's own geometry, the
fingerprint of what changes the numbers, and whether the stage is already up to date.

Images are fingerprinted by content (key, sha256, true class), never by path: the same
images found through another mirror folder, or a run folder copied elsewhere, hit the
cache. ``force`` means the same for every stage: recompute from nothing (the partial
folder of an interrupted run is dropped too)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explainlab import assets, runfolder
from explainlab.errors import UnknownNameError
from explainlab.images import Failure, ImageSource, Sample, load_samples
from explainlab.models import LoadedModel, load_model
from explainlab.settings import DEFAULT_MAX_PIXELS, plain
from explainlab.versions import package_versions


def content_fingerprints(samples: Sequence[Sample]) -> list[list[Any]]:
    """(key, sha256 of the file, true class) per image: what a stage's inputs are."""
    return [[s.key, assets.file_digest(s.path), s.class_id] for s in samples]


def check_target_class(model: LoadedModel, target_class: int | None) -> None:
    if target_class is not None and not 0 <= target_class < len(model.class_names):
        raise UnknownNameError(
            f"target class {target_class} does not exist for {model.name}",
            hint=f"use a class index from 0 to {len(model.class_names) - 1}",
        )


@dataclass(kw_only=True)
class ImageStage:
    model: LoadedModel
    samples: list[Sample]
    failures: list[Failure]
    stage: runfolder.Stage
    up_to_date: bool  # complete with these settings and inputs, and not forced
    fingerprint: dict[str, Any] = field(default_factory=dict)


def open_image_stage(
    folder: str,
    settings: Any,
    sources: Sequence[ImageSource],
    run_dir: Path,
    *,
    model: LoadedModel | None = None,
    device: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    force: bool = False,
    extra: Mapping[str, Any] | None = None,
    packages: Sequence[str] = (),
    on_start: Callable[[], None] | None = None,
) -> ImageStage:
    """Open the stage writing ``<run_dir>/<folder>/`` for ``settings`` (a dataclass with
    ``model`` and optionally ``target_class``) over ``sources``.

    The fingerprint holds the settings, the model and its geometry, the images by
    content, the versions of torch and ``packages``, and ``extra``. ``on_start`` is called when the
    stage has work to do (the pipeline prints its time estimate then)."""
    model = model or load_model(settings.model, device)
    check_target_class(model, getattr(settings, "target_class", None))
    samples, failures = load_samples(sources, model.geometry, max_pixels=max_pixels)
    fingerprint = {
        "settings": plain(settings),
        "model": model.name,
        "geometry": model.geometry.to_dict(),
        "images": content_fingerprints(samples),
        "versions": package_versions("torch", *packages),
        **(extra or {}),
    }
    stage = runfolder.Stage(run_dir, folder, fingerprint, items=[s.key for s in samples])
    if force:
        stage.reset()
    up_to_date = stage.complete and not force
    if not up_to_date and on_start is not None:
        on_start()
    return ImageStage(
        model=model,
        samples=samples,
        failures=failures,
        stage=stage,
        up_to_date=up_to_date,
        fingerprint=fingerprint,
    )
