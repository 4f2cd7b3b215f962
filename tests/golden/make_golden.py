"""Write the reference values of tests/test_golden_cli.py (golden.npz, golden.json).

Run ONLY when an intentional change of results is made (a new algorithm, a fixed bug),
and say so in the commit message; a refactoring must pass the golden test unchanged.

    python tests/golden/make_golden.py            # from the project root
    python tests/golden/make_golden.py --threads 2 --check
        # runs with 2 threads and only compares with the stored references

It runs the same commands as the test (``produce``), with one thread by default.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--check", action="store_true",
                        help="compare with the stored references instead of writing")
    args = parser.parse_args()

    import numba
    import numpy as np
    os.environ["RBM_THREADS"] = str(args.threads)
    os.environ.pop("RBM_MODEL", None)
    numba.set_num_threads(args.threads)
    import test_golden_cli as g

    with tempfile.TemporaryDirectory() as tmp:
        arrays, values = g.produce(Path(tmp))
        os.chdir(ROOT)
    if args.check:
        want_arrays, want_values = g.load_golden()
        bad = 0
        for key, want in want_arrays.items():
            got = np.asarray(arrays[key])
            if got.shape != want.shape or not np.array_equal(got, want, equal_nan=True):
                diff = (np.nanmax(np.abs(got.astype(float) - want))
                        if got.shape == want.shape else "shape")
                print(f"differs: {key} (max abs difference {diff})")
                bad += 1
        for key, want in want_values.items():
            if values[key] != want:
                print(f"differs: {key}: {values[key]!r} != {want!r}")
                bad += 1
        print(f"{bad} of {len(want_arrays) + len(want_values)} entries differ bitwise")
        return 1 if bad else 0
    flat, values["__arrays__"] = g.pack(arrays)
    np.savez_compressed(HERE / "golden.npz", **flat)
    lines = [f"{json.dumps(k)}: {json.dumps(values[k])}" for k in sorted(values)]
    (HERE / "golden.json").write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"wrote {len(arrays)} arrays and {len(values)} values to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
