"""The installed ``rbm`` console script, lazy imports, and the help of every command."""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from rbmcli import __version__
from rbmcli.cli.main import cli


@pytest.fixture(scope="module")
def rbm():
    """Path of the ``rbm`` console script (on PATH, else next to this Python)."""
    exe = shutil.which("rbm") or str(Path(sys.executable).parent / "rbm")
    if not os.access(exe, os.X_OK):
        pytest.skip("the rbm console script is not installed")
    return exe


def run(*args, cwd=None):
    return subprocess.run([*args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_version(rbm):
    proc = run(rbm, "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"rbm, version {__version__}\n"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(rbm, flag):
    proc = run(rbm, flag)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("Usage: rbm [OPTIONS] COMMAND [ARGS]...")
    commands = [line.split()[0] for line in out.split("Commands:\n", 1)[1].splitlines()
                if line.startswith("  ") and not line.startswith("   ")]
    assert commands == ["data", "train", "sample", "inpaint", "score", "classify", "info",
                        "transform", "sweep"]
    assert proc.stderr == ""


def test_unknown_command(rbm):
    proc = run(rbm, "nope")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == "Error: No such command 'nope'."


def test_input_error_through_the_console_script(rbm, tmp_path):
    proc = run(rbm, "train", "missing.h5", "-o", "m.h5", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == "Error: missing.h5: no such file\n"
    assert os.listdir(tmp_path) == []
    proc = run(rbm, "info", "missing.h5", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (1, "Error: missing.h5: no such file\n")


def test_help_imports_no_numba():
    code = ("import rbmcli.cli.main, sys; from click.testing import CliRunner; "
            "CliRunner().invoke(rbmcli.cli.main.cli, ['--help']); print('numba' in sys.modules)")
    proc = run(sys.executable, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "False\n"


def test_no_help_imports_numba_numpy_or_h5py():
    code = (
        "import rbmcli.cli.main, sys; from click.testing import CliRunner\n"
        "for args in (['--help'], ['data', '--help'], ['data', 'mnist', '--help'],\n"
        "             ['data', 'synthetic', '--help'], ['data', 'images', '--help'],\n"
        "             ['data', 'show', '--help'], ['train', '--help'], ['info', '--help']):\n"
        "    assert CliRunner().invoke(rbmcli.cli.main.cli, args).exit_code == 0, args\n"
        "print(sorted(m for m in ('numba', 'numpy', 'h5py', 'PIL', 'rbmcli.kernels') if m in sys.modules))\n"
    )
    proc = run(sys.executable, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"


# ------------------------------------------------------------------ every command's help


def all_commands(group=cli, path=()):
    """(path, command) for the group and every command and sub-command below it."""
    yield path, group
    if isinstance(group, click.Group):
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            yield from all_commands(group.get_command(ctx, name), path + (name,))


COMMANDS = list(all_commands())


def test_the_command_tree():
    names = [" ".join(p) for p, _ in COMMANDS]
    assert names[:2] == ["", "data"] and names[-5:] == ["score", "classify", "info",
                                                        "transform", "sweep"]
    assert sorted(names[2:-5]) == ["data images", "data mnist", "data show", "data synthetic",
                                   "inpaint", "sample", "train"]


def examples(help_text):
    """The lines of the Examples block that ends the help text (None if it does not)."""
    paragraphs = [p.strip("\n") for p in help_text.strip().split("\n\n")]
    last = [line.strip() for line in paragraphs[-1].splitlines()]
    if last[0] == "\b":
        last = last[1:]
    if not last or last[0] != "Examples:" or len(last) < 2:
        return None
    return last[1:]


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) or "rbm" for p, _ in COMMANDS])
def test_help_exits_0_and_ends_with_examples(path, command):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: cli {' '.join(path)}".replace("  ", " ").rstrip())
    lines = examples(command.help)
    assert lines, f"help of 'rbm {' '.join(path)}' does not end with an Examples block"
    for line in lines:
        assert line.startswith("rbm "), line
    # the rendered help shows the block just before the options
    description = result.output.split("\nOptions:\n", 1)[0]
    rendered = [line.strip() for line in description.rstrip().splitlines()]
    assert rendered[-len(lines) - 1:] == ["Examples:", *lines]


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) or "rbm" for p, _ in COMMANDS])
def test_examples_parse(path, command):
    """Every example names existing commands and options with valid values."""
    for line in examples(command.help):
        for pipeline_part in line.split("#", 1)[0].split("|"):
            words = shlex.split(pipeline_part)
            assert words[0] == "rbm", line
            words = words[1:]
            cmd, ctx = cli, None
            name = "rbm"
            while isinstance(cmd, click.Group) and words and not words[0].startswith("-"):
                name = words.pop(0)
                ctx = click.Context(cmd, info_name=name, parent=ctx)
                cmd = cmd.get_command(ctx, name)
                assert cmd is not None, f"{line}: no command {name!r}"
            # parse (and convert) the arguments without running the command
            cmd.make_context(name, list(words), parent=ctx)
