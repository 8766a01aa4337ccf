"""The fast paths of reading and validating a bank give exactly what the plain ones gave.

Validating 50,000 questions had to get several times faster without changing one message, line
number or hash. Each shortcut is checked here against the code it shortcuts (or a copy of the
code it replaced): the stored hashes, the line index, the question fast path and the content
comparison that spares hashing unchanged questions.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qbank import bankfiles
from qbank.bank_types import Question, content_hash
from qbank.bankfiles import QUESTION_FIELDS, _item_id_lines, read_question_file
from qbank.fields import LineIndex, normalise_text
from qbank.validation import _same_content, load_bank

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- hashes


def _known_questions() -> list[Question]:
    return [
        Question(
            id="A-1",
            version=1,
            status="approved",
            standard="S",
            methods=("pd", "ab"),
            outcomes=("K2", "K1"),
            minutes=5,
            text="Tell me about a time you led a change.",
            probes=("What went well?", "What would you change?"),
            guidance="A good answer names the change.",
            bands={"pass": "Names it.", "distinction": "Evaluates it."},
            opener=True,
            topic="Change",
            author="ann",
        ),
        Question(
            id="A-2",
            version=3,
            status="draft",
            standard="S",
            methods=("pd",),
            outcomes=("K1",),
            minutes=12,
            text='Ünïcode — “quotes”, tab\there, newline\nand \\ backslash "q" and \u2028 sep and emoji 🎓',
        ),
        Question(id="A-3", version=1, status="approved", standard="S", methods=(), outcomes=(), minutes=0, text=""),
    ]


def test_content_hashes_are_the_ones_stored_before():
    """Hashes are stored in release manifests and stores: these values were computed by the
    json.dumps implementation before the fast one, and must never change."""
    assert [q.content_hash for q in _known_questions()] == [
        "sha256:0556c50669fb5420a6b4bf7a15bcf7cb631a76bf06d10f5cf163420d30f55528",
        "sha256:a0f4b1de6dc563994ea2439e710f13a4aeab865e3b2bfe6b7a93e7971284f9a1",
        "sha256:71a3dbf488e7210633726b868a87ffda3724e3048931159270b11a1cb3c27a80",
    ]
    definition = {"code": "S", "level": 3, "x": [1, 2.5, None, True], "é": {"b": 1, "a": "z"}}
    assert content_hash(definition) == "sha256:1335de2351d6474e99791aa4438ca1e37e2778a0054d8813b0146b3031476438"


def test_shipped_manifests_hash_their_items_as_stored():
    manifests = sorted((REPO / "banks").glob("*/releases/*.json"))
    assert manifests
    for path in manifests:
        rel = bankfiles.read_release(path, problems := [])
        assert rel is not None and problems == [], path
        stored = [item["hash"] for item in json.loads(path.read_text())["items"]]
        assert [i.question.content_hash for i in rel.items] == stored


def _hash_as_before(q: Question) -> str:
    """How content hashes were computed before: json.dumps with a new encoder per call."""
    canonical = json.dumps(q.content(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_texts = st.text(max_size=40)
_question_values = st.fixed_dictionaries(
    {
        "methods": st.lists(_texts, max_size=4).map(tuple),
        "outcomes": st.lists(_texts, max_size=4).map(tuple),
        "minutes": st.integers(min_value=-5, max_value=10**12),
        "text": _texts,
        "probes": st.lists(_texts, max_size=3).map(tuple),
        "guidance": _texts,
        "bands": st.dictionaries(st.sampled_from(["fail", "pass", "merit", "distinction", "x"]), _texts, max_size=4),
        "opener": st.booleans(),
        "topic": _texts,
    }
)


@settings(max_examples=300, deadline=None)
@given(_question_values)
def test_content_hash_is_computed_as_before(values):
    q = Question(id="Q", version=1, status="approved", standard="S", **values)
    assert q.content_hash == _hash_as_before(q)


def _other(value):
    """A different value of the same type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, tuple):
        return (*value, "x")
    if isinstance(value, dict):
        return {**value, "merit": "x"}
    if value is None:
        return 1
    raise AssertionError(f"no other value for {value!r}")


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Question)])
def test_every_field_counts_in_the_comparison_as_in_content(name):
    """A field added to `content()` must also be compared by `_same_content`."""
    a = _known_questions()[0]
    b = dataclasses.replace(a, **{name: _other(getattr(a, name))})
    in_content = a.content() != b.content()
    assert (a.content_hash != b.content_hash) == in_content
    assert _same_content(a, b) == (not in_content)
    reordered = dataclasses.replace(a, methods=a.methods[::-1], outcomes=a.outcomes[::-1], probes=list(a.probes))
    assert _same_content(a, reordered) and reordered.content_hash == a.content_hash


# --------------------------------------------------------------------------- text and line numbers


def _normalise_as_before(s: str) -> str:
    lines = [ln.rstrip() for ln in s.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip()


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(["a", " ", "\t", "\n", "\r", "\r\n", "\u2028", "\x85", "\xa0", "é"]), max_size=12))
def test_text_is_trimmed_as_before(pieces):
    text = "".join(pieces)
    assert normalise_text(text) == _normalise_as_before(text)


