"""A corpus of hostile and careless inputs (issue 14, items 6 to 10).

Each case damages a copy of a small valid bank that already has release 1.0.0 (imported into the
store first), runs one command, and checks what a question writer would need: exit 1, a message
naming the file and the problem with a fix, never a traceback or the "unexpected error" catch-all,
and a store left exactly as it was (imports are all-or-nothing). Every case runs on SQLite; the
cases that reach the store (`import`) run on PostgreSQL too when it is enabled (item 7: what one
store cannot hold is refused before either is touched). Command-line mistakes get exit 2.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import PG_ENV, TEXTS, question_block, write_bank

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


def forged(edit: Callable[[dict], None], name: str = "1.1.0") -> Callable[[Path], None]:
    """A release made from 1.0.0 by `edit` with every hash recomputed (each item's, the
    definition's, the manifest's): what a forger who knows the format writes, which only the
    limits on its contents can catch."""

    def build(root: Path) -> None:
        from qbank.bank_types import Question, content_hash
        from qbank.bankfiles import manifest_digest

        doc = json.loads((root / V1).read_text(encoding="utf-8"))
        doc["release"] = name
        edit(doc)
        for q in doc["items"]:
            fields = {k: q.get(k, d) for k, d in (("probes", ()), ("guidance", ""), ("bands", {}), ("topic", ""))}
            q["hash"] = Question(
                id=q["id"],
                version=q["version"],
                status="approved",
                standard="TST01",
                methods=tuple(q["methods"]),
                outcomes=tuple(q["outcomes"]),
                minutes=q["minutes"],
                text=q["text"],
                probes=tuple(fields["probes"]),
                guidance=fields["guidance"],
                bands=dict(fields["bands"]),
                opener=q.get("opener", False),
                topic=fields["topic"],
                excludes=tuple(q.get("excludes", ())),
                tags_justification=q.get("tags_justification", ""),
            ).content_hash
        doc["definition_hash"] = content_hash(doc["definition"])
        doc["manifest_hash"] = manifest_digest(doc)
        (root / f"TST01/releases/{name}.json").write_text(
            json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    return build


def _method(key: str, value) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        doc["definition"]["methods"][0][key] = value

    return edit


def _definition(key: str, value) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        *parents, last = key.split(".")
        target = doc["definition"]
        for k in parents:
            target = target[int(k)] if isinstance(target, list) else target[k]
        target[last] = value

    return edit


def copies_of_first(n: int) -> Callable[[Path], None]:
    """n new approved questions asking exactly what TST-001 asks: one group of n + 1 near-duplicates."""
    return append(QFILE, "".join(question_block(0, qid=f"DUP-{k:02d}", text_=TEXTS[0]) for k in range(1, n + 1)))


def many_pairs(n: int) -> Callable[[Path], None]:
    """n pairs of near-duplicates, each pair unlike every other: n groups of two."""
    rng = random.Random(14)
    letters = "abcdefghijklmnopqrstuvwxyz"
    blocks = []
    for k in range(n):
        text = " ".join("".join(rng.choice(letters) for _ in range(7)) for _ in range(12)) + "?"
        blocks += [question_block(0, qid=f"PAIR-{k:03d}-{x}", text_=text) for x in "ab"]
    return append(QFILE, "".join(blocks))


LONG = 10_001  # one character over the longest text a bank may hold (qbank.limits.MAX_TEXT)
BIG = 2**31  # one over the largest whole number either store holds


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
    # ---- 7: ids longer than their columns (64 characters; release numbers 32)
    ("question-id-65", replace(QFILE, 'id = "TST-002"', f'id = "{"Q" * 65}"'), "validate", [QFILE, "'id'", "64"]),
    ("question-id-65-release", replace(QFILE, 'id = "TST-002"', f'id = "{"Q" * 65}"'), "release", [QFILE, "64"]),
    ("outcome-code-65", replace(STD, "K2 = {", f"{'K' * 65} = {{"), "validate", [STD, "outcome code", "64"]),
    (
        "method-id-65",
        replace(STD, 'id = "presentation-questioning"', f'id = "{"p" * 65}"'),
        "validate",
        [STD, "'id'", "64"],
    ),
    ("standard-code-65", replace(STD, 'code = "TST01"', f'code = "{"T" * 65}"'), "validate", [STD, "'code'", "64"]),
    (
        "excludes-item-65",
        replace(QFILE, 'guidance = "A good', f'excludes = ["{"X" * 65}"]\nguidance = "A good'),
        "validate",
        [QFILE, "excludes"],
    ),
    ("manifest-id-65", forged(_set("items.0.id", "Q" * 65)), "import", [V2, "id", "64"]),
    ("manifest-outcome-65", forged(_set("items.0.outcomes", ["K" * 65])), "import", [V2, "outcome", "64"]),
    ("manifest-definition-method-id-65", forged(_method("id", "m" * 65)), "import", [V2, "definition", "64"]),
    (
        "manifest-definition-outcome-65",
        forged(_definition("outcomes.0.code", "K" * 65)),
        "import",
        [V2, "definition", "64"],
    ),
    ("manifest-definition-group-long", forged(_definition("outcomes.0.group", "g" * 17)), "import", [V2, "group"]),
    (
        "manifest-release-number-huge",
        forged(lambda d: None, name=f"{BIG}.0.0"),
        "import",
        [f"{BIG}.0.0.json", "release number"],
    ),
    (
        "manifest-release-number-huge-validate",
        forged(lambda d: None, name=f"{10**40}.0.0"),
        "validate",
        ["release number"],
    ),
    # ---- 7: whole numbers beyond 32 bits
    (
        "question-version-2^31",
        replace(QFILE, "version = 1", f"version = {BIG}"),
        "validate",
        [QFILE, "version", "2,147,483,647"],
    ),
    ("question-minutes-2^31", replace(QFILE, "minutes = 6", f"minutes = {BIG}"), "validate", [QFILE, "minutes", "120"]),
    ("method-minutes-2^31", replace(STD, "minutes = 60", f"minutes = {BIG}"), "validate", [STD, "minutes", "1,440"]),
    (
        "method-min-questions-2^31",
        replace(STD, "min_questions = 4", f"min_questions = {BIG}"),
        "validate",
        [STD, "min_questions"],
    ),
    ("standard-level-2^31", replace(STD, "level = 5", f"level = {BIG}"), "validate", [STD, "level"]),
    (
        "checks-min-per-outcome-2^31",
        replace(STD, "min_questions_per_outcome = 2", f"min_questions_per_outcome = {BIG}"),
        "validate",
        [STD, "min_questions_per_outcome"],
    ),
    (
        "checks-threshold-2^31",
        replace(STD, "[checks]\n", f"[checks]\nnear_duplicate_threshold = {BIG}\n"),
        "validate",
        [STD, "near_duplicate_threshold"],
    ),
    (
        "review-interval-2^31",
        replace(STD, 'version = "1.0"', f'version = "1.0"\nreview_interval_months = {BIG}'),
        "validate",
        [STD, "review_interval_months"],
    ),
    ("manifest-version-2^31", forged(_set("items.0.version", BIG)), "import", [V2, "version"]),
    ("manifest-definition-minutes-2^31", forged(_method("minutes", BIG)), "import", [V2, "definition"]),
    ("manifest-definition-level-2^31", forged(_definition("level", BIG)), "import", [V2, "definition", "level"]),
    (
        "manifest-definition-threshold-2^40",
        forged(_definition("checks.near_duplicate_threshold", 2**40)),
        "import",
        [V2, "near_duplicate_threshold"],
    ),
    # ---- 7: absurd values
    (
        "question-minutes-100000",
        replace(QFILE, "minutes = 6", "minutes = 100000"),
        "validate",
        [QFILE, "minutes", "120"],
    ),
    (
        "question-minutes-100000-release",
        replace(QFILE, "minutes = 6", "minutes = 100000"),
        "release",
        [QFILE, "minutes"],
    ),
    ("question-minutes-121", replace(QFILE, "minutes = 6", "minutes = 121"), "validate", [QFILE, "minutes"]),
    ("method-minutes-100000", replace(STD, "minutes = 60", "minutes = 100000"), "validate", [STD, "minutes", "1,440"]),
    ("standard-level-99", replace(STD, "level = 5", "level = 99"), "validate", [STD, "level", "8"]),
    (
        "threshold-101",
        replace(STD, "[checks]\n", "[checks]\nnear_duplicate_threshold = 101\n"),
        "validate",
        [STD, "near_duplicate_threshold", "100"],
    ),
    (
        "similar-warning-150",
        replace(STD, "[checks]\n", "[checks]\nsimilar_warning = 150\n"),
        "validate",
        [STD, "similar_warning", "100"],
    ),
    ("manifest-minutes-100000", forged(_set("items.0.minutes", 100000)), "import", [V2, "minutes", "120"]),
    ("manifest-definition-minutes-100000", forged(_method("minutes", 100000)), "import", [V2, "minutes"]),
    # ---- 7: control characters (TOML and JSON escapes make them)
    (
        "text-nul",
        replace(QFILE, "Talk me through", "Talk\\u0000 me through"),
        "validate",
        [QFILE, "control character", "NUL"],
    ),
    ("text-nul-release", replace(QFILE, "Talk me through", "Talk\\u0000 me through"), "release", [QFILE, "NUL"]),
    (
        "text-esc",
        replace(QFILE, "Talk me through", "Talk \\u001b[2J me through"),
        "validate",
        [QFILE, "ESC", "TST-001"],
    ),
    ("guidance-bel", replace(QFILE, "A good answer", "A good\\u0007 answer"), "validate", [QFILE, "BEL", "guidance"]),
    ("guidance-del", replace(QFILE, "A good answer", "A good\\u007f answer"), "validate", [QFILE, "DEL"]),
    (
        "probe-c1",
        replace(QFILE, "What would you do", "What\\u009b would you do"),
        "validate",
        [QFILE, "U+009B", "probes"],
    ),
    (
        "guidance-carriage-return",
        replace(QFILE, "A good answer", "A good\\r answer"),
        "validate",
        [QFILE, "carriage return"],
    ),
    ("guidance-backspace", replace(QFILE, "A good answer", "A good\\b answer"), "validate", [QFILE, "backspace"]),
    (
        "author-esc",
        replace(QFILE, 'author = "Test Writer"', 'author = "Test\\u001b]0;pwned\\u0007 Writer"'),
        "validate",
        [QFILE, "ESC"],
    ),
    (
        "standard-title-esc",
        replace(STD, 'title = "Test Standard"', 'title = "Test\\u001b[31m Standard"'),
        "validate",
        [STD, "ESC", "title"],
    ),
    (
        "outcome-title-nul",
        replace(STD, 'title = "Knows strategy"', 'title = "Knows\\u0000 strategy"'),
        "validate",
        [STD, "NUL", "outcomes"],
    ),
    ("grading-notes-esc", append(STD, 'notes = "rules\\u001b[5m"\n'), "validate", [STD, "ESC", "grading"]),
    ("key-with-nul", append(QFILE, '"odd\\u0000key" = 1\n'), "validate", [QFILE, "NUL"]),
    (
        "manifest-text-nul",
        forged(_set("items.0.text", "Talk\u0000 me through it")),
        "import",
        [V2, "control character", "NUL"],
    ),
    ("manifest-text-esc", forged(_set("items.0.text", "Talk \u001b[2J me through it")), "import", [V2, "ESC"]),
    ("manifest-definition-title-bel", forged(_definition("title", "Test\u0007 Standard")), "import", [V2, "BEL"]),
    ("manifest-text-nul-validate", forged(_set("items.0.guidance", "A good\u0000 answer")), "validate", [V2, "NUL"]),
    # ---- 7: texts beyond their limits (qbank.limits)
    ("text-10001", replace(QFILE, "Talk me through", "x" * LONG), "validate", [QFILE, "'text'", "10,000"]),
    ("guidance-10001", replace(QFILE, "A good answer", "y" * LONG), "validate", [QFILE, "guidance", "10,000"]),
    ("probe-10001", replace(QFILE, "What would you do", "z" * LONG), "validate", [QFILE, "probes", "10,000"]),
    (
        "standard-title-501",
        replace(STD, 'title = "Test Standard"', f'title = "{"t" * 501}"'),
        "validate",
        [STD, "title", "500"],
    ),
    (
        "author-129",
        replace(QFILE, 'author = "Test Writer"', f'author = "{"a" * 129}"'),
        "validate",
        [QFILE, "author", "128"],
    ),
    ("manifest-text-10001", forged(_set("items.0.text", "x" * LONG)), "import", [V2, "text", "10,000"]),
    ("manifest-author-129", forged(_set("items.0.author", "a" * 129)), "import", [V2, "author"]),
    # ---- 10: the near-duplicate report is bounded
    (
        "near-duplicate-group",
        copies_of_first(12),
        "validate",
        [QFILE, "13 questions are near-duplicates", "and 3 more"],
    ),
    ("near-duplicate-groups-capped", many_pairs(60), "validate", [STD, "10 more group(s)"]),
    ("near-duplicate-group-release", copies_of_first(12), "release", [QFILE, "near-duplicates"]),
]

# command-line mistakes: exit 2, the option named, nothing stored
USAGE: list[tuple[str, list[str], list[str]]] = [
    ("unknown-option", ["validate", "banks", "--bogus"], ["--bogus"]),
    ("min-per-outcome-not-a-number", ["validate", "banks", "--min-per-outcome", "abc"], ["--min-per-outcome"]),
    ("similarity-1e400", ["validate", "banks", "--similarity", "1e400"], ["--similarity"]),
    ("import-two-paths", ["import", "banks", "banks", "banks"], ["unrecognized arguments"]),
    ("release-no-number", ["release", "TST01"], ["semver"]),
]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    """The store's URL: a SQLite file, or a schema of its own on PostgreSQL (when enabled)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    from uuid import uuid4

    from sqlalchemy import text

    schema = f"qbank_test_{uuid4().hex[:12]}"
    admin = make_engine(base, create=False)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def bank(tmp_path, monkeypatch, store) -> Path:
    root = write_bank(tmp_path / "banks")
    make_release(load_bank(root), "TST01", "1.0.0")
    monkeypatch.chdir(tmp_path)  # files are named relative to the working directory
    monkeypatch.setenv("QBANK_DATABASE_URL", store)
    monkeypatch.delenv("QBANK_DEBUG", raising=False)
    assert main(["import", str(root)]) == 0
    return root


