"""Explanation methods, one module each; :mod:`explainlab.methods.registry` holds them."""

from explainlab.methods.registry import (
    KINDS,
    MethodSpec,
    Passes,
    check_methods,
    get_method,
    method_names,
    methods,
    register,
    unregister,
)

__all__ = [
    "KINDS",
    "MethodSpec",
    "Passes",
    "check_methods",
    "get_method",
    "method_names",
    "methods",
    "register",
    "unregister",
]
