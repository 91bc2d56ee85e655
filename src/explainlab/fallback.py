"""What a run needs and cannot have, checked before any work, and its stand-ins.

:func:`preflight` obtains every file the asked stages need (cache, mirror or download),
and the images, and reports what is missing, all of it at once; :func:`stand_in_config` replaces each stage whose model is
missing by the offline configuration's table of that stage (EfficientNet-Lite0 and the
settings sized for it). A missing dissection input is handled by the dissection stage
itself (it analyses published results). Only the asked stages' inputs count."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from explainlab.config import RunConfig
from explainlab.errors import MissingAssetsError
from explainlab.images import resolve_sources
from explainlab.models import require_weights
from explainlab.stages import all_stages, get_stage

OFFLINE_CONFIG = "offline"  # the shipped config (of a package) whose tables are the stand-ins


def stand_in_tables(table: str) -> tuple[str, ...]:
    """The tables that follow model table ``table`` when a stand-in replaces its model:
    those of the stages that explain that model and stand in with it."""
    return tuple(s.table for s in all_stages() if s.model == table and s.stands_in and s.table)


@dataclass
class Preflight:
    """What the asked stages need and cannot have: the images; per model table, the
    missing weights; the dissection's missing inputs."""

    models: dict[str, MissingAssetsError] = field(default_factory=dict)  # table -> error
    dissect: MissingAssetsError | None = None
    images: MissingAssetsError | None = None  # the mission images (no stand-in for them)

    @property
    def missing(self) -> MissingAssetsError | None:
        errors = [e for e in (self.images, *self.models.values(), self.dissect) if e is not None]
        return MissingAssetsError.combine(errors) if errors else None


def preflight(config: RunConfig) -> Preflight:
    """Obtain every file the stages of ``[run] stages`` need, and the images, and report
    what cannot be had."""
    from explainlab.dissect.stage import missing_inputs

    found = Preflight(images=_missing_images(config.images.sources))
    checked: dict[str, MissingAssetsError | None] = {}
    for stage in config.run.stages:
        table = get_stage(stage).model
        if table is None:
            continue
        name = getattr(config, table).model
        if name not in checked:
            own = config.models.get(name)
            try:
                if own is None:
                    require_weights(name)
                else:
                    require_weights(own.file, arch=own.arch or None, classes=own.classes or None)
                checked[name] = None
            except MissingAssetsError as exc:
                checked[name] = exc
        error = checked[name]
        if error is not None:
            found.models[table] = error
    if "dissect" in config.run.stages:
        found.dissect = missing_inputs(config.dissect)
    return found


def _missing_images(specs: tuple[str, ...] | list[str]) -> MissingAssetsError | None:
    """The mission images of ``specs`` that cannot be had (user files are checked when
    loaded, each failure reported with the other inputs still processed)."""
    try:
        resolve_sources(list(specs))
    except MissingAssetsError as exc:
        return exc
    return None


def stand_in_config(config: RunConfig, missing: Preflight, offline: RunConfig) -> RunConfig:
    """The user's config with each table whose model is missing taken from ``offline``
    (with the tables that follow it), and the run renamed ``<name>-stand-in``; stages,
    images and every other table stay the user's."""
    tables = {t for table in missing.models for t in stand_in_tables(table)}
    if not tables:
        return config
    run = dataclasses.replace(config.run, name=f"{config.run.name}-stand-in")
    return dataclasses.replace(config, run=run, **{t: getattr(offline, t) for t in sorted(tables)})


def message(
    asked: RunConfig, config: RunConfig, found: Preflight, offline_name: str
) -> tuple[str, str]:
    """The paragraph printed before the run, and the stand-in statement of the reports
    and the manifest (empty when no model was replaced)."""
    missing = found.missing
    lines = [
        f"The configuration {asked.source or '(given)'} needs files that are not available here.",
        str(missing) if missing else "",
        "Stand-ins for this run:",
    ]
    stand_in = ""
    if found.models:
        replaced = sorted({t for table in found.models for t in stand_in_tables(table)})
        models = sorted({getattr(asked, t).model for t in found.models})
        stand_ins = sorted({getattr(config, t).model for t in found.models})
        files = sorted({name for error in found.models.values() for name in error.names})
        stand_in = (
            f"{', '.join(stand_ins)} stands in for {', '.join(models)}, whose weights are not "
            f"available here ({', '.join(files)}); the [{'], ['.join(replaced)}] settings are "
            f"those of {offline_name}."
        )
        lines.append(f"  - {stand_in} Results go to {config.run_dir}/.")
    if found.dissect is not None:
        lines.append(
            "  - dissection: the reference CLIP-Dissect runs of the two ResNet18s are analysed "
            f"instead of computed here ({', '.join(found.dissect.names)} missing)."
        )
    lines.append(
        "To run the configuration itself, provide these files (connect to the internet, or "
        "put them in a folder named by EXPLAINLAB_MIRROR, or in TORCH_HOME) and rerun; "
        "--strict refuses stand-ins."
    )
    return "\n".join(lines), stand_in
