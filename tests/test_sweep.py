"""``rbm sweep`` on a local Dask cluster, and its plan, records, tables and pictures.

The sweeps are tiny (8x8 images, 8-16 hidden units, 2 epochs): what takes time is the
start of the worker processes. One sweep on two workers (:func:`study`) is shared by
several tests; a second one, on one worker, checks that the results of a seed do not
depend on the workers (nor on a run resumed from a checkpoint).
"""

import datetime
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import rbmcli
from rbmcli.progress import ProgressBar
from rbmcli.sweep import cluster, plan, report, results
from rbmcli.sweep.records import model_path
from rbmcli.sweep.run import Scoring, SweepInputs
from sweephelpers import environment, invoke, leftovers, records, run_rbm, write_prototypes
from clihelpers import assert_error, assert_ok

distributed = pytest.importorskip("distributed")

STUDY = """\
seeds = 2

[options]
epochs = 2
batch_size = 50

[[grid]]            # a product: 2 x 2 cells
hidden = [8, 16]
l2 = [0.0, 0.001]

[[grid]]            # and one more cell, which diverges
hidden = 8
lr = 1e30
l2 = 1.0
"""
GRID = ["--grid", "hidden=8,16", "--grid", "l2=0,0.001", "--seeds", "2", "--epochs", "2",
        "--batch-size", "50"]
"""The product of STUDY's first [[grid]] on the command line."""
PRODUCT_IDS = [f"hidden-{h}_l2-{l2}_seed-{s}" for h in (8, 16) for l2 in ("0", "0.001")
               for s in (0, 1)]