_HEADER_RE = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")
_KEY_RE = re.compile(r"""^\s*("[^"]+"|'[^']+'|[A-Za-z0-9_-]+)\s*=""")


def _line_by_line_blocks(text: str) -> list[tuple[str, int, dict[str, int]]]:
    """LineIndex as it was, one line at a time: the reference for the whole-text version."""
    current: dict[str, int] = {}
    blocks = [("", 1, current)]
    in_multiline = None
    for no, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        if _HEADER_RE.match(line) and not _KEY_RE.match(line):
            current = {}
            blocks.append((line.strip().split("#")[0].strip(), no, current))
            continue
        k = _KEY_RE.match(line)
        if k:
            current.setdefault(k.group(1).strip("\"'"), no)
            rest = line[k.end() :]
            for delim in ('"""', "'''"):
                if rest.count(delim) % 2 == 1:
                    in_multiline = delim
                    break
    return blocks


_pieces = st.sampled_from(
    ["[[question]]", "[question.bands]", "[ a.b ] # c", "[x]]", '["q"]', "id", '"id"', "'k'", '"a\'"', "key"]
    + [" ", "\t", "=", " = ", '"""', "'''", '""""', '"', "'", "#", "x", "1", "[", "]", ",", "{", "}", "é", "-"]
    + ["\n", "\n", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029", "\xa0", "\u3000"]
    + ['\nt = """', "\nt = '''", "\nk = 1\n", "\n[h]\n"]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_pieces, max_size=60).map("".join))
def test_line_index_numbers_lines_as_before(text):
    assert LineIndex(text).blocks == _line_by_line_blocks(text)


@pytest.mark.parametrize(
    "text",
    [
        'a = """\nb = 1\n[x]\n"""\nc = 2\n',  # keys and headers inside a multi-line string are not keys
        "a = '''\n\"\"\"\nb = 1\n'''\nc = 2",  # the other delimiter does not close it
        'a = """x""" + """\nb = 1\n',  # an even number of delimiters opens nothing
        'a = """\nnever closed\n[x]\nb = 1',
    ],
)
def test_line_index_skips_multiline_strings_as_before(text):
    assert LineIndex(text).blocks == _line_by_line_blocks(text)


def test_line_index_of_shipped_files_is_as_before():
    files = sorted((REPO / "banks").rglob("*.toml"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert LineIndex(text).blocks == _line_by_line_blocks(text), path
        crlf = text.replace("\n", "\r\n")
        assert LineIndex(crlf).blocks == _line_by_line_blocks(crlf), path


_ITEM = '      "id": '


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(["\n", _ITEM, '"id": ', " ", "x", "\r", "\r\n", "\u2028", "\n      "]), max_size=14))
def test_manifest_item_lines_are_numbered_as_before(pieces):
    text = "".join(pieces)
    assert _item_id_lines(text) == [n for n, ln in enumerate(text.splitlines(), start=1) if ln.startswith(_ITEM)]


# --------------------------------------------------------------------------- questions read fast

# TOML values each field may take in a generated question: the valid ones first, then broken ones
_MULTI = '"""\n  multi\n  line  \n\n"""'
_VALID: dict[str, list[str | None]] = {
    "id": ['"Q-1"', '"Q-2"', '" Q-3 "'],
    "version": ["1", "2"],
    "status": ['"approved"', '"draft"', '"retired"', '" draft "', '"reviewed"'],
    "methods": ['["pd"]', '["pd", "ab"]', '[" pd "]'],
    "outcomes": ['["K1"]', '["K2", "K1"]'],
    "minutes": ["5", "1"],
    "text": ['"Tell me."', '"  padded  "', _MULTI, "'''\nlit = 1\n'''", '"a\\r\\nb "'],
    "probes": [None, "[]", '["Why?"]', '["a\\nb", "c"]'],
    "guidance": ['"Good."', '"""\nShows it.\n"""'],
    "opener": [None, "true", "false"],
    "topic": [None, '"T"', '" T "'],
    "author": [None, '"ann"'],
    # a review names its reviewer and its date, both or neither (and status "reviewed" needs one):
    # the combinations the generator draws test that rule in both readers
    "reviewer": [None, '"Bea Reviewer"', '" ann "', '"ANN"'],
    "reviewed": [None, "2026-11-20", '"2026-11-20"', '" 2024-02-29 "', "2020-01-01"],
    "bands": [None, '{ pass = "ok" }', "{}", '{ distinction = "d", fail = " f " }'],
    "excludes": [None, "[]", '["Q-9"]', '["Q-9", " Q-8 "]'],
    "tags_justification": [None, '"Both are evidenced by one answer."', '" padded "'],
}
_BROKEN: dict[str, list[str]] = {
    "id": ['""', '"bad id!"', "5", '"  "'],
    "version": ["0", "-1", '"1"', "true", "1.5"],
    "status": ['"aproved"', '""', "1"],
    "methods": ["[]", '["", "pd"]', '["pd", " pd"]', '"pd"', "[1]", "{ a = 1 }"],
    "outcomes": ['["K1", "K1"]', '[" "]', '"K1"', '["K1", 2]'],
    "minutes": ["0", '"5"', "false", "2.0"],
    "text": ['""', "5", '"""\n\n"""'],
    "probes": ['["Why?", "Why?"]', '[""]', '"Why?"', "[1]"],
    "guidance": ['""', '"  "', "3"],
    "opener": ['"yes"', "1"],
    "topic": ['""', "1"],
    "author": ['""', "[]"],
    "reviewer": ['""', "5", '"  "'],
    "reviewed": ['"2026-02-30"', '"20/11/2026"', "2999-01-01", '"2999-01-01"', "2026-11-20T10:00:00", "20261120", '""'],
    "excludes": ['"Q-9"', '["Q-9", "Q-9"]', '[""]', "[1]"],
    "tags_justification": ['""', "3", '"  "'],
    "bands": ['"x"', '{ pass = "" }', '{ merit = "m", bogus = "b" }', "{ fail = 1 }"],
    "txt": ['"typo"'],
    "foo": ["1"],
}
_BAND_TABLES = ['pass = "ok"', 'merit = "m"\ndistinction = " d "', 'bogus = "b"', 'fail = ""', "pass = 2"]


