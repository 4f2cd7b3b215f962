"""The one-line messages of situations that used to be unclear: a group of a data file
given to ``rbm info``, a file locked by another writer, a flow asked for features."""

import subprocess
import sys

import h5py
import numpy as np
from click.testing import CliRunner

from rbmcli.cli.main import cli
from rbmcli.io.datasets import write_dataset


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def write_data(path):
    rng = np.random.default_rng(0)
    images = (rng.random((12, 16)) * 255).astype(np.uint8)
    write_dataset(str(path), {"train": {"images": images[:8], "image_shape": (4, 4)},
                              "test": {"images": images[8:], "image_shape": (4, 4)}})


def test_info_describes_a_group_of_a_data_file(tmp_path):
    path = tmp_path / "d.h5"
    write_data(path)
    result = invoke("info", f"{path}:test")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}:test\t4 images of 4x4, uint8\n"
    result = invoke("info", f"{path}:nope")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: {path}: no group 'nope' of images (groups: test, train); 'rbm info {path}' "
        "describes the whole file")


def test_a_file_locked_by_another_writer_says_so(tmp_path):
    """HDF5 locks a file open for writing: another process reading it is told who holds
    it, not that the file is corrupt."""
    path = tmp_path / "d.h5"
    write_data(path)
    with h5py.File(path, "r+"):  # this process holds the write lock
        run = subprocess.run([sys.executable, "-c", "from rbmcli.cli.main import main; main()",
                              "info", str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert run.stderr.splitlines()[-1] == (
        f"Error: {path}: is open for writing by another process (locked); wait for it or set "
        "HDF5_USE_FILE_LOCKING=FALSE")
