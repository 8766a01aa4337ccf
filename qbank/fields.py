"""Checking TOML tables field by field, with a line for every problem.

`Fields` checks one table against the fields it may hold (types, patterns, choices, unknown keys
with a "did you mean" fix); `LineIndex` finds the lines of tables and keys, which the TOML parser
does not give. Generic: bank files (`bankfiles`) and grading rules (`gradingfile`) both use them.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re

from rapidfuzz import fuzz, process

from .limits import MAX_INTEGER, text_limit
from .problems import Problem


def normalise_text(s: str) -> str:
    """Trim a multi-line string the way writers mean it: no outer blank lines or trailing spaces."""
    if "\n" not in s:  # one line (most values): trimming its ends is all the loop below would do
        return s.strip()
    lines = [ln.rstrip() for ln in s.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip()


# --------------------------------------------------------------------------- line index


_HEADER_RE = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")  # a whole line
_KEY_RE = re.compile(r"""^\s*("[^"]+"|'[^']+'|[A-Za-z0-9_-]+)\s*=""")  # the start of a line
# `_KEY_RE` for every line of a text at once, one match per line (re.findall's n-th row is line n):
# group 1 is the line from its first "[" on when that is its first non-blank character, group 2
# the key of a key line.
_ROW_RE = re.compile(r"""^[^\S\n]*(?:(\[.*)|("[^"\n]+"|'[^'\n]+'|[A-Za-z0-9_-]+)[^\S\n]*=)?.*$""", re.MULTILINE)
_MULTILINE_DELIMS = ('"""', "'''")

# Line breaks other than "\n" that str.splitlines() also breaks at (rare in bank files).
_OTHER_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def only_newline_breaks(text: str) -> bool:
    """Whether "\n" is the only line break in `text`, so counting "\n" numbers lines the way
    `str.splitlines` does. (Nine substring tests: many times faster than a regex class.)"""
    return not any(c in text for c in _OTHER_BREAKS)


class LineIndex:
    """Maps TOML tables and keys to line numbers (tomllib gives none for valid documents).

    A line is a header when it matches `_HEADER_RE`, a key line when it starts `key =`, and lines
    inside a multi-line string (opened by an odd number of \"\"\" or ''' after a key) are
    neither. Lines are numbered as `str.splitlines` numbers them. One regex pass splits the whole
    text into rows: at 50,000 questions, matching each line in Python cost half a TOML parse.
    """

    def __init__(self, text: str):
        self.blocks: list[tuple[str, int, dict[str, int]]] = []  # (header, line, {key: line})
        current: dict[str, int] = {}
        self.blocks.append(("", 1, current))
        if not only_newline_breaks(text):
            text = "\n".join(text.splitlines())  # the same lines, each ended by "\n"
        # the lines themselves are needed only to find where multi-line strings end
        lines = text.split("\n") if any(d in text for d in _MULTILINE_DELIMS) else []
        in_multiline: str | None = None
        for no, (header, key) in enumerate(_ROW_RE.findall(text), start=1):
            if in_multiline:
                if lines[no - 1].count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            if key:
                current.setdefault(key.strip("\"'"), no)
                if lines:
                    in_multiline = _opens_multiline(lines[no - 1])
            elif header and (name := _header_name(header)) is not None:
                current = {}
                self.blocks.append((name, no, current))

    def headers(self, name: str) -> list[tuple[int, dict[str, int]]]:
        """The blocks of `[[name]]` or `[name]`, in order."""
        out = []
        for header, line, keys in self.blocks:
            inner = header.strip("[]").strip()
            if inner == name:
                out.append((line, keys))
        return out

    def top(self) -> dict[str, int]:
        return self.blocks[0][2]


@functools.lru_cache(maxsize=1024)  # a bank repeats a few headers ("[[question]]") thousands of times
def _header_name(line: str) -> str | None:
    """The header `line` (from its "[" on) declares, brackets kept; None if it is not a header."""
    return line.strip().split("#")[0].strip() if _HEADER_RE.match(line) else None


def _opens_multiline(key_line: str) -> str | None:
    """The delimiter of the multi-line string that `key_line` opens: an odd number of them after `=`."""
    if '"""' not in key_line and "'''" not in key_line:  # most lines
        return None
    k = _KEY_RE.match(key_line)
    rest = key_line[k.end() :] if k else ""
    return next((d for d in _MULTILINE_DELIMS if rest.count(d) % 2 == 1), None)


# --------------------------------------------------------------------------- field checks


