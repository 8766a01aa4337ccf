"""A corpus of hostile and careless inputs (issue 14, items 6, 8 and 9).

Each case damages a copy of a small valid bank that already has release 1.0.0 (imported into the
store first), runs one command, and checks what a question writer would need: exit 1, a message
naming the file and the problem, never a traceback or the "unexpected error" catch-all, and, for
`import`, a store left exactly as it was (imports are all-or-nothing).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import write_bank

from qbank.cli import main
from qbank.releases import make_release
from qbank.store import make_engine, table_counts
from qbank.validation import load_bank

DEEP = 3000  # far beyond Python's recursion limit (1000)

STD = "TST01/standard.toml"
QFILE = "TST01/questions/general.toml"
V1 = "TST01/releases/1.0.0.json"
V2 = "TST01/releases/1.1.0.json"


# --------------------------------------------------------------------------- building bad banks


def append(rel: str, text: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        p = root / rel
        p.write_text(p.read_text(encoding="utf-8") + text, encoding="utf-8")

    return build


def replace(rel: str, old: str, new: str, count: int = 1) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        p = root / rel
        text = p.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {rel}"
        p.write_text(text.replace(old, new, count), encoding="utf-8")

    return build


def encode(rel: str, encoding: str, bom: bytes = b"") -> Callable[[Path], None]:
    def build(root: Path) -> None:
        p = root / rel
        p.write_bytes(bom + p.read_text(encoding="utf-8").encode(encoding))

    return build


def truncate(rel: str, marker: str, keep: int = 0) -> Callable[[Path], None]:
    """Cut the file just after `marker` (plus `keep` characters): a half-written file."""

    def build(root: Path) -> None:
        p = root / rel
        text = p.read_text(encoding="utf-8")
        at = text.index(marker) + len(marker) + keep
        p.write_text(text[:at], encoding="utf-8")

    return build


def manifest(edit: Callable[[dict], None], rel: str = V1) -> Callable[[Path], None]:
    """Edit the parsed manifest and write it back as `qbank release` formats it."""

    def build(root: Path) -> None:
        p = root / rel
        doc = json.loads(p.read_text(encoding="utf-8"))
        edit(doc)
        p.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    return build


def new_release(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    """A release 1.1.0 made from 1.0.0 by `edit`, its hashes recomputed where the edit says so:
    what someone who knows the format could write by hand."""

    def build(root: Path) -> None:
        doc = json.loads((root / V1).read_text(encoding="utf-8"))
        doc["release"] = "1.1.0"
        edit(doc)
        (root / V2).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    return build


def both(*builds: Callable[[Path], None]) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        for b in builds:
            b(root)

    return build


def _set(path: str, value) -> Callable[[dict], None]:
    """Set a field of the manifest: "created", "items.0.author", ..."""

    def edit(doc: dict) -> None:
        *parents, last = path.split(".")
        target = doc
        for k in parents:
            target = target[int(k)] if isinstance(target, list) else target[k]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return edit


def nested_json(rel: str, new: bool = False) -> Callable[[Path], None]:
    """A deeply nested array put into the definition (of 1.0.0, or of a new release 1.1.0)."""

    def build(root: Path) -> None:
        text = (root / V1).read_text(encoding="utf-8")
        if new:
            text = text.replace('"release": "1.0.0"', '"release": "1.1.0"')
        deep = "[" * DEEP + "]" * DEEP
        (root / rel).write_text(text.replace('"definition": {', f'"definition": {{"deep": {deep},', 1))

    return build


def _empty_definition(doc: dict) -> None:
    from qbank.bank_types import content_hash

    doc["definition"] = {}
    doc["definition_hash"] = content_hash({})


def symlink_loop(root: Path) -> None:
    (root / "TST01" / "questions" / "loop.toml").symlink_to(root / "TST01" / "questions" / "loop.toml")


def symlink_loop_folder(root: Path) -> None:
    """The questions folder replaced by a link to itself: its questions vanish."""
    folder = root / "TST01" / "questions"
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    folder.symlink_to(folder)


def symlink_loop_release(root: Path) -> None:
    (root / "TST01" / "releases" / "1.1.0.json").symlink_to(root / "TST01" / "releases" / "1.1.0.json")


def older_copied_over_newer(root: Path) -> None:
    """Release 1.1.0 brings TST-001 v2; then 1.0.0's file is copied over 1.1.0.json (its release
    number edited to match the name): v1 is back."""
    src = root / QFILE
    text = src.read_text(encoding="utf-8")
    src.write_text(text.replace("version = 1", "version = 2", 1).replace("strategy you wrote", "plan you wrote", 1))
    make_release(load_bank(root), "TST01", "1.1.0")
    doc = json.loads((root / V1).read_text(encoding="utf-8"))
    doc["release"] = "1.1.0"
    (root / V2).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def older_copied_verbatim(root: Path) -> None:
    src = root / QFILE
    text = src.read_text(encoding="utf-8")
    src.write_text(text.replace("version = 1", "version = 2", 1).replace("strategy you wrote", "plan you wrote", 1))
    make_release(load_bank(root), "TST01", "1.1.0")
    (root / V2).write_bytes((root / V1).read_bytes())


def version_goes_down(root: Path) -> None:
    """Release 1.2.0 holds TST-001 v1 again after 1.1.0 brought v2, its manifest_hash recomputed
    (the edit of someone who knows the format)."""
    from qbank.bankfiles import manifest_digest

    src = root / QFILE
    text = src.read_text(encoding="utf-8")
    src.write_text(text.replace("version = 1", "version = 2", 1).replace("strategy you wrote", "plan you wrote", 1))
    make_release(load_bank(root), "TST01", "1.1.0")
    doc = json.loads((root / V2).read_text(encoding="utf-8"))
    doc["release"], doc["created"] = "1.2.0", "2099-01-01T00:00:00Z"
    doc["items"][0] = json.loads((root / V1).read_text(encoding="utf-8"))["items"][0]
    doc["manifest_hash"] = manifest_digest(doc)
    (root / "TST01/releases/1.2.0.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


# (name, build, command, message fragments that must all appear)
CASES: list[tuple[str, Callable[[Path], None], str, list[str]]] = [
    # ---- 6: recursion
    ("toml-nested-arrays", append(QFILE, "deep = " + "[" * DEEP + "]" * DEEP + "\n"), "validate", [QFILE, "nested"]),
    (
        "toml-nested-inline-tables",
        append(QFILE, "deep = " + "{a = " * DEEP + "1" + "}" * DEEP + "\n"),
        "validate",
        [QFILE, "nested"],
    ),
    ("toml-nested-headers", append(QFILE, "[" + ".".join(["a"] * DEEP) + "]\n"), "validate", [QFILE, "nested"]),
    ("toml-nested-dotted-key", append(QFILE, ".".join(["a"] * DEEP) + " = 1\n"), "validate", [QFILE, "nested"]),
    ("standard-nested-arrays", append(STD, "deep = " + "[" * DEEP + "]" * DEEP + "\n"), "validate", [STD, "nested"]),
    ("standard-nested-arrays-release", append(STD, "deep = " + "[" * DEEP + "]" * DEEP + "\n"), "release", [STD]),
    ("manifest-nested-json", nested_json(V1), "validate", [V1, "nested"]),
    ("manifest-nested-json-import", nested_json(V2, new=True), "import", [V2, "nested"]),
    # ---- 6: overflow, types, loops, empty definition, huge versions
    ("minutes-inf", replace(QFILE, "minutes = 6", "minutes = inf"), "validate", [QFILE, "minutes"]),
    ("minutes-1e400", replace(QFILE, "minutes = 6", "minutes = 1e400"), "validate", [QFILE, "minutes"]),
    ("minutes-nan", replace(QFILE, "minutes = 6", "minutes = nan"), "validate", [QFILE, "minutes"]),
    ("minutes-10e30", replace(QFILE, "minutes = 6", f"minutes = {10**30}"), "validate", [QFILE, "minutes"]),
    ("manifest-minutes-1e400", new_release(_set("items.0.minutes", 1e400)), "import", [V2, "minutes"]),
    ("manifest-minutes-huge", new_release(_set("items.0.minutes", 10**30)), "import", [V2, "minutes"]),
    ("manifest-integer-id", new_release(_set("items.0.id", 17)), "import", [V2, "id"]),
    ("manifest-integer-id-validate", manifest(_set("items.0.id", 17)), "validate", [V1, "id"]),
    ("manifest-list-text", new_release(_set("items.0.text", ["a"])), "import", [V2, "text"]),
    ("manifest-items-not-objects", new_release(_set("items.0", "TST-001")), "import", [V2, "entry #1"]),
    ("symlink-loop", symlink_loop, "validate", ["questions/loop.toml", "symbolic links"]),
    ("symlink-loop-folder", symlink_loop_folder, "validate", ["TST01/questions", "link"]),
    ("symlink-loop-release", symlink_loop_release, "import", ["1.1.0.json", "symbolic links"]),
    ("manifest-empty-definition", new_release(_empty_definition), "import", [V2, "definition"]),
    ("question-version-65-bits", replace(QFILE, "version = 1", f"version = {2**65}"), "validate", [QFILE, "version"]),
    ("manifest-version-65-bits", new_release(_set("items.0.version", 2**65)), "import", [V2, "version"]),
    # ---- 8: encodings and truncation
    ("bom-standard", encode(STD, "utf-8", b"\xef\xbb\xbf"), "validate", [STD, "byte order mark"]),
    ("bom-question-file", encode(QFILE, "utf-8", b"\xef\xbb\xbf"), "validate", [QFILE, "byte order mark"]),
    ("bom-manifest", encode(V1, "utf-8", b"\xef\xbb\xbf"), "validate", [V1, "byte order mark"]),
    (
        "bom-manifest-import",
        both(new_release(lambda d: None), encode(V2, "utf-8", b"\xef\xbb\xbf")),
        "import",
        [V2, "byte order mark"],
    ),
    ("utf16le-question-file", encode(QFILE, "utf-16-le", b"\xff\xfe"), "validate", [QFILE, "UTF-16"]),
    ("utf16be-standard", encode(STD, "utf-16-be", b"\xfe\xff"), "validate", [STD, "UTF-16"]),
    ("utf16le-no-bom", encode(QFILE, "utf-16-le"), "validate", [QFILE, "UTF-16"]),
    ("utf16-manifest", encode(V1, "utf-16"), "validate", [V1, "UTF-16"]),
    ("truncated-mid-string", truncate(QFILE, 'text = """', 20), "validate", [QFILE, "truncated"]),
    ("truncated-mid-table-header", truncate(QFILE, "[[question]]", -4), "validate", [QFILE, "truncated"]),
    ("truncated-mid-inline-table", truncate(STD, 'K1 = { group = "knowledge"'), "validate", [STD, "truncated"]),
    ("truncated-manifest", truncate(V1, '"items": [', 40), "validate", [V1, "truncated"]),
    (
        "unterminated-string",
        replace(QFILE, 'guidance = "A good answer', 'guidance = "A good answer\n#', 1),
        "validate",
        [QFILE + ":", "string"],
    ),
    # ---- 9: manifests
    ("manifest-float-version", manifest(_set("items.0.version", 1.9)), "validate", [V1, "version"]),
    ("manifest-float-version-import", new_release(_set("items.0.version", 1.9)), "import", [V2, "version"]),
    ("manifest-string-version", manifest(_set("items.0.version", "1")), "validate", [V1, "version"]),
    ("manifest-edited-author", manifest(_set("items.0.author", "Someone Else")), "validate", [V1, "edited"]),
    ("manifest-edited-reviewer", manifest(_set("items.0.reviewer", "Someone Else")), "validate", [V1, "edited"]),
    ("manifest-edited-created", manifest(_set("created", "2020-01-01T00:00:00Z")), "validate", [V1, "edited"]),
    ("manifest-edited-created-import", new_release(_set("created", "2020-01-01T00:00:00Z")), "import", [V2, "edited"]),
    ("older-copied-over-newer", older_copied_over_newer, "validate", [V2, "older"]),
    ("older-copied-over-newer-import", older_copied_over_newer, "import", [V2, "older"]),
    ("older-copied-verbatim", older_copied_verbatim, "validate", [V2, "older"]),
    ("version-goes-down", version_goes_down, "validate", ["1.2.0.json", "TST-001 v1", "go down"]),
    ("version-goes-down-import", version_goes_down, "import", ["1.2.0.json", "TST-001 v1", "go down"]),
]


