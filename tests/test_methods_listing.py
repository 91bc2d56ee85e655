"""The registry as a table: passes as a formula in the layer's channels, one row per method."""

from __future__ import annotations

from explainlab.methods import MethodSpec, Passes, method_names
from explainlab.methods.listing import markdown, passes_text, plain, rows


def _spec(passes) -> MethodSpec:
    return MethodSpec(
        name="toy",
        title="Toy",
        colour="#123456",
        kind="cam",
        layer=True,
        passes=passes,
        reference="pytorch_grad_cam:GradCAM",
        cost_text="runs once",
    )


def test_passes_are_written_as_a_formula_in_the_channels():
    assert passes_text(_spec(lambda c, impl: Passes(forward=1, backward=1))) == (
        "1 forward + 1 backward"
    )
    assert passes_text(_spec(lambda c, impl: Passes(forward=c))) == "C forward"
    assert passes_text(_spec(lambda c, impl: Passes(forward=2 * c + 1))) == "2C + 1 forward"
    fast_only = _spec(lambda c, impl: Passes(forward=1 if impl == "fast" else c))
    assert passes_text(fast_only, "fast") == "1 forward"
    assert passes_text(fast_only, "library") == "C forward"


def test_every_registered_method_has_one_row_in_each_rendering():
    listed = rows()
    assert [r.name for r in listed] == list(method_names())
    table = markdown().splitlines()
    assert len(table) == 2 + len(listed) and all(line.count("|") == 7 for line in table)
    assert len(plain().splitlines()) == 1 + len(listed)
    ablation = next(r for r in listed if r.name == "ablationcam")
    assert ablation.passes == "C forward" and ablation.fast == "yes (1 forward)"
