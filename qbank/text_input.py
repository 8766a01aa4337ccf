"""Free text typed into an assessment's record, made safe to store: one function at the service
boundary, so SQLite and PostgreSQL hold the same text and a terminal or a record never receives
a control sequence from it.

`clean(value, field)` turns Windows and old Mac line ends into "\\n", removes every C0 control
character except newline and tab (NUL, ESC, BEL, ...), DEL, the C1 controls (U+0080-U+009F) and
lone surrogates (which no UTF-8 store can hold), then refuses a text longer than the field's
documented limit with a `SessionError` naming the field, its length and the limit. PostgreSQL
refuses a NUL in a text column outright (a DataError); SQLite stores it, and ESC or BEL then
reach whoever reads the record: neither happens once the text has been through `clean`.

The limits (characters, after cleaning) are generous for what each field is for; they exist so
that a paste of a whole document, or a hostile multi-megabyte input, is refused with a message
instead of being stored:

| field | limit |
|---|---|
| notes on an answer | 20,000 |
| strengths, areas for improvement (method or criterion) | 10,000 each |
| an evidence entry's note | 5,000 |
| reasonable adjustments | 5,000 |
| a disagreement with the engine's grade | 5,000 |
| an ad-hoc question's text | 2,000 |
| a reason (skip, swap, retraction, ending early, voiding, override) | 2,000 |
| a person's name (assessor, who voided, who overrode) | 128 (the column's length) |
"""

from __future__ import annotations

import re

from .session_guards import SessionError

__all__ = ["LIMITS", "clean", "strip_controls"]

LIMITS: dict[str, int] = {
    "notes": 20_000,
    "strengths": 10_000,
    "improvements": 10_000,
    "evidence note": 5_000,
    "adjustments": 5_000,
    "disagreement": 5_000,
    "ad-hoc question": 2_000,
    "reason": 2_000,
    "name": 128,
}

_LINE_ENDS = re.compile(r"\r\n?")
# C0 except \t (09) and \n (0A); DEL; C1; lone surrogates
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def strip_controls(value: str) -> str:
    """`value` with line ends made "\\n" and the control characters a store or terminal must not
    get removed (C0 but newline and tab, DEL, C1, lone surrogates)."""
    return _CONTROLS.sub("", _LINE_ENDS.sub("\n", value))


def clean(value: str, field: str, *, limit: int | None = None, what: str = "") -> str:
    """`value` ready to store in `field` (a key of LIMITS, unless `limit` is given): control
    characters removed (`strip_controls`); SessionError if it is longer than the limit. `what`
    names the field in the message when its key alone would not (e.g. "skip reason")."""
    text = strip_controls(value)
    top = limit if limit is not None else LIMITS[field]
    if len(text) > top:
        raise SessionError(
            f"{what or field}: {len(text):,} characters, and at most {top:,} can be stored; "
            "shorten it (keep the full text in a document and refer to it)"
        )
    return text
