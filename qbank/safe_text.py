"""Text made safe for where it goes: terminal control characters dropped from what is shown or
rendered (Markdown, HTML, tables), and spreadsheet formulas neutralised in CSV cells.

A question text, a note or an apprentice reference is data, never an instruction: an ESC or BEL
in it must not move a reader's cursor or retitle their terminal, and a cell beginning with `=`
must not run as a formula when an EPAO opens the export in a spreadsheet (OWASP, "CSV Injection").
"""

from __future__ import annotations

import math
import re

# C0 controls except tab and newline, DEL, and the C1 controls (U+0080-U+009F: CSI, OSC... on
# terminals that read 8-bit controls).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Characters that make a spreadsheet read a cell as a formula (OWASP): = + - @, tab and CR.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A plain number as text ("-0.5", "+3", "1e-4", "-12.5%"): a spreadsheet reads it as that number.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?")


# A whole escape sequence goes, not just its ESC, so no "[31m" is left behind: CSI (ESC [ or
# U+009B, parameters, final byte), OSC (ESC ] or U+009D, up to BEL or ST, within the line) and
# the two-character escapes.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[@-Z\\-_]"
)


def drop_controls(text: str) -> str:
    """`text` without terminal control characters (escape sequences whole); tab and newline kept."""
    return _CONTROL.sub("", _SEQUENCE.sub("", text))


def csv_cell(value):
    """A CSV cell that no spreadsheet runs as a formula.

    Numbers (int, float) are written as numbers, so a negative mean stays a number a spreadsheet
    can sum; so is text that is exactly a plain number ("-0.5", "-12.5%") or a lone "-" (the
    reports' "none"). Any other text starting with = + - @, tab or carriage return gets a single
    quote in front ("'=1+2", "'-x"), the OWASP advice; control characters are dropped first."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value if not isinstance(value, float) or math.isfinite(value) else str(value)
    text = str(value)
    if text.startswith(("\t", "\r")):  # checked before the control characters go: a CR-led cell is neutralised
        return "'" + drop_controls(text)
    text = drop_controls(text)
    if text.startswith(_FORMULA_START) and text != "-" and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


_RAW_IN_JSON = re.compile("[\x7f-\x9f]")  # json.dumps escapes C0 itself; DEL and C1 it leaves raw


def json_escape_controls(text: str) -> str:
    """JSON text (from json.dumps(..., ensure_ascii=False)) with DEL and the C1 controls written as
    \\u escapes: the same data for a program, nothing a terminal acts on for a person."""
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
