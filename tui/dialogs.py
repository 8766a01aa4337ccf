"""Modal dialogs. Each returns what the assessor entered (or None when cancelled); the calling
screen stores it through qbank services.

Every dialog fits an 80x24 terminal with all its fields and buttons in view: compact inputs and
buttons, a scrolling middle part, and the buttons outside it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rich.markup import escape
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select, Static
from textual.widgets.button import ButtonVariant
from textual.widgets.option_list import Option

from qbank.evidence import EvidencePlanError, PlannedEntry, default_level, descriptor, plan_entries
from qbank.grading import MethodScheme
from qbank.sessions import Declarations, MarkView, MethodView, QuestionView

from .app import QBankModal
from .widgets import Tick, TickList


def one_line(text: str, width: int = 0) -> str:
    s = " ".join((text or "").split())
    return s if not width or len(s) <= width else s[: width - 1] + "…"


class Dialog(QBankModal):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


def buttons(ok: str, *, variant: ButtonVariant = "primary", cancel: str = "Cancel") -> Horizontal:
    return Horizontal(
        Button(ok, variant=variant, id="ok", compact=True), Button(cancel, id="cancel", compact=True), classes="buttons"
    )


# --------------------------------------------------------------------------- evidence


@dataclass
class EvidenceEntry:
    criterion: str | None
    outcomes: list[str]
    level: str
    note: str


class EvidenceDialog(Dialog):
    """Log what an answer evidenced. The rows are the asked question's targets, all ticked (the
    fast path credits exactly them), each with its code and full statement in the standard's words
    (`statements`; the short title where the release gives none), wrapped; Ctrl+O adds the method's
    other outcomes by their short titles, unticked. The criterion follows from the ticked outcomes;
    the level's wording from the grading rules and the question's bands are shown where the
    judgement is made.

    Keys: 1-9 or Space tick, Left/Right (Up/Down in the note) change the level, typing starts the
    note, Enter logs. Returns a list of entries, one per criterion."""

    BINDINGS = [
        Binding("left", "level(-1)", "Lower level", show=False),
        Binding("right", "level(1)", "Higher level", show=False),
        Binding("ctrl+o", "all_outcomes", "All outcomes", show=False),
    ]

    def __init__(
        self,
        m: MethodView,
        titles: dict[str, str],
        question: QuestionView | None,
        submit: Callable[[list[EvidenceEntry]], Awaitable[None]] | None = None,
        *,
        statements: dict[str, str] | None = None,
    ):
        super().__init__()
        self.m, self.titles, self.question = m, titles, question
        self.statements = statements or {}
        self.submit = submit  # given: the entries are stored (and the screen below updated) before it closes
        self.levels = list(m.levels)
        self.level = default_level(self.levels)
        targets = [o for o in (question.outcomes if question else []) if o in m.method.assesses]
        self.targets = targets
        self.showing_all = not targets
        self._typing = False

    def _target(self, o: str) -> str:
        """A target's row: its code and the standard's full statement (the title where none is given)."""
        return f"{o} {self.statements.get(o) or self.titles.get(o, '')}"

    def _rows(self) -> list[Tick]:
        rows = [Tick(o, self._target(o), True) for o in self.targets]
        if self.showing_all:
            kept = set(self.query_one("#outcomes", TickList).selected) if self.is_mounted else set(self.targets)
            rows = [Tick(o, self._target(o), o in kept) for o in self.targets]
            rows += [
                Tick(o, f"{o} {self.titles.get(o, '')}", o in kept)
                for o in self.m.method.assesses
                if o not in self.targets
            ]
        return rows

    def compose(self) -> ComposeResult:
        q = self.question
        if q is None:
            about = "no question asked: evidence from the portfolio or the conversation"
        else:
            about = ("ad hoc: " if q.adhoc else f"{q.code}: ") + one_line(q.text, 58)
        with Vertical(classes="dialog", id="evidence-dialog"):
            yield Label(f"Evidence · {escape(about)}", classes="dialog-title")
            yield TickList(self._rows(), numbered=True, id="outcomes")
            yield Static("", id="level-line")
            yield VerticalScroll(Static("", id="descriptors"), id="descriptor-box")
            yield Input(
                placeholder="note: what the answer showed (Enter logs)", id="note", compact=True, select_on_focus=False
            )
            yield Static(
                "1-9/Space tick · ←/→ level · type the note · Enter logs · ^O all outcomes", classes="muted hint"
            )
            yield buttons("Log")

    def on_mount(self) -> None:
        self.query_one("#outcomes", TickList).focus()
        self._show()

    # -- what the assessor sees change as they choose

    def plan(self) -> list[PlannedEntry]:
        return plan_entries(self.m.scheme, self.m.method.assesses, self.query_one("#outcomes", TickList).selected)

    def _show(self) -> None:
        marks = "  ".join(
            f"[reverse b] {escape(lv)} [/]" if lv == self.level else f" {escape(lv)} " for lv in self.levels
        )
        self.query_one("#level-line", Static).update(f"Level {marks}")
        lines = []
        try:
            entries = self.plan()
        except EvidencePlanError as e:
            entries = []
            lines.append(f"[$warning]{escape(str(e))}[/]")
        for entry in entries:
            if entry.criterion is not None and self.m.scheme is not None:
                c = self.m.scheme.criterion(entry.criterion)
                name = escape(c.title or c.theme or "") if c else ""
                lines.append(f"[b]{entry.criterion}[/b] {name} ← {', '.join(entry.outcomes)}")
                text = descriptor(self.m.scheme, entry.criterion, self.level)
                lines.append(f"  {escape(self.level)}: {escape(one_line(text)) if text else '(no descriptor)'}")
            else:
                lines.append(f"[b]{', '.join(entry.outcomes)}[/b] at {escape(self.level)}")
        bands = getattr(self.question, "bands", None) or {}
        if bands:
            band = bands.get(self.level)
            lines.append(
                f"[i]Question band[/i] {escape(self.level)}: {escape(one_line(band))}"
                if band
                else "[i]Question bands[/i]: "
                + "; ".join(f"{escape(k)}: {escape(one_line(v, 60))}" for k, v in bands.items())
            )
        self.query_one("#descriptors", Static).update("\n".join(lines))

    @on(TickList.Changed, "#outcomes")
    def _ticked(self) -> None:
        self._show()

    def action_level(self, step: int) -> None:
        i = max(0, min(len(self.levels) - 1, self.levels.index(self.level) + step))
        self.level = self.levels[i]
        self._show()

    def action_all_outcomes(self) -> None:
        self.showing_all = True
        tl = self.query_one("#outcomes", TickList)
        tl.set_items(self._rows())
        self._show()

    def on_key(self, event: events.Key) -> None:
        note = self.query_one("#note", Input)
        if self.focused is note:
            if event.key in ("up", "down"):
                self.action_level(1 if event.key == "up" else -1)
                event.stop()
            elif self._typing and event.is_printable and event.character:
                # The note stops every printable key it gets, so this one was sent to the tick list
                # before focus moved (fast typing): it belongs to the note too, in order.
                note.insert_text_at_cursor(event.character)
                event.stop()
                event.prevent_default()
            return
        # On the tick list, a letter starts the note. Once the note is started, every printable key belongs
        # to it (focus moves a moment later: fast typing must not tick with a space or a digit).
        if (
            isinstance(self.focused, TickList)
            and event.is_printable
            and event.character
            and (self._typing or (not event.character.isdigit() and event.character != " "))
        ):
            self._typing = True
            note.focus()
            note.insert_text_at_cursor(event.character)
            event.stop()
            event.prevent_default()

    @on(events.DescendantFocus)
    def _focus_moved(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, TickList):
            self._typing = False  # the assessor came back to the ticks on purpose

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted, "#note")
    @on(TickList.Submitted, "#outcomes")
    async def _ok(self) -> None:
        try:
            entries = self.plan()
        except EvidencePlanError as e:
            self.notify(str(e), severity="warning")
            return
        note = self.query_one("#note", Input).value
        chosen = [
            EvidenceEntry(criterion=e.criterion, outcomes=list(e.outcomes), level=self.level, note=note)
            for e in entries
        ]
        if self.submit is None:
            self.dismiss(chosen)
            return
        # Store first, then close: the screen underneath is already up to date, so closing repaints once.
        await self.submit(chosen)
        self.dismiss(None)


# --------------------------------------------------------------------------- reasons and confirmations


class ReasonDialog(Dialog):
    """A required reason (swap, skip, retraction, void), returned as text."""

    def __init__(self, title: str, prompt: str, detail: str = "", *, ok: str = "OK", required: bool = True):
        super().__init__()
        self.title_text, self.prompt, self.detail, self.ok, self.required = title, prompt, detail, ok, required

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(escape(self.title_text), classes="dialog-title")
            if self.detail:
                yield VerticalScroll(Static(escape(self.detail), id="detail"), classes="detail-box")
            yield Label(escape(self.prompt))
            yield Input(placeholder="reason (recorded)", id="reason", compact=True)
            yield buttons(self.ok)

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted, "#reason")
    def _ok(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason and self.required:
            self.notify("A reason is required", severity="warning")
            return
        self.dismiss(reason)


class ConfirmDialog(Dialog):
    """Yes or no; the safe answer has the focus."""

    def __init__(self, title: str, text: str, ok: str = "Yes", *, variant: ButtonVariant = "warning"):
        super().__init__()
        self.title_text, self.text, self.ok, self.variant = title, text, ok, variant

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(escape(self.title_text), classes="dialog-title")
            yield VerticalScroll(Static(escape(self.text)), classes="detail-box")
            yield buttons(self.ok, variant=self.variant, cancel="No")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self.dismiss(True)


# --------------------------------------------------------------------------- ad hoc


@dataclass
class Adhoc:
    text: str
    outcomes: list[str]


class AdhocDialog(Dialog):
    """An ad-hoc question in the assessor's own words, tagged with the outcomes it targets
    (nothing is ticked for them: the assessor says which)."""

    def __init__(self, m: MethodView, titles: dict[str, str], uncovered: list[str]):
        super().__init__()
        self.m, self.titles, self.uncovered = m, titles, uncovered

    def compose(self) -> ComposeResult:
        order = [o for o in self.m.method.assesses if o in self.uncovered] + [
            o for o in self.m.method.assesses if o not in self.uncovered
        ]
        with Vertical(classes="dialog"):
            yield Label("Ad-hoc question (recorded as assessor-authored)", classes="dialog-title")
            yield Input(placeholder="the question as you asked it", id="text", compact=True)
            yield Label("Outcomes it targets (Tab here, then 1-9 or Space; uncovered first)")
            yield TickList(
                [
                    (f"{o} {self.titles.get(o, '')}" + ("  UNCOVERED" if o in self.uncovered else ""), o, False)
                    for o in order
                ],
                numbered=True,
                id="outcomes",
            )
            yield buttons("Add")

    def on_mount(self) -> None:
        self.query_one("#text", Input).focus()

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted, "#text")
    @on(TickList.Submitted, "#outcomes")
    def _ok(self) -> None:
        text = self.query_one("#text", Input).value.strip()
        outcomes = self.query_one("#outcomes", TickList).selected
        if not text:
            self.notify("Type the question you asked", severity="warning")
            self.query_one("#text", Input).focus()
            return
        if not outcomes:
            self.notify("Tick at least one outcome it targets", severity="warning")
            self.query_one("#outcomes", TickList).focus()
            return
        self.dismiss(Adhoc(text=text, outcomes=outcomes))


# --------------------------------------------------------------------------- marks and feedback


@dataclass
class Feedback:
    criterion: str
    mark: float | None
    strengths: str
    improvements: str


class FeedbackDialog(Dialog):
    """A criterion's mark (marks / weighted schemes), strengths and areas for improvement. A mark
    out of range is said inline and kept as typed; the running total and each section's minimum
    are shown as marks are entered.

    Reopened after an edit conflict (someone else saved this criterion meanwhile), it shows the
    assessor's own values as typed (`mine`) and, above them, what is stored now (`conflict`): Save
    puts the assessor's values in their place, Cancel keeps the stored ones."""

    def __init__(self, m: MethodView, *, mine: Feedback | None = None, conflict: str = ""):
        super().__init__()
        self.m = m
        assert m.scheme is not None  # opened only for a method with marking rules
        self.scheme: MethodScheme = m.scheme
        self.mine = mine
        self.conflict = conflict

    def compose(self) -> ComposeResult:
        scheme = self.scheme
        with Vertical(classes="dialog"):
            yield Label(f"Marks and feedback: {escape(self.m.method.name)}", classes="dialog-title")
            if self.conflict:
                yield Static(escape(self.conflict), id="conflict", classes="error-line")
            yield Select(
                [(f"{c.id} {c.title or c.theme}", c.id) for c in scheme.criteria],
                value=self.mine.criterion if self.mine else scheme.criteria[0].id,
                allow_blank=False,
                id="criterion",
                compact=True,
            )
            if scheme.scheme != "descriptors":
                yield Label("", id="mark-label")
                yield Input(id="mark", compact=True)
                yield Static("", id="mark-error", classes="error-line")
                yield Static("", id="totals")
            yield Label("Strengths")
            yield Input(id="strengths", placeholder="strengths shown against this criterion", compact=True)
            yield Label("Areas for improvement")
            yield Input(id="improvements", placeholder="areas for improvement", compact=True)
            yield buttons("Save")

    def on_mount(self) -> None:
        self._load()
        self.query_one("#criterion", Select).focus()

    def _criterion(self):
        return self.scheme.criterion(self.query_one("#criterion", Select).value)

    def _top(self, c) -> float:
        return c.max if self.scheme.scheme == "marks" else 100

    @on(Select.Changed, "#criterion")
    def _load(self) -> None:
        c = self._criterion()
        mv = self.m.marks.get(c.id)
        if self.mine is not None and self.mine.criterion == c.id:  # after a conflict: the assessor's own, as typed
            mv = MarkView(c.id, self.mine.mark, self.mine.strengths, self.mine.improvements)
        if self.scheme.scheme != "descriptors":
            unit = " marks" if self.scheme.scheme == "marks" else "%"
            mn = f", minimum {c.min:g}" if c.min is not None else ""
            self.query_one("#mark-label", Label).update(f"Mark (0-{self._top(c):g}{unit}{mn})")
            self.query_one("#mark", Input).value = "" if not mv or mv.mark is None else f"{mv.mark:g}"
            self._check()
        self.query_one("#strengths", Input).value = mv.strengths if mv else ""
        self.query_one("#improvements", Input).value = mv.improvements if mv else ""

    def _typed(self) -> tuple[float | None, str]:
        """The typed mark, and what is wrong with it ('' when fine)."""
        raw = self.query_one("#mark", Input).value.strip()
        if not raw:
            return None, ""
        try:
            mark = float(raw)
        except ValueError:
            return None, f"'{raw}' is not a number"
        c = self._criterion()
        top = self._top(c)
        if not 0 <= mark <= top:
            return None, f"{c.id}: a mark from 0 to {top:g}, not {raw}"
        return mark, ""

    @on(Input.Changed, "#mark")
    def _check(self) -> None:
        mark, problem = self._typed()
        self.query_one("#mark-error", Static).update(escape(problem))
        cur = self._criterion().id
        marks = {k: v.mark for k, v in self.m.marks.items() if v.mark is not None}
        if mark is not None:
            marks[cur] = mark
        elif not self.query_one("#mark", Input).value.strip():
            marks.pop(cur, None)
        parts = []
        for c in self.scheme.criteria:
            got = marks.get(c.id)
            shown = "-" if got is None else f"{got:g}"
            mn = c.min
            flag = "" if mn is None or got is None else (" ✓" if got >= mn else " BELOW MIN")
            parts.append(f"{c.id} {shown}/{self._top(c):g}" + (f" (min {mn:g}{flag})" if mn is not None else ""))
        if self.scheme.scheme == "marks":
            total = sum(marks.values())
            avail = sum(c.max or 0 for c in self.scheme.criteria)
            head = f"Total {total:g} of {avail:g}"
        else:
            total = sum(marks.get(c.id, 0) * (c.weight or 0) / 100 for c in self.scheme.criteria)
            head = f"Weighted total {total:g}%"
        self.query_one("#totals", Static).update(escape(head + " · " + " · ".join(parts)))

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted)
    def _ok(self) -> None:
        mark = None
        if self.scheme.scheme != "descriptors":
            mark, problem = self._typed()
            if problem:
                self.query_one("#mark", Input).focus()  # what was typed stays, the problem is said inline
                return
        self.dismiss(
            Feedback(
                criterion=self._criterion().id,
                mark=mark,
                strengths=self.query_one("#strengths", Input).value,
                improvements=self.query_one("#improvements", Input).value,
            )
        )


