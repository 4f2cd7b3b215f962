"""``rbm data``: the sub-commands end to end, and the one-line ``Error:`` for bad input."""

import gzip
import hashlib
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from rbmcli.cli.main import cli
from rbmcli.io.mnist import FILES, SHA256, load_mnist

MNIST_NAMES = [name for pair in FILES.values() for name in pair]


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Run ``rbm ARGS...`` in tmp_path (so error messages show short relative paths)."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), input=input)

    return invoke


def error_line(result):
    """The last line of stderr; also checks there is no traceback."""
    assert "Traceback" not in result.output
    return result.stderr.strip().splitlines()[-1]


def make_h5(path, **datasets):
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f.create_dataset(key, data=value)


def png_shape(path):
    with Image.open(path) as img:
        return img.height, img.width


# ----------------------------------------------------------------------- bad input errors


@pytest.mark.parametrize(
    "datasets, spec, message",
    [
        ({"train/images": np.zeros((2, 4), np.uint8)}, "bad.h5:validation",
         "bad.h5: no group 'validation' (groups: train)"),
        ({"images": np.zeros((2, 2, 2, 2), np.uint8)}, "bad.h5",
         "bad.h5: images must be 2-D (N, pixels) or 3-D (N, rows, cols), got shape (2, 2, 2, 2)"),
        ({"images": np.array([[0.5, np.nan]])}, "bad.h5", "bad.h5: images contain NaN or infinite values"),
        ({"images": np.array([[0.5, 1.25]])}, "bad.h5",
         "bad.h5: float images must lie in [0, 1], found values in [0.5, 1.25]"),
        ({"images": np.zeros((0, 784), np.uint8)}, "bad.h5", "bad.h5: no images (shape (0, 784))"),
        ({"images": np.zeros((2, 4), np.int32)}, "bad.h5",
         "bad.h5: images have dtype int32; expected uint8, bool or float in [0, 1]"),
        ({"test/images": np.zeros((3, 4), np.uint8), "test/labels": np.zeros(4, np.uint8)}, "bad.h5:test",
         "bad.h5: labels have shape (4,), expected (3,) like the images"),
        ({"test/labels": np.zeros(4, np.uint8)}, "bad.h5:test", "bad.h5: no 'images' dataset in group 'test'"),
    ],
)
def test_bad_data_file(run, datasets, spec, message):
    make_h5("bad.h5", **datasets)
    result = run("data", "show", spec, "-o", "grid.png")
    assert result.exit_code == 1
    assert error_line(result) == f"Error: {message}"