@pytest.fixture
def bank(tmp_path, monkeypatch) -> Path:
    root = write_bank(tmp_path / "banks")
    make_release(load_bank(root), "TST01", "1.0.0")
    monkeypatch.chdir(tmp_path)  # files are named relative to the working directory
    monkeypatch.setenv("QBANK_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.delenv("QBANK_DEBUG", raising=False)
    assert main(["import", str(root)]) == 0
    return root


def _counts() -> dict[str, int]:
    engine = make_engine(os.environ["QBANK_DATABASE_URL"])
    try:
        return table_counts(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize(("name", "build", "command", "expected"), CASES, ids=[c[0] for c in CASES])
def test_hostile_input(bank, capsys, name, build, command, expected):
    build(bank)
    capsys.readouterr()
    before = _counts()
    argv = {
        "validate": ["validate", "banks"],
        "import": ["import", "banks"],
        "release": ["release", "--path", "banks", "TST01", "1.1.0"],
    }[command]
    code = main(argv)
    out, err = capsys.readouterr()
    said = out + err
    assert code == 1, said
    assert "Traceback" not in said and "unexpected error" not in said, said
    for fragment in expected:
        assert fragment.lower() in said.lower(), f"{fragment!r} not in:\n{said}"
    assert "fix" in said, said
    if name.startswith(("bom-", "utf16")):  # the file is still read: no false errors follow from it
        assert "missing from the question files" not in said, said
    assert _counts() == before


def test_corpus_is_large_enough():
    assert len(CASES) >= 25