# --------------------------------------------------------------------------- end of a method


@dataclass
class EndDecision:
    grade: str | None  # None: confirm the computed grade
    disagreement: str
    end_reason: str = ""


class EndMethodDialog(Dialog):
    """Before a method closes: the uncovered outcomes, flagged; an early or short ending, with a
    reason required; the grade from the rules with the rule; confirm, or record a different grade
    with the reason."""

    def __init__(self, m: MethodView, titles: dict[str, str], warnings: list[str] | None = None):
        super().__init__()
        self.m, self.titles, self.warnings = m, titles, list(warnings or [])

    def compose(self) -> ComposeResult:
        m = self.m
        with Vertical(classes="dialog wide", id="end-dialog"):
            yield Label(f"End {escape(m.method.name)}", classes="dialog-title")
            if m.uncovered:  # outside the scrolling part: always in view, whatever the terminal size
                yield Static(
                    f"UNCOVERED ({len(m.uncovered)}): {', '.join(m.uncovered)}", id="uncovered", classes="flag"
                )
            else:
                yield Static("Every outcome of this method has evidence.", classes="ok")
            if self.warnings:
                yield Static("Ending early: " + escape("; ".join(self.warnings)), id="short", classes="warn")
                yield Input(
                    placeholder="why the method ends here (required, goes in the record)", id="end-reason", compact=True
                )
            with VerticalScroll(id="end-detail"):
                if m.result is not None:
                    text = f"Grade from the rules: [b]{escape(m.result.grade)}[/b]\nRule: {escape(m.result.rule_text)}"
                    if m.result.reasons:  # the grade just above is the one worth knowing about
                        text += f"\n{escape(m.result.reasons[-1][0].upper() + m.result.reasons[-1][1:])}"
                    yield Static(text, id="grade")
                else:
                    yield Static("This method has no grading rules in its release: give the grade.", id="grade")
                if m.uncovered:
                    yield Static(
                        "\n".join(f"{o}  {escape(self.titles.get(o, ''))}" for o in m.uncovered), classes="muted"
                    )
            if m.result is not None:
                assert m.scheme is not None  # a grade comes from the method's rules
                with Horizontal(classes="inline"):
                    yield Select([(g, g) for g in m.scheme.grades], prompt="same grade", id="other", compact=True)
                    yield Input(placeholder="reason, if you record a different grade", id="why", compact=True)
            else:
                yield Input(placeholder="grade", id="manual", compact=True)
            label = f"End with {len(m.uncovered)} uncovered" if m.uncovered else "End method"
            yield buttons(label, variant="warning" if (m.uncovered or self.warnings) else "primary", cancel="Back")

    def on_mount(self) -> None:
        if self.warnings:  # the reason is required: start there
            self.query_one("#end-reason", Input).focus()
        else:
            self.query_one("#cancel", Button).focus()  # closing is never the default with outcomes uncovered

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted, "#end-reason")
    def _ok(self) -> None:
        end_reason = ""
        if self.warnings:
            end_reason = self.query_one("#end-reason", Input).value.strip()
            if not end_reason:
                self.notify("Say why the method ends early: " + "; ".join(self.warnings), severity="warning")
                self.query_one("#end-reason", Input).focus()
                return
        if self.m.result is None:
            grade = self.query_one("#manual", Input).value.strip()
            if not grade:
                self.notify("Give the grade", severity="warning")
                return
            self.dismiss(EndDecision(grade=grade, disagreement="", end_reason=end_reason))
            return
        other = self.query_one("#other", Select).value
        why = self.query_one("#why", Input).value.strip()
        if isinstance(other, str) and other != self.m.result.grade:  # a grade chosen, not the blank
            if not why:
                self.notify("Give the reason you disagree with the rules' grade", severity="warning")
                return
            self.dismiss(EndDecision(grade=other, disagreement=why, end_reason=end_reason))
        else:
            self.dismiss(EndDecision(grade=None, disagreement="", end_reason=end_reason))


