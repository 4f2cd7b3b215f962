"""Golden test: the CLI's outputs for fixed seeds, compared with stored reference values.

It guards refactorings that must not change results (e.g. moving modules into
subpackages): every command below runs in-process through Click's CliRunner on tiny
data, and every number it writes (data arrays, model parameters and training state,
samples, inpainted pixels, scores, features) must equal ``tests/golden/golden.npz`` /
``golden.json`` (floats to rtol 1e-6 plus 1e-5 of the array's scale, integers and bytes
exactly: see SCALE_ATOL). File bytes are not
compared: files carry the package version.

The references come from ``tests/golden/make_golden.py``; re-run it only when a change
of results is intended, and say so in the commit.

Threads: everything runs with one kernel/BLAS thread (``RBM_THREADS=1``, Numba set to 1).
The only import of the package is in :func:`rbm`, so a restructure changes one line.
"""

import json
import os
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

GOLDEN = Path(__file__).resolve().parent / "golden"
RTOL = 1e-6
SCALE_ATOL = 1e-5
"""Absolute slack of a float array: SCALE_ATOL times its largest magnitude. A float32
training run is reproducible only to a few ulp across Numba dispatch histories: kernels
compiled in this process (an empty cache) and kernels loaded from the cache gave weights
of magnitude 0.03 that differ by 5.6e-9 (2e-7 of the scale) and momentum buffers of
magnitude 1.9e-4 that differ by 3.7e-10 (2e-6 of the scale), the same figures in every
cold run, also on the code before the package moved; any change of what is computed (an
extra random draw, another order of updates) moves them by 1e-3 of the scale or more.
Entries near zero would fail a purely relative test on such rounding."""
SHAPE = (7, 6)  # rows x cols: non-square catches transpositions
"""Size of the tiny PNG data set; the synthetic digits are always 28x28."""
SKIP_DATASETS = {"seconds"}
"""Wall-clock timings in model files (history/seconds) are not reproducible."""
SKIP_ATTRS = {"rbm_version", "model_sha256"}
"""Attributes that name the version, or hash the model file (whose bytes hold the version
and the training's wall-clock timings)."""


def rbm(*args, input=None):
    """Run ``rbm ARGS...`` in-process; returns Click's Result (after checking success)."""
    from rbmcli.cli.main import cli  # the one import of the package: update it when it moves
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


# --- what is compared -------------------------------------------------------------------

