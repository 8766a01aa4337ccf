"""Check the import contracts in pyproject.toml ([tool.importlinter]) with import-linter, on the
layout the wheel installs: the app's folder tui/ as the subpackage qbank.tui.

Why not plain `lint-imports`: setuptools maps tui/ to qbank.tui (package-dir in pyproject.toml),
and the editable install serves that mapping through an import hook. import-linter builds its
graph (grimp) by walking the qbank/ folder, so it never sees qbank.tui, and an import of
qbank.tui.<anything> from a core module is silently recorded as an import of plain `qbank`: the
contract "the core never imports the TUI" could not fail. So this script copies the packages
into a temporary folder laid out as installed (qbank/ with tui/ as qbank/tui/, per package-dir),
and runs lint-imports there with the repository's pyproject.toml. Module names in its report are
the installed ones: qbank.tui.x is tui/x.py.

Usage: .venv/bin/python .ci/check_imports.py   (exit status: lint-imports')
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import tomli

ROOT = Path(__file__).resolve().parent.parent


def stage(dest: Path) -> None:
    """Lay out the packages as installed: each package-dir mapping copied to its dotted path."""
    setuptools = tomli.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = setuptools.get("package-dir", {})
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in sorted(setuptools["packages"], key=lambda p: p.count(".")):
        if package in mapped:
            shutil.copytree(ROOT / mapped[package], dest / package.replace(".", "/"), ignore=ignore)
        elif "." not in package:
            shutil.copytree(ROOT / package, dest / package, ignore=ignore)
    for package in mapped:  # the contracts name qbank.tui: make sure it is really there
        if not (dest / package.replace(".", "/") / "__init__.py").is_file():
            sys.exit(f"check_imports: {package} was not staged; see package-dir in pyproject.toml")


def main() -> int:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    with tempfile.TemporaryDirectory(prefix="qbank-imports-") as tmp:
        stage(Path(tmp))
        # lint-imports puts its working directory first on sys.path, ahead of the editable install
        return subprocess.run(
            [str(lint_imports), "--config", str(ROOT / "pyproject.toml"), "--no-cache", "--no-logo"], cwd=tmp
        ).returncode


if __name__ == "__main__":
    sys.exit(main())
