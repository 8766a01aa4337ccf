"""Questions on their way in or out of qbank (`qbank convert`, `qbank export`): the neutral form
every format reads into and writes from.

A reader (`tabular`, `moodle`, `qti`) turns a file into `ExchangeQuestion`s and `Skipped` notes,
never touching the bank; `convert` maps them onto a standard (outcomes and methods checked, tags
mapped through the writer's map file) and writes draft questions. A writer takes the
`ExchangeQuestion`s of one release (`export`) and writes them in its format. The round trip
export -> convert gives back every field below unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .bank_types import Question
from .problems import BankError

FIELDS = ("id", "text", "outcomes", "methods", "minutes", "probes", "guidance", "topic", "author")
"""The columns of the tabular layout, in order (CSV and XLSX, read and written alike)."""


@dataclass
class ExchangeQuestion:
    id: str
    text: str
    outcomes: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    minutes: int | None = None
    probes: list[str] = field(default_factory=list)
    guidance: str = ""
    topic: str = ""
    author: str = ""
    version: int | None = None  # the released version, when exported
    tags: list[str] = field(default_factory=list)  # what the source tagged it with, before the map
    where: str = ""  # where in the source it came from, for messages: "row 7", "question 'Q12'"


@dataclass
class Skipped:
    where: str  # "row 7", "question 'Shapes' (multichoice)"
    why: str


@dataclass
class ReadResult:
    """What a reader found in one file: questions, what it skipped and why, and problems that
    stop the file being read at all (each a sentence naming the file and what to do)."""

    format: str  # csv | xlsx | moodle | qti
    questions: list[ExchangeQuestion] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def from_question(q: Question, where: str = "") -> ExchangeQuestion:
    """A bank question (one released version) in the neutral form."""
    return ExchangeQuestion(
        id=q.id,
        text=q.text,
        outcomes=list(q.outcomes),
        methods=list(q.methods),
        minutes=q.minutes,
        probes=list(q.probes),
        guidance=q.guidance,
        topic=q.topic,
        author=q.author,
        version=q.version,
        where=where,
    )


class ExchangeError(BankError):
    """A file that cannot be read or written: the message names the file and the problem."""


@dataclass(frozen=True)
class ExchangeStandard:
    """The standard a release belongs to, as an exporter names it (QTI test title, Moodle category)."""

    code: str
    title: str = ""


@dataclass(frozen=True)
class ExchangeMethod:
    """One assessment method of a release, as the QTI test's sections express it: its key (method id),
    name, the plan's minimum number of questions and the minutes for questioning."""

    key: str
    name: str
    min_questions: int
    minutes: int
