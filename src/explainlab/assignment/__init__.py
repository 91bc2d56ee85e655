"""The assignment: the ten images' configs, the grader's emulation, the LIME parameter
pickle (export, validate, submit), the local scoreboard, the cost model, the tuner and
its calibration, reports 1-4 and the submission bundle.

A package of explainlab (entry point ``explainlab.packages``): importing it registers
with the core what it adds, all named as ``"module:function"`` so that nothing here loads
torch: its stages (tune before lime, scoreboard after it, the reports at the end), their
config tables, its configs folder, its commands and ``explainlab lime`` actions, the
tuned parameter file ``[lime] params = "tuned"``, the parameter pickle the lime stage
writes and the pickle's section of the viewer."""

from __future__ import annotations

from explainlab import cli_common, config, configs
from explainlab.assignment.settings import TUNED, ScoreboardSettings, TuneSettings
from explainlab.lime import settings as lime_settings
from explainlab.stages import StageSpec, register_stage
from explainlab.view.sections import register_section

register_stage(
    StageSpec(
        name="tune",
        folder="lime_tune",
        table="tune",
        runner="explainlab.assignment.tune.stage:run_stage",
        estimate="explainlab.assignment.tune.stage:estimate",
        reads=(),
        about="search LIME parameters per image for IoU against time",
        model="tune",
        stands_in=True,
    ),
    after="cam",
)
register_stage(
    StageSpec(
        name="scoreboard",
        folder="lime_score",
        table="scoreboard",
        runner="explainlab.assignment.scoreboard:run_stage",
        estimate="explainlab.assignment.scoreboard:estimate",
        reads=(),
        about="score the run's LIME parameters (and lime's defaults) as the grader would",
        reads_of="explainlab.lime.settings:param_reads",  # the run's tuned parameters
        model="lime",
    ),
    after="lime",
)
register_stage(
    StageSpec(
        name="report",
        folder="reports",
        table=None,
        runner="explainlab.assignment.report.stage:run_stage",
        estimate=None,
        reads=("dissect", "cam", "lime", "scoreboard", "compare"),
        about="the PDF reports, built from the run's own numbers",
        reads_required=False,  # built from whichever results are there
    ),
    after="compare",
)
config.register_table("tune", TuneSettings)
config.register_table("scoreboard", ScoreboardSettings)
configs.register_folder("explainlab.assignment.configs")
lime_settings.register_param_source(TUNED, lime_settings.ParamSource("tune", "params.json"))
lime_settings.register_output(
    "explainlab.assignment.export:write_run_pickle",
    "parameter pickle: {folder}/params.pkl (+ params.json)",
)
cli_common.register_command("explainlab.assignment.report.cli")
cli_common.register_command("explainlab.assignment.bundle_cli")
cli_common.register_actions("lime", "explainlab.assignment.cli:register_actions")
register_section("explainlab.assignment.view:lime_pickle_section")