# --------------------------------------------------------------------------- undo


@dataclass
class UndoChoice:
    kind: str  # evidence | swap | skip
    key: str  # evidence id, or the question code
    label: str


def undoable(m: MethodView) -> list[UndoChoice]:
    """What can be undone in a running method, newest first: evidence entries (retracted, kept in
    the record), swaps of questions not yet asked, and skips."""
    out: list[UndoChoice] = []
    for e in reversed(m.evidence):
        if not e.retracted:
            what = e.criterion if e.criterion not in e.outcomes else ""
            out.append(
                UndoChoice(
                    "evidence",
                    str(e.id),
                    f"Retract evidence {what} {', '.join(e.outcomes)} at "
                    f"{e.level}" + (f": {one_line(e.note, 30)}" if e.note else ""),
                )
            )
    status = {q.code: q.status for q in m.questions if q.code}
    for sw in reversed(m.swaps):
        if not getattr(sw, "undone", False) and status.get(sw.in_code) == "planned":
            out.append(
                UndoChoice("swap", sw.in_code, f"Undo swap {sw.out_code} → {sw.in_code} ({one_line(sw.reason, 30)})")
            )
    for q in m.questions:
        if q.status == "skipped" and q.code:
            out.append(UndoChoice("skip", q.code, f"Undo skip of {q.code}: {one_line(q.text, 40)}"))
    return out


