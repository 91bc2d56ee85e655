"""Measures, one function each in the module of their family;
:mod:`explainlab.measures.registry` holds them."""

from explainlab.measures.registry import (
    COMPARES,
    DIRECTIONS,
    MeasureSpec,
    get_measure,
    measure,
    measure_names,
    measures,
    register,
    table_columns,
    unregister,
)

__all__ = [
    "COMPARES",
    "DIRECTIONS",
    "MeasureSpec",
    "get_measure",
    "measure",
    "measure_names",
    "measures",
    "register",
    "table_columns",
    "unregister",
]