def _attr_value(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        try:  # JSON attributes (hyperparameters, rng state): compare parsed
            return json.loads(value)
        except ValueError:
            return value
    value = np.asarray(value)
    return value.tolist()


def _scrub(obj, tmp):
    """Replace the temporary folder in strings (paths in hyperparameters) by ``TMP``."""
    if isinstance(obj, str):
        return obj.replace(str(tmp), "TMP")
    if isinstance(obj, dict):
        return {k: _scrub(v, tmp) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scrub(v, tmp) for v in obj]
    return obj


def h5_contents(path, tag, arrays, values, tmp):
    """Put every dataset of the HDF5 file into ``arrays[tag:/name]`` and every attribute
    into ``values[tag:/name@attr]`` (minus timings, versions, paths)."""
    def visit(name, obj):
        key = f"{tag}:/{name}"
        for attr, value in obj.attrs.items():
            if attr not in SKIP_ATTRS:
                values[f"{key}@{attr}"] = _scrub(_attr_value(value), tmp)
        if isinstance(obj, h5py.Dataset) and name.rsplit("/", 1)[-1] not in SKIP_DATASETS:
            arrays[key] = obj[()]

    with h5py.File(path, "r") as f:
        visit("", f)
        f.visititems(visit)


def png_pixels(path):
    with Image.open(path) as img:
        return np.asarray(img)


def tsv_or_json(stdout):
    """The numbers a command printed: one JSON object, or ``name<TAB>value`` lines."""
    text = stdout.strip()
    if text.startswith("{"):
        return json.loads(text)
    out = {}
    for line in text.splitlines():
        name, value = line.split("\t")
        out[name] = float(value)
    return out


def write_pngs(folder, n=24, seed=0):
    """n grey PNGs of SHAPE: noisy copies of three random binary prototypes."""
    rng = np.random.default_rng(seed)
    protos = rng.random((3, *SHAPE)) < 0.5
    names = []
    for i in range(n):
        bits = protos[i % 3] ^ (rng.random(SHAPE) < 0.05)
        name = folder / f"img{i:02d}.png"
        Image.fromarray((bits * 255).astype(np.uint8), mode="L").save(name)
        names.append(name)
    return names


# --- the commands -----------------------------------------------------------------------

TRAIN = ["--epochs", "2", "--batch-size", "8", "--seed", "3", "--no-pictures"]
MODELS = {
    "rbm": ["--hidden", "8", "--lr", "0.1"],
    "rbm_pt": ["--hidden", "8", "--pt", "3", "--chains", "4", "--no-centering"],
    "grbm": ["--model", "grbm", "--hidden", "8", "--cd", "5"],
    "dbn": ["--model", "dbn", "--hidden", "8,6"],
    "realnvp": ["--model", "realnvp", "--layers", "2", "--hidden-units", "4",
                "--warmup", "2", "--holdout", "8"],
}


def produce(tmp):
    """Run the commands in folder ``tmp``; returns ``(arrays, values)``: named arrays and
    JSON-able values (printed numbers, attributes)."""
    os.chdir(tmp)
    arrays, values = {}, {}

    # Data: synthetic digits, and PNGs packed into a data file.
    rbm("data", "synthetic", "-n", "5", "--seed", "2", "-o", "syn.h5")
    h5_contents("syn.h5", "data_synthetic", arrays, values, tmp)
    pngs = write_pngs(tmp)
    rbm("data", "images", *pngs, "-o", "d.h5")
    h5_contents("d.h5", "data_images", arrays, values, tmp)
    rbm("data", "show", "d.h5", "-n", "6", "-o", "show.png")
    arrays["data_show:png"] = png_pixels("show.png")
    values["info_data"] = rbm("info", "d.h5").stdout

    for name, options in MODELS.items():
        rbm("train", "d.h5", "-o", f"{name}.h5", *TRAIN, *options)
        h5_contents(f"{name}.h5", f"train_{name}", arrays, values, tmp)

    # Samples of every kind of model.
    samples = [("rbm", ["--steps", "20"]), ("rbm", ["--method", "pt", "--steps", "10",
                                                    "--replicas", "3"]),
               ("rbm", ["--method", "mf", "--steps", "10"]),
               ("rbm", ["--init", "d.h5", "--steps", "5"]),
               ("grbm", ["--steps", "20"]), ("dbn", ["--steps", "20"]),
               ("realnvp", ["--temperature", "0.7"])]
    for i, (name, options) in enumerate(samples):
        rbm("sample", "-m", f"{name}.h5", "-n", "8", "--seed", "1", *options,
            "-o", f"s{i}.h5")
        h5_contents(f"s{i}.h5", f"sample{i}_{name}", arrays, values, tmp)
    rbm("sample", "-m", "rbm.h5", "-n", "4", "--steps", "5", "--seed", "1", "-o", "s.png")
    arrays["sample_png_rbm:png"] = png_pixels("s.png")

    # Inpainting: a PNG with a known half, and a data file (prints errors).
    rbm("inpaint", pngs[4], "-m", "rbm.h5", "--keep", "left", "--steps", "20",
        "--samples", "3", "--seed", "1", "-o", "fill.png")
    arrays["inpaint_png_rbm:png"] = png_pixels("fill.png")
    out = rbm("inpaint", "d.h5", "-m", "rbm.h5", "-n", "5", "--steps", "20",
              "--samples", "2", "--seed", "1", "-o", "panel.png").stdout
    values["inpaint_data_rbm"] = tsv_or_json(out)
    arrays["inpaint_data_rbm:png"] = png_pixels("panel.png")
    rbm("inpaint", pngs[5], "-m", "rbm.h5", "--keep", "top", "--method", "mf",
        "--steps", "10", "--samples", "1", "-o", "fill_mf.png")
    arrays["inpaint_mf_rbm:png"] = png_pixels("fill_mf.png")

    # Scores.
    scores = [("rbm", ["--mser", "--free-energy", "--pseudo-ll", "--ll"]),
              ("rbm", ["--ll", "--ais", "--ais-runs", "4", "--ais-steps", "30",
                       "--no-cache"]),
              ("rbm_pt", ["--mser", "--free-energy", "--ll"]),
              ("grbm", ["--mser", "--free-energy", "--ll"]),
              ("dbn", ["--mser"]),
              ("realnvp", ["--ll"])]
    for i, (name, options) in enumerate(scores):
        out = rbm("score", "d.h5", "-m", f"{name}.h5", "--seed", "1", "--json",
                  *options).stdout
        values[f"score{i}_{name}"] = tsv_or_json(out)

    # Features of a DBN and an RBM.
    for name, options in [("dbn", []), ("dbn", ["--layer", "1"]), ("rbm", [])]:
        tag = f"transform_{name}{''.join(options)}"
        rbm("transform", "d.h5", "-m", f"{name}.h5", *options, "-o", f"{tag}.h5")
        h5_contents(f"{tag}.h5", tag, arrays, values, tmp)
    return arrays, values


# --- the test ---------------------------------------------------------------------------

@pytest.fixture
def one_thread(monkeypatch):
    import numba
    monkeypatch.setenv("RBM_THREADS", "1")
    monkeypatch.delenv("RBM_MODEL", raising=False)
    n = numba.get_num_threads()
    numba.set_num_threads(1)
    cwd = os.getcwd()
    yield
    os.chdir(cwd)
    numba.set_num_threads(n)


def pack(arrays):
    """The arrays as one flat array per dtype plus an index ``{name: [dtype, shape,
    offset]}`` (an .npz member per array would cost ~300 bytes each)."""
    flat, index = {}, {}
    for name in sorted(arrays):
        a = np.asarray(arrays[name])
        parts = flat.setdefault(a.dtype.str, [])
        index[name] = [a.dtype.str, list(a.shape), sum(p.size for p in parts)]
        parts.append(a.ravel())
    return {dt: np.concatenate(parts) for dt, parts in flat.items()}, index


def unpack(flat, index):
    out = {}
    for name, (dt, shape, offset) in index.items():
        size = int(np.prod(shape, dtype=np.int64))
        out[name] = flat[dt][offset:offset + size].reshape(shape)
    return out


def load_golden():
    """``(arrays, values)`` stored by make_golden.py."""
    values = json.loads((GOLDEN / "golden.json").read_text())
    with np.load(GOLDEN / "golden.npz") as z:
        arrays = unpack({k: z[k] for k in z.files}, values.pop("__arrays__"))
    return arrays, values


def _close(a, b):
    """Equal, with floats (also inside dicts and lists) to RTOL."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return bool(np.isclose(a, b, rtol=RTOL, atol=0, equal_nan=True))
        return False
    return a == b


def test_golden_cli(tmp_path, one_thread):
    arrays, values = produce(tmp_path)
    golden_arrays, golden_values = load_golden()

    assert sorted(arrays) == sorted(golden_arrays)
    problems = []
    for key, want in golden_arrays.items():
        got = np.asarray(arrays[key])
        if got.shape != want.shape or got.dtype != want.dtype:
            problems.append(f"{key}: {got.dtype}{got.shape} != {want.dtype}{want.shape}")
        elif np.issubdtype(want.dtype, np.floating):
            atol = SCALE_ATOL * float(np.nanmax(np.abs(want), initial=0.0))
            if not np.allclose(got, want, rtol=RTOL, atol=atol, equal_nan=True):
                err = np.nanmax(np.abs(got.astype(float) - want))
                problems.append(f"{key}: max abs difference {err:g}")
        elif not np.array_equal(got, want):
            problems.append(f"{key}: {np.sum(got != want)} elements differ")

    assert sorted(values) == sorted(golden_values)
    for key, want in golden_values.items():
        if not _close(values[key], want):
            problems.append(f"{key}: {values[key]!r} != {want!r}")
    assert not problems, "\n".join(problems)
