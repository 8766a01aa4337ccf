"""The README's "Grading from Python" example runs as printed: each `print` gives what its
comment says (the documented API stays true)."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_the_readme_grading_example_prints_what_it_says():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Grading from Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    expected = [
        m.group(1).strip() for m in re.finditer(r"\)\s+# (.*)$", code, re.M) if "rules_in_store" not in m.group(0)
    ]
    out = io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert len(expected) == 4 and out.getvalue().splitlines() == expected
