"""Training on data larger than the ``--memory`` budget (rbmcli.training.batches): the
batches of a streamed epoch against a plain NumPy reference of the scheme, the plan and
its limits, the file reader, and streamed runs through ``rbm train`` / ``rbmcli.train``
(resume exact, in-memory runs unchanged, one-line errors)."""

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner

import rbmcli
from clihelpers import assert_error
from rbmcli.cli.main import cli
from rbmcli.io.datasets import open_image_file, write_dataset
from rbmcli.io.modelfile import load_model
from rbmcli.memory import parse_size
from rbmcli.models.grbm import Standardizer
from rbmcli.pixels import as_unit_float
from rbmcli.training.batches import (CHUNK_STREAM, MemoryRows, StreamedRows, StreamPlan,
                                     pixel_moments, plan_stream)
from rbmcli.training.rbm import Binarizer, Trainer, TrainOptions, new_model

pytestmark = pytest.mark.usefixtures("one_numba_thread")

N, D = 300, 64
RNG = np.random.default_rng(0)
PROTOS = RNG.random((3, D)) < 0.5
IMAGES = ((PROTOS[RNG.integers(0, 3, N)] ^ (RNG.random((N, D)) < 0.05)) * 255).astype(np.uint8)
ROW_BUDGET = "4000"
"""Bytes: 62 rows of 64 uint8 pixels (stochastic binarisation keeps no copy): streamed."""


class Positions(MemoryRows):
    """Training rows that are the raw rows themselves: (n, 1) float64 row numbers."""

    def __init__(self, images):
        self.images = images

    def rows(self, index, rng):
        return self.images[index]

    def mean(self):
        return self.images.mean(axis=0)


def numbered_file(path, n):
    """A data file whose row i is the grey level i / (n - 1) (one pixel), and its images."""
    write_dataset(path, {"": {"images": (np.arange(n) / (n - 1))[:, None],
                              "image_shape": (1, 1)}})
    return open_image_file(str(path))


def reference_epoch(n, chunk_rows, buffer_chunks, batch_size, seed, epoch, rng):
    """The row numbers of each batch of one streamed epoch, by the scheme of the README
    written out with lists."""
    chunks = [list(range(a, min(a + chunk_rows, n))) for a in range(0, n, chunk_rows)]
    order = list(np.random.default_rng([seed, CHUNK_STREAM, epoch]).permutation(len(chunks)))
    batches, carry = [], []
    for g in range(0, len(order), buffer_chunks):
        group = sorted(order[g:g + buffer_chunks])
        buffer = carry + [row for c in group for row in chunks[c]]
        perm = rng.permutation(len(buffer))
        last = g + buffer_chunks >= len(order)
        full = len(buffer) if last else len(buffer) // batch_size * batch_size
        for k in range(0, full, batch_size):
            batches.append([buffer[i] for i in sorted(perm[k:k + batch_size])])
        carry = [buffer[i] for i in sorted(perm[full:])]
    return batches


@pytest.mark.parametrize("n, chunk_rows, buffer_chunks, batch_size",
                         [(103, 7, 3, 10), (50, 50, 1, 16), (40, 3, 20, 7)])
