"""Explanation methods, one module each; :mod:`explainlab.methods.registry` holds them."""

from explainlab.methods.registry import (
    KINDS,
    OURS,
    MethodSpec,
    Passes,
    check_methods,
    colour_of,
    default_methods,
    get_method,
    method_names,
    methods,
    register,
    title_of,
    unknown_method_message,
    unregister,
)

__all__ = [
    "KINDS",
    "OURS",
    "MethodSpec",
    "Passes",
    "check_methods",
    "colour_of",
    "default_methods",
    "get_method",
    "method_names",
    "methods",
    "register",
    "title_of",
    "unknown_method_message",
    "unregister",
]
