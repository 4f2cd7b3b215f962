"""Time one training epoch of a RealNVP on MNIST: ``rbm`` against the same architecture
written in PyTorch (CPU), with the same number of threads.

Architecture (both sides): actnorm, then 5 x (affine coupling with a checkerboard mask
alternating in parity, actnorm); each coupling's conditioner is an MLP
392 -> 1024 (ReLU) -> 784 giving ``[raw, t]``, ``s = scale * tanh(raw)``,
``y_b = x_b * exp(s) + t``; standard normal base. Training step: dequantize a batch of
100 images (uniform noise, logit with lambda = 1e-6), mean negative log-likelihood,
backward pass (hand-written in ``rbm``, autograd in PyTorch), global-norm clipping at
100, Adam (lr 1e-3, L2 1e-6 on conditioner weights), float32. The epoch is the 50,000
images ``rbm train`` uses (60,000 minus the 10,000 held out).

PyTorch runs in a subprocess: this file re-executed with ``--torch-worker`` by the
Python that has torch (``--torch-python``, default: this one, else
``../venv-torch/bin/python`` beside the project). Without torch the row says skipped.
The two take turns, round by round, so that load from other users hits both alike.

    python benchmarks/bench_flow.py [--threads 1] [--rounds 2] [--batches 500]
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
N_TRAIN, BATCH, LAYERS, HIDDEN = 50000, 100, 5, 1024


class _Stop(Exception):
    pass


# ----------------------------------------------------------------------------- rbm side
def rbm_trainer(pixels):
    import numpy as np

    from rbmcli.flows.model import FlowModel
    from rbmcli.flows.train import FlowOptions, FlowTrainer

    opts = FlowOptions(model="realnvp", layers=LAYERS, hidden_units=HIDDEN, hidden_layers=1,
                       batch_size=BATCH, lr=1e-3, warmup=500, clip=100.0, weight_decay=1e-6)
    model = FlowModel.create("realnvp", 784, LAYERS, HIDDEN, 1, (28, 28), np.float32, 0)
    trainer = FlowTrainer(model, opts, pixels, None, np.random.default_rng(0))
    trainer.initialize()
    return trainer


def rbm_seconds(trainer, n_batches):
    """Wall time of ``run_epoch`` up to the end of its ``n_batches``-th update."""
    end = []

    def on_batch(done, total):
        if done == n_batches:
            end.append(time.perf_counter())
            raise _Stop

    start = time.perf_counter()
    try:
        trainer.run_epoch(on_batch=on_batch)
    except _Stop:
        pass
    return end[0] - start


# --------------------------------------------------------------------------- torch side
def torch_worker(pixels_path, threads, n_batches, rounds, out_path):
    """Build the PyTorch RealNVP, then time ``n_batches`` training steps ``rounds``
    times (one per line of ``out_path``, when the parent says go on stdin)."""
    import math

    import numpy as np
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    pixels = torch.from_numpy(np.load(pixels_path))
    lam = 1e-6
    d = 784
    r, c = np.indices((28, 28))
    odd = ((r + c) % 2).ravel()

    def dequantize(p):
        u = (p.float() + torch.rand(p.shape)) / 256
        v = lam + (1 - 2 * lam) * u
        return torch.log(v) - torch.log1p(-v)

    class ActNorm(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.shift = torch.nn.Parameter(torch.zeros(d))
            self.logscale = torch.nn.Parameter(torch.zeros(d))
            self.ready = False

        def forward(self, x):
            if not self.ready:
                with torch.no_grad():
                    self.shift.copy_(-x.mean(0))
                    self.logscale.copy_(-torch.log(x.std(0, unbiased=False) + 1e-6))
                self.ready = True
            return (x + self.shift) * torch.exp(self.logscale), self.logscale.sum().expand(len(x))

    class Coupling(torch.nn.Module):
        def __init__(self, parity):
            super().__init__()
            self.register_buffer("ia", torch.from_numpy(np.flatnonzero(odd != parity)))
            self.register_buffer("ib", torch.from_numpy(np.flatnonzero(odd == parity)))
            self.l1 = torch.nn.Linear(len(self.ia), HIDDEN)
            torch.nn.init.kaiming_normal_(self.l1.weight, nonlinearity="relu")
            torch.nn.init.zeros_(self.l1.bias)
            self.l2 = torch.nn.Linear(HIDDEN, 2 * len(self.ib))
            torch.nn.init.zeros_(self.l2.weight)
            torch.nn.init.zeros_(self.l2.bias)
            self.scale = torch.nn.Parameter(torch.ones(len(self.ib)))

        def forward(self, x):
            xa, xb = x[:, self.ia], x[:, self.ib]
            raw, t = self.l2(torch.relu(self.l1(xa))).chunk(2, dim=1)
            s = self.scale * torch.tanh(raw)
            y = torch.empty_like(x)
            y[:, self.ia] = xa
            y[:, self.ib] = xb * torch.exp(s) + t
            return y, s.sum(1)

    layers = torch.nn.ModuleList([ActNorm()])
    for i in range(LAYERS):
        layers += [Coupling(i % 2), ActNorm()]

    def log_prob(x):
        total = torch.zeros(len(x))
        for layer in layers:
            x, ld = layer(x)
            total = total + ld
        return -0.5 * (x * x).sum(1) - 0.5 * d * math.log(2 * math.pi) + total

    with torch.no_grad():
        log_prob(dequantize(pixels[torch.randperm(len(pixels))[:1000]]))  # actnorm init
    weights = [p for n, p in layers.named_parameters() if n.endswith("weight")]
    others = [p for n, p in layers.named_parameters() if not n.endswith("weight")]
    opt = torch.optim.Adam([{"params": weights, "weight_decay": 1e-6},
                            {"params": others, "weight_decay": 0.0}], lr=1e-3)
    step = [0]

    def train(n):
        order = torch.randperm(len(pixels))
        start = time.perf_counter()
        for k in range(n):
            x = dequantize(pixels[order[k * BATCH:(k + 1) * BATCH]])
            loss = -log_prob(x).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(layers.parameters(), 100.0)
            step[0] += 1
            for g in opt.param_groups:
                g["lr"] = 1e-3 * min(1.0, step[0] / 500)
            opt.step()
        return time.perf_counter() - start, float(loss.detach())

    train(3)  # warm-up
    with open(out_path, "a") as out:
        for _ in range(rounds):
            sys.stdin.readline()
            seconds, loss = train(n_batches)
            out.write(json.dumps({"seconds": seconds, "loss": loss}) + "\n")
            out.flush()
            print("done", flush=True)


def torch_python(requested):
    """The Python executable that can import torch, or None."""
    candidates = [requested] if requested else [sys.executable,
                                                str(ROOT.parent / "venv-torch/bin/python")]
    for exe in candidates:
        if exe and shutil.which(exe) or (exe and os.access(exe, os.X_OK)):
            probe = subprocess.run([exe, "-c", "import torch; print(torch.__version__)"],
                                   capture_output=True, text=True)
            if probe.returncode == 0:
                return exe, probe.stdout.strip()
    return None, None


# --------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batches", type=int, default=N_TRAIN // BATCH,
                    help="batches timed per round (the epoch time is scaled to 500)")
    ap.add_argument("--mnist-dir", default=str(MNIST_DIR))
    ap.add_argument("--torch-python", default=None)
    ap.add_argument("--torch-worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker:
        pixels_path, out_path, n = args.torch_worker
        return torch_worker(pixels_path, args.threads, int(n), args.rounds, out_path)

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(ROOT))
    if not Path(args.mnist_dir).is_dir():
        print(f"skipped: no MNIST folder {args.mnist_dir}")
        return 0
    import numba
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    from rbmcli.io.mnist import load_mnist

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    images, _ = load_mnist(source_dir=args.mnist_dir)["train"]
    pixels = np.ascontiguousarray(images.reshape(len(images), -1)[:N_TRAIN], np.uint8)
    exe, torch_version = torch_python(args.torch_python)
    blas = ", ".join(f"{i['internal_api']} {i['version']}" for i in threadpool_info()
                     if i["user_api"] == "blas")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"threads {args.threads} (rbm: numba + BLAS, torch: set_num_threads); BLAS {blas}")
    print(f"# python {platform.python_version()}, numpy {np.__version__}, numba "
          f"{numba.__version__}, torch {torch_version or 'not installed'}")
    print(f"# load average before: {os.getloadavg()[0]:.2f}")
    scale = (N_TRAIN // BATCH) / args.batches
    times = {"rbm": [], "torch": []}
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(args.threads, "blas"):
        worker = None
        if exe:
            np.save(f"{tmp}/pixels.npy", pixels)
            worker = subprocess.Popen(
                [exe, __file__, "--threads", str(args.threads), "--rounds", str(args.rounds),
                 "--torch-worker", f"{tmp}/pixels.npy", f"{tmp}/torch.jsonl",
                 str(args.batches)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                env=dict(os.environ))
        trainer = rbm_trainer(pixels)
        rbm_seconds(trainer, 3)  # compile and warm up
        for r in range(args.rounds):
            times["rbm"].append(rbm_seconds(trainer, args.batches) * scale)
            if worker:
                worker.stdin.write("go\n")
                worker.stdin.flush()
                worker.stdout.readline()
                with open(f"{tmp}/torch.jsonl") as fh:
                    times["torch"].append(json.loads(fh.readlines()[r])["seconds"] * scale)
            print(f"round {r + 1}: rbm {times['rbm'][-1]:.1f} s" + (
                f", torch {times['torch'][-1]:.1f} s" if worker else ""), flush=True)
        if worker:
            worker.wait()
    print(f"# load average after: {os.getloadavg()[0]:.2f}")
    print(f"rbm RealNVP epoch\t{statistics.median(times['rbm']):.1f} s")
    if not times["torch"]:
        print("torch RealNVP epoch\tskipped (no Python with torch; pass --torch-python)")
        return 0
    print(f"torch RealNVP epoch\t{statistics.median(times['torch']):.1f} s")
    ratios = [t / r for t, r in zip(times["torch"], times["rbm"])]
    ratio = statistics.median(ratios)
    print(f"torch / rbm (median of per-round ratios)\t{ratio:.2f}\t"
          f"target >= 1 (rbm not slower): {'met' if ratio >= 1 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
