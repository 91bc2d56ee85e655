"""Registry of downloadable files: URL, file name and checksum; cache, mirror and verified downloads.

Lookup order for a file: the local cache (already verified), then every folder of
``EXPLAINLAB_MIRROR`` (searched recursively by file name, checksum enforced), then a
download (unless ``EXPLAINLAB_OFFLINE=1``). Downloads stream into a temporary file in
the cache folder and are renamed only after the checksum matches, so no partial or
unverified file is ever left under the final name. Every download has a socket timeout
(``EXPLAINLAB_DOWNLOAD_TIMEOUT``, seconds) and is tried ``EXPLAINLAB_DOWNLOAD_ATTEMPTS``
times before the file is reported missing; a large file is refused before it starts
when its disk has not the room for it.

torchvision's weights are not in this registry: they go through torchvision's own
weights API and cache (``TORCH_HOME``); :func:`ensure_torchvision_weights` adds the
mirror lookup, the timeout and retries, and a clear offline error in front of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from tqdm.auto import tqdm

from explainlab.errors import AssetError, MissingAssetsError
from explainlab.tempfiles import mkstemp_beside

__all__ = ["ASSETS", "Asset", "AssetError", "MissingAssetsError", "fetch", "fetch_many"]

IMAGES_URL = "https://raw.githubusercontent.com/EliSchwartz/imagenet-sample-images/master"
CLIP_DISSECT_URL = "https://raw.githubusercontent.com/Trustworthy-ML-Lab/CLIP-dissect/main/data"
OPENAI_CLIP_URL = "https://openaipublic.azureedge.net/clip/models"
DOWNLOAD_TIMEOUT_S = 30.0  # seconds without a byte before a try is abandoned
DOWNLOAD_ATTEMPTS = 3
RETRY_DELAY_S = 2.0  # doubled after every failed try
_CHUNK = 1 << 20
_SPACE_MARGIN = 64 << 20  # free space left over after a download
# what a stalled or broken connection raises (socket.timeout is a TimeoutError)
NETWORK_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException)


@dataclass(frozen=True, kw_only=True)
class Asset:
    """One downloadable file. ``checksum`` is ``"sha256:<hex>"`` or, where no sha256 is
    published, ``"md5:<hex>"`` (``note`` says where it comes from)."""

    filename: str
    url: str
    checksum: str
    group: str
    note: str = ""
    space_needed: int = 0  # bytes of free disk needed, beyond the file itself (extraction)
    # the file's name at its URL, where it differs from ``filename``: files that are all
    # called descriptions.csv upstream get distinct names here, and a mirror holds them so
    upstream: str = ""

    @property
    def algorithm(self) -> str:
        return self.checksum.split(":", 1)[0]

    @property
    def digest(self) -> str:
        return self.checksum.split(":", 1)[1]


def _images() -> list[Asset]:
    rows = [
        (
            "n02098286_West_Highland_white_terrier.JPEG",
            "fd00f32aaab240155d71a33f3564aee73c59002cf34b23c72a0d89d14756037c",
        ),
        (
            "n02018207_American_coot.JPEG",
            "a9718f66bfd219b35c73238aeb178b534c28573ad8cc06def01c107e1b5b02e9",
        ),
        (
            "n04037443_racer.JPEG",
            "79b6d9d523697692988844dd894c77a9490ba76b28bdd6a4bde071b64d4fc685",
        ),
        (
            "n02007558_flamingo.JPEG",
            "92bbbb3c138f043152579300808be9d8926458f5284d3720cd9e799e629442ee",
        ),
        ("n01608432_kite.JPEG", "3ba06c31844b966163399651bef81f95439bc801231df3cad872c1d4f4a3f854"),
        (
            "n01443537_goldfish.JPEG",
            "61ff9f1e0c4ed5906efed08c19d0c501b5ba75e45df77818d533a28e825341aa",
        ),
        (
            "n01491361_tiger_shark.JPEG",
            "2a09866683cb1abba5551b2f48c2182b11df522ba9270201c68d67a90672f278",
        ),
        (
            "n01616318_vulture.JPEG",
            "e489a7006c893a6f0d9859d382cd78e2e0a80394460175b56d56cb257fba6d72",
        ),
        (
            "n01677366_common_iguana.JPEG",
            "80ae9e6fe0c21e441848f0f602b443eb38e6aba8e61f358158ab0375d897af95",
        ),
        (
            "n07747607_orange.JPEG",
            "af01a180e4c2a426288ea7c5864af4375400443f817ebc0ba76bed52f0645c20",
        ),
    ]
    return [
        Asset(
            filename=name,
            url=f"{IMAGES_URL}/{name}",
            checksum=f"sha256:{sha}",
            group="imagenet-samples",
        )
        for name, sha in rows
    ]


def _clip_dissect() -> list[Asset]:
    rows = [
        ("20k.txt", "20k.txt", "4ed6e5336d7760d281f7e72df31827da880c861363e820d8c65666b0f10d9ac0"),
        ("10k.txt", "10k.txt", "d6b3e04f1ac30be6525d41474166c0bff28486ecd8c48dcb0ab9c7c9cc05ed86"),
        ("3k.txt", "3k.txt", "425845cf228cf91200e25cbf0361cc078502ce1cc2f9d4558b29abe78096afe1"),
        (
            "broden_labels_clean.txt",
            "broden_labels_clean.txt",
            "603036d4b138c66455e1285bd915f6cdcdf4728df7a5563843d1f89c9babe64b",
        ),
        (
            "imagenet_labels.txt",
            "imagenet_labels.txt",
            "8b243a5b56f530010b42d64d8ef33c2660224447aded823f4d9de2cb1902a70e",
        ),
        (
            "categories_places365.txt",
            "categories_places365.txt",
            "2affba635eb657e7ca95f4e6cc69bd9fac29ef4c32aeb83cafdfcd06ec6a1ea6",
        ),
        (
            "resnet18_places_imagenet_broden.csv",
            "CLIP_Dissect_results/resnet18_places_imagenet_broden.csv",
            "9fb69f315fc98a5249ba236fc6d32f08f4950f75b9198266cd820047b26c5263",
        ),
        (
            "resnet50_imagenet_broden.csv",
            "CLIP_Dissect_results/resnet50_imagenet_broden.csv",
            "a0c70fd97000a8ca278a14f4adb0f5afdb6fef1b3dd19bd064cbd39699f0635f",
        ),
        (
            "resnet18_places365_layer1.csv",
            "NetDissect_results/resnet18_places365_layer1.csv",
            "2ece37b37e5ef6ea97ce343b7a3df0917bdeea16d58be0a68722c137e2d70f80",
        ),
        (
            "resnet18_places365_layer4.csv",
            "NetDissect_results/resnet18_places365_layer4.csv",
            "db68b39765b66583042e10a1185fd9bebcdd326b89d927ef8d1af8df000035ef",
        ),
        (
            "m_base_resnet18_places365.csv",
            "MILAN_results/m_base_resnet18_places365.csv",
            "aba3d716e4822f8c46804caac35387b48c109bc261bfd3e56cabaa3fb8d62381",
        ),
    ]
    return [
        Asset(
            filename=name,
            url=f"{CLIP_DISSECT_URL}/{path}",
            checksum=f"sha256:{sha}",
            group="clip-dissect",
        )
        for name, path, sha in rows
    ]


# Two runs of the reference CLIP-Dissect code (describe_neurons.py) on the assignment's
# configuration (both ResNet18s; layer2-4; Broden; 20k; ViT-B/16; soft_wpmi; avg pooling),
# each its run's descriptions.csv: run a on a CUDA GPU, run b on a CPU.
REFERENCE_RUNS_GPU = (
    "https://raw.githubusercontent.com/ashishsubedi/TML25_A4_27/main/task1/CLIP-results"
)
REFERENCE_RUNS_CPU = (
    "https://raw.githubusercontent.com/highgroundmaster/TML25_A4_12/main/Task-1/results"
)


def _reference_runs() -> list[Asset]:
    rows = [
        (
            "resnet18_run_a.csv",
            f"{REFERENCE_RUNS_GPU}/resnet18_25_07_16_18_08",
            "449e2ebba6315f2f5a54a82e88d79dc005bc1373454d64d73a3963bc269bbf7e",
            "GPU",
        ),
        (
            "resnet18_places365_run_a.csv",
            f"{REFERENCE_RUNS_GPU}/resnet18_places_25_07_16_17_57",
            "bd801817f695df23a708b8ef1eec9b79117e1d1f2a426a90f713c246622eea42",
            "GPU",
        ),
        (
            "resnet18_run_b.csv",
            f"{REFERENCE_RUNS_CPU}/resnet18_25_07_21_02_50",
            "718a3c180cb1937e838b4288e5ac6e9a7483d526527c86568bf48cdaa4f55e90",
            "CPU",
        ),
        (
            "resnet18_places365_run_b.csv",
            f"{REFERENCE_RUNS_CPU}/resnet18_places365_25_07_21_01_25",
            "ddbb2907b8621860699a088876512d4123a68910fca6d51f31d9620e0aeba642",
            "CPU",
        ),
    ]
    return [
        Asset(
            filename=name,
            url=f"{folder}/descriptions.csv",
            checksum=f"sha256:{sha}",
            group="clip-dissect-runs",
            note=f"a run of the reference CLIP-Dissect code on the assignment's configuration, on a {hardware}",
            upstream="descriptions.csv",
        )
        for name, folder, sha, hardware in rows
    ]


def _large() -> list[Asset]:
    md5_note = (
        "no sha256 is published for this file; the md5 is the one public download "
        "scripts check it against"
    )
    return [
        Asset(
            filename="resnet18_places365.pth.tar",
            url="http://places2.csail.mit.edu/models_places365/resnet18_places365.pth.tar",
            checksum="md5:7a8808eefd4ea7458650ca84855f69b1",
            group="places365",
            note=md5_note,
        ),
        Asset(
            filename="broden1_224.zip",
            url="http://netdissect.csail.mit.edu/data/broden1_224.zip",
            checksum="md5:be13c292eaef3300da03f8d0e48eab1c",
            group="broden",
            note=md5_note + " (about 1 GB)",
            # the zip (about 1 GB) plus its extracted images (about 1 GB) in the cache
            space_needed=2_200_000_000,
        ),
    ]


# OpenAI's CLIP checkpoints, as the reference's ``clip.load`` downloads them: the folder
# of each URL is the file's sha256, which ``clip.load`` checks and so do we.
OPENAI_CLIP_FILES: dict[str, str] = {
    "ViT-B-32": "ViT-B-32.pt",
    "ViT-B-16": "ViT-B-16.pt",
    "ViT-L-14": "ViT-L-14.pt",
    "ViT-L-14-336": "ViT-L-14-336px.pt",
}


def _openai_clip() -> list[Asset]:
    rows = [
        ("ViT-B-32.pt", "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"),
        ("ViT-B-16.pt", "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f"),
        ("ViT-L-14.pt", "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836"),
        ("ViT-L-14-336px.pt", "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02"),
    ]
    return [
        Asset(
            filename=name,
            url=f"{OPENAI_CLIP_URL}/{sha}/{name}",
            checksum=f"sha256:{sha}",
            group="clip",
            note="OpenAI's CLIP weights, the file CLIP-Dissect's clip.load downloads and checks",
        )
        for name, sha in rows
    ]


ASSETS: dict[str, Asset] = {
    a.filename: a
    for a in (*_images(), *_clip_dissect(), *_reference_runs(), *_large(), *_openai_clip())
}


def get_asset(filename: str) -> Asset:
    try:
        return ASSETS[filename]
    except KeyError:
        known = ", ".join(sorted(ASSETS))
        raise AssetError(f"unknown asset {filename!r}", hint=f"known assets: {known}") from None


# --- locations -----------------------------------------------------------------------


def cache_dir() -> Path:
    """Where verified downloads live: ``EXPLAINLAB_CACHE`` or ``~/.cache/explainlab``."""
    root = os.environ.get("EXPLAINLAB_CACHE") or Path.home() / ".cache" / "explainlab"
    return Path(root) / "assets"


def mirror_dirs() -> list[Path]:
    value = os.environ.get("EXPLAINLAB_MIRROR", "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def offline() -> bool:
    return os.environ.get("EXPLAINLAB_OFFLINE", "") not in ("", "0", "false", "no")


@lru_cache(maxsize=8)
def _mirror_index(roots: tuple[Path, ...]) -> dict[str, tuple[Path, ...]]:
    index: dict[str, list[Path]] = {}
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                index.setdefault(name, []).append(Path(folder) / name)
    return {name: tuple(sorted(paths)) for name, paths in index.items()}


def find_in_mirror(filename: str, checksum: str | None) -> Path | None:
    """The first mirror copy of ``filename`` whose checksum matches (any copy if None)."""
    for path in _mirror_index(tuple(mirror_dirs())).get(filename, ()):
        if path.is_file() and (checksum is None or verify_file(path, checksum)):
            return path
    return None


# --- checksums -----------------------------------------------------------------------


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: Path, checksum: str) -> bool:
    algorithm, digest = checksum.split(":", 1)
    return file_digest(path, algorithm) == digest.lower()


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns}"


def _cached(asset: Asset) -> Path | None:
    """The cached copy, re-hashed only when its size or mtime changed since last verified."""
    path = cache_dir() / asset.group / asset.filename
    if not path.is_file():
        return None
    marker = path.with_name(path.name + ".verified")
    stamp = f"{_stamp(path)} {asset.checksum}"
    if marker.is_file() and marker.read_text() == stamp:
        return path
    if verify_file(path, asset.checksum):
        marker.write_text(stamp)
        return path
    return None


# --- downloads -----------------------------------------------------------------------


def download_timeout() -> float:
    return float(os.environ.get("EXPLAINLAB_DOWNLOAD_TIMEOUT") or DOWNLOAD_TIMEOUT_S)


def download_attempts() -> int:
    return max(1, int(os.environ.get("EXPLAINLAB_DOWNLOAD_ATTEMPTS") or DOWNLOAD_ATTEMPTS))


@contextlib.contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """A default socket timeout for code that opens URLs without one (``torch.hub``)."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


