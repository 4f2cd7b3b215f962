"""Two checks behind the MNIST flow numbers (see flows_mnist.md).

``gaussian``: the protocol check. A full-covariance Gaussian fitted to the 50,000
training images in logit space (lambda = 1e-6, uniform dequantization), scored on the
10,000 test images. The MAF paper reports -1366.9 nats and 2.01 bits/pixel for it.

``jacobian MODEL.h5``: the density check. The trained flow is rebuilt in float64, and
for a few test images ``log N(f(y)) + log|det J|`` with J the central-difference Jacobian
(784 x 784) of the whole forward map is compared with ``FlowModel.log_prob`` (float64
and the model's own float32).

    python benchmarks/flow_checks.py gaussian --data mnist.h5
    python benchmarks/flow_checks.py jacobian realnvp.h5 --data mnist.h5
"""

import argparse
import math
import sys
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rbmcli.flows.data import bits_per_pixel, to_logit_space  # noqa: E402


def gaussian(data):
    with h5py.File(data) as f:
        train, test = f["train/images"][:50000], f["test/images"][()]
    y, _ = to_logit_space(train, np.random.default_rng(1), dtype=np.float64)
    yt, logdet = to_logit_space(test, np.random.default_rng(2), dtype=np.float64)
    mu, cov = y.mean(0), np.cov(y.T, bias=True)
    chol = np.linalg.cholesky(cov)
    z = np.linalg.solve(chol, (yt - mu).T).T
    d = y.shape[1]
    ll = (-0.5 * np.einsum("ij,ij->i", z, z) - np.log(np.diag(chol)).sum()
          - 0.5 * d * math.log(2 * math.pi))
    bpp = bits_per_pixel(ll, logdet, d)
    print(f"gaussian test ll {ll.mean():.2f} +- {ll.std() / math.sqrt(len(ll)):.2f} nats, "
          f"{bpp.mean():.3f} bits/pixel (MAF paper: -1366.9, 2.01)")


def jacobian(model_path, data, n=3, eps=1e-5):
    from rbmcli.flows.model import FlowModel
    from rbmcli.io.modelfile import load_model

    m32 = load_model(model_path).model
    m = FlowModel.from_architecture(m32.flow_type, m32.architecture(), m32.params,
                                    m32.buffers, np.float64)
    with h5py.File(data) as f:
        pixels = f["test/images"][:n]
    y, _ = to_logit_space(pixels, np.random.default_rng(0), dtype=np.float64)
    d = y.shape[1]
    for row in y:
        steps = np.eye(d) * eps
        plus = m.flow.forward(row + steps)[0]
        minus = m.flow.forward(row - steps)[0]
        jac = ((plus - minus) / (2 * eps)).T          # J[i, j] = d f_i / d y_j
        sign, logdet = np.linalg.slogdet(jac)
        z = m.flow.forward(row[None])[0][0]
        brute = -0.5 * z @ z - 0.5 * d * math.log(2 * math.pi) + logdet
        print(f"log_prob float64 {m.log_prob(row[None])[0]:.4f}  float32 "
              f"{m32.log_prob(row[None].astype(m32.dtype))[0]:.4f}  brute-force Jacobian "
              f"{brute:.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("check", choices=["gaussian", "jacobian"])
    ap.add_argument("model", nargs="?")
    ap.add_argument("--data", default="mnist.h5")
    args = ap.parse_args()
    if args.check == "gaussian":
        gaussian(args.data)
    else:
        jacobian(args.model, args.data)


if __name__ == "__main__":
    main()
