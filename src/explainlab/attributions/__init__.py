"""Gradient and perturbation attributions: captum's (a dependency, called, never copied)
and RISE (ours: no library has it), each kept raw and made a map on the crop by one rule.

One job per module: :mod:`.settings` (torch-free: the numbers each method takes and the
passes they cost), :mod:`.captum_methods` (the captum calls), :mod:`.rise`,
:mod:`.maps` (the map rule), :mod:`.unshared` (DeepLift on a model that reuses an
activation module) and :mod:`.compute` (one method on one batch, the model left as it was
found). This package imports nothing heavy itself: the method registry reads
:mod:`.settings` without torch."""
