"""Every limit on what a bank may hold, in one place (documented in banks/README.md, "Limits").

Two reasons for a limit. First, the stores: a release imported into SQLite must import into
PostgreSQL too, and the other way round, so `qbank validate` (and `release` and `import`, which
validate) refuses what either cannot hold: an id longer than its column (qbank/models.py), a whole
number beyond PostgreSQL's 32-bit INTEGER (SQLite would take 64 bits), a NUL character
(PostgreSQL's text cannot hold one). Second, sense: a 100,000-minute question or a 2 MB question
text is a mistake, and would count towards sufficiency or fill an assessor's screen; control
characters (ESC, BEL, ...) in a text reach the assessor's terminal.

Nothing here reads files: `fields` and `bankfiles` apply the limits and report each breach with
its file, line, field and fix.
"""

from __future__ import annotations

import re

# --------------------------------------------------------------------------- what the stores hold

# the largest whole number a bank may hold anywhere: PostgreSQL's INTEGER (32 bits, signed)
MAX_INTEGER = 2**31 - 1

# ids and codes, each stored in a column of this length (qbank/models.py): question.code,
# standard.code, outcome.code, method.key (64); a grade, level or criterion name is stored with
# each mark and evidence entry in 64-character columns (assessment_method.grade, evidence.level,
# evidence.criterion)
MAX_ID = 64
MAX_SEMVER = 32  # release.semver; each of its three numbers at most MAX_INTEGER

# --------------------------------------------------------------------------- sane values

MAX_QUESTION_MINUTES = 120  # one question's estimated minutes
MAX_METHOD_MINUTES = 24 * 60  # one assessment method's minutes
MAX_LEVEL = 8  # a standard's level (the RQF levels 1 to 8)
MAX_QUESTIONS_PER_SET = 100  # a method's or theme's min_questions
MAX_PER_OUTCOME = 100  # min_questions_per_outcome, max_outcomes_per_question
MAX_PERCENT = 100  # similarity scores (near_duplicate_threshold, similar_warning)
MAX_REVIEW_MONTHS = 120  # review_interval_months

# --------------------------------------------------------------------------- texts (characters)

MAX_PERSON = 128  # an author's or reviewer's name (as the store's assessor and marker names)
MAX_TITLE = 500  # titles, names, topics: one line
MAX_TEXT = 10_000  # a question's text, each probe, guidance, each band text, statements, reasons
MAX_NOTES = 20_000  # a standard's notes and source (they explain the whole standard)

# the limit of each text field, by its name in a bank file; any other text field: MAX_TEXT
TEXT_LIMITS: dict[str, int] = {
    # ids, codes and the names that are stored with marks and evidence
    **dict.fromkeys(
        ("id", "code", "standard", "method", "methods", "outcomes", "assesses", "draw_covers", "excludes"), MAX_ID
    ),
    **dict.fromkeys(("grade", "grades", "levels", "met", "when", "version", "status", "group", "kind"), MAX_ID),
    **dict.fromkeys(("scheme", "clearance", "report_formats", "attempts"), MAX_ID),
    **dict.fromkeys(("author", "reviewer"), MAX_PERSON),
    **dict.fromkeys(("title", "name", "topic", "theme"), MAX_TITLE),
    **dict.fromkeys(("notes", "source"), MAX_NOTES),
}


def text_limit(field: str) -> int:
    """The most characters the text field `field` may hold."""
    return TEXT_LIMITS.get(field, MAX_TEXT)


# --------------------------------------------------------------------------- control characters

# C0 controls but tab and newline (a carriage return only before a newline: Windows line ends),
# DEL, and the C1 controls: never part of a bank's text; NUL cannot be stored by PostgreSQL, and
# ESC, BEL and the others act on the terminal that shows the text
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")
# what a file's raw text must contain for any of its strings to hold one: the character itself,
# or an escape that makes one (TOML and JSON: \b \f \r \uXXXX \UXXXXXXXX; TOML 1.1: \e \xHH)
MAY_HOLD_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]|\\[bfreuUx]")

_CONTROL_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "backspace", 0x0D: "carriage return", 0x1B: "ESC", 0x7F: "DEL"}


def control_character(text: str) -> tuple[int, str] | None:
    """The position and name of the first control character `text` may not hold, or None."""
    m = CONTROL_RE.search(text)
    if m is None:
        return None
    c = ord(m.group()[0])
    return m.start(), _CONTROL_NAMES.get(c, f"U+{c:04X}")


def semver_problem(semver: str) -> str | None:
    """What makes a release number (already "X.Y.Z") too large for the store, or None."""
    if len(semver) > MAX_SEMVER or any(int(n) > MAX_INTEGER for n in semver.split(".")):
        return (
            f"release number {semver[:40]!r} is too large: at most {MAX_SEMVER} characters, "
            f"each number at most {MAX_INTEGER:,}"
        )
    return None