def test_missing_not_hdf5_and_truncated_files(run, tmp_path):
    result = run("data", "show", "nope.h5", "-o", "grid.png")
    assert result.exit_code == 1 and error_line(result) == "Error: nope.h5: no such file"
    result = run("data", "show", "nope.h5:test", "-o", "grid.png")
    assert result.exit_code == 1 and error_line(result) == "Error: nope.h5: no such file"

    (tmp_path / "text.h5").write_text("just text\n")
    result = run("data", "show", "text.h5", "-o", "grid.png")
    assert result.exit_code == 1 and error_line(result) == "Error: text.h5: not an HDF5 file"

    run("data", "synthetic", "-n", "20", "-o", "good.h5")
    data = (tmp_path / "good.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 3])
    result = run("data", "show", "cut.h5", "-o", "grid.png")
    assert result.exit_code == 1 and error_line(result) == "Error: cut.h5: corrupt or truncated HDF5 file"
    assert not (tmp_path / "grid.png").exists()


def test_error_keeps_existing_output(run, tmp_path):
    (tmp_path / "grid.png").write_bytes(b"precious")
    make_h5("bad.h5", images=np.array([[2.0]]))
    result = run("data", "show", "bad.h5", "-o", "grid.png")
    assert result.exit_code == 1
    assert (tmp_path / "grid.png").read_bytes() == b"precious"


# ----------------------------------------------------------------------------- synthetic


def test_synthetic_writes_train_and_test(run, tmp_path):
    result = run("data", "synthetic", "-n", "50", "--seed", "3", "-o", "digits.h5")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == "wrote digits.h5: train 50, test 10 synthetic images of 28x28"
    with h5py.File(tmp_path / "digits.h5") as f:
        assert f.attrs["format"] == "rbm-data"
        assert f["train/images"].shape == (50, 784) and f["train/images"].dtype == np.uint8
        assert f["test/images"].shape == (10, 784)
        assert set(f["train/labels"][()]) <= set(range(10))
        assert tuple(f["train"].attrs["image_shape"]) == (28, 28)
        train, test = f["train/images"][()], f["test/images"][()]
    assert not np.array_equal(train[:10], test)  # the test group uses another random stream
    run("data", "synthetic", "-n", "50", "--seed", "3", "-o", "again.h5")
    with h5py.File(tmp_path / "again.h5") as f:
        np.testing.assert_array_equal(f["train/images"][()], train)


def test_pipe_through_stdout_and_stdin(run, tmp_path):
    result = run("data", "synthetic", "-n", "12", "-o", "-")
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\x89HDF\r\n\x1a\n")
    assert result.stderr.strip() == "wrote <stdout>: train 12, test 2 synthetic images of 28x28"

    shown = run("data", "show", "-", "-o", "grid.png", "-n", "9", input=result.stdout_bytes)
    assert shown.exit_code == 0, shown.output
    assert shown.stderr.strip() == "wrote grid.png: 9 images of 28x28 from <stdin>:train"
    assert png_shape(tmp_path / "grid.png") == (2 * (3 * 29 + 1),) * 2

    # '--': Click would read "-:test" as an option
    shown = run("data", "show", "-o", "test.png", "--", "-:test", input=result.stdout_bytes)
    assert shown.exit_code == 0 and "2 images of 28x28 from <stdin>:test" in shown.stderr

    bad = run("data", "show", "-", "-o", "x.png", input=b"not hdf5")
    assert bad.exit_code == 1 and error_line(bad) == "Error: <stdin>: not an HDF5 file"


def test_show_options(run, tmp_path):
    run("data", "synthetic", "-n", "10", "-o", "d.h5")
    result = run("data", "show", "d.h5:test", "-n", "64", "--scale", "1", "-o", "t.png")
    assert result.exit_code == 0
    assert result.stderr.strip() == "wrote t.png: 2 images of 28x28 from d.h5:test"
    assert png_shape(tmp_path / "t.png") == (1 * 29 + 1, 2 * 29 + 1)
    result = run("data", "show", "d.h5", "-n", "0", "-o", "t.png")
    assert result.exit_code == 2


# -------------------------------------------------------------------------------- images


def save_png(path, pixels, mode=None):
    Image.fromarray(np.asarray(pixels, np.uint8), mode).save(path)


def test_images_packs_pngs(run, tmp_path):
    a = np.array([[0, 255, 0], [255, 0, 255]])
    save_png("a.png", a)
    save_png("b.png", 255 - a)
    result = run("data", "images", "a.png", "b.png", "-o", "set.h5")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == "wrote set.h5: 2 images of 2x3"
    with h5py.File(tmp_path / "set.h5") as f:
        np.testing.assert_array_equal(f["images"][()], [a.ravel(), 255 - a.ravel()])
        assert f["images"].dtype == np.uint8
        assert tuple(f.attrs["image_shape"]) == (2, 3)

    result = run("data", "images", "a.png", "--invert", "-o", "inv.h5")
    assert result.exit_code == 0
    with h5py.File(tmp_path / "inv.h5") as f:
        np.testing.assert_array_equal(f["images"][0], 255 - a.ravel())


def test_images_transparency_is_background(run, tmp_path):
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, 0] = (0, 0, 0, 255)  # opaque black ink
    rgba[0, 1] = (0, 0, 0, 0)  # transparent
    save_png("ink.png", rgba, "RGBA")
    assert run("data", "images", "ink.png", "--invert", "-o", "i.h5").exit_code == 0
    with h5py.File(tmp_path / "i.h5") as f:
        np.testing.assert_array_equal(f["images"][0], [255, 0])  # ink white, paper black


def test_images_errors(run, tmp_path):
    save_png("a.png", np.zeros((28, 28)))
    save_png("b.png", np.zeros((28, 28)))
    save_png("odd.png", np.zeros((30, 28)))
    (tmp_path / "set.h5").write_bytes(b"old")
    # --force: an existing output is replaced only when the command succeeds
    result = run("data", "images", "a.png", "b.png", "odd.png", "-o", "set.h5", "--force")
    assert result.exit_code == 1
    assert error_line(result) == "Error: odd.png: size 30x28 differs from 28x28 of a.png"
    assert (tmp_path / "set.h5").read_bytes() == b"old"

    result = run("data", "images", "a.png", "nope.png", "-o", "set.h5", "--force")
    assert result.exit_code == 1 and error_line(result) == "Error: nope.png: no such file"
    (tmp_path / "fake.png").write_text("hello")
    result = run("data", "images", "fake.png", "-o", "set.h5", "--force")
    assert result.exit_code == 1 and error_line(result) == "Error: fake.png: not a PNG file"
    assert run("data", "images", "-o", "set.h5").exit_code == 2  # no PNG given


# --------------------------------------------------------------------------------- mnist