@st.composite
def _question_table(draw) -> dict[str, str | None]:
    """A valid question with none, one or two fields broken or left out (None: not written)."""
    table = {k: draw(st.sampled_from(v)) for k, v in _VALID.items()}
    for name in draw(st.lists(st.sampled_from(sorted(_BROKEN)), max_size=2)):
        others = _VALID.get(name) or _BROKEN[name]
        table[name] = draw(st.one_of(st.none(), st.sampled_from(_BROKEN[name]), st.sampled_from(others)))
    return table


def _table(**changes: str | None) -> dict[str, str | None]:
    """A valid question table with some fields changed (None: left out)."""
    return {k: v[0] for k, v in _VALID.items()} | changes


_question_file = st.tuples(
    st.sampled_from(['standard = "TST"\n', 'standard = "TST"\ntopic = "File topic"\nauthor = "bea"\n', "topic = 1\n"]),
    st.lists(st.tuples(_question_table(), st.one_of(st.none(), st.sampled_from(_BAND_TABLES))), max_size=4),
)


def _write(path: Path, head: str, questions) -> None:
    parts = [head]
    for table, band_table in questions:
        lines = [f"{k} = {v}" for k, v in table.items() if v is not None and not (k == "bands" and band_table)]
        parts.append("[[question]]\n" + "\n".join(lines) + "\n")
        if band_table:
            parts.append("[question.bands]\n" + band_table + "\n")
    path.write_text("\n".join(parts), encoding="utf-8")


def _read(path: Path):
    problems: list = []
    unreadable: set[str] = set()
    std, questions = read_question_file(path, problems, unreadable)
    hashed = [(dataclasses.asdict(q), q.content_hash) for q in questions]
    return std, hashed, problems, unreadable


@settings(max_examples=500, deadline=None)
@given(_question_file)
@example(('standard = "TST"\n', [(_table(status='"approved"', guidance=None), None)]))
@example(('standard = "TST"\n', [(_table(status='"draft"', guidance=None), None)]))
@example(('standard = "TST"\n', [(_table(methods='["pd", " pd"]'), None), (_table(bands="{}"), "pass = 2")]))
@example(('standard = "TST"\n', [(_table(status='"reviewed"'), None)]))  # status "reviewed" without a review
@example(('standard = "TST"\n', [(_table(reviewer='"Bea Reviewer"'), None)]))  # a reviewer without a date
@example(('standard = "TST"\n', [(_table(reviewer='"Bea Reviewer"', reviewed="2999-01-01"), None)]))  # future
@example(('standard = "TST"\n', [(_table(status='"reviewed"', reviewer='"Bea"', reviewed='"2026-11-20"'), None)]))
def test_plain_questions_are_read_as_the_field_checks_read_them(tmp_path_factory, file):
    path = tmp_path_factory.mktemp("q") / "q.toml"
    _write(path, *file)
    fast = _read(path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bankfiles, "_plain_question", lambda *a: None)  # every question field by field
        checked = _read(path)
    assert fast == checked


def test_the_field_checks_read_exactly_the_plain_fields(tmp_path):
    """A table with every field `_plain_question` knows, and one more: only that one is unknown."""
    table = {k: next(v for v in _VALID[k] if v) for k in QUESTION_FIELDS} | {"extra": "1"}
    path = tmp_path / "q.toml"
    _write(path, 'standard = "TST"\n', [(table, None)])
    _, _, problems, _ = _read(path)
    assert [p.message for p in problems] == ["unknown field 'extra'"]


# --------------------------------------------------------------------------- loading


@pytest.mark.parametrize("enabled", [True, False])
def test_loading_leaves_the_garbage_collector_as_it_found_it(bank_dir, enabled):
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        load_bank(bank_dir)
        assert gc.isenabled() == enabled
    finally:
        gc.enable() if was else gc.disable()