class Fields:
    """Checks one TOML table against a field list, recording problems with line and fix."""

    def __init__(
        self,
        table: dict,
        *,
        file: str,
        where: str,
        lines: dict[str, int],
        base_line: int | None,
        problems: list[Problem],
        question: str | None = None,
    ):
        self.t = table
        self.file = file
        self.where = where
        self.lines = lines
        self.base_line = base_line
        self.problems = problems
        self.question = question
        self.known: set[str] = set()

    @property
    def w(self) -> str:
        return f"{self.where}: " if self.where else ""

    def line(self, name: str) -> int | None:
        return self.lines.get(name, self.base_line)

    def add(self, name: str | None, message: str, fix: str, check: str = "format", kind: str = "error") -> None:
        self.problems.append(
            Problem(
                file=self.file,
                line=self.line(name) if name else self.base_line,
                question=self.question,
                field=name,
                message=message,
                fix=fix,
                check=check,
                kind=kind,
            )
        )

    def _get(self, name: str, required: bool, type_name: str, example: str):
        self.known.add(name)
        if name not in self.t:
            if required:
                self.add(None, f"{self.w}missing required field '{name}'", f"add `{name} = {example}`")
            return None
        return self.t[name]

    def string(
        self,
        name: str,
        *,
        required: bool = True,
        example: str = '"..."',
        allow_empty: bool = False,
        pattern: re.Pattern | None = None,
        pattern_help: str = "",
        choices: tuple[str, ...] = (),
    ) -> str | None:
        v = self._get(name, required, "string", example)
        if v is None:
            return None
        if not isinstance(v, str):
            self.add(name, f"{self.w}'{name}' must be a string, not {toml_type(v)}", f"write `{name} = {example}`")
            return None
        v = normalise_text(v)
        if not v and not allow_empty:
            self.add(name, f"{self.w}'{name}' is empty", f"write the {name.replace('_', ' ')}, or remove the field")
            return None
        if len(v) > (limit := text_limit(name)):
            self.add(name, f"{self.w}{too_long(name, v, limit)}", f"shorten `{name}` to {limit:,} characters or fewer")
            return None
        if pattern and v and not pattern.match(v):
            self.add(name, f"{self.w}'{name}' = {v!r} is not valid: {pattern_help}", f"use {pattern_help}")
            return None
        if choices and v not in choices:
            guess = suggest(v, choices)
            hint = f"did you mean '{guess}'? " if guess else ""
            self.add(
                name,
                f"{self.w}'{name}' = {v!r} is not one of {', '.join(choices)}",
                f"{hint}use one of: {', '.join(choices)}",
            )
            return None
        return v

    def integer(
        self,
        name: str,
        *,
        required: bool = True,
        minimum: int | None = None,
        maximum: int = MAX_INTEGER,
        why: str = "",
        example: str = "1",
    ) -> int | None:
        """A whole number from `minimum` to `maximum` (qbank.limits; `why` says what the maximum is)."""
        v = self._get(name, required, "integer", example)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            shown = v.strip() if isinstance(v, str) and v.strip().lstrip("-").isdigit() else example
            self.add(
                name,
                f"{self.w}'{name}' must be a whole number, not {toml_type(v)} {v!r}",
                f"write `{name} = {shown}` (no quotes)",
            )
            return None
        if minimum is not None and v < minimum:
            self.add(name, f"{self.w}'{name}' = {v} must be at least {minimum}", f"set `{name}` to {minimum} or more")
            return None
        if v > maximum:
            self.add(
                name,
                f"{self.w}'{name}' = {v} is too large (at most {maximum:,}{': ' + why if why else ''})",
                f"set `{name}` to {maximum:,} or less"
                if maximum < MAX_INTEGER
                else f"set `{name}` to a realistic number",
            )
            return None
        return v

    def boolean(self, name: str, *, default: bool = False) -> bool:
        v = self._get(name, False, "boolean", "true")
        if v is None:
            return default
        if not isinstance(v, bool):
            self.add(
                name,
                f"{self.w}'{name}' must be true or false, not {toml_type(v)} {v!r}",
                f"write `{name} = true` or `{name} = false` (no quotes)",
            )
            return default
        return v

    def date(self, name: str, *, required: bool = False, not_after: str | None = None) -> str | None:
        """A calendar date, as a TOML date (`reviewed = 2026-11-20`) or the text "YYYY-MM-DD";
        returned as that text. `not_after` ("YYYY-MM-DD"): a later date is an error (a date that
        records something done cannot be in the future)."""
        v = self._get(name, required, "date", "2026-11-20")
        if v is None:
            return None
        text = parse_date(v)
        if text is None:
            if isinstance(v, dt.datetime):
                problem = f"{self.w}'{name}' must be a date without a time, not {v.isoformat()}"
            elif isinstance(v, str):
                problem = f"{self.w}'{name}' = {v.strip()!r} is not a valid date"
            else:
                problem = f"{self.w}'{name}' must be a date, not {toml_type(v)} {v!r}"
            self.add(name, problem, f"write `{name} = YYYY-MM-DD`, e.g. `{name} = 2026-11-20`")
            return None
        if not_after is not None and text > not_after:
            self.add(
                name,
                f"{self.w}'{name}' = {text} is in the future",
                f"give the date it was done (today, {not_after}, or earlier)",
            )
            return None
        return text

    def string_list(
        self, name: str, *, required: bool = True, allow_empty: bool = False, example: str = '["..."]'
    ) -> list[str] | None:
        v = self._get(name, required, "list", example)
        if v is None:
            return None
        if isinstance(v, str):
            self.add(
                name, f"{self.w}'{name}' must be a list, not a single string", f"write `{name} = [{json.dumps(v)}]`"
            )
            return None
        if not isinstance(v, list):
            self.add(
                name, f"{self.w}'{name}' must be a list of strings, not {toml_type(v)}", f"write `{name} = {example}`"
            )
            return None
        bad = [x for x in v if not isinstance(x, str)]
        if bad:
            self.add(
                name, f"{self.w}'{name}' must hold only strings; found {bad[0]!r}", f"quote every item of `{name}`"
            )
            return None
        items = [normalise_text(x) for x in v]
        limit = text_limit(name)
        long = next((x for x in items if len(x) > limit), None)
        if long is not None:
            self.add(
                name,
                f"{self.w}'{name}' has an item that {too_long('', long, limit)}",
                f"shorten each item of `{name}` to {limit:,} characters or fewer",
            )
            return None
        if "" in items:
            self.add(name, f"{self.w}'{name}' has an empty item", f"remove the empty item from `{name}`")
            items = [x for x in items if x]
        if not items and not allow_empty:
            self.add(name, f"{self.w}'{name}' is empty", f"list at least one item in `{name}`")
            return None
        if len(set(items)) < len(items):  # some item is repeated (checked first: lists rarely repeat)
            dupes = sorted({x for x in items if items.count(x) > 1})
            self.add(name, f"{self.w}'{name}' lists {dupes[0]!r} twice", f"remove the repeated {dupes[0]!r}")
            items = list(dict.fromkeys(items))
        return items

    def table(self, name: str) -> dict | None:
        v = self._get(name, False, "table", "{ }")
        if v is None:
            return None
        if not isinstance(v, dict):
            self.add(
                name, f"{self.w}'{name}' must be a table, not {toml_type(v)}", f"write it as `[{name}]` with keys below"
            )
            return None
        return v

    def unknown(self, extra_known: tuple[str, ...] = ()) -> None:
        known = self.known | set(extra_known)
        for k in self.t:
            if k not in known:
                guess = suggest(k, tuple(sorted(known)))
                fix = f"did you mean '{guess}'?" if guess else f"remove it; known fields: {', '.join(sorted(known))}"
                shown = k if k.isprintable() else repr(k)[1:-1]  # (a control character is reported on its own)
                self.add(k, f"{self.w}unknown field '{shown}'", fix)


