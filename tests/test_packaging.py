"""The wheel: one top-level package, `qbank` (the app's folder `tui/` goes in as `qbank.tui`, so
installing qbank never clashes with the unrelated `tui` distribution on the package index), and
every file the code reads at run time: the app's stylesheet, the record templates and the store's
migration scripts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests_support import REPO

pytestmark = pytest.mark.slow  # a real `pip wheel` (build isolation fetches setuptools)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel --no-deps` of a copy of the sources: building in the working tree would leave
    build/ and *.egg-info there, and a stale build/lib can slip old files into the wheel."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for folder in ("qbank", "tui"):
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = out.glob("qbank-*.whl")
    return whl


def test_the_wheel_installs_one_top_level_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1, top
    assert top - dist_info == {"qbank"}, top
    (info,) = dist_info
    with zipfile.ZipFile(wheel) as z:
        if f"{info}/top_level.txt" in names:
            assert z.read(f"{info}/top_level.txt").decode().split() == ["qbank"]
        assert "qbank = qbank.cli:run" in z.read(f"{info}/entry_points.txt").decode()


def test_the_wheel_holds_the_app_and_the_files_read_at_run_time(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    app = {f"qbank/tui/{p.name}" for p in (REPO / "tui").iterdir() if p.suffix in (".py", ".tcss")}
    assert "qbank/tui/qbank.tcss" in app and "qbank/tui/app.py" in app
    templates = {f"qbank/templates/{p.name}" for p in (REPO / "qbank" / "templates").iterdir() if p.is_file()}
    versions = {
        f"qbank/migrations/versions/{p.name}" for p in (REPO / "qbank" / "migrations" / "versions").glob("*.py")
    }
    assert templates and versions
    for wanted in (app, templates, versions, {"qbank/migrations/env.py", "qbank/migrations/script.py.mako"}):
        assert wanted <= names, sorted(wanted - names)


def test_qbank_tui_imports_from_the_wheel(wheel, tmp_path):
    """The app's modules import as `qbank.tui` from the wheel alone (its relative imports hold), and
    there is no top-level `tui` to import."""
    code = (
        "import qbank.tui.app, qbank.tui.serve, qbank.cli\n"
        "print(qbank.tui.app.__file__)\n"
        "try:\n    import tui\nexcept ImportError:\n    print('no tui')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(wheel)}  # the wheel first on the path, before the working tree's qbank
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    app_file, no_tui = r.stdout.splitlines()
    assert app_file.startswith(str(wheel)), r.stdout
    assert no_tui == "no tui", r.stdout
