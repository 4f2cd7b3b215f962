"""``rbm`` with one change to the up-down trainer, for the probes of REPORT.md ("What does
not close the gap"); the options no released command has:

* ``grey``: the up-down steps see the grey levels of the training digits in [0, 1] (the
  paper's ``data``) instead of a stochastic binarisation; the trainer's evaluation is
  unchanged (binarised rows). Since the probes, ``rbm train --fine-tune-input grey`` does
  the same; this variant stays for the runs made with it;
* ``balanced``: every batch of 100 holds 10 digits of each class, as the paper's did; each
  epoch cuts every class to the smallest class's count (about 45,000 of the 50,000
  digits).

Run: ``python benchmarks/quality/updown_probe.py grey|balanced train DATA -o MODEL --resume
...`` (the rest is ``rbm``'s command line). The probes of REPORT.md continued a copy of
the 200-epoch up-down checkpoint: ``train mnist-split.h5 -o probe.h5 --resume --epochs 30
--fine-tune up-down --fine-tune-epochs 300 --validate mnist-split.h5:valid --no-pictures
--threads T`` (the rate, momentum and decay kept from the checkpoint).
"""

import sys

import numpy as np

import rbmcli.training.updown as updown
from rbmcli.training.finetune import GreyLevels


class BalancedOrder:
    """The trainer's generator, except that ``permutation`` gives a balanced order: row k
    of every 10 holds one digit of each class."""

    def __init__(self, rng, labels):
        self.rng, self.labels = rng, labels

    def permutation(self, n):
        groups = [self.rng.permutation(np.flatnonzero(self.labels == c))
                  for c in np.unique(self.labels)]
        m = min(len(g) for g in groups)
        return np.stack([g[:m] for g in groups], axis=1).reshape(-1)

    def __getattr__(self, name):
        return getattr(self.rng, name)


def grey():
    init = updown.UpDownTrainer.__init__

    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)  # the evaluation rows are drawn here, binarised
        self.train = GreyLevels(self.train)
    updown.UpDownTrainer.__init__ = patched


def balanced():
    run_epoch = updown.UpDownTrainer.run_epoch

    def patched(self, epoch=0, on_batch=None):
        real = self.rng
        self.rng = BalancedOrder(real, self.train.labels)
        try:
            return run_epoch(self, epoch, on_batch)
        finally:
            self.rng = real
    updown.UpDownTrainer.run_epoch = patched


if __name__ == "__main__":
    variant = sys.argv.pop(1) if len(sys.argv) > 1 else ""
    if variant not in ("grey", "balanced"):
        sys.exit(__doc__.split("\n\n")[0] + "\nusage: updown_probe.py grey|balanced RBM-ARGS")
    {"grey": grey, "balanced": balanced}[variant]()
    from rbmcli.cli.entry import main
    main()
