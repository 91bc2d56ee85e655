"""Reading parameter pickles without trusting them, and writing them portably.

Unpickling runs whatever callables the file names, so an untrusted pickle is first read
*statically* (``pickletools``: opcodes are listed, nothing is executed) to list every
global it references; any outside the allow-list refuses the file, all of them named.
Only then is it loaded, by an unpickler whose ``find_class`` admits the same allow-list
(defence in depth: a reference the scan missed is still refused before it is called).

The allow-list: builtin containers and scalars, numpy arrays and scalars, lime's
``SegmentationAlgorithm`` with the three scikit-image functions it wraps, and the
scikit-learn linear regressors lime can fit. Nothing from explainlab: the grader has only
lime, scikit-learn, numpy and the standard library. No ``bytearray``: no parameter needs
one, and ``bytearray(10**10)`` would allocate 10 GB while loading.

What we write (:func:`dumps`) is stricter still: no numpy at all, so that a pickle
written under numpy 2 loads under numpy 1.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
import pickletools
from pathlib import Path
from typing import Any

from explainlab.errors import InputError
from explainlab.lime.params import REGRESSORS, SEGMENTATION_FUNCTIONS

MAX_BYTES = 16 * 1024 * 1024  # parameter pickles are a few kB
PROTOCOL = 4  # Python >= 3.4 reads it; no out-of-band buffers


def _allowed_globals() -> frozenset[tuple[str, str]]:
    allowed = {("builtins", name) for name in ("set", "frozenset", "complex", "object")}
    # Protocols 0-1 rebuild objects through copyreg and encode bytes with _codecs.
    allowed |= {("copyreg", "_reconstructor"), ("_codecs", "encode")}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed |= {(module, "_reconstruct"), (module, "scalar")}
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed.add((module, "_frombuffer"))
    allowed |= {("numpy", "ndarray"), ("numpy", "dtype")}
    allowed.add(("lime.wrappers.scikit_image", "SegmentationAlgorithm"))
    for name, function in SEGMENTATION_FUNCTIONS.items():
        allowed |= {(function.__module__, function.__qualname__), ("skimage.segmentation", name)}
    for name, cls in REGRESSORS.items():
        allowed |= {(cls.__module__, cls.__qualname__), ("sklearn.linear_model", name)}
    return frozenset(allowed)


ALLOWED_GLOBALS = _allowed_globals()


def _python3_name(module: str, name: str) -> tuple[str, str]:
    """Protocols 0-2 write Python 2 names (copy_reg, __builtin__); map them as pickle does."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _allowed(module: str, name: str) -> bool:
    module, name = _python3_name(module, name)
    if (module, name) in ALLOWED_GLOBALS:
        return True
    # numpy's dtype classes (numpy.dtypes.Float64DType ...) appear in some numpy 2 pickles.
    return module == "numpy.dtypes" and name.endswith("DType") and name.isidentifier()


_STRING_OPS = frozenset(
    {
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
        "UNICODE",
        "BINUNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE8",
    }
)
_NO_PUSH = frozenset({"PROTO", "FRAME", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "STOP"})


def referenced_globals(data: bytes) -> list[tuple[str, str]]:
    """Every (module, name) the pickle would import, read from its opcodes without
    executing anything. A reference that cannot be resolved statically is returned as
    ('?', description). Raises InputError if the bytes are not a pickle."""
    found: list[tuple[str, str]] = []
    memo: dict[int, Any] = {}
    recent: list[Any] = []  # what recent opcodes pushed (strings; None for anything else)
    try:
        for opcode, arg, _pos in pickletools.genops(data):
            name = opcode.name
            if name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                found.append((module, attr))
                recent.append(None)
            elif name == "STACK_GLOBAL":
                module, attr = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
                if isinstance(module, str) and isinstance(attr, str):
                    found.append((module, attr))
                else:
                    found.append(("?", "a global whose name is computed at load time"))
                recent.append(None)
            elif name in ("EXT1", "EXT2", "EXT4"):
                found.append(("?", f"copyreg extension code {arg}"))
                recent.append(None)
            elif name in _STRING_OPS:
                recent.append(arg.decode("latin-1") if isinstance(arg, bytes) else arg)
            elif name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = recent[-1] if recent else None
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                recent.append(memo.get(int(arg)))
            elif name not in _NO_PUSH:
                recent.append(None)
            del recent[:-4]
    except Exception as exc:  # pickletools raises ValueError and others on garbage
        raise InputError(
            f"not a valid pickle ({type(exc).__name__}: {exc})",
            hint="export the parameters with 'explainlab lime export'",
        ) from None
    return found


