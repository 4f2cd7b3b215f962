"""A/B test of kernel changes: a git revision's ``kernels/`` against the working tree's,
in the real training loop, in one process.

Why one process, interleaved: this machine's speed drifts by up to 2x over tens of
seconds (other tenants), so two separate runs compare the weather, not the code. Here
one Trainer (MNIST, 500 hidden, batch 100, float32, as ``bench_train.py``) runs chunks
of ``--batches`` updates, alternately with the base kernels and the new ones, and the
median over rounds of the per-round ratio new/base is printed.

Why a private Numba cache: Numba invalidates a cached kernel only when *its own* source
file changes. An edit to an inlined helper (``kernels/_rowops.py``) or to a callee in
another file (``kernels/halfsteps.py`` under ``kernels/gibbs.py``) leaves the caller's
stale machine code in ``__pycache__``, and an A/B then times the old code twice. This
script points ``NUMBA_CACHE_DIR`` at a fresh directory, so both sides compile from their
sources.

How the swap works: every public function of every ``kernels`` module is replaced by
the base revision's, module attribute by module attribute; ``rbmcli`` imports kernels
inside its functions, so each call picks up the current side.

Run ``python benchmarks/ab_kernels.py [--base REV] [--method cd|pcd|pt] [--rounds N]``.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_cache = tempfile.mkdtemp(prefix="rbm-ab-numba-")
os.environ["NUMBA_CACHE_DIR"] = _cache  # before numba is imported anywhere

import importlib  # noqa: E402
import pkgutil  # noqa: E402
import statistics  # noqa: E402

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def extract_base(rev, dest):
    """Write ``kernels/`` at git revision ``rev`` to ``dest/kernels_base``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "kernels"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    (Path(dest) / "kernels").rename(Path(dest) / "kernels_base")
    sys.path.insert(0, str(dest))


def kernel_modules(package):
    """{short module name: module} for every module of ``package``."""
    pkg = importlib.import_module(package)
    return {m.name: importlib.import_module(f"{package}.{m.name}")
            for m in pkgutil.iter_modules(pkg.__path__)}


def sides():
    """{"base": ..., "new": ...}: for each side, a list of (module, name, function) to
    set on the working tree's ``kernels`` modules."""
    new, base = kernel_modules("kernels"), kernel_modules("kernels_base")
    out = {"base": [], "new": []}
    for name, mod in new.items():
        for attr, value in list(vars(mod).items()):
            if attr.startswith("_") or not callable(value) or name not in base:
                continue
            if hasattr(base[name], attr):
                out["new"].append((mod, attr, value))
                out["base"].append((mod, attr, getattr(base[name], attr)))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", default="HEAD", help="git revision to compare against")
    p.add_argument("--method", default="cd", choices=("cd", "pcd", "pt"))
    p.add_argument("--steps", type=int, default=None, help="k of CD-k/PCD-k, or temperatures")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--batches", type=int, default=100, help="updates per chunk")
    p.add_argument("--mnist-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    args = p.parse_args(argv)
    if not os.path.isdir(args.mnist_dir):
        print(f"skipped: no MNIST folder at {args.mnist_dir}")
        return 0
    from bench_train import rbm_epoch_seconds, rbm_trainer
    from rbmcli.io.mnist import load_mnist
    from rbmcli.training.rbm import Binarizer

    extract_base(args.base, tempfile.mkdtemp(prefix="rbm-ab-"))
    swaps = sides()

    def use(side):
        for mod, attr, fn in swaps[side]:
            setattr(mod, attr, fn)

    images, _ = load_mnist(source_dir=args.mnist_dir)["train"]
    steps = args.steps or (10 if args.method == "pt" else 1)
    trainer = rbm_trainer(Binarizer(images, "threshold"), args.method, steps)
    for side in ("base", "new"):  # compile both, and let the model leave its start
        use(side)
        rbm_epoch_seconds(trainer, 200)
    rounds = []
    for r in range(args.rounds):
        row = {}
        for side in (("base", "new") if r % 2 else ("new", "base")):
            use(side)
            row[side] = rbm_epoch_seconds(trainer, args.batches) / args.batches * 1e3
        rounds.append(row)
    med = {s: statistics.median(x[s] for x in rounds) for s in ("base", "new")}
    ratio = statistics.median(x["new"] / x["base"] for x in rounds)
    print(f"{args.method}-{steps}, {args.rounds} rounds of {args.batches} batches: "
          f"base ({args.base}) {med['base']:.3f} ms/batch, new {med['new']:.3f} ms/batch, "
          f"median ratio new/base {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
