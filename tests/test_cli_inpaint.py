"""``rbm inpaint`` through Click's CliRunner on a tiny random model of 4x3 images
(4 rows, 3 columns: PNGs of width 3 and height 4)."""

import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from rbmcli.cli.main import cli
from rbmcli.io.datasets import load_dataset, write_dataset
from rbmcli.sampling.inpainting import half_mask
from rbmcli.io.modelfile import load_model, save_model

from clihelpers import assert_error, assert_ok
from test_cli_sample import (NV, SHAPE, check_png,
                             grid_size, tiny_model)

ROWS, COLS = SHAPE


pytestmark = pytest.mark.usefixtures("one_numba_thread")


def invoke(*args, input=None):
    return CliRunner().invoke(cli, ["inpaint", *[str(a) for a in args]], input=input)


def write_png(path, grey01, alpha01=None):
    g = (np.clip(grey01, 0, 1) * 255 + 0.5).astype(np.uint8)
    if alpha01 is None:
        Image.fromarray(g, "L").save(path)
    else:
        a = (np.clip(alpha01, 0, 1) * 255 + 0.5).astype(np.uint8)
        Image.fromarray(np.stack([g, a], -1), "LA").save(path)


GREY = np.array([[0.9, 0.1, 0.8],
                 [0.2, 0.7, 0.3],
                 [0.6, 0.4, 0.95],
                 [0.05, 0.55, 0.45]])
BITS = (GREY >= 0.5).astype(np.uint8)