def forbidden_globals(data: bytes) -> list[tuple[str, str]]:
    """The referenced globals outside the allow-list, each once, in order of appearance."""
    return list(dict.fromkeys(g for g in referenced_globals(data) if not _allowed(*g)))


class RefusedGlobal(pickle.UnpicklingError):
    pass


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can only build allowed objects (see the module docstring)."""

    def find_class(self, module: str, name: str) -> Any:
        if not _allowed(module, name):
            raise RefusedGlobal(f"{module}.{name} is not allowed in a parameter pickle")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedGlobal("persistent ids are not allowed in a parameter pickle")


def describe_global(module: str, name: str) -> str:
    if module == "?":
        return name
    if module in ("posix", "nt", "os", "subprocess", "builtins", "sys", "shutil"):
        return f"{module}.{name} (could run commands or change files)"
    if name == "<lambda>" or "<locals>" in name:
        return f"{module}.{name} (a lambda or local function)"
    return f"{module}.{name}"


def loads_untrusted(data: bytes, where: str) -> Any:
    """Load an untrusted parameter pickle; refuse (InputError, nothing executed) any file
    that references a callable or class outside the allow-list, naming all of them."""
    if len(data) > MAX_BYTES:
        raise InputError(
            f"{where}: {len(data)} bytes, far larger than a parameter pickle",
            hint=f"parameter pickles are a few kB; the limit is {MAX_BYTES} bytes",
        )
    try:
        bad = forbidden_globals(data)
    except InputError as exc:
        raise InputError(f"{where}: {exc.message}", hint=exc.hint) from None
    if bad:
        listed = "\n".join(f"  - {describe_global(*g)}" for g in bad)
        raise InputError(
            f"{where}: refused without loading it: the pickle references "
            f"{len(bad)} object(s) outside the allow-list:\n{listed}",
            hint="a parameter pickle may hold only builtins, numpy values, "
            "lime.wrappers.scikit_image.SegmentationAlgorithm and scikit-learn linear "
            "regressors (no functions, lambdas or other classes); re-export it with "
            "'explainlab lime export'",
        )
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except RefusedGlobal as exc:
        raise InputError(f"{where}: refused: {exc}") from None
    except Exception as exc:
        raise InputError(
            f"{where}: cannot be unpickled ({type(exc).__name__}: {exc})",
            hint="re-export it with 'explainlab lime export'",
        ) from None


def read_untrusted(path: str | Path) -> bytes:
    """The bytes of a file given as a parameter pickle: InputError when it is missing,
    unreadable or far too large (checked before reading it)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file", hint="check the path")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(
                f"{path}: {size} bytes, far larger than a parameter pickle",
                hint=f"parameter pickles are a few kB; the limit is {MAX_BYTES} bytes",
            )
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def load_untrusted(path: str | Path) -> Any:
    return loads_untrusted(read_untrusted(path), str(path))


def numpy_globals(data: bytes) -> list[tuple[str, str]]:
    """The numpy names a pickle references (a pickle of numpy 2 objects names
    ``numpy._core``, which numpy 1 cannot import)."""
    return [g for g in referenced_globals(data) if g[0].split(".")[0] == "numpy"]


def dumps(obj: Any) -> bytes:
    """Pickle ``obj``; prove the result is loadable by the restricted unpickler and
    holds no numpy (loadable under numpy 1 and 2)."""
    data = pickle.dumps(obj, protocol=PROTOCOL)
    bad = forbidden_globals(data) + numpy_globals(data)
    if bad:  # a bug on our side: the export must only ever write portable objects
        raise ValueError(f"refusing to write a pickle referencing {bad}")
    return data
