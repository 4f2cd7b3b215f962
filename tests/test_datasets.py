"""rbmcli.io.datasets: loading and checking HDF5 data files, conversions, atomic writing."""

import io
import os
import sys
import types

import h5py
import numpy as np
import pytest

from rbmcli import __version__
from rbmcli.io.datasets import (
    as_unit_float,
    binarize_stochastic,
    binarize_threshold,
    load_dataset,
    split_spec,
    write_dataset,
)
from rbmcli.errors import InputError


def make_h5(path, **datasets):
    """Write raw data sets (``"group/name": array``) with h5py, bypassing write_dataset."""
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f.create_dataset(key, data=value)
    return str(path)


@pytest.fixture
def two_groups(tmp_path):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (30, 16), dtype=np.uint8)
    test = rng.integers(0, 256, (7, 16), dtype=np.uint8)
    path = tmp_path / "d.h5"
    write_dataset(path, {
        "train": {"images": train, "labels": np.arange(30) % 10, "image_shape": (4, 4)},
        "test": {"images": test, "labels": np.arange(7) % 10, "image_shape": (2, 8)},
    })
    return path, train, test


# ----------------------------------------------------------------------------- loading


def test_default_is_train_group_and_group_spec_selects(two_groups):
    path, train, test = two_groups
    ds = load_dataset(str(path))
    assert ds.source == f"{path}:train"
    np.testing.assert_array_equal(ds.images, train)
    assert ds.image_shape == (4, 4)
    np.testing.assert_array_equal(ds.labels, np.arange(30) % 10)

    ds = load_dataset(f"{path}:test")
    assert ds.source == f"{path}:test"
    np.testing.assert_array_equal(ds.images, test)
    assert ds.image_shape == (2, 8)
    assert ds.labels.shape == (7,)


def test_root_images_and_image_shape_guess(tmp_path):
    square = make_h5(tmp_path / "sq.h5", images=np.zeros((3, 9), np.uint8))
    ds = load_dataset(square)
    assert ds.image_shape == (3, 3) and ds.labels is None and ds.source == square
    strip = make_h5(tmp_path / "strip.h5", images=np.zeros((3, 10), np.float32))
    assert load_dataset(strip).image_shape == (1, 10)


def test_three_d_images_are_flattened(tmp_path):
    images = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    ds = load_dataset(make_h5(tmp_path / "3d.h5", images=images))
    assert ds.images.shape == (2, 15) and ds.image_shape == (3, 5)
    np.testing.assert_array_equal(ds.images[1], images[1].ravel())


def test_float_and_bool_images_accepted(tmp_path):
    floats = np.linspace(0, 1, 32).reshape(2, 16)
    ds = load_dataset(make_h5(tmp_path / "f.h5", images=floats))
    assert ds.images.dtype == np.float64
    ds = load_dataset(make_h5(tmp_path / "h.h5", images=floats.astype(np.float16)))
    assert ds.images.dtype == np.float32
    ds = load_dataset(make_h5(tmp_path / "b.h5", images=floats > 0.5))
    assert ds.images.dtype == np.bool_


def test_split_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_h5("a.h5", images=np.zeros((1, 4), np.uint8))
    make_h5("odd:name.h5", images=np.zeros((1, 4), np.uint8))
    assert split_spec("a.h5") == ("a.h5", None)
    assert split_spec("a.h5:test") == ("a.h5", "test")
    assert split_spec("-") == ("-", None)
    assert split_spec("-:test") == ("-", "test")
    assert split_spec("odd:name.h5") == ("odd:name.h5", None)  # file part 'odd' does not exist
    assert split_spec("a.h5:x/y") == ("a.h5:x/y", None)  # a '/' after the colon: not a group
    assert split_spec("a.h5:") == ("a.h5:", None)
    assert load_dataset("odd:name.h5").images.shape == (1, 4)


@pytest.mark.parametrize(
    "datasets, spec_suffix, message",
    [
        ({"images": np.zeros((2, 2, 2, 2), np.uint8)}, "",
         "images must be 2-D (N, pixels) or 3-D (N, rows, cols), got shape (2, 2, 2, 2)"),
        ({"images": np.zeros(5, np.uint8)}, "",
         "images must be 2-D (N, pixels) or 3-D (N, rows, cols), got shape (5,)"),
        ({"images": np.zeros((0, 4), np.uint8)}, "", "no images (shape (0, 4))"),
        ({"images": np.array([[0.0, np.nan]])}, "", "images contain NaN or infinite values"),
        ({"images": np.array([[0.0, np.inf]])}, "", "images contain NaN or infinite values"),
        ({"images": np.array([[-0.5, 1.5]])}, "", "float images must lie in [0, 1], found values in [-0.5, 1.5]"),
        ({"images": np.zeros((1, 4), np.int64)}, "",
         "images have dtype int64; expected uint8, bool or float in [0, 1]"),
        ({"images": np.zeros((3, 4), np.uint8), "labels": np.zeros(2, np.int64)}, "",
         "labels have shape (2,), expected (3,) like the images"),
        ({"images": np.zeros((2, 4), np.uint8), "labels": np.zeros(2)}, "",
         "labels must be integers, got float64"),
        ({"train/labels": np.zeros(2, np.int64)}, "", "no 'images' dataset in group 'train'"),
        ({"a/images": np.zeros((1, 4), np.uint8)}, "", "no 'images' dataset in the root (groups: a)"),
        ({"a/images": np.zeros((1, 4), np.uint8), "b/x": [1]}, ":c", "no group 'c' (groups: a, b)"),
        ({"images": np.zeros((1, 4), np.uint8)}, ":c", "no group 'c' (no groups)"),
    ],
)
def test_bad_content_is_refused(tmp_path, datasets, spec_suffix, message):
    path = make_h5(tmp_path / "bad.h5", **datasets)
    with pytest.raises(InputError) as info:
        load_dataset(path + spec_suffix)
    assert str(info.value) == f"{path}: {message}"
    assert info.value.path == path