def test_streamed_batches_follow_the_scheme_and_cover_every_row_once(tmp_path, n, chunk_rows,
                                                                      buffer_chunks, batch_size):
    images = numbered_file(tmp_path / "n.h5", n)
    rows = StreamedRows(images, Positions, StreamPlan(chunk_rows, buffer_chunks), seed=4)
    epochs = []
    for epoch in range(2):
        rng, ref_rng = np.random.default_rng(9), np.random.default_rng(9)
        got = [np.rint(b[:, 0] * (n - 1)).astype(int).tolist()
               for b, in rows.batches(rng, batch_size, epoch)]
        assert got == reference_epoch(n, chunk_rows, buffer_chunks, batch_size, 4, epoch, ref_rng)
        assert rng.bit_generator.state == ref_rng.bit_generator.state
        flat = sorted(r for batch in got for r in batch)
        assert flat == list(range(n))                                   # every row once
        assert [len(b) for b in got[:-1]] == [batch_size] * (len(got) - 1)
        assert len(got) == -(-n // batch_size)
        epochs.append(got)
    if -(-n // chunk_rows) > buffer_chunks:           # several buffers: their chunks change
        assert epochs[0] != epochs[1]


def test_in_memory_batches_are_the_plain_shuffle():
    """One buffer of every row: the permutation and the draws of the trainers before
    streaming (a full shuffle, indices sorted per batch)."""
    b = Binarizer(IMAGES, "stochastic")
    rng, ref = np.random.default_rng(2), np.random.default_rng(2)
    got = [rows for rows, in b.batches(rng, 32, epoch=5)]
    order = ref.permutation(N)
    want = [b.rows(np.sort(order[k:k + 32]), ref) for k in range(0, N, 32)]
    assert len(got) == len(want) == 10
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_plan_fits_the_budget_and_whole_storage_chunks():
    assert plan_stream(100, 10, 1000, 5) is None                    # fits: in memory
    assert plan_stream(100, 10, None, 5) is None                    # no limit
    for budget in range(10000, 30000, 1234):                          # 1000+ rows at once
        plan = plan_stream(10000, 10, budget, 20, storage_rows=25)
        assert plan.chunk_rows % 25 == 0 and 16 <= plan.buffer_chunks <= 32
        assert (plan.chunk_rows * plan.buffer_chunks + 19) * 10 <= budget
    small = plan_stream(10000, 10, 1000, 20, storage_rows=400)      # less than a chunk
    assert small.chunk_rows < 400 and small.buffer_chunks >= 16
    assert small.chunk_rows * small.buffer_chunks + 19 <= 100
    with pytest.raises(rbmcli.InputError, match="fewer than two batches of 20"):
        plan_stream(10000, 10, 300, 20)


def test_a_budget_below_one_storage_chunk_streams(tmp_path):
    """Rows in gzip storage chunks of 334 rows, a buffer of 100: partial chunk reads."""
    big = np.random.default_rng(1).integers(0, 256, (2000, 784), dtype=np.uint8)
    write_dataset(tmp_path / "big.h5", {"": {"images": big}})
    images = open_image_file(str(tmp_path / "big.h5"))
    assert images.storage_rows == 334
    plan = plan_stream(len(images), 784, 100 * 784, 20, images.storage_rows)
    assert plan.chunk_rows < 334
    rows = StreamedRows(images, lambda raw: Binarizer(raw, "threshold"), plan, seed=0)
    seen = np.concatenate([b for b, in rows.batches(np.random.default_rng(0), 20)])
    bits = (big >= 128).astype(np.uint8)
    key = lambda a: a[np.lexsort(a.T[::-1])]  # noqa: E731  (rows sorted, to compare sets)
    np.testing.assert_array_equal(key(seen), key(bits))
    np.testing.assert_allclose(rows.mean(), bits.mean(axis=0), rtol=0, atol=1e-12)


def test_image_file_reads_like_the_array(tmp_path):
    images3d = IMAGES.reshape(N, 8, 8)
    write_dataset(tmp_path / "d.h5", {"train": {"images": images3d}})
    f = open_image_file(str(tmp_path / "d.h5"))
    assert (f.shape, f.dtype, f.image_shape, f.nbytes) == ((N, D), np.uint8, (8, 8), N * D)
    np.testing.assert_array_equal(f[10:20], IMAGES[10:20])
    index = np.array([5, 3, 5, 299, 0])
    np.testing.assert_array_equal(f[index], IMAGES[index])
    assert f[np.array([], int)].shape == (0, D)


def test_streamed_statistics_equal_the_in_memory_ones(tmp_path):
    write_dataset(tmp_path / "d.h5", {"": {"images": IMAGES}})
    f = open_image_file(str(tmp_path / "d.h5"))
    mean, std = pixel_moments(f, 37)
    x = as_unit_float(IMAGES, np.float64)
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(std, x.std(axis=0), rtol=0, atol=1e-12)
    fitted = Standardizer.fit(x)
    np.testing.assert_allclose(Standardizer.floored(mean, std).std, fitted.std, atol=1e-12)


def test_an_interrupted_streamed_epoch_starts_again_exactly(tmp_path):
    """What rbm train does on Ctrl-C: the epoch's snapshot restored, the epoch run again
    reads the same chunks in the same order and gives the uninterrupted result."""
    write_dataset(tmp_path / "d.h5", {"": {"images": IMAGES}})
    f = open_image_file(str(tmp_path / "d.h5"))
    opts = TrainOptions(n_hidden=8, method="pcd", batch_size=20, seed=5, centering=True,
                        binarize="stochastic")

    def trainer():
        rows = StreamedRows(f, lambda raw: Binarizer(raw, "stochastic"), StreamPlan(7, 4), 5)
        return Trainer(new_model(opts, rows), opts, rows, None, np.random.default_rng([5, 1]))

    def stop_at_third(done, total):
        if done == 3:
            raise KeyboardInterrupt

    whole, cut = trainer(), trainer()
    for t in (whole, cut):
        t.run_epoch(0)
    snap = cut.snapshot()
    with pytest.raises(KeyboardInterrupt):
        cut.run_epoch(1, on_batch=stop_at_third)
    cut.restore(snap)
    whole.run_epoch(1)
    cut.run_epoch(1)
    np.testing.assert_array_equal(whole.model.weights, cut.model.weights)
    np.testing.assert_array_equal(whole.state["chains"], cut.state["chains"])


# ------------------------------------------------------------------ runs


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_dataset("d.h5", {"": {"images": IMAGES, "image_shape": (8, 8)}})
    return "d.h5"


@pytest.mark.parametrize("model, options", [("rbm", dict(lr=0.05, lr_final=0.05)),
                                            ("grbm", dict(cd=2, lr=0.002, lr_final=0.002))])
def test_resume_of_a_streamed_run_repeats_the_uninterrupted_run(data, model, options):
    """rbm's default recipe (PCD-1, centering, stochastic bits) and a GRBM streamed: 2
    epochs and a resume (without --memory: the checkpoint's plan goes on) equal 3 (a
    constant learning rate: a resume stretches a decay to the new total)."""
    constant = dict(hidden=8, seed=2, batch_size=20, **options)
    budget = ROW_BUDGET if model == "rbm" else "20K"
    lines = []
    rbmcli.train(data, model, epochs=3, output="full.h5", memory=budget, log=lines.append,
                 **constant)
    assert any(line.startswith("streaming d.h5") for line in lines), lines
    rbmcli.train(data, model, epochs=2, output="part.h5", memory=budget, **constant)
    resumed = []
    rbmcli.train(data, model, epochs=3, output="part.h5", resume=True, log=resumed.append)
    assert not [line for line in resumed if "warning" in line], resumed  # same data
    full, part = load_model("full.h5"), load_model("part.h5")
    np.testing.assert_array_equal(full.state["stream_plan"], part.state["stream_plan"])
    for name in ("weights", "visible_bias", "hidden_bias"):
        np.testing.assert_array_equal(getattr(full.model, name), getattr(part.model, name))
    for name, value in full.state.items():
        np.testing.assert_array_equal(value, part.state[name], err_msg=name)
    assert full.rng_state == part.rng_state


def test_streamed_training_learns_like_in_memory(data):
    """Same data, a streamed and an in-memory GRBM and RBM: different batches, similar
    reconstruction errors; the streamed standardisation is the in-memory one."""
    for model, options in (("rbm", dict(cd=1)), ("grbm", dict(cd=2, lr=0.002))):
        common = dict(hidden=8, epochs=4, seed=1, batch_size=20, **options)
        streamed = rbmcli.train(data, model, memory=ROW_BUDGET if model == "rbm" else "20K",
                                output=f"s-{model}.h5", **common)
        whole = rbmcli.train(data, model, output=f"m-{model}.h5", **common)
        assert "stream_plan" in load_model(f"s-{model}.h5").state
        assert "stream_plan" not in load_model(f"m-{model}.h5").state
        assert not np.array_equal(streamed.weights, whole.weights)
        errors = [m.score(IMAGES, mser=True, seed=0).summary["mser"] for m in (streamed, whole)]
        assert abs(errors[0] - errors[1]) < 0.25 * max(errors), errors
        if model == "grbm":
            np.testing.assert_allclose(streamed.standardizer.std, whole.standardizer.std,
                                       atol=1e-12)


def test_the_command_says_it_streams(data):
    """4 kB hold 62 rows of 64 bytes: 43 to read beside 19 carried, as 21 chunks of 2."""
    result = CliRunner().invoke(cli, ["train", data, "-o", "m.h5", "--hidden", "8",
                                      "--batch-size", "20", "--epochs", "1", "--memory", "4K",
                                      "--no-pictures"])
    assert result.exit_code == 0, result.output
    assert "streaming d.h5 (19.2 kB) within --memory 4.0 kB: 21 chunks of 2 rows at a " \
           "time\n" in result.output
    assert load_model("m.h5").state["stream_plan"].tolist() == [2, 21]


def test_a_generous_budget_changes_nothing(data):
    a = rbmcli.train(data, hidden=8, epochs=2, seed=3, batch_size=20, memory="1G")
    b = rbmcli.train(IMAGES, hidden=8, epochs=2, seed=3, batch_size=20)
    np.testing.assert_array_equal(a.weights, b.weights)


def test_the_data_checksum_is_the_same_streamed(data):
    """The SHA-256 a checkpoint keeps of its training data (for the --resume warning) is
    the data's, whether they were read whole or chunk by chunk."""
    rbmcli.train(data, hidden=4, epochs=1, batch_size=20, memory=ROW_BUDGET, output="s.h5")
    rbmcli.train(data, hidden=4, epochs=1, batch_size=20, output="m.h5")
    streamed, whole = load_model("s.h5"), load_model("m.h5")
    assert "stream_plan" in streamed.state
    assert streamed.data_checksum == whole.data_checksum == hashlib.sha256(IMAGES.data).hexdigest()


@pytest.mark.parametrize("args, message, code", [
    (["--memory", "abc"], "Invalid value for '--memory': 'abc' is not a size like 64M, 2G "
                          "or 512MiB", 2),
    (["--memory", "0"], "Invalid value for '--memory': '0' is less than one byte; give a size "
                        "like 64M or 2G", 2),
    (["--memory", "2K"], "--memory: 2.0 kB holds 31 training rows of 64 bytes, fewer than two "
                         "batches of 20; give at least 2.6 kB or a smaller --batch-size", 1),
    (["--memory", "10K", "--model", "dbn", "--hidden", "4,4"],
     "d.h5: --model dbn trains in memory and the images take 19.2 kB, more than --memory "
     "10.0 kB", 1),
    (["--memory", "10K", "--labels"],
     "d.h5: --labels trains in memory and the images take 19.2 kB, more than --memory "
     "10.0 kB", 1),
    (["--memory", "10K", "--model", "nice"], "--memory is for the RBM models, not flows", 2),
])
def test_memory_errors_are_one_line(data, args, message, code):
    result = CliRunner().invoke(cli, ["train", data, "-o", "m.h5", "--batch-size", "20",
                                      "--epochs", "1", "--no-pictures", *args])
    assert_error(result, message, code)


def test_parse_size():
    assert parse_size("64M") == 64 * 10**6
    assert parse_size("1.5 GB") == 1.5 * 10**9
    assert parse_size("512MiB") == 512 * 2**20
    assert parse_size("4096") == parse_size(4096) == 4096
    for bad in ("abc", "0", "-1M", "0.1", "1X"):
        with pytest.raises(ValueError, match="size like 64M"):
            parse_size(bad)
    with pytest.raises(rbmcli.InputError, match="^memory: 'lots' is not a size"):
        rbmcli.train(IMAGES, hidden=4, epochs=1, memory="lots")