class DownloadFailed(AssetError):
    """Every try of a download failed on the network (timeout, refused, reset)."""

    def __init__(self, url: str, errors: list[str]) -> None:
        super().__init__(
            f"{url}: download failed {len(errors)} time(s); last error: {errors[-1]}",
            hint="check the connection and rerun (finished downloads are kept), or put the "
            "file in a folder named by EXPLAINLAB_MIRROR",
        )
        self.url = url
        self.errors = errors


def unresolved(exc: BaseException) -> bool:
    """The host name could not be resolved (``socket.gaierror``, as on a machine without
    internet): unlike a timeout or a reset, not worth another try."""
    return isinstance(getattr(exc, "reason", exc), socket.gaierror)


def with_retries(url: str, attempt: Callable[[], Path]) -> Path:
    """Run ``attempt`` (one download of ``url``) under the download timeout, retrying
    network failures with a growing delay (not a host name that cannot be resolved);
    :class:`DownloadFailed` after the last try."""
    errors: list[str] = []
    attempts, delay = download_attempts(), RETRY_DELAY_S
    for number in range(1, attempts + 1):
        try:
            with socket_timeout(download_timeout()):
                return attempt()
        except NETWORK_ERRORS as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            if unresolved(exc):  # no network or no DNS here: another try finds the same
                break
            if number < attempts:
                print(
                    f"download of {url} failed ({errors[-1]}); try {number + 1} of {attempts} "
                    f"in {delay:.0f} s",
                    file=sys.stderr,
                )
                time.sleep(delay)
                delay *= 2
    raise DownloadFailed(url, errors)


