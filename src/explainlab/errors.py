"""Errors a user can act on: each names the input and says what to do."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


class ExplainlabError(Exception):
    """Base class: a message naming what failed, and an optional hint on what to do."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  what to do: {self.hint}"
        return self.message


class InputError(ExplainlabError):
    """A file given by the user cannot be used (bad image, wrong pickle, missing file)."""


class ConfigError(ExplainlabError):
    """A configuration or parameter file is invalid."""


class UnknownNameError(ExplainlabError):
    """An unknown model, layer, method or concept set was named."""


class AssetError(ExplainlabError):
    """A downloadable file could not be obtained or failed its checksum."""


class MissingAssetsError(AssetError):
    """Files that are neither cached, in the mirror, nor downloadable right now."""

    def __init__(self, missing: list[tuple[str, ...]]) -> None:
        # missing: (file name, url, where to put it[, why it could not be had])
        self.missing = _unique([(*m[:3], m[3] if len(m) > 3 else "") for m in missing])
        lines = [f"{len(self.missing)} required file(s) are not available here:"]
        for filename, url, where, reason in self.missing:
            lines.append(f"  - {filename}\n      from: {url}\n      put it in: {where}")
            if reason:
                lines.append(f"      why: {reason}")
        super().__init__(
            "\n".join(lines),
            hint="connect to the internet and rerun, or copy the files into a folder "
            "and point EXPLAINLAB_MIRROR at it (files are found by name, checksums enforced).",
        )

    @property
    def names(self) -> list[str]:
        return [m[0] for m in self.missing]

    @classmethod
    def combine(cls, errors: list[MissingAssetsError]) -> MissingAssetsError:
        """One error listing every file of several (each once, in order)."""
        return cls([m for e in errors for m in e.missing])


def _unique(rows: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str, str]]:
    seen: dict[str, tuple[str, str, str, str]] = {}
    for row in rows:
        seen.setdefault(row[0], row)
    return list(seen.values())


class WriteError(OSError):
    """An OSError (no space, permission, read-only, I/O error) while writing ``target``:
    the operating system's errno and reason, and what was being written."""

    def __init__(self, cause: OSError, target: object, what: str = "") -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), str(target))
        self.target = target
        self.what = what  # e.g. "item 'kite' of stage cam"
        self.cause_filename = cause.filename  # the file the OS named, if any


def unknown_name(noun: str, name: str, known: Sequence[str]) -> str:
    """ "unknown <noun> 'gradcma' (did you mean gradcam?); known: ..." (registries, the CLI)."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"unknown {noun} {name!r}{hint}; known: {', '.join(known)}"
