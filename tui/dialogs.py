"""Modal dialogs. Each returns what the assessor entered (or None when cancelled); the calling
screen stores it through qbank services."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from rich.markup import escape
from textual.widgets import Button, Input, Label, Select, SelectionList, Static

from qbank.grading import MethodScheme
from qbank.sessions import MethodView


class Dialog(ModalScreen):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)


@dataclass
class EvidenceEntry:
    criterion: str | None
    outcomes: list[str]
    level: str
    note: str


class EvidenceDialog(Dialog):
    """Log evidence: a criterion (or, without grading rules, outcomes), its outcomes, a level, a note."""

    def __init__(self, m: MethodView, titles: dict[str, str], preferred: list[str]):
        super().__init__()
        self.m = m
        self.titles = titles
        self.preferred = preferred

    def compose(self) -> ComposeResult:
        m, scheme = self.m, self.m.scheme
        with Vertical(id="dialog", classes="dialog"):
            yield Label(f"Log evidence: {m.method.name}", classes="dialog-title")
            if scheme is not None:
                options = [(f"{c.id} {c.title or c.theme} ({', '.join(c.outcomes)})", c.id) for c in scheme.criteria]
                first = next((c.id for c in scheme.criteria if any(o in c.outcomes for o in self.preferred)),
                             scheme.criteria[0].id)
                yield Label("Criterion")
                yield Select(options, value=first, allow_blank=False, id="criterion")
            yield Label("Outcomes evidenced (space to toggle)")
            yield SelectionList(id="outcomes")
            levels = list(m.levels)
            yield Label("Level met")
            default = levels[1] if len(levels) > 1 else levels[0]
            yield Select([(lv, lv) for lv in levels], value=default, allow_blank=False, id="level")
            yield Label("Note (what the answer showed)")
            yield Input(placeholder="short note", id="note")
            with Horizontal(classes="buttons"):
                yield Button("Log", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._fill_outcomes()
        self.query_one("#note", Input).focus()

    def _fill_outcomes(self) -> None:
        sl = self.query_one("#outcomes", SelectionList)
        sl.clear_options()
        if self.m.scheme is not None:
            cid = self.query_one("#criterion", Select).value
            crit = self.m.scheme.criterion(cid)
            codes, chosen = list(crit.outcomes), set(crit.outcomes)
        else:
            codes = list(self.m.method.assesses)
            chosen = {o for o in self.preferred if o in codes} or {codes[0]}
        for o in codes:
            sl.add_option((f"{o} {self.titles.get(o, '')}"[:60], o, o in chosen))

    @on(Select.Changed, "#criterion")
    def _criterion_changed(self) -> None:
        self._fill_outcomes()

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted, "#note")
    def _ok(self) -> None:
        outcomes = list(self.query_one("#outcomes", SelectionList).selected)
        if not outcomes:
            self.notify("Choose at least one outcome", severity="warning")
            return
        criterion = self.query_one("#criterion", Select).value if self.m.scheme is not None else None
        self.dismiss(EvidenceEntry(criterion=criterion, outcomes=outcomes,
                                   level=self.query_one("#level", Select).value,
                                   note=self.query_one("#note", Input).value))


class ReasonDialog(Dialog):
    """A required reason (swap), returned as text."""

    def __init__(self, title: str, prompt: str):
        super().__init__()
        self.title_text = title
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Label(self.prompt)
            yield Input(placeholder="reason (recorded for standardisation)", id="reason")
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted, "#reason")
    def _ok(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.notify("A reason is required", severity="warning")
            return
        self.dismiss(reason)


@dataclass
class Adhoc:
    text: str
    outcomes: list[str]


class AdhocDialog(Dialog):
    """An ad-hoc question in the assessor's own words, tagged with the outcomes it targets."""

    def __init__(self, m: MethodView, titles: dict[str, str], preferred: list[str]):
        super().__init__()
        self.m, self.titles, self.preferred = m, titles, preferred

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Ad-hoc question (recorded as assessor-authored)", classes="dialog-title")
            yield Input(placeholder="the question as you asked it", id="text")
            yield Label("Outcomes it targets (space to toggle)")
            yield SelectionList(*[(f"{o} {self.titles.get(o, '')}"[:60], o, o in self.preferred[:1])
                                  for o in self.m.method.assesses], id="outcomes")
            with Horizontal(classes="buttons"):
                yield Button("Add", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#text", Input).focus()

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted, "#text")
    def _ok(self) -> None:
        text = self.query_one("#text", Input).value.strip()
        outcomes = list(self.query_one("#outcomes", SelectionList).selected)
        if not text:
            self.notify("Type the question you asked", severity="warning")
            return
        if not outcomes:
            self.notify("Tag at least one outcome", severity="warning")
            return
        self.dismiss(Adhoc(text=text, outcomes=outcomes))


@dataclass
class Feedback:
    criterion: str
    mark: float | None
    strengths: str
    improvements: str