def check_space(folder: Path, needed: int, what: str) -> None:
    """Refuse to start a download of ``needed`` bytes into ``folder`` without the room."""
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if needed + _SPACE_MARGIN > free:
        raise AssetError(
            f"{what}: needs about {needed / 1e9:.2f} GB of free disk in {folder}, but only "
            f"{free / 1e9:.2f} GB are free",
            hint="free some space, or point EXPLAINLAB_CACHE at a disk with room, or put the "
            "file in a folder named by EXPLAINLAB_MIRROR",
        )


def download(
    url: str,
    dest: Path,
    checksum: str | None,
    *,
    desc: str | None = None,
    space_needed: int = 0,
) -> Path:
    """Stream ``url`` into ``dest``; rename into place only if ``checksum`` matches.
    Network failures are retried (see :func:`with_retries`); a checksum mismatch is not."""
    if space_needed:
        check_space(dest.parent, space_needed, dest.name)
    return with_retries(
        url, lambda: _download_once(url, dest, checksum, desc=desc, space_needed=space_needed)
    )


def _download_once(
    url: str, dest: Path, checksum: str | None, *, desc: str | None, space_needed: int
) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    algorithm = checksum.split(":", 1)[0] if checksum else "sha256"
    h = hashlib.new(algorithm)
    fd, tmp_name = mkstemp_beside(dest, prefix=dest.name + ".", suffix=".part")
    tmp = Path(tmp_name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "explainlab"})
        with (
            urllib.request.urlopen(request, timeout=download_timeout()) as response,
            os.fdopen(fd, "wb") as out,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            if total:
                check_space(dest.parent, max(total, space_needed), dest.name)
            with tqdm(total=total, unit="B", unit_scale=True, desc=desc or dest.name) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
            if total and bar.n != total:
                raise http.client.IncompleteRead(b"", total - bar.n)
        if checksum is not None and h.hexdigest() != checksum.split(":", 1)[1].lower():
            raise AssetError(
                f"checksum mismatch for {dest.name} downloaded from {url}: "
                f"expected {checksum}, got {algorithm}:{h.hexdigest()}; the file was discarded",
                hint="retry later; if it persists the upstream file changed, report it",
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _where_to_put(asset: Asset) -> str:
    mirrors = mirror_dirs()
    target = mirrors[0] if mirrors else cache_dir() / asset.group
    return str(target)


def fetch(filename: str, *, allow_download: bool = True) -> Path:
    """Path of a verified copy of the registered file ``filename``."""
    return fetch_many([filename], allow_download=allow_download)[filename]


def fetch_many(filenames: Iterable[str], *, allow_download: bool = True) -> dict[str, Path]:
    """Verified paths for all files, or one :class:`MissingAssetsError` listing every missing one."""
    found: dict[str, Path] = {}
    missing: list[tuple[str, str, str, str]] = []
    for filename in filenames:
        asset = get_asset(filename)
        path = _cached(asset) or find_in_mirror(asset.filename, asset.checksum)
        reason = ""
        if path is None and allow_download and not offline():
            dest = cache_dir() / asset.group / asset.filename
            try:
                path = download(asset.url, dest, asset.checksum, space_needed=asset.space_needed)
            except DownloadFailed as exc:
                reason = f"download failed {len(exc.errors)} time(s): {exc.errors[-1]}"
        if path is None:
            missing.append((asset.filename, asset.url, _where_to_put(asset), reason))
        else:
            found[filename] = path
    if missing:
        raise MissingAssetsError(missing)
    return found


# --- torchvision weights ---------------------------------------------------------------


def torchvision_cache_path(url: str) -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def ensure_torchvision_weights(url: str) -> Path:
    """Make torchvision's own cache hold the weights at ``url``: from the cache, a mirror,
    or torchvision's own download (``torch.hub.download_url_to_file``, which checks the
    hash prefix of the name) under the download timeout and retries. A file that cannot
    be had raises :class:`MissingAssetsError`, so torchvision never opens a URL itself.

    torchvision names its files ``<name>-<first 8 hex of sha256>.pth``; a mirror copy is
    accepted only when its sha256 starts with that prefix."""
    import torch

    dest = torchvision_cache_path(url)
    if dest.is_file():
        return dest
    prefix = dest.stem.rsplit("-", 1)[-1]
    for candidate in _mirror_index(tuple(mirror_dirs())).get(dest.name, ()):
        if file_digest(candidate).startswith(prefix):
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = mkstemp_beside(dest, prefix=dest.name + ".", suffix=".part")
            os.close(fd)
            try:
                shutil.copyfile(candidate, tmp)
                os.replace(tmp, dest)
            finally:
                Path(tmp).unlink(missing_ok=True)
            return dest
    reason = ""
    if not offline():
        dest.parent.mkdir(parents=True, exist_ok=True)

        def attempt() -> Path:
            try:
                torch.hub.download_url_to_file(url, str(dest), hash_prefix=prefix, progress=True)
            except RuntimeError as exc:  # torch.hub's hash check
                raise AssetError(
                    f"{dest.name} downloaded from {url} failed torchvision's hash check ({exc})",
                    hint="retry later; if it persists the upstream file changed, report it",
                ) from None
            return dest

        try:
            return with_retries(url, attempt)
        except DownloadFailed as exc:
            reason = f"download failed {len(exc.errors)} time(s): {exc.errors[-1]}"
    raise MissingAssetsError([(dest.name, url, str(dest.parent), reason)])
