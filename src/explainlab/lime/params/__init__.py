"""``explain_instance`` parameters: what lime accepts, their readable (JSON/TOML) form, checks.

Two forms of the same parameters:

* the *object form* is what ``explain_instance(**params)`` receives: builtins (numpy
  scalars too), ``lime.wrappers.scikit_image.SegmentationAlgorithm`` and scikit-learn
  linear regressors; the pickle holds its :func:`portable` version (no numpy);
* the *readable form* is plain JSON/TOML: ``segmentation_fn = {algo_type = "slic",
  n_segments = 50}``, ``model_regressor = {class = "Ridge", alpha = 0.1}``, ``"none"`` (TOML)
  or ``null`` (JSON) for None.

A parameter file holds an optional ``defaults`` table and one table per image key; an
image's parameters are the defaults updated by its own table (one level: a table such as
``segmentation_fn`` replaces the default's, it is not merged). Besides ``explain_instance``
arguments, a table may hold ``mask_num_features`` (K of the mask, not a lime argument: it
never goes into the pickle).

The package: what lime accepts and how the objects are built (``objects``), the checks of
a parameter set (``checks``), the readable form (``readable``) and parameter files
(``files``).
"""

from explainlab.lime.params.checks import (
    Problem,
    check_params,
    check_regressor,
    check_segmentation,
    errors,
    notes,
)
from explainlab.lime.params.files import ParamFile, load_param_file
from explainlab.lime.params.objects import (
    DEFAULTS_TABLE,
    EXTRA_KEYS,
    FORBIDDEN_KEYS,
    LIME_SIGNATURE,
    MODEL_CLASSES,
    REGRESSORS,
    SEGMENTATION_FUNCTIONS,
    builtin,
    complete,
    distance_metrics,
    explain_defaults,
    lacking_here,
    lime_version,
    local_params,
    portable,
    regressor,
    segmentation,
    show,
)
from explainlab.lime.params.readable import from_readable, to_readable

__all__ = [
    "DEFAULTS_TABLE",
    "EXTRA_KEYS",
    "FORBIDDEN_KEYS",
    "LIME_SIGNATURE",
    "MODEL_CLASSES",
    "REGRESSORS",
    "SEGMENTATION_FUNCTIONS",
    "ParamFile",
    "Problem",
    "builtin",
    "check_params",
    "check_regressor",
    "check_segmentation",
    "complete",
    "distance_metrics",
    "errors",
    "explain_defaults",
    "from_readable",
    "lacking_here",
    "lime_version",
    "load_param_file",
    "local_params",
    "notes",
    "portable",
    "regressor",
    "segmentation",
    "show",
    "to_readable",
]
