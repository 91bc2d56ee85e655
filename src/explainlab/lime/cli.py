"""``explainlab lime``: explanations, and the parameter pickle's
export/validate/submit/score/tune/calibrate."""

from __future__ import annotations

import argparse

from explainlab.cli_common import (
    add_device_arg,
    add_force_arg,
    add_images_arg,
    add_out_arg,
    add_package_actions,
    add_settings,
    report_failures,
    run_image_stage,
    settings_from,
    writes_into,
)
from explainlab.lime.settings import LimeSettings


def _add_run_args(p: argparse.ArgumentParser) -> None:
    add_images_arg(p)
    add_settings(p, LimeSettings)
    add_force_arg(p)
    add_device_arg(p)
    add_out_arg(p)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "lime",
        help="LIME explanations, the parameter pickle, scoreboard and tuner",
        description="Without an action: explain the chosen images with lime's LimeImageExplainer "
        "on each model's crop (segments, weights, mask, figures, timings under <out>/lime/). "
        "Actions: run (the same), export, validate, submit, score, tune, calibrate.",
    )
    _add_run_args(p)
    p.set_defaults(handler=_dispatch)
    writes_into(p, lambda args: args.out)
    actions = p.add_subparsers(dest="lime_action", metavar="ACTION")
    _register_run(actions)
    add_package_actions("lime", actions)  # the assignment's export, validate, submit, ...


def _register_run(actions: argparse._SubParsersAction) -> None:
    run = actions.add_parser(
        "run",
        help="explain the chosen images (the default action)",
        description="Explain the chosen images with LIME; writes "
        "<out>/lime/<key>/{segments.npy,weights.json,mask.npy,item.json,*.png}, "
        "timings.csv and the parameter pickle of the ten mission images.",
    )
    _add_run_args(run)
    run.set_defaults(lime_handler=_handle_run)
    writes_into(run, lambda args: args.out)


def _dispatch(args: argparse.Namespace) -> int:
    handler = getattr(args, "lime_handler", None) or _handle_run
    return handler(args)


def lime_settings(args: argparse.Namespace) -> LimeSettings:
    return settings_from(args, LimeSettings)


def _handle_run(args: argparse.Namespace) -> int:
    from explainlab.lime.run import output_lines, run_lime, summary_lines

    outcome = run_image_stage(
        args, run_lime, lime_settings(args), "same settings, parameters and images"
    )
    print("\n".join(summary_lines(outcome)))
    print(
        f"\nper image: {outcome.folder}/<image>/; tables: timings.csv, explanations.csv"
        + "".join(f"; {line}" for line in output_lines(outcome.folder))
    )
    return report_failures(outcome.failures)