def too_long(name: str, v: str, limit: int) -> str:
    """How a text over its limit is named: "'id' is 70 characters long (at most 64): 'IL-PD-...'"."""
    what = f"'{name}' is" if name else "is"
    shown = v[:24].replace("\n", " ") + "..."
    return f"{what} {len(v):,} characters long (at most {limit:,}): {shown!r}"


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(v: object) -> str | None:
    """A date field's value as "YYYY-MM-DD": a TOML date, or text in that form naming a real day
    (surrounding spaces allowed); None for anything else (a date with a time, "2026-02-30", 5)."""
    if type(v) is dt.date:
        return v.isoformat()
    if type(v) is str:
        v = v.strip()
        if _DATE_RE.match(v):
            try:
                return dt.date.fromisoformat(v).isoformat()
            except ValueError:
                return None
    return None


def toml_type(v) -> str:
    """How a TOML value's type is named in a problem: "a string", "a list"..."""
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "a number"
    if isinstance(v, float):
        return "a decimal number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, dt.datetime):
        return "a date and time"
    if isinstance(v, dt.date):
        return "a date"
    return type(v).__name__


def suggest(word: str, choices) -> str | None:
    """The choice closest to a mistyped word (a "did you mean"), or None when nothing is close."""
    choices = list(choices)
    if not choices:
        return None
    hit = process.extractOne(word, choices, scorer=fuzz.ratio, score_cutoff=60)
    return hit[0] if hit else None
