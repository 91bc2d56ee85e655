"""LIME: explanations on the one geometry, the parameter pickle, a local scoreboard, a tuner.

Inside this package ``lime`` always means the third-party library (absolute imports:
``from lime import lime_image``); our own modules are ``explainlab.lime.*``."""