def test_bad_image_shape_attribute(tmp_path):
    path = make_h5(tmp_path / "s.h5", images=np.zeros((1, 6), np.uint8))
    with h5py.File(path, "a") as f:
        f.attrs["image_shape"] = (4, 4)
    with pytest.raises(InputError, match=r"image_shape attribute \(4, 4\) does not match 6 pixels"):
        load_dataset(path)


def test_missing_not_hdf5_truncated(tmp_path, two_groups):
    with pytest.raises(InputError, match=r"^.*nope\.h5: no such file$"):
        load_dataset(str(tmp_path / "nope.h5"))
    with pytest.raises(InputError, match=r"^.*nope\.h5: no such file$"):
        load_dataset(str(tmp_path / "nope.h5") + ":test")
    with pytest.raises(InputError, match="is a directory"):
        load_dataset(str(tmp_path))
    text = tmp_path / "text.h5"
    text.write_text("hello")
    with pytest.raises(InputError, match=r"text\.h5: not an HDF5 file$"):
        load_dataset(str(text))
    path = two_groups[0]
    cut = tmp_path / "cut.h5"
    cut.write_bytes(path.read_bytes()[:1500])
    with pytest.raises(InputError, match=r"cut\.h5: corrupt or truncated HDF5 file$"):
        load_dataset(str(cut))


def test_load_from_stdin(monkeypatch, two_groups):
    path, train, test = two_groups
    data = path.read_bytes()
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(data)))
    ds = load_dataset("-")
    assert ds.source == "<stdin>:train"
    np.testing.assert_array_equal(ds.images, train)
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(data)))
    np.testing.assert_array_equal(load_dataset("-:test").images, test)
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(b"junk")))
    with pytest.raises(InputError, match=r"^<stdin>: not an HDF5 file$"):
        load_dataset("-")


# ------------------------------------------------------------------------- conversions


def test_as_unit_float():
    u8 = np.array([[0, 51, 255]], dtype=np.uint8)
    out = as_unit_float(u8)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, [[0, 0.2, 1]], rtol=1e-6)
    assert as_unit_float(u8, np.float64).dtype == np.float64
    np.testing.assert_array_equal(as_unit_float(np.array([[True, False]])), [[1, 0]])
    strided = np.linspace(0, 1, 20).reshape(4, 5)[:, ::2]
    out = as_unit_float(strided)
    assert out.flags.c_contiguous and out.dtype == np.float32
    np.testing.assert_allclose(out, strided, rtol=1e-6)


def test_binarize_threshold():
    x = np.array([[0.0, 0.49, 0.5, 1.0]])
    out = binarize_threshold(x)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[0, 0, 1, 1]])
    np.testing.assert_array_equal(binarize_threshold(np.array([[127, 128]], np.uint8)), [[0, 1]])


def test_binarize_stochastic():
    x = np.tile(np.array([0.0, 0.25, 0.75, 1.0], np.float32), (20000, 1))
    bits = binarize_stochastic(x, np.random.default_rng(1))
    assert bits.dtype == np.uint8 and bits.shape == x.shape
    np.testing.assert_allclose(bits.mean(axis=0), [0, 0.25, 0.75, 1], atol=0.02)
    again = binarize_stochastic(x, np.random.default_rng(1))
    np.testing.assert_array_equal(bits, again)


# ----------------------------------------------------------------------------- writing


def test_write_attributes_and_compression(tmp_path):
    big = np.zeros((2000, 784), np.uint8)  # 1.5 MB: compressed
    small = np.zeros((10, 784), np.uint8)
    path = tmp_path / "w.h5"
    write_dataset(path, {"big": {"images": big, "attrs": {"note": "x"}}, "": {"images": small}},
                  attrs={"source": "test"})
    with h5py.File(path) as f:
        assert f.attrs["format"] == "rbm-data"
        assert f.attrs["format_version"] == 1
        assert f.attrs["rbm_version"] == __version__
        assert f.attrs["source"] == "test"
        assert f["big/images"].compression == "gzip" and f["big/images"].chunks is not None
        assert f["images"].compression is None and f["images"].chunks is None
        assert tuple(f["big"].attrs["image_shape"]) == (28, 28)
        assert tuple(f.attrs["image_shape"]) == (28, 28)
        assert f["big"].attrs["note"] == "x"
    assert load_dataset(f"{path}:big").images.shape == (2000, 784)


def test_write_is_atomic(tmp_path):
    path = tmp_path / "keep.h5"
    path.write_bytes(b"old content")
    bad = {"train": {"images": np.zeros((3, 4), np.uint8), "labels": np.zeros(5)}}
    with pytest.raises(ValueError, match="labels"):
        write_dataset(path, bad)
    assert path.read_bytes() == b"old content"
    assert os.listdir(tmp_path) == ["keep.h5"]  # no temporary file left behind
    with pytest.raises(InputError, match="no such directory"):
        write_dataset(tmp_path / "missing" / "x.h5", {"": {"images": np.zeros((1, 4), np.uint8)}})


def test_write_to_stdout(monkeypatch):
    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", types.SimpleNamespace(buffer=out))
    images = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_dataset("-", {"": {"images": images, "labels": np.array([1, 2, 3])}})
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(out.getvalue())))
    ds = load_dataset("-")
    np.testing.assert_array_equal(ds.images, images)
    np.testing.assert_array_equal(ds.labels, [1, 2, 3])
    assert ds.image_shape == (2, 2)
