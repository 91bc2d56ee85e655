"""Asset registry: verified downloads, mirror lookup, offline errors."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import urllib.error
from pathlib import Path

import pytest

from explainlab import assets
from explainlab.errors import AssetError, MissingAssetsError

PAYLOAD = b"explainlab asset payload\n" * 1000


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLAINLAB_CACHE", str(tmp_path / "cache-root"))


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "file.bin").write_bytes(PAYLOAD)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_download_verifies_and_renames(server, tmp_path):
    dest = tmp_path / "cache" / "file.bin"
    assert assets.download(f"{server}/file.bin", dest, _sha(PAYLOAD)) == dest
    assert dest.read_bytes() == PAYLOAD
    assert list(dest.parent.iterdir()) == [dest]


def test_checksum_mismatch_is_refused_and_leaves_nothing(server, tmp_path):
    dest = tmp_path / "cache" / "file.bin"
    with pytest.raises(AssetError, match="checksum mismatch"):
        assets.download(f"{server}/file.bin", dest, _sha(b"something else"))
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_fetch_downloads_into_cache_when_online(server, monkeypatch):
    asset = assets.Asset(
        filename="file.bin", url=f"{server}/file.bin", checksum=_sha(PAYLOAD), group="test"
    )
    monkeypatch.setitem(assets.ASSETS, "file.bin", asset)
    monkeypatch.setenv("EXPLAINLAB_OFFLINE", "0")
    monkeypatch.setenv("EXPLAINLAB_MIRROR", "")
    path = assets.fetch("file.bin")
    assert path == assets.cache_dir() / "test" / "file.bin" and path.read_bytes() == PAYLOAD
    # cached now: found without network and without re-hashing (marker written)
    monkeypatch.setenv("EXPLAINLAB_OFFLINE", "1")
    assert assets.fetch("file.bin") == path
    assert path.with_name("file.bin.verified").is_file()


def test_mirror_lookup_is_recursive_and_checksummed(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "deep" / "er").mkdir(parents=True)
    (mirror / "deep" / "er" / "file.bin").write_bytes(PAYLOAD)
    monkeypatch.setitem(
        assets.ASSETS,
        "file.bin",
        assets.Asset(
            filename="file.bin", url="http://unused/file.bin", checksum=_sha(PAYLOAD), group="test"
        ),
    )
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(mirror))
    assert assets.fetch("file.bin") == mirror / "deep" / "er" / "file.bin"


def test_mirror_copy_with_wrong_checksum_is_not_used(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "file.bin").write_bytes(b"tampered")
    monkeypatch.setitem(
        assets.ASSETS,
        "file.bin",
        assets.Asset(
            filename="file.bin",
            url="http://example.invalid/file.bin",
            checksum=_sha(PAYLOAD),
            group="test",
        ),
    )
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(mirror))
    with pytest.raises(MissingAssetsError):
        assets.fetch("file.bin")


def test_offline_error_lists_every_missing_file(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(tmp_path))
    with pytest.raises(MissingAssetsError) as err:
        assets.fetch_many(["resnet18_places365.pth.tar", "broden1_224.zip", "20k.txt"])
    text = str(err.value)
    for name in ("resnet18_places365.pth.tar", "broden1_224.zip", "20k.txt"):
        assert name in text
    assert "http://places2.csail.mit.edu/models_places365/resnet18_places365.pth.tar" in text
    assert f"put it in: {tmp_path}" in text and "EXPLAINLAB_MIRROR" in text
    assert len(err.value.missing) == 3


def test_the_shared_mirror_satisfies_every_small_asset(mirror):
    groups = ("imagenet-samples", "clip-dissect", "clip-dissect-runs")
    small = [n for n, a in assets.ASSETS.items() if a.group in groups]
    assert sum(assets.ASSETS[n].group == "clip-dissect-runs" for n in small) == 4
    paths = assets.fetch_many(small)
    assert all(str(p).startswith(str(mirror)) for p in paths.values())


def test_unknown_asset_names_the_known_ones():
    with pytest.raises(AssetError, match="known assets: .*20k.txt"):
        assets.get_asset("nope.txt")


def test_torchvision_weights_from_mirror_need_the_hash_prefix(tmp_path, monkeypatch, torch_home):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    prefix = hashlib.sha256(PAYLOAD).hexdigest()[:8]
    good = f"https://download.pytorch.org/models/net-{prefix}.pth"
    bad = "https://download.pytorch.org/models/other-0badc0de.pth"
    (mirror / f"net-{prefix}.pth").write_bytes(PAYLOAD)
    (mirror / "other-0badc0de.pth").write_bytes(PAYLOAD)
    monkeypatch.setenv("EXPLAINLAB_MIRROR", str(mirror))
    assets.ensure_torchvision_weights(good)
    assert assets.torchvision_cache_path(good).read_bytes() == PAYLOAD
    assert str(assets.torchvision_cache_path(good)).startswith(str(torch_home))
    with pytest.raises(MissingAssetsError, match="other-0badc0de.pth"):
        assets.ensure_torchvision_weights(bad)
    assert not assets.torchvision_cache_path(bad).exists()


def test_registry_checksums_are_well_formed():
    for asset in assets.ASSETS.values():
        algorithm, digest = asset.checksum.split(":")
        assert len(digest) == {"sha256": 64, "md5": 32}[algorithm], asset.filename
        # the URL names the file; where upstream names differ (four runs' descriptions.csv)
        # the registry's name is distinct, and is the name a mirror holds the file under
        assert asset.url.endswith("/" + (asset.upstream or asset.filename)), asset.filename
        assert asset.upstream != asset.filename
        assert algorithm == "sha256" or asset.note


@pytest.mark.network
def test_real_download_of_a_small_asset(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLAINLAB_MIRROR", "")
    monkeypatch.setenv("EXPLAINLAB_CACHE", str(tmp_path))
    path = assets.fetch("imagenet_labels.txt")
    assert Path(path).stat().st_size > 1000


class _StallingHandler(http.server.BaseHTTPRequestHandler):
    """Sends the headers and a first chunk, then stalls: a connection that hangs."""

    requests = 0

    def do_GET(self):
        type(self).requests += 1
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD[:100])
        self.wfile.flush()
        threading.Event().wait(5)

    def log_message(self, *args):
        pass


@pytest.fixture
def stalling_server(monkeypatch):
    _StallingHandler.requests = 0
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StallingHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("EXPLAINLAB_DOWNLOAD_TIMEOUT", "0.3")
    monkeypatch.setenv("EXPLAINLAB_DOWNLOAD_ATTEMPTS", "2")
    monkeypatch.setattr(assets, "RETRY_DELAY_S", 0.01)
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_a_stalled_download_times_out_is_retried_and_leaves_nothing(stalling_server, tmp_path):
    dest = tmp_path / "cache" / "file.bin"
    with pytest.raises(assets.DownloadFailed, match="failed 2 time") as err:
        assets.download(f"{stalling_server}/file.bin", dest, _sha(PAYLOAD))
    assert _StallingHandler.requests == 2 and "timed out" in str(err.value)
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_an_unresolvable_host_is_tried_once(tmp_path, monkeypatch):
    """No network (the host name does not resolve): no retries, no waiting between them."""
    calls = []

    def attempt():
        calls.append(1)
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(assets.time, "sleep", lambda s: pytest.fail("waited to retry"))
    with pytest.raises(assets.DownloadFailed, match="failed 1 time") as err:
        assets.with_retries("http://nowhere.invalid/f.bin", attempt)
    assert calls == [1] and "Name or service not known" in str(err.value)


def test_a_stalled_asset_is_reported_missing_with_the_reason(stalling_server, monkeypatch):
    url = f"{stalling_server}/file.bin"
    monkeypatch.setitem(
        assets.ASSETS,
        "file.bin",
        assets.Asset(filename="file.bin", url=url, checksum=_sha(PAYLOAD), group="t"),
    )
    monkeypatch.setenv("EXPLAINLAB_OFFLINE", "0")
    monkeypatch.setenv("EXPLAINLAB_MIRROR", "")
    with pytest.raises(MissingAssetsError) as err:
        assets.fetch("file.bin")
    assert "file.bin" in str(err.value) and "download failed 2 time(s)" in str(err.value)


def test_torchvision_download_has_a_timeout_too(stalling_server, monkeypatch, torch_home):
    """torch.hub opens URLs without a timeout; ours applies to torchvision's download."""
    monkeypatch.setenv("EXPLAINLAB_OFFLINE", "0")
    monkeypatch.setenv("EXPLAINLAB_MIRROR", "")
    url = f"{stalling_server}/models/net-0123abcd.pth"
    with pytest.raises(MissingAssetsError) as err:
        assets.ensure_torchvision_weights(url)
    assert "net-0123abcd.pth" in str(err.value) and "download failed 2 time(s)" in str(err.value)
    assert _StallingHandler.requests == 2
    assert not list(assets.torchvision_cache_path(url).parent.iterdir())


