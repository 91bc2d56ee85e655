"""explainlab: explain what vision classifiers do and check the explanations against each other."""

__version__ = "0.1.0"
