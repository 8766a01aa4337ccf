"""The assessor's record of one assessment, rendered by jinja2 as HTML (self-contained, A4) or Markdown.

`record_context` gathers everything the record shows from an `AssessmentView`; the templates in
`qbank/templates/` only lay it out. HTML is autoescaped; Markdown cells are escaped by `mdcell`;
terminal control characters (ESC, BEL, C1) are dropped from the whole output (`safe_text`).

Questions are listed in the order they were asked (ad-hoc ones in their place); skipped ones
apart, with their reasons; skips and swaps that were undone, and retracted evidence, stay in the
record, marked. `write_record` stores a record file atomically, by default in `records_dir`.

Given the assessment's second marking (`iqa.for_view`), each second-marked method shows the second
marker's marks or levels beside the assessor's with AGREE / DISAGREE, and a closing section the
second marker's overall grade and the date of the IQA check (`templates/record_iqa.*`).

A report marked on a mark sheet (a method with report formats: ILM) shows how the report was
presented (written or oral), the mark sheet (each section with the criteria it lists, strengths,
areas for improvement and the assessor's mark, then the assessor's total, decision and the
sections referred), and the learner's declarations (authenticity, refusal of anonymous use).
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
from .declarations import Declaration
from .files import write_text_atomic
from .grading import fmt_number
from .iqa import AssessmentIQA, for_view
from .problems import BankError
from .safe_text import drop_controls
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


def record_context(
    view: AssessmentView, *, generated: datetime | None = None, iqa: AssessmentIQA | None = None
) -> dict:
    """`iqa`: the assessment's second marking (`iqa.for_view`); each second-marked method shows the
    second marker's marks or levels beside the assessor's, with AGREE / DISAGREE."""
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
                "second": iqa.method(m.method.id) if iqa else None,  # the second marker's, if any
                "sheet": _mark_sheet(m, view.outcome_statements),
                "no_questions": _no_questions(m),
                # questioning optional and none drawn: the method's minutes (questioning time) do not apply
                "no_questioning": m.method.questions_optional and not m.questioning,
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
        "iqa": iqa if iqa is not None and iqa.methods else None,
        "clearance": _clearance(view),
        "not_cleared": bool(view.clearance_at_start and view.clearance_at_start.not_cleared),
        "declarations": _declarations(view),
    }


@dataclass
class SheetRow:
    title: str
    criteria: list[tuple[str, str]]  # (code, the criterion's words)
    mark: str  # "8 / 10 (min 5)"
    short: str  # "below the minimum of 15", "not marked", ""
    strengths: str
    improvements: str


@dataclass
class MarkSheet:
    rows: list[SheetRow]
    total: str  # "56 / 100" or "" while a section is unmarked
    decision: str  # the assessor's decision: the confirmed grade, else the rules' grade so far
    referred: list[str]  # the sections below their minimum


def _mark_sheet(m: MethodView, statements: dict[str, str]) -> MarkSheet | None:
    """The mark sheet of a report method graded by marks (ILM); None for any other method."""
    if not m.method.report_formats or m.scheme is None or m.scheme.scheme != "marks" or m.status == "carried":
        return None
    results = {c.id: c for c in (m.result.criteria if m.result else ())}
    rows = []
    for c in m.scheme.criteria:
        mv = m.marks.get(c.id)
        got = fmt_number(mv.mark) if mv and mv.mark is not None else "not marked"
        rows.append(
            SheetRow(
                title=c.title or c.id,
                criteria=[(o, statements.get(o, "")) for o in c.outcomes],
                mark=f"{got} / {fmt_number(c.max)}" + (f" (min {fmt_number(c.min)})" if c.min is not None else ""),
                short=results[c.id].short if c.id in results else "",
                strengths=mv.strengths if mv else "",
                improvements=mv.improvements if mv else "",
            )
        )
    r = m.result
    complete = r is not None and r.complete and r.total is not None
    return MarkSheet(
        rows=rows,
        total=f"{fmt_number(r.total)} / {fmt_number(r.total_max)}" if complete and r is not None else "",
        decision=(m.confirmed_grade or m.computed_grade or (r.grade if complete and r is not None else "")) or "",
        referred=[row.title for row in rows if row.short.startswith("below")],
    )


def _no_questions(m: MethodView) -> str:
    """What the record says of a method with no question asked whose questioning was optional."""
    if m.asked or not m.method.questions_optional:
        return ""
    if m.report_format == "written":
        return "Written report: marked as it stands, without questioning."
    if m.report_format == "oral":
        return "Oral report: no questions were asked (questions after an oral report are the assessor's option)."
    return "No questions were asked (questioning is the assessor's option in this method)."


@dataclass
class DeclarationLine:
    label: str
    text: str
    missing: bool  # shown flagged: the authenticity confirmation not recorded


def _declarations(view: AssessmentView) -> list[DeclarationLine]:
    """The learner's declarations, for an assessment of a report method or with any recorded."""
    d = view.declarations
    if not d.recorded and not any(m.method.report_formats for m in view.methods):
        return []

    def who(e: Declaration) -> str:
        return f"recorded by {e.by}, {_when(e.at)}"

    lines = []
    a = d.authenticity
    if a is None:
        lines.append(DeclarationLine("Authenticity of submission", "NOT RECORDED", True))
    else:
        said = "confirmed by the learner" if a.value else "NOT confirmed by the learner"
        lines.append(DeclarationLine("Authenticity of submission", f"{said} ({who(a)})", not a.value))
    u = d.anonymous_use_refused
    label = "Anonymous use of the script for assessment standardisation"
    if u is None:
        lines.append(DeclarationLine(label, "not refused (the box was not ticked)", False))
    else:
        said = "REFUSED by the learner (the box was ticked)" if u.value else "not refused (the box was not ticked)"
        lines.append(DeclarationLine(label, f"{said} ({who(u)})", False))
    for key, e in d.history:
        what = "authenticity confirmed" if key == "authenticity" else "anonymous use refused"
        lines.append(
            DeclarationLine("Earlier entry", f"{what}: {'yes' if e.value else 'no'} ({who(e)}); later changed", False)
        )
    return lines


def _clearance(view: AssessmentView) -> str:
    """The record's line on the release's clearance for live assessment as it stood when the
    assessment started (and what changed since); empty when the release needs none."""
    then, now = view.clearance_at_start, view.clearance
    if then is None or not then.required:
        return ""
    line = f"{view.standard} {view.release}, when this assessment started: {then.text}."
    if now is not None and now.latest != then.latest:
        line += f" Since then: {now.text}."
    return line


def render(
    view: AssessmentView,
    fmt: str = "html",
    *,
    generated: datetime | None = None,
    screen: bool = False,
    iqa: AssessmentIQA | None = None,
) -> str:
    """The record as HTML or Markdown. `screen`: Markdown for a terminal viewer, whose tables
    cannot hold line breaks, so the questions and notes are a list with hard line breaks. `iqa`:
    the second marking to show beside the assessor's (`iqa.for_view(engine, view)`)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    context = record_context(view, generated=generated, iqa=iqa)
    # terminal control characters (ESC, BEL, C1...) never reach the record, whatever was stored
    return drop_controls(_env().get_template(f"record.{fmt}").render(**context, screen=screen))


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
    text = render(view, fmt, iqa=for_view(engine, view))
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