def _counts() -> dict[str, int]:
    engine = make_engine(os.environ["QBANK_DATABASE_URL"])
    try:
        return table_counts(engine)
    finally:
        engine.dispose()


def _runs(case: tuple) -> list[str]:
    """The stores a case runs on: all of them when it reaches the store (import), else SQLite."""
    return ["sqlite", "postgres"] if case[2] == "import" else ["sqlite"]


@pytest.mark.parametrize(
    ("name", "build", "command", "expected", "store"),
    [pytest.param(*c, s, id=f"{c[0]}-{s}") for c in CASES for s in _runs(c)],
    indirect=["store"],
)
def test_hostile_input(bank, capsys, name, build, command, expected, store):
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


@pytest.mark.parametrize(("name", "argv", "expected"), USAGE, ids=[u[0] for u in USAGE])
@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_usage_mistake(bank, capsys, name, argv, expected, store):
    capsys.readouterr()
    before = _counts()
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own exit
        code = e.code
    out, err = capsys.readouterr()
    said = out + err
    assert code == 2, said
    assert "Traceback" not in said and "unexpected error" not in said, said
    for fragment in expected:
        assert fragment.lower() in said.lower(), f"{fragment!r} not in:\n{said}"
    assert "--help" in said, said  # the fix: where the right usage is
    assert _counts() == before


def test_corpus_is_large_enough():
    assert len(CASES) + len(USAGE) >= 75
    assert len({c[0] for c in CASES} | {u[0] for u in USAGE}) == len(CASES) + len(USAGE)  # names unique
