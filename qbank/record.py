"""The assessor's record of one assessment, rendered by jinja2 as HTML (self-contained, A4) or Markdown.

`record_context` gathers everything the record shows from an `AssessmentView`; the templates in
`qbank/templates/` only lay it out. HTML is autoescaped; Markdown cells are escaped by `mdcell`.

Questions are listed in the order they were asked (ad-hoc ones in their place); skipped ones
apart, with their reasons; skips and swaps that were undone, and retracted evidence, stay in the
record, marked. `write_record` stores a record file atomically, by default in `records_dir`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.engine import Engine

from . import __version__
from .assessment_view import load
from .files import write_text_atomic
from .grading import fmt_number
from .problems import BankError
from .views import AssessmentView, EvidenceView, MethodView, QuestionView

TEMPLATES = Path(__file__).parent / "templates"
FORMATS = ("html", "md")


@dataclass
class CriterionRow:
    id: str
    title: str
    theme: str
    outcomes: list[str]
    level: str | None
    descriptor: str  # the descriptor of the level reached, if any
    mark: str  # "7 / 10 (min 5)", "62% (weight 50%)" or ""
    short: str
    strengths: str
    improvements: str
    evidence: list[EvidenceView] = field(default_factory=list)


@dataclass
class OutcomeRow:
    code: str
    title: str
    level: str | None
    evidenced: bool


def record_context(view: AssessmentView, *, generated: datetime | None = None) -> dict:
    generated = generated or datetime.now(timezone.utc)
    methods = []
    for m in view.methods:
        methods.append(
            {
                "m": m,
                "criteria": _criteria(m),
                "outcomes": _outcomes(m, view.outcome_titles),
                "asked": m.asked,  # in the order asked, ad-hoc ones in their place
                "skipped": m.skipped,
                "undone_skips": _undone_skips(m.questions),
                "not_asked": m.planned,  # drawn, never asked (nor skipped)
                "elapsed": _duration(m.elapsed_seconds),
                "total": _total(m),
            }
        )
    first_times = [m.started_at for m in view.methods if m.started_at]
    last_times = [m.ended_at for m in view.methods if m.ended_at]
    return {
        "a": view,
        "methods": methods,
        "started": min(first_times) if first_times else None,
        "ended": max(last_times) if last_times else None,
        "generated": generated,
        "version": __version__,
        "draft": view.status == "open",
        "void": view.status == "void",
    }


def render(view: AssessmentView, fmt: str = "html", *, generated: datetime | None = None, screen: bool = False) -> str:
    """The record as HTML or Markdown. `screen`: Markdown for a terminal viewer, whose tables
    cannot hold line breaks, so the questions and notes are a list with hard line breaks."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    return _env().get_template(f"record.{fmt}").render(**record_context(view, generated=generated), screen=screen)


@dataclass
class UndoneSkip:
    question: QuestionView
    reason: str
    skipped_at: datetime | None
    undone_at: datetime | None


def _undone_skips(questions: list[QuestionView]) -> list[UndoneSkip]:
    out = [UndoneSkip(q, h["reason"], h["skipped_at"], h["undone_at"]) for q in questions for h in q.undone_skips]
    return sorted(out, key=lambda u: _utc(u.skipped_at))


def _utc(d: datetime | None) -> datetime:
    if d is None:
        return datetime.min.replace(tzinfo=timezone.utc)
    return d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d


def _criteria(m: MethodView) -> list[CriterionRow]:
    live = list(m.evidence)  # retracted entries too: shown in place, marked, not counted
    if m.scheme is None:
        codes = list(dict.fromkeys(e.criterion for e in live))
        return [
            CriterionRow(
                id=c,
                title="",
                theme="",
                outcomes=[c],
                level=m.outcome_levels.get(c),
                descriptor="",
                mark="",
                short="",
                strengths="",
                improvements="",
                evidence=[e for e in live if e.criterion == c],
            )
            for c in codes
        ]
    results = {c.id: c for c in (m.result.criteria if m.result else ())}
    rows = []
    for c in m.scheme.criteria:
        r = results.get(c.id)
        mv = m.marks.get(c.id)
        mark = ""
        if m.scheme.scheme == "marks":
            got = fmt_number(mv.mark) if mv and mv.mark is not None else "not marked"
            mark = f"{got} / {fmt_number(c.max)}" + (f" (min {fmt_number(c.min)})" if c.min is not None else "")
        elif m.scheme.scheme == "weighted":
            got = f"{fmt_number(mv.mark)}%" if mv and mv.mark is not None else "not marked"
            mark = f"{got} (weight {fmt_number(c.weight)}%)" + (
                f", min {fmt_number(c.min)}%" if c.min is not None else ""
            )
        level = r.level if r else None
        rows.append(
            CriterionRow(
                id=c.id,
                title=c.title,
                theme=c.theme,
                outcomes=list(c.outcomes),
                level=level,
                descriptor=c.descriptors.get(level, "") if level else "",
                mark=mark,
                short=r.short if r else "",
                strengths=mv.strengths if mv else "",
                improvements=mv.improvements if mv else "",
                evidence=[e for e in live if e.criterion == c.id],
            )
        )
    return rows