DIVERGING_IDS = ["hidden-8_l2-1_lr-1e+30_seed-0", "hidden-8_l2-1_lr-1e+30_seed-1"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A folder with the data (d.h5) and the sweep file (study.toml)."""
    folder = tmp_path_factory.mktemp("sweep")
    write_prototypes(folder / "d.h5")
    (folder / "study.toml").write_text(STUDY)
    return folder


@pytest.fixture(scope="module")
def study(files):
    """STUDY swept on a local cluster of two workers into ``files/out`` (a subprocess, so
    that a hung cluster cannot hang the tests): (folder, (status, stdout, stderr))."""
    out = files / "out"
    return out, run_rbm("sweep", files / "d.h5", "--test", f"{files / 'd.h5'}:test", "-f",
                        files / "study.toml", "-o", out, "--workers", 2)


# --------------------------------------------------------------------------- plans
def test_a_grid_is_the_product_of_its_values_times_the_seeds():
    runs = plan.expand({"epochs": 2}, [{"hidden": [(8,), (16,)], "l2": [0.0, 1e-3]}],
                       seeds=[5, 6])
    assert [r.run_id for r in runs][:3] == ["hidden-8_l2-0_seed-5", "hidden-8_l2-0_seed-6",
                                            "hidden-8_l2-0.001_seed-5"]
    assert len(runs) == 8 and len({r.run_id for r in runs}) == 8
    assert runs[0].options == {"epochs": 2, "hidden": (8,), "l2": 0.0, "seed": 5}
    assert runs[0].cell == runs[1].cell == "hidden-8_l2-0"
    assert runs[0].axes == ("hidden", "l2", "seed")


def test_grids_are_joined_and_repeated_runs_dropped():
    runs = plan.expand({}, [{"hidden": [8, 16]}, {"hidden": [16], "l1": [0.1]},
                            {"hidden": [8]}])
    assert [r.run_id for r in runs] == ["hidden-8_seed-0", "hidden-16_seed-0",
                                        "hidden-16_l1-0.1_seed-0"]


def test_ids_that_collide_get_a_hash():
    runs = plan.expand({}, [{"model": ["a/b", "a_b"]}])
    assert runs[0].run_id != runs[1].run_id
    assert all(r.run_id.startswith("model-a_b_seed-0_") for r in runs)


def test_dry_run_prints_the_runs_of_a_sweep_file(files):
    result = invoke("sweep", "-f", files / "study.toml", "--dry-run")
    assert_ok(result)
    lines = result.stdout.splitlines()
    assert len(lines) == 10
    assert lines[0] == "hidden-8_l2-0_seed-0\ttodo\t--epochs 2 --batch-size 50 --hidden 8 " \
                       "--l2 0.0 --seed 0"
    assert lines[-1] == "hidden-8_l2-1_lr-1e+30_seed-1\ttodo\t--epochs 2 --batch-size 50 " \
                        "--hidden 8 --lr 1e+30 --l2 1.0 --seed 1"
    assert result.stderr == ""


def test_dry_run_of_a_grid_uses_the_types_of_rbm_train(files):
    result = invoke("sweep", *GRID, "--centering", "--dry-run")
    assert_ok(result)
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == PRODUCT_IDS
    assert_error(invoke("sweep", "--grid", "hidden=8,0", "--dry-run"),
                 "--grid hidden=8,0: 0 is not in the range x>=1.", code=2)
    assert_error(invoke("sweep", "--grid", "lr", "--dry-run"),
                 "--grid lr: expected NAME=V1,V2,...", code=2)
    assert_error(invoke("sweep", "--grid", "seed=1,2", "--seeds", "2", "--dry-run"),
                 "a grid of seed and --seeds: give one", code=2)
    assert_error(invoke("sweep", "--grid", "l2=0", "--grid", "l2=1", "--dry-run"),
                 "--grid l2=1: l2 has a --grid already", code=2)


@pytest.mark.parametrize("text, message", [
    ("[options]\nhidden = 0\n", "hidden = 0: 0 is not in the range x>=1."),
    ("[options]\nwings = 2\n", "wings is not an option of rbm train"),
    ("[[grid]]\nlr = []\n", "[[grid]] lr = []: give at least one value"),
    ("sedes = 3\n", "unknown key 'sedes' (a sweep file has [options], [[grid]] and data, "
                    "validate, test, seeds, score)"),
    ("seeds = 0\n", "seeds = 0: expected a whole number >= 1"),
    ("test = 3\n", "test = 3: expected a string"),
    ("[options\n", "not a TOML sweep file: Expected ']' at the end of a table declaration "
                   "(at line 1, column 9)"),
])
def test_a_bad_sweep_file_is_one_error_line(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert_error(invoke("sweep", "-f", path, "--dry-run"), f"{path}: {message}")


# ------------------------------------------------------------------- a whole sweep
def test_a_sweep_on_two_local_workers(files, study):
    out, (status, stdout, stderr) = study
    assert status == 0, stderr
    assert stdout == ""
    assert "local cluster: 2 workers; dashboard:" in stderr
    found = records(out)
    assert sorted(found) == sorted(PRODUCT_IDS + DIVERGING_IDS)
    for run_id in PRODUCT_IDS:
        record = found[run_id]
        assert record["status"] == "ok", record["error"]
        assert record["metrics"]["log_z_method"] == "exact"
        assert -64 * np.log(2) < record["metrics"]["ll"] < 0
        assert 0 <= record["metrics"]["mser"] <= 1
        assert record["worker"].startswith("tcp://127.0.0.1:")
        assert rbmcli.load(model_path(out, run_id)).epoch == 2
    assert len({found[i]["worker"] for i in PRODUCT_IDS}) == 2  # both workers ran some
    # one line per finished run in a pipe
    assert sum(line.startswith("[") for line in stderr.splitlines()) == 10
    assert leftovers(out) == []


def test_a_diverging_run_is_recorded_as_failed(study):
    out, (_, _, stderr) = study
    for run_id in DIVERGING_IDS:
        record = records(out)[run_id]
        assert record["status"] == "failed"
        assert "training diverged in epoch 1/2" in record["error"]
        assert record["metrics"] == {}
    assert f"{DIVERGING_IDS[0]}: failed: " in stderr


def test_results_table_and_summary(study):
    out, _ = study
    rows = (out / "results.csv").read_text().splitlines()
    assert rows[0].startswith("run_id,cell,epochs,batch_size,hidden,l2,lr,seed,status,n,")
    assert rows[0].endswith(",epochs_trained,resumed_from,train_seconds,score_seconds,"
                            "seconds,started,finished,worker,error")
    assert len(rows) == 11
    assert rows[1].startswith("hidden-8_l2-0_seed-0,hidden-8_l2-0,2,50,8,0,,0,ok,100,")
    summary = (out / "summary.md").read_text()
    assert "10 runs: 8 ok, 2 failed." in summary
    assert "Wall time " in summary and "the runs' own times add up to" in summary
    assert "Every run: `--epochs 2 --batch-size 50`" in summary
    assert "| hidden | l2 | lr | runs | ll | mser | mser_mean_field | seconds |  |" in summary
    assert "| 8 | 1 | 1e+30 | 0/2 | – | – | – | – |  |" in summary
    cells = results.cells(list(records(out).values()))
    best = max((c for c in cells if c.values("ll")), key=lambda c: c.mean("ll"))
    assert summary.count("**best**") == 1
    label = results.cell_label(best.options, ["hidden", "l2", "lr"])
    assert f"Best cell (highest mean ll): {label}." in summary
    assert "## Failed runs" in summary and f"- `{DIVERGING_IDS[0]}`: " in summary


def test_pictures(study):
    out, _ = study
    heat = Image.open(out / "heatmap.png")
    assert heat.mode == "RGB" and heat.width > 200
    assert (np.asarray(heat) == report.BEST).all(axis=2).any()  # the best square
    assert Image.open(out / "curves.png").size[0] >= report.PLOT[0]
    filters = sorted(os.listdir(out / "filters"))
    assert filters == sorted(f"hidden-{h}_l2-{l2}.png" for h in (8, 16) for l2 in ("0", "0.001"))


def test_a_sweep_started_again_skips_the_recorded_runs(files, study):
    out, _ = study
    before = {p: (out / "runs" / p).read_bytes() for p in os.listdir(out / "runs")}
    result = invoke("sweep", files / "d.h5", "--test", f"{files / 'd.h5'}:test", "-f",
                    files / "study.toml", "-o", out, "--workers", 2)
    assert_ok(result)
    assert f"10 of 10 runs are recorded in {out}; running the other 0" in result.stderr
    assert "local cluster" not in result.stderr  # nothing to run: no cluster
    assert {p: (out / "runs" / p).read_bytes() for p in os.listdir(out / "runs")} == before
    dry = invoke("sweep", "-f", files / "study.toml", "-o", out, "--dry-run")
    assert [line.split("\t")[1] for line in dry.stdout.splitlines()] == ["done"] * 8 + \
        ["failed"] * 2


def test_a_sweep_with_other_options_in_the_same_folder_is_refused(files, study):
    out, _ = study
    result = invoke("sweep", files / "d.h5", "-o", out, *GRID[:-2], "--batch-size", "20")
    run = out / "runs" / f"{PRODUCT_IDS[0]}.json"
    assert_error(result, f"{run}: was run with --batch-size 50, this sweep has --batch-size "
                         "20; choose a new -o DIR for another sweep")


def test_report_rebuilds_the_results_from_the_records(files, study):
    out, _ = study
    copy = files / "copy"
    shutil.copytree(out / "runs", copy / "runs")
    result = invoke("sweep", "--report", copy, "--axes", "l2,hidden")
    assert_ok(result)
    assert (copy / "results.csv").read_text() == (out / "results.csv").read_text()
    assert (copy / "summary.md").read_text() == (out / "summary.md").read_text()
    assert Image.open(copy / "heatmap.png").size != Image.open(out / "heatmap.png").size
    assert sorted(os.listdir(copy / "filters")) == sorted(os.listdir(out / "filters"))
    assert_error(invoke("sweep", "--report", copy, "--axes", "momentum"),
                 "--axes momentum: give one or two options that vary in the sweep "
                 "(hidden, l2, lr)")
    assert_error(invoke("sweep", "--report", files), f"{files}: is not a sweep folder "
                                                     "(no runs/ folder)")


def test_a_seed_gives_the_same_results_on_one_worker_or_two(files, study, tmp_path):
    """The product of STUDY again, from the command line, on one worker, with the data
    sent by the client (--scatter) rather than read by the worker; one of its runs
    continues a checkpoint of its first epoch (as after a crash)."""
    out, _ = study
    one = tmp_path / "one"
    resumed = PRODUCT_IDS[-1]
    os.makedirs(one / "runs")

    class Crash(Exception):
        pass

    def crash(epoch, epochs, metrics):
        raise Crash

    with pytest.raises(Crash):
        rbmcli.train(str(files / "d.h5"), hidden=16, l2=0.001, seed=1, epochs=2,
                     batch_size=50, output=str(model_path(one, resumed)), callback=crash,
                     threads=1)
    status, _, stderr = run_rbm("sweep", files / "d.h5", "--test", f"{files / 'd.h5'}:test",
                                "-o", one, *GRID, "--workers", 1, "--scatter")
    assert status == 0, stderr
    assert "local cluster: 1 workers" in stderr
    two, alone = records(out), records(one)
    assert sorted(alone) == sorted(PRODUCT_IDS)
    assert alone[resumed]["resumed_from"] == 1
    # The same up to float rounding: a worker that compiled a kernel itself and one that
    # loaded it from Numba's cache round a few sums differently (1e-10 relative in CI's
    # cold start; see SCALE_ATOL in test_golden_cli.py); another seed or other data moves
    # every figure by far more than the tolerance.
    for run_id in PRODUCT_IDS:
        a, b = alone[run_id]["metrics"], two[run_id]["metrics"]
        assert sorted(a) == sorted(b), run_id
        for name, value in a.items():
            assert value == (pytest.approx(b[name], rel=1e-6, abs=1e-9)
                             if isinstance(value, float) else b[name]), (run_id, name)
        mine, theirs = rbmcli.load(model_path(one, run_id)), rbmcli.load(model_path(out, run_id))
        for x, y in zip(mine.parameter_arrays(), theirs.parameter_arrays()):
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-5 * np.abs(y).max())


def test_the_output_must_be_a_sweep_folder(files, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    assert_error(invoke("sweep", files / "d.h5", "-o", tmp_path),
                 f"{tmp_path}: exists and holds no sweep (no runs/ folder); choose a new "
                 "-o DIR")
    assert_error(invoke("sweep", files / "d.h5", "-o", tmp_path / "notes.txt"),
                 f"Invalid value for '-o' / '--output': Directory "
                 f"'{tmp_path / 'notes.txt'}' is a file.", code=2)
    assert_error(invoke("sweep", files / "nope.h5", "-o", tmp_path / "new"),
                 f"{files / 'nope.h5'}: no such file")
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_no_scheduler_at_the_address_is_one_error_line(files, tmp_path, monkeypatch):
    monkeypatch.setattr("rbmcli.sweep.cluster.CONNECT_SECONDS", 1)
    result = invoke("sweep", files / "d.h5", "-o", tmp_path / "out", "--hidden", 8,
                    "--scheduler", "tcp://127.0.0.1:1")
    assert_error(result, "tcp://127.0.0.1:1: cannot connect to the Dask scheduler: Timed "
                         "out trying to connect to tcp://127.0.0.1:1 after 1 s")
    assert_error(invoke("sweep", files / "d.h5", "-o", tmp_path / "out", "--workers", 2,
                        "--scheduler", "tcp://127.0.0.1:1"),
                 "--workers is for the local cluster, not --scheduler", code=2)


def test_without_dask_the_sweep_says_how_to_install_it(files, tmp_path):
    code = ("import sys; sys.modules['dask'] = sys.modules['distributed'] = None\n"
            "from rbmcli.cli.main import main; main()")
    proc = subprocess.run([sys.executable, "-c", code, "sweep", str(files / "d.h5"), "-o",
                           str(tmp_path / "out")], capture_output=True, text=True,
                          env=environment(), timeout=120)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == "Error: rbm sweep needs Dask: pip install 'rbm[sweep]' (or " \
                          "'dask[distributed]')\n"
    assert not os.path.exists(tmp_path / "out")


def test_a_run_whose_workers_keep_dying_is_recorded_as_failed(tmp_path):
    """What the client does when the scheduler gives up on a run (KilledWorker, after
    --retries deaths of its workers): a failed record with a one-line error, and the
    temporary files of the killed attempt removed."""
    (run,) = plan.expand({"hidden": (8,)})
    inputs = SweepInputs(folder=str(tmp_path), data=None, validate=None, scoring=Scoring())
    os.makedirs(tmp_path / "runs")
    stale = tmp_path / "runs" / f".{run.run_id}.h5.0123abcd.tmp"
    stale.write_bytes(b"half a checkpoint")

    class Dead:
        status = "error"

        def exception(self):
            return distributed.KilledWorker("key", "tcp://127.0.0.1:1234", 2)

    record = cluster._outcome(Dead(), run, inputs)
    assert record == records(tmp_path)[run.run_id]
    assert (record["status"], record["error"]) == (
        "failed", "its worker died 3 times (the last: tcp://127.0.0.1:1234)")
    assert not stale.exists()


def test_workers_draw_no_progress_bars():
    """A worker's standard error says it is no terminal (the trainers then draw no
    per-epoch bars over the sweep's), and passes what is written on."""
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = cluster.NotATerminal(Terminal())
    assert not ProgressBar("epoch 1/2", stream=stream).enabled
    stream.write("a line\n")
    assert stream.stream.getvalue() == "a line\n"


def test_summary_statistics_of_records():
    def record(seed, ll, status="ok"):
        return dict(run_id=f"hidden-8_seed-{seed}", cell="hidden-8", axes=["hidden", "seed"],
                    options={"hidden": [8], "seed": seed}, seed=seed, status=status,
                    metrics={"ll": ll} if status == "ok" else {}, seconds=1.0,
                    error="" if status == "ok" else "boom")
    found = [record(0, -10.0), record(1, -12.0), record(2, None, "failed")]
    (cell,) = results.cells(found)
    assert (cell.mean("ll"), cell.sd("ll"), cell.succeeded()) == (-11.0, np.sqrt(2), 2)
    text = results.summary_text(found)
    assert "| 8 | 2/3 | -11.0 ± 1.4 | 1.0 | **best** |" in text
    assert "- `hidden-8_seed-2`: boom" in text
    assert json.loads(json.dumps(found)) == found  # records are plain JSON


def test_busy_seconds_leave_out_the_pauses():
    t = lambda s: datetime.datetime(2026, 1, 1) + datetime.timedelta(seconds=s)  # noqa: E731
    # two workers overlapping 0-10 and 5-12, a pause, then one run 100-103
    spans = [(t(100), t(103)), (t(5), t(12)), (t(0), t(10))]
    assert results.busy_seconds(spans) == 15.0
    assert results.busy_seconds([(t(0), t(10)), (t(2), t(4))]) == 10.0  # nested
    records = [dict(started=t(a).isoformat(), finished=t(b).isoformat(), seconds=b - a)
               for a, b in ((0, 10), (5, 12), (100, 103))]
    assert results._timing(records)[0].startswith(
        "Wall time 15 s while runs were under way")
    assert "add up to 20 s (1.3 runs at a time on average)" in results._timing(records)[0]


def test_nice_ticks():
    assert report.nice_ticks(-197.3, -196.1) == pytest.approx([-197.5, -197, -196.5, -196])
    assert report.nice_ticks(0, 1) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