def test_mnist_from_shared_folder(run, tmp_path, mnist_dir):
    result = run("data", "mnist", "--from", str(mnist_dir), "-o", "mnist.h5")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == "wrote mnist.h5: train 60000, test 10000 images of 28x28"
    with h5py.File(tmp_path / "mnist.h5") as f:
        assert f["train/images"].shape == (60000, 784) and f["train/images"].dtype == np.uint8
        assert f["test/images"].shape == (10000, 784)
        np.testing.assert_array_equal(f["train/labels"][:5], [5, 0, 4, 1, 9])
        np.testing.assert_array_equal(f["test/labels"][:5], [7, 2, 1, 0, 4])
        assert np.bincount(f["test/labels"][()]).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
        for group in ("train", "test"):
            assert tuple(f[group].attrs["image_shape"]) == (28, 28)
    shown = run("data", "show", "mnist.h5:test", "-n", "4", "-o", "t.png")
    assert shown.exit_code == 0 and shown.stderr.strip() == "wrote t.png: 4 images of 28x28 from mnist.h5:test"


def test_mnist_validation_split_takes_the_last_training_images(run, tmp_path, mnist_dir):
    result = run("data", "mnist", "--from", str(mnist_dir), "--validation", "10000",
                 "-o", "split.h5")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == \
        "wrote split.h5: train 50000, valid 10000, test 10000 images of 28x28"
    full = load_mnist(mnist_dir)["train"]
    with h5py.File(tmp_path / "split.h5") as f:
        np.testing.assert_array_equal(f["train/images"][()], full[0][:50000])
        np.testing.assert_array_equal(f["valid/images"][()], full[0][50000:])
        np.testing.assert_array_equal(f["valid/labels"][()], full[1][50000:])
        assert tuple(f["valid"].attrs["image_shape"]) == (28, 28)
        assert f["test/images"].shape == (10000, 784)


def test_mnist_corrupted_copy_is_refused(run, tmp_path, mnist_dir):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in MNIST_NAMES:
        if name != "train-labels-idx1-ubyte":
            (folder / f"{name}.gz").symlink_to(mnist_dir / f"{name}.gz")
    data = bytearray(gzip.decompress((mnist_dir / "train-labels-idx1-ubyte.gz").read_bytes()))
    data[100] ^= 0x01  # one label changed
    (folder / "train-labels-idx1-ubyte").write_bytes(bytes(data))
    result = run("data", "mnist", "--from", "mnist", "-o", "mnist.h5")
    assert result.exit_code == 1
    found = hashlib.sha256(data).hexdigest()
    expected = SHA256["train-labels-idx1-ubyte"]
    assert error_line(result) == (
        f"Error: mnist/train-labels-idx1-ubyte: checksum mismatch: expected {expected}, found {found}"
    )
    assert not (tmp_path / "mnist.h5").exists()


def test_mnist_download_from_local_server(run, tmp_path, mnist_dir, http_serve):
    url = http_serve(mnist_dir)
    result = run("data", "mnist", "--url", url, "-o", "dl.h5")
    assert result.exit_code == 0, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"downloading {url}train-images-idx3-ubyte.gz"
    assert lines[-1] == "wrote dl.h5: train 60000, test 10000 images of 28x28"
    with h5py.File(tmp_path / "dl.h5") as f:
        assert f["train/images"].shape == (60000, 784) and f["test/labels"].shape == (10000,)


def test_mnist_download_error_names_url(run, tmp_path, http_serve):
    empty = tmp_path / "empty"
    empty.mkdir()
    url = http_serve(empty)
    (tmp_path / "out.h5").write_bytes(b"old")
    result = run("data", "mnist", "--url", url, "-o", "out.h5", "--force")
    assert result.exit_code == 1
    assert error_line(result) == f"Error: {url}train-images-idx3-ubyte.gz: download failed: HTTP 404 File not found"
    assert (tmp_path / "out.h5").read_bytes() == b"old"


def test_mnist_options(run, tmp_path):
    result = run("data", "mnist", "--from", ".", "--url", "http://127.0.0.1:1/", "-o", "m.h5")
    assert result.exit_code == 2
    assert error_line(result) == "Error: --from and --url are mutually exclusive"
    result = run("data", "mnist", "--from", "nowhere", "-o", "m.h5")
    assert result.exit_code == 1 and error_line(result) == "Error: nowhere: no such directory"
    result = run("data", "mnist", "--from", ".", "-o", "m.h5")
    assert error_line(result) == "Error: .: no train-images-idx3-ubyte(.gz) in this folder"


# ------------------------------------------------------------------------------- startup


def test_help_has_examples(run):
    for command in ([], ["mnist"], ["synthetic"], ["images"], ["show"]):
        result = run("data", *command, "--help")
        assert result.exit_code == 0 and re.search(r"\n  Examples:\n    rbm data ", result.output)


def test_module_imports_no_heavy_packages():
    code = "import sys, rbmcli.cli.data; print(sorted({'numpy', 'h5py', 'PIL'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