class FeedbackDialog(Dialog):
    """A criterion's mark (marks / weighted schemes), strengths and areas for improvement."""

    def __init__(self, m: MethodView):
        super().__init__()
        self.m = m

    def compose(self) -> ComposeResult:
        scheme: MethodScheme = self.m.scheme
        with Vertical(classes="dialog"):
            yield Label(f"Marks and feedback: {self.m.method.name}", classes="dialog-title")
            yield Select([(f"{c.id} {c.title or c.theme}", c.id) for c in scheme.criteria],
                         value=scheme.criteria[0].id, allow_blank=False, id="criterion")
            if scheme.scheme != "descriptors":
                yield Label("", id="mark-label")
                yield Input(id="mark", type="number")
            yield Label("Strengths")
            yield Input(id="strengths")
            yield Label("Areas for improvement")
            yield Input(id="improvements")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._load()
        self.query_one("#criterion", Select).focus()

    @on(Select.Changed, "#criterion")
    def _load(self) -> None:
        cid = self.query_one("#criterion", Select).value
        c = self.m.scheme.criterion(cid)
        mv = self.m.marks.get(cid)
        if self.m.scheme.scheme != "descriptors":
            top = c.max if self.m.scheme.scheme == "marks" else 100
            unit = " marks" if self.m.scheme.scheme == "marks" else "%"
            mn = f", minimum {c.min:g}" if c.min is not None else ""
            self.query_one("#mark-label", Label).update(f"Mark (0-{top:g}{unit}{mn})")
            self.query_one("#mark", Input).value = "" if not mv or mv.mark is None else f"{mv.mark:g}"
        self.query_one("#strengths", Input).value = mv.strengths if mv else ""
        self.query_one("#improvements", Input).value = mv.improvements if mv else ""

    @on(Button.Pressed, "#ok")
    @on(Input.Submitted)
    def _ok(self) -> None:
        mark = None
        if self.m.scheme.scheme != "descriptors":
            raw = self.query_one("#mark", Input).value.strip()
            if raw:
                try:
                    mark = float(raw)
                except ValueError:
                    self.notify(f"'{raw}' is not a number", severity="warning")
                    return
        self.dismiss(Feedback(criterion=self.query_one("#criterion", Select).value, mark=mark,
                              strengths=self.query_one("#strengths", Input).value,
                              improvements=self.query_one("#improvements", Input).value))


@dataclass
class EndDecision:
    grade: str | None  # None: confirm the computed grade
    disagreement: str


class EndMethodDialog(Dialog):
    """Before a method closes: the uncovered outcomes, flagged; the grade from the rules with the
    rule; confirm, or record a different grade with the reason."""

    def __init__(self, m: MethodView, titles: dict[str, str]):
        super().__init__()
        self.m, self.titles = m, titles

    def compose(self) -> ComposeResult:
        m = self.m
        with Vertical(classes="dialog wide", id="end-dialog"):
            yield Label(f"End {m.method.name}", classes="dialog-title")
            if m.uncovered:  # outside the scrolling part: always in view, whatever the terminal size
                yield Static(f"UNCOVERED ({len(m.uncovered)}): {', '.join(m.uncovered)}", id="uncovered",
                             classes="flag")
            else:
                yield Static("Every outcome of this method has evidence.", classes="ok")
            with VerticalScroll(id="end-detail"):
                if m.result is not None:
                    text = f"Grade from the rules: [b]{m.result.grade}[/b]\nRule: {escape(m.result.rule_text)}"
                    if m.result.reasons:  # the grade just above is the one worth knowing about
                        text += f"\n{escape(m.result.reasons[-1][0].upper() + m.result.reasons[-1][1:])}"
                    yield Static(text, id="grade")
                else:
                    yield Static("This method has no grading rules in its release: give the grade.", id="grade")
                if m.uncovered:
                    yield Static("\n".join(f"{o}  {escape(self.titles.get(o, ''))}" for o in m.uncovered),
                                 classes="muted")
            if m.result is not None:
                with Horizontal(classes="inline"):
                    yield Select([(g, g) for g in m.scheme.grades], prompt="same grade", id="other")
                    yield Input(placeholder="reason, if you record a different grade", id="why")
            else:
                yield Input(placeholder="grade", id="manual")
            with Horizontal(classes="buttons"):
                label = f"End with {len(m.uncovered)} uncovered" if m.uncovered else "End method"
                yield Button(label, variant="warning" if m.uncovered else "primary", id="ok")
                yield Button("Back", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()  # closing is never the default with outcomes uncovered

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        if self.m.result is None:
            grade = self.query_one("#manual", Input).value.strip()
            if not grade:
                self.notify("Give the grade", severity="warning")
                return
            self.dismiss(EndDecision(grade=grade, disagreement=""))
            return
        other = self.query_one("#other", Select).value
        why = self.query_one("#why", Input).value.strip()
        if other not in (Select.NULL, None, self.m.result.grade):
            if not why:
                self.notify("Give the reason you disagree with the rules' grade", severity="warning")
                return
            self.dismiss(EndDecision(grade=other, disagreement=why))
        else:
            self.dismiss(EndDecision(grade=None, disagreement=""))


@dataclass
class OverrideEntry:
    by: str
    reason: str


class OverrideDialog(Dialog):
    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Lift the resit/retake cap (exceptional circumstances)", classes="dialog-title")
            yield Input(placeholder="who made the decision", id="by")
            yield Input(placeholder="the reason", id="reason")
            with Horizontal(classes="buttons"):
                yield Button("Record override", variant="warning", id="ok")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        by = self.query_one("#by", Input).value.strip()
        reason = self.query_one("#reason", Input).value.strip()
        if not by or not reason:
            self.notify("Both who decided and why are required", severity="warning")
            return
        self.dismiss(OverrideEntry(by=by, reason=reason))
