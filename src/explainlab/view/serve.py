"""``explainlab view --serve``: the viewer over HTTP on 127.0.0.1, for a browser that
will not open a large folder from ``file://``. Only this machine can reach it."""

from __future__ import annotations

import functools
import http.server
from pathlib import Path

HOST = "127.0.0.1"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # one line per request is noise
        pass


def make_server(folder: Path, port: int = 0) -> http.server.ThreadingHTTPServer:
    """A server of ``folder`` on 127.0.0.1 (``port`` 0: a free one), not yet serving."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    return http.server.ThreadingHTTPServer((HOST, port), handler)


def serve(folder: Path, port: int = 0) -> None:
    """Serve ``folder`` until interrupted (Ctrl-C)."""
    with make_server(folder, port) as server:
        print(f"serving {folder} at http://{HOST}:{server.server_address[1]}/ (Ctrl-C stops)")
        server.serve_forever()
