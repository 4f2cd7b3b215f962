"""The ``rbm`` command: a Click group whose sub-commands are imported on demand.

Sub-command modules (``rbmcli/cli/*.py``, listed in :data:`_COMMANDS`) import only Click
and the standard library at module level; NumPy, h5py and the Numba kernels come through
:mod:`rbmcli.cli.lazy`, the one list of the CLI's lazy imports. So ``rbm --help`` loads no
kernel and compiles nothing.
"""

import importlib
import importlib.util
import sys

import click

from rbmcli import __version__
from rbmcli.errors import InputError

# command name -> "module:attribute"; the order is the order of ``rbm --help``.
_COMMANDS = {
    "data": "rbmcli.cli.data:data",
    "train": "rbmcli.cli.train:train",
    "sample": "rbmcli.cli.sample:sample",
    "inpaint": "rbmcli.cli.inpaint:inpaint",
    "score": "rbmcli.cli.score:score",
    "classify": "rbmcli.cli.classify:classify",
    "info": "rbmcli.cli.info:info",
    "transform": "rbmcli.cli.transform:transform",
    "sweep": "rbmcli.cli.sweep:sweep",
}


class LazyGroup(click.Group):
    """A group that imports a sub-command's module only when it is needed, and
    turns :class:`InputError` into Click's one-line ``Error: ...`` with exit 1 and
    Ctrl-C into exit 130."""

    def list_commands(self, ctx):
        names = [n for n in _COMMANDS if self.get_command(ctx, n) is not None]
        return names + sorted(set(super().list_commands(ctx)) - set(_COMMANDS))

    def get_command(self, ctx, name):
        if name in _COMMANDS:
            module_name = _COMMANDS[name].split(":")[0]
            if importlib.util.find_spec(module_name) is None:  # not written yet
                return None
            module_name, attr = _COMMANDS[name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, name)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except KeyboardInterrupt as err:
            _interrupted(err)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as err:
            raise click.ClickException(str(err)) from None
        except KeyboardInterrupt as err:
            _interrupted(err)


def _interrupted(err):
    """Ctrl-C outside a training loop (which says itself what it saved): exit 130, the
    shell's status for SIGINT, rather than Click's "Aborted!" with status 1. Outputs
    are renamed into place only when complete (rbmcli.io.atomic), so nothing was written.
    ``err``: the KeyboardInterrupt; rbmcli.cli.entry raises it with the signal's name
    for SIGTERM (Python's own, for SIGINT, has none)."""
    name = err.args[0] if err.args else "SIGINT"
    click.echo(f"\ninterrupted ({name}): nothing was written", err=True)
    sys.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="rbm")
def cli():
    """Train, sample, inpaint with and score Restricted Boltzmann Machines on the CPU.

    \b
    Examples:
      rbm data mnist --from ../shared/data/mnist -o mnist.h5
      rbm train mnist.h5 --cd 1 --hidden 500
      rbm info model.h5
    """


def main():
    """Entry point of the ``rbm`` console script."""
    cli(prog_name="rbm")