def test_broden_is_refused_before_the_download_without_disk_room(monkeypatch):
    import shutil

    def nearly_full(path):
        return shutil._ntuple_diskusage(100 << 30, (100 << 30) - (1 << 30), 1 << 30)

    def never(*args, **kwargs):
        raise AssertionError("no download may start")

    monkeypatch.setenv("EXPLAINLAB_OFFLINE", "0")
    monkeypatch.setenv("EXPLAINLAB_MIRROR", "")
    monkeypatch.setattr(assets.shutil, "disk_usage", nearly_full)
    monkeypatch.setattr(assets, "_download_once", never)
    with pytest.raises(AssetError, match=r"broden1_224.zip: needs about 2.20 GB .* only 1.07 GB"):
        assets.fetch("broden1_224.zip")


def test_a_download_larger_than_the_free_space_is_refused(server, tmp_path, monkeypatch):
    import shutil

    def tiny(path):
        return shutil._ntuple_diskusage(1 << 30, (1 << 30) - 1000, 1000)

    monkeypatch.setattr(assets.shutil, "disk_usage", tiny)
    dest = tmp_path / "cache" / "file.bin"
    with pytest.raises(AssetError, match="free disk"):
        assets.download(f"{server}/file.bin", dest, _sha(PAYLOAD))
    assert not dest.exists()
