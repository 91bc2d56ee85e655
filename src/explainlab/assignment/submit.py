"""``explainlab lime submit``: POST a validated parameter pickle to the grading server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from explainlab.assignment.settings import SUBMIT_TIMEOUT, SUBMIT_URL
from explainlab.errors import ExplainlabError


class SubmitError(ExplainlabError):
    """The server could not be reached, did not answer in time, or refused the file."""


def submit(
    path: Path, token: str, *, url: str = SUBMIT_URL, timeout: float = SUBMIT_TIMEOUT
) -> Any:
    """POST ``path`` as multipart field ``file`` with header ``token``; return the JSON reply."""
    path = Path(path)
    if not token:
        raise SubmitError("no token given", hint="pass --token or set EXPLAINLAB_LIME_TOKEN")
    try:
        with open(path, "rb") as f:
            response = requests.post(
                url,
                files={"file": (path.name, f, "application/octet-stream")},
                headers={"token": token},
                timeout=timeout,
            )
    except requests.exceptions.Timeout:
        raise SubmitError(
            f"{url}: no reply within {timeout:g} s",
            hint="the server may be busy or down; retry later or raise --timeout",
        ) from None
    except requests.exceptions.ConnectionError as exc:
        raise SubmitError(
            f"{url}: cannot connect ({_reason(exc)})",
            hint="check the network connection and the URL (--url); the server may be down",
        ) from None
    except requests.exceptions.RequestException as exc:
        raise SubmitError(f"{url}: the request failed ({exc})", hint="check --url") from None
    try:
        reply = response.json()
    except ValueError:
        reply = None
    body = reply if reply is not None else response.text.strip()[:500]
    if not response.ok:
        hint = {
            401: "check the token",
            403: "check the token",
            413: "the file is too large for the server",
        }.get(response.status_code, "read the server's reply above; fix the file or retry later")
        raise SubmitError(
            f"{url}: the server refused the file: HTTP {response.status_code} "
            f"{response.reason}: {body}",
            hint=hint,
        )
    if reply is None:
        raise SubmitError(
            f"{url}: HTTP {response.status_code} but the reply is not JSON: {body!r}",
            hint="check --url: it should be the grader's /lime endpoint",
        )
    return reply


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "No route to host",
        "Network is unreachable",
        "timed out",
    ):
        if marker in text:
            return marker
    return text[:200]
