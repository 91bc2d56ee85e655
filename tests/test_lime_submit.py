"""``lime submit`` against a small HTTP server on 127.0.0.1 (the real server is never contacted)."""

from __future__ import annotations

import contextlib
import json
import pickle
import socket
import threading
import time
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from explainlab.assignment.submit import SubmitError, submit
from explainlab.cli import main
from explainlab.images import MISSION_KEYS
from explainlab.lime.params import complete


class Grader(BaseHTTPRequestHandler):
    """Replies per ``server.mode``: ok (JSON score), refuse (403 JSON), slow (sleeps)."""

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        message = BytesParser(policy=default_policy).parsebytes(
            b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body
        )
        fields = {
            part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in message.iter_parts()
        }
        self.server.received.append({"token": self.headers.get("token"), "fields": fields})
        if self.server.mode == "slow":
            time.sleep(2.0)
        status, reply = {
            "ok": (200, {"iou": 0.71, "time": 3.2}),
            "refuse": (403, {"error": "invalid token"}),
            "slow": (200, {}),
            "html": (200, None),
        }[self.server.mode]
        data = b"<html>hi</html>" if reply is None else json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def grader():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Grader)
    server.daemon_threads = True
    server.mode, server.received = "ok", []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/lime"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def pickle_file(tmp_path):
    params = {
        k: complete({"num_samples": 20, "batch_size": 20, "random_seed": 0}) for k in MISSION_KEYS
    }
    path = tmp_path / "lime_params.pkl"
    path.write_bytes(pickle.dumps(params, protocol=4))
    return path


def test_submit_posts_the_file_as_field_file_with_header_token(grader, pickle_file):
    reply = submit(pickle_file, "secret-token", url=grader.url, timeout=10)
    assert reply == {"iou": 0.71, "time": 3.2}
    (request,) = grader.received
    assert request["token"] == "secret-token"
    assert request["fields"]["file"] == pickle_file.read_bytes()


def test_a_refusal_is_a_clear_error_with_the_servers_reply(grader, pickle_file):
    grader.mode = "refuse"
    with pytest.raises(SubmitError) as info:
        submit(pickle_file, "wrong", url=grader.url, timeout=10)
    text = str(info.value)
    assert "HTTP 403" in text and "invalid token" in text and "check the token" in text


def test_a_timeout_is_a_clear_error(grader, pickle_file):
    grader.mode = "slow"
    with pytest.raises(SubmitError, match=r"no reply within 0\.3 s"):
        submit(pickle_file, "t", url=grader.url, timeout=0.3)


def test_a_non_json_reply_is_an_error(grader, pickle_file):
    grader.mode = "html"
    with pytest.raises(SubmitError, match="not JSON"):
        submit(pickle_file, "t", url=grader.url, timeout=10)


def test_no_server_is_a_clear_error(pickle_file):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SubmitError, match="cannot connect"):
        submit(pickle_file, "t", url=f"http://127.0.0.1:{port}/lime", timeout=5)


def test_submit_command_prints_the_reply_and_refuses_invalid_files(grader, pickle_file, capsys):
    assert main(["lime", "submit", str(pickle_file), "--token", "tk", "--url", grader.url,
                 "--no-dry-run"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out) == {"iou": 0.71, "time": 3.2}
    params = pickle.loads(pickle_file.read_bytes())
    params["goldfish"].update(labels=None, top_labels=None)  # lime would fail
    pickle_file.write_bytes(pickle.dumps(params))
    assert main(["lime", "submit", str(pickle_file), "--token", "tk", "--url", grader.url]) == 2
    assert "not submitted" in capsys.readouterr().out
    assert len(grader.received) == 1  # the invalid file never left the machine
    grader.mode = "refuse"
    pickle_file.write_bytes(pickle.dumps({k: complete({"num_samples": 20}) for k in MISSION_KEYS}))
    assert main(["lime", "submit", str(pickle_file), "--token", "tk", "--url", grader.url,
                 "--no-dry-run"]) == 2  # fmt: skip
    assert "HTTP 403" in capsys.readouterr().err
