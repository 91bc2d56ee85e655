"""Image loading: conversions, refusals with clear errors, the one geometry, batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torchvision import transforms

from explainlab.errors import InputError
from explainlab.images import (
    CROP,
    IMAGENET_GEOMETRY,
    MISSION_KEYS,
    Geometry,
    ImageSource,
    center_crop,
    load_sample,
    load_samples,
    open_rgb,
    resolve_sources,
    to_tensor,
)
from helpers import huge_png_header


def _rgb(seed: int = 0, size: tuple[int, int] = (300, 260)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def _jpeg(path: Path, array: np.ndarray | None = None) -> Path:
    Image.fromarray(_rgb() if array is None else array).save(path, "JPEG", quality=90)
    return path


def test_grayscale_becomes_rgb(tmp_path):
    p = tmp_path / "gray.png"
    Image.fromarray(np.full((50, 60), 77, np.uint8), "L").save(p)
    im = open_rgb(p)
    assert im.mode == "RGB" and np.all(np.asarray(im) == 77)


def test_rgba_is_composited_on_white(tmp_path):
    arr = np.zeros((40, 40, 4), np.uint8)
    arr[..., 0] = 255
    arr[:20, :, 3] = 255  # top half opaque red, bottom half transparent
    p = tmp_path / "rgba.png"
    Image.fromarray(arr, "RGBA").save(p)
    out = np.asarray(open_rgb(p))
    assert tuple(out[5, 5]) == (255, 0, 0)
    assert tuple(out[35, 5]) == (255, 255, 255)


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (20, 20), 0)
    im.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    im.paste(1, (0, 0, 10, 20))
    p = tmp_path / "pal.png"
    im.save(p, transparency=0)
    out = np.asarray(open_rgb(p))
    assert tuple(out[5, 5]) == (10, 200, 30)
    assert tuple(out[5, 15]) == (255, 255, 255)


def test_cmyk_jpeg_is_converted(tmp_path):
    p = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(p, "JPEG")
    assert Image.open(p).mode == "CMYK"
    out = np.asarray(open_rgb(p))
    assert out.shape == (48, 64, 3)
    r, g, b = out[24, 32]
    assert r > 200 and g < 60 and b < 60  # pure red in CMYK


def test_16bit_png_is_scaled_not_clipped(tmp_path):
    arr = np.linspace(0, 65535, 64 * 32).reshape(32, 64).astype(np.uint16)
    p = tmp_path / "deep.png"
    Image.fromarray(arr).save(p)
    assert Image.open(p).mode.startswith("I")
    out = np.asarray(open_rgb(p))[..., 0]
    assert out.min() == 0 and out.max() == 255
    assert np.allclose(out, arr / 257.0, atol=0.5 + 1e-9)


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red: a landscape picture
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    p = tmp_path / "rotated.jpg"
    im.save(p, "JPEG", exif=exif, quality=95)
    out = open_rgb(p)
    assert out.size == (20, 40)  # shown upright: portrait
    assert np.asarray(out)[5, 10, 0] > 200  # top half red after the rotation


@pytest.mark.parametrize(
    ("name", "make", "needle"),
    [
        ("empty.jpg", lambda p: p.write_bytes(b""), "empty"),
        ("notes.jpg", lambda p: p.write_text("these are not pixels\n" * 20), "not an image"),
        ("missing.jpg", lambda p: None, "no such file"),
    ],
)
def test_unusable_files_are_named(tmp_path, name, make, needle):
    p = tmp_path / name
    make(p)
    with pytest.raises(InputError) as err:
        open_rgb(p)
    assert str(p) in str(err.value) and needle in str(err.value)
    assert "what to do" in str(err.value) or needle == "no such file"


def test_truncated_jpeg_is_refused(tmp_path):
    good = _jpeg(tmp_path / "good.jpg", _rgb(1, (400, 300)))
    p = tmp_path / "truncated.jpg"
    p.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="truncated"):
        open_rgb(p)


def test_corrupt_jpeg_header_is_refused(tmp_path):
    data = bytearray(_jpeg(tmp_path / "good.jpg").read_bytes())
    data[2:40] = b"\x00" * 38  # destroy the segment markers after SOI
    p = tmp_path / "corrupt.jpg"
    p.write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        open_rgb(p)
    assert "corrupt.jpg" in str(err.value)


def test_huge_image_is_refused_before_decoding(tmp_path):
    p = huge_png_header(tmp_path / "bomb.png", 40_000, 40_000)
    with pytest.raises(InputError, match="megapixels"):
        open_rgb(p)
    small = huge_png_header(tmp_path / "wide.png", 5000, 3000)
    with pytest.raises(InputError, match="decompression bomb"):
        open_rgb(small, max_pixels=10_000_000)


def test_geometry_matches_torchvision_eval_transform(tmp_path):
    p = _jpeg(tmp_path / "x.jpg", _rgb(3, (333, 257)))
    image = open_rgb(p)
    crop = center_crop(image)
    assert crop.shape == (CROP, CROP, 3) and crop.dtype == np.uint8
    reference = transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_GEOMETRY.mean, IMAGENET_GEOMETRY.std),
        ]
    )(image)
    ours = to_tensor(crop, IMAGENET_GEOMETRY)
    assert ours.shape == (3, 224, 224)
    assert torch.allclose(ours, reference, atol=1e-6)


def test_batch_keeps_good_images_and_names_bad_ones(tmp_path):
    good = [_jpeg(tmp_path / f"ok{i}.jpg", _rgb(i)) for i in range(2)]
    bad = tmp_path / "bad.jpg"
    bad.write_text("no")
    sources = [ImageSource(p.stem, p) for p in (good[0], bad, good[1])]
    samples, failures = load_samples(sources)
    assert [s.key for s in samples] == ["ok0", "ok1"]
    assert [f.key for f in failures] == ["bad"] and "bad.jpg" in failures[0].error


def test_sample_record(tmp_path):
    p = _jpeg(tmp_path / "a.jpg")
    s = load_sample(ImageSource("a", p, 7))
    assert s.key == "a" and s.path == p and s.class_id == 7
    assert s.crop.shape == (224, 224, 3) and s.tensor.shape == (3, 224, 224)


def test_resolve_sources_folder_files_and_duplicates(tmp_path):
    (tmp_path / "sub").mkdir()
    a = _jpeg(tmp_path / "cat.jpg")
    b = _jpeg(tmp_path / "sub" / "cat.jpg")
    (tmp_path / "readme.txt").write_text("skip me")
    sources = resolve_sources([str(tmp_path)])
    assert [s.path for s in sources] == [a, b]
    assert [s.key for s in sources] == ["cat", "cat_2"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no image files"):
        resolve_sources([str(tmp_path / "empty")])


def test_mission_images_come_from_the_mirror(mirror):
    sources = resolve_sources(None)
    assert [s.key for s in sources] == list(MISSION_KEYS)
    assert all(str(s.path).startswith(str(mirror)) for s in sources)
    assert sources[5].key == "goldfish" and sources[5].class_id == 1
    picked = resolve_sources(["orange", "mission"])
    assert [s.key for s in picked][:2] == ["orange", "West_Highland_white_terrier"]
    assert len(picked) == 10


@pytest.mark.parametrize(
    ("model", "resize", "interpolation"),
    [("resnet50", 232, "bilinear"), ("resnet18", 256, "bilinear")],
)
def test_each_torchvision_model_gets_its_weights_own_transform(
    tmp_path, model, resize, interpolation
):
    """ResNet50 IMAGENET1K_V2 resizes to 232 before its 224 crop, V1 to 256: every map and
    mask of a model lies on the crop that model's own ``weights.transforms()`` makes."""
    from explainlab.models import get_spec

    weights = torchvision.models.get_model_weights(model)[
        {"resnet50": "IMAGENET1K_V2", "resnet18": "IMAGENET1K_V1"}[model]
    ]
    geometry = get_spec(model).geometry()
    assert (geometry.resize, geometry.crop, geometry.interpolation) == (resize, 224, interpolation)
    path = _jpeg(tmp_path / "x.jpg", _rgb(5, (401, 297)))
    sample = load_sample(ImageSource("x", path), geometry)
    expected = weights.transforms()(open_rgb(path))
    assert sample.crop.shape == (224, 224, 3)
    torch.testing.assert_close(sample.tensor, expected, rtol=0, atol=1e-6)


def test_lite0_gets_timms_eval_transform(lite0, mirror):
    """EfficientNet-Lite0's data config: bicubic resize to 256, crop 224, mean/std 0.5."""
    import timm.data

    assert lite0.geometry == Geometry(
        resize=256, crop=224, interpolation="bicubic", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)
    )
    path = mirror / "imagenet-samples" / "n01443537_goldfish.JPEG"
    config = timm.data.resolve_data_config({}, model=lite0.module)
    expected = timm.data.create_transform(**config)(open_rgb(path))
    sample = load_sample(ImageSource("goldfish", path), lite0.geometry)
    torch.testing.assert_close(sample.tensor, expected, rtol=0, atol=1e-6)


def test_geometry_round_trips_and_describes_itself():
    geometry = Geometry(resize=232, crop=224, interpolation="bilinear")
    assert Geometry.from_dict(geometry.to_dict()) == geometry
    assert geometry.describe().startswith("Resize(232, bilinear) → CenterCrop(224)")
    with pytest.raises(ValueError, match="interpolation"):
        Geometry(interpolation="lanczos")
