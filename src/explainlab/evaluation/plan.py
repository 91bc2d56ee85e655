"""What an evaluation computes (:class:`Plan`): the methods, the measures and their
options, the batch size, the class explained, the seed. A plain JSON-able record: it is
the fingerprint of every shard (a shard made with another plan is recomputed) and what
a scheduler sends to the processes that run the shards. Imports no torch."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from explainlab.errors import ConfigError
from explainlab.settings import DEFAULT_MAX_PIXELS

# The measures an evaluation computes: those that take a batch and give one value per image.
KINDS = ("model", "explainer", "map-only", "map-region")
TARGETS = ("predicted", "label")  # the class explained: the model's top-1, or the true one


@dataclass(frozen=True, kw_only=True)
class Plan:
    methods: tuple[str, ...]
    measures: tuple[str, ...]
    batch_size: int = 16
    target: str = "predicted"  # "label": the true class where the input gives it
    layer: str | None = None  # the CAM target layer (default: the model's)
    impl: str = "fast"
    seed: int = 0  # of the measures' random draws, and of the bootstrap
    # measure -> its keyword arguments (``{"road_morf": {"percentiles": [30, 70]}}``)
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    attributions: Mapping[str, Any] = field(default_factory=dict)  # AttributionSettings fields
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        object.__setattr__(self, "methods", tuple(dict.fromkeys(self.methods)))
        object.__setattr__(self, "measures", tuple(dict.fromkeys(self.measures)))
        try:
            self._check()
        except ValueError as exc:  # the registries' unknown names among them
            raise ConfigError(str(exc)) from None

    def _check(self) -> None:
        from explainlab.measures import get_measure
        from explainlab.methods import get_method

        if not self.methods:
            raise ValueError("an evaluation needs at least one method")
        for name in self.methods:
            get_method(name)
        for name in self.measures:
            spec = get_measure(name)
            if spec.compares not in KINDS:
                raise ValueError(
                    f"measure {name!r} compares {spec.compares}: an evaluation takes the "
                    f"measures of a batch ({', '.join(KINDS)})"
                )
        unknown = set(self.options) - set(self.measures)
        if unknown:
            raise ValueError(f"options for measures not evaluated: {', '.join(sorted(unknown))}")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["options"] = {k: dict(v) for k, v in self.options.items()}
        data["attributions"] = dict(self.attributions)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            **{
                **data,
                "methods": tuple(data["methods"]),
                "measures": tuple(data["measures"]),
            }
        )

    def measures_of(self, kinds: Sequence[str]) -> tuple[str, ...]:
        from explainlab.measures import get_measure

        return tuple(m for m in self.measures if get_measure(m).compares in kinds)