class UndoDialog(Dialog):
    """Pick the entry to undo; nothing is deleted: the record keeps it, marked as undone."""

    def __init__(self, choices: list[UndoChoice]):
        super().__init__()
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Undo (kept in the record, marked)", classes="dialog-title")
            yield OptionList(*[Option(escape(c.label), id=str(i)) for i, c in enumerate(self.choices)], id="undo-list")
            yield buttons("Undo")

    def on_mount(self) -> None:
        ol = self.query_one("#undo-list", OptionList)
        ol.highlighted = 0
        ol.focus()

    @on(OptionList.OptionSelected, "#undo-list")
    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        i = self.query_one("#undo-list", OptionList).highlighted
        if i is not None:
            self.dismiss(self.choices[i])


# --------------------------------------------------------------------------- learner's declarations


@dataclass
class DeclarationsEntry:
    authenticity: bool
    anonymous_use_refused: bool


class DeclarationsDialog(Dialog):
    """The learner's declarations on the mark sheet: the authenticity of the submission, and the
    refusal of the awarding body's anonymous use of the script (not refused unless ticked)."""

    def __init__(self, declarations: Declarations):
        super().__init__()
        self.declarations = declarations

    def compose(self) -> ComposeResult:
        d = self.declarations
        with Vertical(classes="dialog", id="declarations-dialog"):
            yield Label("Learner's declarations (mark sheet)", classes="dialog-title")
            yield Checkbox(
                "The learner confirms the submission is their own work (authenticity)",
                value=d.authenticity_confirmed,
                id="authenticity",
                compact=True,
            )
            yield Checkbox(
                "The learner refuses the anonymous use of their script for standardisation (box ticked)",
                value=d.use_refused,
                id="refused",
                compact=True,
            )
            yield Static("Recorded with your name and the time; earlier entries are kept.", classes="muted")
            yield buttons("Record")

    def on_mount(self) -> None:
        self.query_one("#authenticity", Checkbox).focus()

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self.dismiss(
            DeclarationsEntry(
                authenticity=self.query_one("#authenticity", Checkbox).value,
                anonymous_use_refused=self.query_one("#refused", Checkbox).value,
            )
        )


# --------------------------------------------------------------------------- override


@dataclass
class OverrideEntry:
    by: str
    reason: str


class OverrideDialog(Dialog):
    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Lift the resit/retake cap (exceptional circumstances)", classes="dialog-title")
            yield Input(placeholder="who made the decision", id="by", compact=True)
            yield Input(placeholder="the reason", id="reason", compact=True)
            yield buttons("Record override", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#by", Input).focus()

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted)
    def _ok(self) -> None:
        by = self.query_one("#by", Input).value.strip()
        reason = self.query_one("#reason", Input).value.strip()
        if not by or not reason:
            self.notify("Both who decided and why are required", severity="warning")
            return
        self.dismiss(OverrideEntry(by=by, reason=reason))
