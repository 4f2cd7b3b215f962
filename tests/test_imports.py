"""How the package imports itself: no import cycles, imports at module top (the few lazy
ones are listed below), and ``rbm --help`` loads nothing heavy.

The lazy imports are there to keep ``rbm --help`` and ``rbm CMD --help`` instant; every
other import sits at the top of its module, where the dependencies of a module can be
read at a glance and a layering mistake shows up as a cycle here.
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAZY = {
    ("rbmcli/__init__.py", "__getattr__"):
        "PEP 562: the public names of rbmcli load on first use, so that `rbm --help` "
        "(which imports rbmcli) loads no NumPy or Numba",
    ("rbmcli/cli/lazy.py", "__getattr__"):
        "the one table of the command modules' lazy imports (NumPy, h5py, Pillow, Numba "
        "and the library modules that use them)",
    ("rbmcli/cli/main.py", "get_command"):
        "rbmcli.cli.main._COMMANDS: a command's module is imported when the command is used",
    ("rbmcli/compiling.py", "compile_job"):
        "the second process of compile_alongside imports the module of the kernel it was "
        "sent to compile, by name",
}
"""The only functions of rbmcli/ that may import: (file, function) -> why. An import
statement inside any other function, or a call of importlib.import_module or
__import__ there, fails :func:`test_no_function_level_imports`."""


def modules():
    """Module name -> path: rbmcli/ (without the rbmcli/kernels link) and kernels/ under
    the name it is imported by, rbmcli.kernels."""
    found = {}
    for top, name in ((ROOT / "rbmcli", "rbmcli"), (ROOT / "kernels", "rbmcli.kernels")):
        for path in sorted(top.rglob("*.py")):
            rel = path.relative_to(top)
            if top.name == "rbmcli" and rel.parts[0] == "kernels":
                continue
            parts = [name, *rel.with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = modules()


def imported_names(module, node):
    """The dotted names an import statement of ``module`` may refer to."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = module.split(".")
    if node.level:
        keep = len(base) - node.level + (1 if MODULES[module].name == "__init__.py" else 0)
        prefix = ".".join(base[:keep] + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]


def import_graph():
    """Module -> the project modules it imports anywhere (module level or in a function)."""
    edges = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for name in imported_names(module, node):
                while name and name not in MODULES:
                    name = name.rpartition(".")[0]
                # a package's own submodules are no cycle through its __init__
                if name and name != module and not module.startswith(name + "."):
                    edges[module].add(name)
    return edges


def cycles(edges):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read():
    edges = import_graph()
    assert "rbmcli.kernels.rbm.gibbs" in edges["rbmcli.models.rbm"]
    assert "rbmcli.kernels._config" in edges["rbmcli.kernels.rbm.gibbs"]
    assert "rbmcli.io.datasets" in edges["rbmcli.io.inpainting"]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def function_level_imports(path):
    """(function name, line, text) of every import inside a function of ``path``: import
    statements, and calls of importlib.import_module or __import__."""
    tree = ast.parse(path.read_text())
    found = []
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        for node in ast.walk(func):
            if node is func:
                continue
            dynamic = isinstance(node, ast.Call) and ast.unparse(node.func) in (
                "importlib.import_module", "import_module", "__import__")
            if isinstance(node, (ast.Import, ast.ImportFrom)) or dynamic:
                found.append((getattr(func, "name", "<lambda>"), node.lineno, ast.unparse(node)))
    return sorted(set(found), key=lambda f: f[1])


def test_no_function_level_imports():
    bad, used = [], set()
    for path in sorted(MODULES.values()):
        rel = path.relative_to(ROOT).as_posix()
        for func, line, text in function_level_imports(path):
            if (rel, func) in LAZY:
                used.add((rel, func))
            else:
                bad.append(f"{rel}:{line}: in {func}(): {text}")
    assert bad == [], "imports belong at module top (or in rbmcli.cli.lazy for the CLI)"
    assert used == set(LAZY), "an entry of LAZY imports nothing any more: remove it"


def test_every_lazy_name_resolves():
    from rbmcli.cli import lazy

    for name in lazy._NAMES:
        assert getattr(lazy, name) is not None, name


def test_help_imports_nothing_heavy():
    """``rbm --help`` and the help of every command: no NumPy, Numba, h5py, Pillow,
    threadpoolctl or Dask in ``sys.modules`` (``-X importtime`` does not see the modules that
    importlib.import_module loads), and ``python -X importtime`` shows the import of the
    CLI taking less than 0.3 s."""
    code = (
        "import sys, click\n"
        "import rbmcli.cli.main as m\n"
        "from click.testing import CliRunner\n"
        "def paths(group, path=()):\n"
        "    yield path\n"
        "    if isinstance(group, click.Group):\n"
        "        ctx = click.Context(group)\n"
        "        for name in group.list_commands(ctx):\n"
        "            yield from paths(group.get_command(ctx, name), path + (name,))\n"
        "for path in list(paths(m.cli)):\n"
        "    assert CliRunner().invoke(m.cli, [*path, '--help']).exit_code == 0, path\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded = set(proc.stdout.split())
    assert {"rbmcli.cli.sample", "rbmcli.cli.score", "rbmcli.cli.transform"} <= loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in (
        "numpy", "numba", "h5py", "PIL", "threadpoolctl", "dask", "distributed"))
    assert heavy == []
    rows = [line.split("|") for line in proc.stderr.splitlines()
            if line.startswith("import time:") and "self [us]" not in line]
    main = [int(row[1]) for row in rows if row[2].strip() == "rbmcli.cli.main"]
    assert main and main[0] < 300_000, f"importing rbmcli.cli.main took {main[0]} us"