@pytest.fixture
def work(tmp_path, monkeypatch):
    """``model.h5`` (default model), ``digit.png`` (4x3, bottom half transparent),
    ``plain.png`` (no alpha), ``d.h5`` (train 30, test 5) and ``root.h5`` (no groups)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RBM_MODEL", raising=False)
    save_model("model.h5", tiny_model(0))
    alpha = np.ones(SHAPE)
    alpha[2:] = 0
    write_png("digit.png", GREY, alpha)
    write_png("plain.png", GREY)
    rng = np.random.default_rng(0)
    write_dataset("d.h5", {
        "train": {"images": (rng.random((30, NV)) * 255).astype(np.uint8), "image_shape": SHAPE},
        "test": {"images": (rng.random((5, NV)) * 255).astype(np.uint8), "image_shape": SHAPE},
    })
    write_dataset("root.h5", {"": {"images": (rng.random((4, NV)) * 255).astype(np.uint8),
                                   "image_shape": SHAPE}})
    return tmp_path


def read_panel(path, ncols, nrows, scale=2, pad=1):
    """Tiles (nrows, ncols, ROWS, COLS) in [0, 1] of a save_grid PNG."""
    with Image.open(path) as img:
        a = np.asarray(img.convert("L"), np.float64)[::scale, ::scale] / 255
    out = np.empty((nrows, ncols, ROWS, COLS))
    for r in range(nrows):
        for c in range(ncols):
            y, x = pad + r * (ROWS + pad), pad + c * (COLS + pad)
            out[r, c] = a[y:y + ROWS, x:x + COLS]
    return out


def check_row(row, bits, known, k):
    """A panel row: observed (unknown grey), k completions and their mean, all keeping
    the known pixels."""
    known = known.reshape(SHAPE)
    observed = row[0]
    np.testing.assert_allclose(observed[known], bits[known], atol=1e-9)
    np.testing.assert_allclose(observed[~known], 128 / 255)
    for tile in row[1:k + 2]:
        np.testing.assert_allclose(tile[known], bits[known], atol=1e-9)



# -------------------------------------------------------------------------- PNGs


@pytest.mark.parametrize("method", ["gibbs", "pt", "mf"])
def test_alpha_channel_marks_the_unknown_pixels(work, method):
    result = invoke("digit.png", "--method", method, "--samples", 3, "--steps", 30,
                    "-o", "out.png")
    assert_ok(result)
    check_png("out.png", grid_size(5, ncols=5))
    known = np.zeros(SHAPE, bool)
    known[:2] = True
    check_row(read_panel("out.png", 5, 1)[0], BITS, known, 3)
    assert result.stdout == ""
    assert f"wrote out.png: 1 image x 3 completions ({method}, 30 steps)" in result.stderr


@pytest.mark.parametrize("keep", ["top", "bottom", "left", "right"])
def test_keep_a_half(work, keep):
    result = invoke("plain.png", "--keep", keep, "--samples", 2, "--steps", 5, "-o", "out.png")
    assert_ok(result)
    known = half_mask(SHAPE, keep).reshape(SHAPE)
    expected = {"top": [0, 1], "bottom": [2, 3]}.get(keep)
    if expected is not None:
        assert known[expected].all() and known.sum() == 6
    else:
        assert known[:, 0 if keep == "left" else 2].all() and known.sum() == 4
    check_row(read_panel("out.png", 4, 1)[0], BITS, known, 2)


def test_keep_overrides_the_alpha_channel(work):
    assert_ok(invoke("digit.png", "--keep", "left", "--samples", 1, "--steps", 5, "-o", "o.png"))
    check_row(read_panel("o.png", 3, 1)[0], BITS, half_mask(SHAPE, "left"), 1)


def test_mask_png(work):
    mask = np.zeros(SHAPE)
    mask[[0, 3], :] = 1
    write_png("mask.png", mask)
    assert_ok(invoke("plain.png", "--mask", "mask.png", "--samples", 2, "--steps", 5,
                     "-o", "o.png"))
    check_row(read_panel("o.png", 4, 1)[0], BITS, mask > 0, 2)


def test_larger_image_and_mask_of_its_size_are_resized(work):
    big = GREY.repeat(10, axis=0).repeat(10, axis=1)          # 30 wide, 40 high
    write_png("big.png", big)
    mask = np.zeros((40, 30))
    mask[:20] = 1
    write_png("bigmask.png", mask)
    assert_ok(invoke("big.png", "--mask", "bigmask.png", "--samples", 2, "--steps", 5,
                     "-o", "o.png"))
    check_png("o.png", grid_size(4, ncols=4))
    known = np.zeros(SHAPE, bool)
    known[:2] = True
    check_row(read_panel("o.png", 4, 1)[0], BITS, known, 2)


def test_invert(work):
    assert_ok(invoke("digit.png", "--invert", "--samples", 1, "--steps", 5, "-o", "o.png"))
    known = np.zeros(SHAPE, bool)
    known[:2] = True
    check_row(read_panel("o.png", 3, 1)[0], (1 - GREY >= 0.5).astype(np.uint8), known, 1)


def test_several_images_give_several_rows(work):
    result = invoke("digit.png", "plain.png", "--keep", "bottom", "--samples", 2,
                    "--steps", 5, "-o", "o.png")
    assert_ok(result)
    check_png("o.png", grid_size(8, ncols=4))
    tiles = read_panel("o.png", 4, 2)
    for row in tiles:
        check_row(row, BITS, half_mask(SHAPE, "bottom"), 2)
    assert "wrote o.png: 2 images x 2 completions" in result.stderr


def test_chains_are_the_images_times_samples(work, fake):
    assert_ok(invoke("digit.png", "plain.png", "--keep", "top", "--samples", 3,
                     "--method", "pt", "--replicas", 4, "-o", "o.png"))
    call = fake["pt"].calls[0]
    assert call["steps"] == 1000 and call["replicas"] == 4
    V0, clamp = call["V0"], call["clamp"]
    assert V0.shape == (6, NV) and clamp.shape == (6, NV)
    known = half_mask(SHAPE, "top")
    assert (clamp == known).all()
    assert (V0[:, known] == BITS.ravel()[known]).all()
    assert set(np.unique(V0)) <= {0, 1}     # a Bernoulli draw for every chain
    assert call["burn_in"] == 250           # the posterior mean averages the last 3/4


def test_unknown_pixels_start_at_the_stored_training_mean(work, fake):
    mf = load_model("model.h5")
    mf.data_mean = np.arange(NV) % 2.0       # 0 or 1: the Bernoulli draws are certain
    save_model("model.h5", mf)
    assert_ok(invoke("digit.png", "--samples", 2, "--steps", 8, "-o", "o.png"))
    call = fake["gibbs"].calls[0]
    unknown = ~call["clamp"]
    np.testing.assert_array_equal(call["V0"][unknown],
                                  np.broadcast_to(mf.data_mean, unknown.shape)[unknown])
    assert call["burn_in"] == 2


def test_sigmoid_visible_bias_is_the_start_without_a_stored_mean(work, fake):
    """A model file without /data_mean: unknown pixels start as Bernoulli draws of
    sigmoid(visible_bias); 400 chains estimate it within 5 sd."""
    assert_ok(invoke("digit.png", "--samples", 400, "--steps", 4, "-o", "o.png"))
    call = fake["gibbs"].calls[0]
    b = load_model("model.h5").model.visible_bias.astype(np.float64)
    p = 1 / (1 + np.exp(-b))
    unknown = ~call["clamp"][0]
    est = call["V0"][:, unknown].mean(axis=0)
    assert (np.abs(est - p[unknown]) <= 5 * np.sqrt(p[unknown] * (1 - p[unknown]) / 400)
            + 1e-9).all()


@pytest.mark.parametrize("method, steps", [("gibbs", 1000), ("pt", 1000), ("mf", 200)])
def test_default_steps(work, fake, method, steps):
    assert_ok(invoke("digit.png", "--method", method, "-o", "o.png"))
    assert fake[method].calls[0]["steps"] == steps
    assert fake[method].calls[0]["V0"].shape == (8, NV)     # --samples 8 by default


def test_gif(work):
    result = invoke("digit.png", "--samples", 2, "--steps", 100, "-o", "o.png", "--gif", "a.gif")
    assert_ok(result)
    with Image.open("a.gif") as gif:
        assert gif.n_frames > 1 and gif.info.get("loop") == 0


# --------------------------------------------------------------------- data files


def expected_mean_image_error(spec_images, fill, known):
    truth = (spec_images >= 128).astype(np.float64)
    return np.mean((fill - truth)[:, ~known] ** 2)


def test_data_file_prints_errors_and_writes_a_panel(work):
    result = invoke("d.h5:test", "--samples", 2, "--steps", 20, "-o", "p.png")
    assert_ok(result)
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["error_unknown", "error_mean_image"]
    err_unknown, err_mean = (float(line.split("\t")[1]) for line in lines)
    assert 0 <= err_unknown <= 1
    known = half_mask(SHAPE, "top")                     # the default for data files
    train = load_dataset("d.h5:train").images
    fill = (train >= 128).mean(axis=0)
    test = load_dataset("d.h5:test").images
    assert err_mean == pytest.approx(expected_mean_image_error(test, fill, known), abs=1e-6)
    assert "mean image: d.h5:train (30 images)" in result.stderr
    # 5 rows: observed, 2 completions, mean, truth
    check_png("p.png", grid_size(25, ncols=5))
    tiles = read_panel("p.png", 5, 5)
    bits = (test >= 128).reshape(-1, *SHAPE)
    for row, b in zip(tiles, bits):
        check_row(row, b, known, 2)
        np.testing.assert_allclose(row[4], b)


def test_error_unknown_is_the_mean_completion_error(work, fake):
    result = invoke("d.h5:test", "--samples", 3, "--keep", "left", "-o", "p.png")
    assert_ok(result)
    V0 = fake["gibbs"].calls[0]["V0"].astype(np.float64)   # the fake returns its start
    truth = (load_dataset("d.h5:test").images >= 128).astype(np.float64)
    known = half_mask(SHAPE, "left")
    mean = V0.reshape(5, 3, NV).mean(axis=1)
    expected = np.mean((mean - truth)[:, ~known] ** 2)
    assert result.stdout.splitlines()[0] == f"error_unknown\t{expected:.6f}"


def test_data_limit_and_model_mean_image(work):
    result = invoke("root.h5", "-n", 2, "--samples", 1, "--steps", 5, "--keep", "bottom",
                    "-o", "p.png")
    assert_ok(result)
    check_png("p.png", grid_size(8, ncols=4))            # 2 rows of 4 tiles
    model = load_model("model.h5").model
    fill = 1 / (1 + np.exp(-model.visible_bias.astype(np.float64)))
    images = load_dataset("root.h5").images[:2]
    err = expected_mean_image_error(images, fill, half_mask(SHAPE, "bottom"))
    assert result.stdout.splitlines()[1] == f"error_mean_image\t{err:.6f}"
    assert "mean image: the model's sigmoid(visible_bias)" in result.stderr
    assert "inpainting 2 images of root.h5 (bottom half known) by gibbs" in result.stderr


def test_data_with_a_mask_and_from_stdin(work):
    mask = np.zeros(SHAPE)
    mask[:, 1] = 1
    write_png("mask.png", mask)
    data = open("root.h5", "rb").read()
    result = invoke("-", "--mask", "mask.png", "--samples", 1, "--steps", 5, "-o", "p.png",
                    input=data)
    assert_ok(result)
    tiles = read_panel("p.png", 4, 4)
    bits = (load_dataset("root.h5").images >= 128).reshape(-1, *SHAPE)
    for row, b in zip(tiles, bits):
        check_row(row, b, mask > 0, 1)
    assert "inpainting 4 images of <stdin> (mask mask.png) by gibbs" in result.stderr


def test_data_panel_shows_at_most_ten_images(work):
    write_dataset("many.h5", {"": {"images": np.zeros((12, NV), np.uint8), "image_shape": SHAPE}})
    assert_ok(invoke("many.h5", "--samples", 1, "--steps", 2, "--method", "mf", "-o", "p.png"))
    check_png("p.png", grid_size(40, ncols=4))


# ------------------------------------------------------------------------ bad input


def _text_png():
    with open("note.png", "w") as fh:
        fh.write("not an image\n")


def _jpeg():
    Image.fromarray(np.zeros((4, 3), np.uint8)).save("x.jpg", format="JPEG")


def _mask(size=(5, 5), value=1.0):
    def make():
        write_png("mask.png", np.full(size, value))
    return make


def _wide_data():
    write_dataset("wide.h5", {"": {"images": np.zeros((3, 10), np.uint8)}})


@pytest.mark.parametrize("setup, args, message, code", [
    (_text_png, ["note.png"], "note.png: not a PNG file", 1),
    (_jpeg, ["x.jpg", "--keep", "top"], "x.jpg: not a PNG file (found JPEG)", 1),
    (None, ["missing.png"], "missing.png: no such file", 1),
    (None, ["plain.png"], "plain.png: has no transparent pixels: make the unknown part "
     "transparent, or use --keep or --mask", 1),
    (_mask(), ["plain.png", "--mask", "mask.png"],
     "mask.png: mask is 5x5 pixels, expected 3x4 like the model's images", 1),
    (_mask((4, 3), 1.0), ["plain.png", "--mask", "mask.png"],
     "mask.png: no unknown pixels to fill (every pixel is known)", 1),
    (None, ["plain.png", "--mask", "nomask.png"], "nomask.png: no such file", 1),
    (None, ["plain.png", "--keep", "top", "--mask", "digit.png"],
     "--keep and --mask are mutually exclusive", 2),
    (None, ["plain.png", "--keep", "middle"],
     "Invalid value for '--keep': 'middle' is not one of 'top', 'bottom', 'left', 'right'.", 2),
    (None, ["digit.png", "-n", "3"], "-n is for data files", 2),
    (None, ["d.h5", "-n", "0"], "Invalid value for '-n': 0 is not in the range x>=1.", 2),
    (None, ["d.h5", "digit.png"], "give PNG images or one data file, not both or several", 2),
    (None, ["digit.png", "--replicas", "3"], "--replicas is for --method pt", 2),
    (None, ["digit.png", "--samples", "0"],
     "Invalid value for '--samples': 0 is not in the range x>=1.", 2),
    (lambda: os.remove("model.h5"), ["digit.png"],
     "model.h5: no such model file (train one with 'rbm train DATA')", 1),
    (None, ["missing.h5"], "missing.h5: no such file", 1),
    (None, ["d.h5:valid"], "d.h5: no group 'valid' (groups: test, train)", 1),
    (_wide_data, ["wide.h5"], "wide.h5: has 10 pixels per image, the model 12 visible units", 1),
    (_mask(), ["d.h5", "--mask", "mask.png"],
     "mask.png: mask is 5x5 pixels, expected 3x4 like the model's images", 1),
    (None, ["digit.png", "-o", "nodir/o.png"], None, 1),
    (None, ["digit.png", "--gif", "nodir/a.gif"], None, 1),
], ids=["text-png", "jpeg", "missing-png", "no-alpha", "mask-size", "mask-all-known",
        "mask-missing", "keep-and-mask", "keep-bad", "n-for-png", "n0", "mixed",
        "replicas-gibbs", "samples0", "no-model", "data-missing", "data-group",
        "data-pixels", "data-mask-size", "out-dir", "gif-dir"])
def test_bad_input_gives_a_one_line_error(work, setup, args, message, code):
    if setup:
        setup()
    before = sorted(os.listdir(work))
    if "-o" not in args:
        args = [*args, "-o", "o.png"]
    if message is None:
        bad = next(a for a in args if a.startswith("nodir/"))
        message = f"{bad}: cannot write: no such directory {os.path.join(str(work), 'nodir')!r}"
    result = invoke(*args)
    assert_error(result, message, code)
    assert result.stdout == ""
    assert sorted(os.listdir(work)) == before          # no panel, no GIF, no temporary file


def test_mask_of_another_image_size_names_both_sizes(work):
    big = GREY.repeat(2, axis=0).repeat(2, axis=1)          # 6 wide, 8 high
    write_png("big.png", big)
    write_png("mask.png", np.ones((5, 5)))
    result = invoke("big.png", "--mask", "mask.png", "-o", "o.png")
    assert_error(result, "mask.png: mask is 5x5 pixels, expected 3x4 like the model's images "
                         "or 6x8 like big.png")