def _outcomes(m: MethodView, titles: dict[str, str]) -> list[OutcomeRow]:
    return [
        OutcomeRow(code=o, title=titles.get(o, ""), level=m.outcome_levels.get(o), evidenced=o not in m.uncovered)
        for o in m.method.assesses
    ]


def _total(m: MethodView) -> str:
    r = m.result
    if r is None or r.total is None:
        return ""
    assert m.scheme is not None  # a result comes from the method's rules
    if m.scheme.scheme == "weighted":
        return f"weighted total {fmt_number(r.total)}%"
    return f"total {fmt_number(r.total)} / {fmt_number(r.total_max)}"


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _when(d: datetime | None, fmt: str = "%d %B %Y %H:%M UTC") -> str:
    if d is None:
        return "-"
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.astimezone(timezone.utc).strftime(fmt)


def _mdcell(s) -> str:
    """Text safe inside a Markdown table cell: pipes escaped, lines joined with <br>, HTML neutralised."""
    text = "" if s is None else str(s)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return "<br>".join(line.strip() for line in text.strip().splitlines()) or " "


def _mdlines(s, indent: int = 3) -> str:
    """Free text in Markdown with its line breaks kept (hard breaks), indented to continue a list item."""
    lines = [_mdtext(line.strip()) for line in ("" if s is None else str(s)).strip().splitlines() if line.strip()]
    return ("\\\n" + " " * indent).join(lines)


def _mdtext(s) -> str:
    """Free text in Markdown, kept literal: characters that would start markup are escaped."""
    text = "" if s is None else str(s)
    for ch in "\\`*_[]#<>|":
        text = text.replace(ch, "\\" + ch)
    return text


# --------------------------------------------------------------------------- record files


def records_dir(engine: Engine) -> Path:
    """Where record files go by default: a `records` folder beside a SQLite store's file; for any
    other store, <user data dir>/records/<database name>."""
    from .store import user_data_dir

    url = engine.url
    db = url.database or ""
    if url.get_backend_name() == "sqlite" and db and db != ":memory:" and not db.startswith("file:"):
        return Path(db).expanduser().absolute().parent / "records"
    return user_data_dir() / "records" / (_safe_name(db) or "memory")


def record_filename(view: AssessmentView, fmt: str) -> str:
    return f"assessment-{view.id}.{fmt}"


def write_record(engine: Engine, assessment_id: int, fmt: str = "html", path: Path | None = None) -> Path:
    """Render the record and store it at `path` (default: `records_dir(engine)` / record_filename),
    atomically: written to a temporary file in the same folder, then moved into place. Never writes
    through a symbolic link. Returns the path written."""
    if fmt not in FORMATS:
        raise BankError(f"a record's format is one of {', '.join(FORMATS)}, not '{fmt}'")
    view = load(engine, assessment_id)
    text = render(view, fmt)
    path = Path(path).expanduser() if path is not None else records_dir(engine) / record_filename(view, fmt)
    if path.is_symlink():
        raise BankError(
            f"cannot write the record to {path}: it is a symbolic link, and qbank does not write "
            "through links; choose another file name"
        )
    if path.is_dir():
        raise BankError(f"cannot write the record to {path}: it is a folder; give a file name")
    write_text_atomic(path, text, action="write the record")
    return path


def _safe_name(text: str) -> str:
    """A file or folder name from free text: letters, digits, dot, dash and underscore only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:80]


_ENV: Environment | None = None


def _env() -> Environment:
    global _ENV
    if _ENV is None:
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["when"] = _when
        env.filters["mdcell"] = _mdcell
        env.filters["mdtext"] = _mdtext
        env.filters["mdlines"] = _mdlines
        env.filters["num"] = fmt_number
        _ENV = env
    return _ENV
