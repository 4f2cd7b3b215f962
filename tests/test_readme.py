"""The README's examples work: its Python blocks run, and its quick start shows the test
command that CI runs.

Every ```python block of README.md runs, in order, in one namespace (a block may continue
the one before it) inside an empty temporary folder. A block that cannot run on its own
(one that reads a file the shell examples write, say) is preceded in the README by the line
``<!-- not run -->``, and only those are skipped.
"""

import re
import shlex
from pathlib import Path

import pytest

import rbmcli  # noqa: F401 (imported from the project before the tests change folder)

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI_SCRIPT = ROOT / ".ci" / "run"
NOT_RUN = "<!-- not run -->"


def fenced_blocks(text, language):
    """(first line number, code, not_run) of every ```language block of ``text``, in order;
    ``not_run`` is True when the last non-blank line before the fence is ``NOT_RUN``."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == f"```{language}":
            before = [line.strip() for line in lines[:i] if line.strip()]
            not_run = bool(before) and before[-1] == NOT_RUN
            end = i + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            if end == len(lines):
                raise AssertionError(f"README.md:{i + 1}: ```{language} block never closed")
            blocks.append((i + 2, "\n".join(lines[i + 1:end]) + "\n", not_run))
            i = end
        i += 1
    return blocks


def section(text, title):
    """The text of the ``## title`` section (up to the next ``## `` heading)."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def commands(line):
    """The commands of a shell line joined by ``&&``, as token lists without pip's
    ``--quiet`` (which only changes what it prints)."""
    return [[t for t in shlex.split(part) if t != "--quiet"]
            for part in line.split("&&") if part.strip()]


def test_fenced_blocks_parser():
    text = "a\n```python\nx = 1\n```\n<!-- not run -->\n\n```python\ny\n```\n```sh\nz\n```\n"
    assert fenced_blocks(text, "python") == [(3, "x = 1\n", False), (8, "y\n", True)]


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = fenced_blocks(README.read_text(), "python")
    assert blocks, "README.md has no ```python blocks"
    to_run = [(line, code) for line, code, not_run in blocks if not not_run]
    assert to_run, f"every ```python block of README.md is marked {NOT_RUN}"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    for line, code in to_run:
        # Padding keeps tracebacks pointing at the README's own line numbers.
        exec(compile("\n" * (line - 1) + code, str(README), "exec"), namespace)


def test_quick_start_shows_the_ci_test_command():
    ci_lines = [line for line in CI_SCRIPT.read_text().splitlines()
                if "pytest" in line and not line.lstrip().startswith("#")]
    assert len(ci_lines) == 1, f"expected one pytest line in {CI_SCRIPT}, found {ci_lines}"
    wanted = [" ".join(c) for c in commands(ci_lines[0])]
    quick = "".join(code for _, code, _ in fenced_blocks(section(README.read_text(),
                                                                 "Quick start"), "sh"))
    shown = [" ".join(c) for line in quick.splitlines() for c in commands(line)]
    missing = [c for c in wanted if c not in shown]
    assert not missing, (f"the README's quick start does not show {missing}, which "
                         f"{CI_SCRIPT.relative_to(ROOT)} runs")
