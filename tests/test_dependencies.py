"""The package imports only what `pip install .` installs (setup.cfg install_requires)
and the standard library: a module that imports SciPy or scikit-learn works in the
developers' environment and fails on a user's machine."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {"numpy", "numba", "llvmlite", "click", "h5py", "PIL", "threadpoolctl", "rbmcli",
           "kernels"}
"""install_requires (llvmlite comes with numba, which it is part of) and our packages."""
OPTIONAL = {"rbmcli/estimators.py": {"sklearn", "scipy"},
            "rbmcli/sweep/cluster.py": {"dask", "distributed"},
            "rbmcli/sweep/plan.py": {"tomli"}}
"""Modules that only users of an extra import (``rbm[sklearn]``: the scikit-learn
estimator; ``rbm[sweep]``: Dask, and tomli where Python < 3.11 has no tomllib), with what
they may import besides."""


def imported_top_level_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


def test_package_imports_only_declared_dependencies():
    stdlib = set(sys.stdlib_module_names)
    bad = [f"{path.relative_to(ROOT)}:{line}: {name}"
           for package in ("rbmcli", "kernels")
           for path in sorted((ROOT / package).rglob("*.py"))
           for name, line in imported_top_level_modules(path)
           if name not in ALLOWED and name not in stdlib
           and name not in OPTIONAL.get(path.relative_to(ROOT).as_posix(), ())]
    assert bad == []
