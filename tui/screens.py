"""Home, start, drawn-set preview, bank browser, overall grade and help screens."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import (Button, DataTable, Footer, Header, Input, Label, Markdown, Select, SelectionList,
                             Static)

from qbank import catalogue, sessions
from qbank.record import render
from qbank.store import user_data_dir

from .app import ServiceFailed
from .dialogs import OverrideDialog


# --------------------------------------------------------------------------- home


class HomeScreen(Screen):
    BINDINGS = [
        Binding("n", "new", "New assessment"),
        Binding("r", "resume", "Resume"),
        Binding("b", "browse", "Browse bank"),
        Binding("v", "reviews", "Reviews"),
        Binding("q", "app.quit", "Quit"),
    ]
    COMMANDS_LIST = [
        ("New assessment", "Draw a set and start an assessment", "new"),
        ("Resume an assessment", "Open the highlighted unfinished assessment", "resume"),
        ("Browse the bank", "Search questions by text, standard, method and outcome", "browse"),
        ("Standardisation reviews", "Usage, overlap, avoidance, effectiveness, assessors, health, ad hoc", "reviews"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="home"):
            yield Static("[b]qbank[/b] — live assessment. [b]n[/b] new assessment · [b]r[/b]/Enter resume the "
                         "highlighted one · [b]b[/b] browse the bank · [b]v[/b] reviews · [b]F1[/b] help", id="home-intro")
            yield Label("Unfinished assessments")
            yield DataTable(id="unfinished", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one("#unfinished", DataTable)
        t.add_columns("id", "standard", "apprentice", "assessor", "attempt", "started")
        self.reload()
        t.focus()

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        t = self.query_one("#unfinished", DataTable)
        t.clear()
        try:
            rows = self.app.service("Listing assessments", sessions.unfinished, self.app.engine)
        except ServiceFailed:
            return
        for r in rows:
            t.add_row(str(r["id"]), r["standard"], r["apprentice"], r["assessor"], r["attempt"],
                      r["created_at"].strftime("%d %b %H:%M"), key=str(r["id"]))

    def action_new(self) -> None:
        self.app.push_screen(StartScreen())

    def action_browse(self) -> None:
        self.app.push_screen(BrowseScreen())

    def action_reviews(self) -> None:
        from .reviews import ReviewsScreen

        self.app.push_screen(ReviewsScreen())

    def action_resume(self) -> None:
        t = self.query_one("#unfinished", DataTable)
        if t.row_count == 0:
            self.notify("No unfinished assessment to resume; press n to start one", severity="warning")
            return
        key = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        self.app.resume(int(key))

    @on(DataTable.RowSelected, "#unfinished")
    def _selected(self) -> None:
        self.action_resume()


# --------------------------------------------------------------------------- start


class StartScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("ctrl+d", "draw", "Draw the set", priority=True)]

    def compose(self) -> ComposeResult:
        try:
            self.choices = self.app.service("Reading the standards", sessions.standards, self.app.engine)
        except ServiceFailed:
            self.choices = []
        yield Header()
        with VerticalScroll(id="start", classes="form"):
            yield Label("Standard")
            yield Select([(f"{c.code} {c.title} (release {c.release})", c.code) for c in self.choices],
                         id="standard", allow_blank=not self.choices, prompt="no released standard in the store")
            yield Label("Methods (space to toggle)")
            yield SelectionList(id="methods")
            yield Label("Apprentice reference (pseudonymous, never a name)")
            yield Input(id="apprentice", placeholder="e.g. EPA-2026-0147")
            yield Label("Assessor")
            yield Input(id="assessor", value=self.app.assessor)
            yield Label("Attempt")
            yield Select([("first", "first"), ("resit", "resit"), ("retake", "retake")], value="first",
                         allow_blank=False, id="attempt")
            yield Label("Cohort / employer (optional)")
            yield Input(id="cohort")
            yield Label("Reasonable adjustments: extra time %")
            yield Input(id="extra", value="0", type="integer")
            yield Label("Reasonable adjustments: note")
            yield Input(id="adjustments")
            with Horizontal(classes="buttons"):
                yield Button("Draw the set (Ctrl+D)", variant="primary", id="draw")
                yield Button("Back", id="back")
        yield Footer()

    def on_mount(self) -> None:
        if not self.choices:
            self.notify("No released standard in the store: run `qbank import banks`", severity="error")
            return
        self._methods()
        self.query_one("#apprentice", Input).focus()

    @on(Select.Changed, "#standard")
    def _methods(self) -> None:
        code = self.query_one("#standard", Select).value
        choice = next((c for c in getattr(self, "choices", []) if c.code == code), None)
        sl = self.query_one("#methods", SelectionList)
        sl.clear_options()
        if choice:
            for mid, name in choice.methods:
                sl.add_option((name, mid, mid in choice.default_methods))
            sl.highlighted = 0

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.app.pop_screen()

    @on(Button.Pressed, "#draw")
    def action_draw(self) -> None:
        extra_raw = self.query_one("#extra", Input).value.strip() or "0"
        try:
            extra = int(extra_raw)
        except ValueError:
            self.notify(f"Extra time must be a whole percentage, not '{extra_raw}'", severity="error")
            return
        if not self.choices:
            self.notify("No released standard in the store: run `qbank import banks`", severity="error")
            return
        attempt = self.query_one("#attempt", Select).value
        methods = tuple(self.query_one("#methods", SelectionList).selected)
        if not methods and attempt == "first":
            self.notify("Choose at least one method", severity="warning")
            return
        req = sessions.StartRequest(
            standard=self.query_one("#standard", Select).value,
            apprentice=self.query_one("#apprentice", Input).value,
            assessor=self.query_one("#assessor", Input).value,
            methods=methods if attempt == "first" else (),
            attempt=attempt, cohort=self.query_one("#cohort", Input).value, extra_time_pct=extra,
            adjustments=self.query_one("#adjustments", Input).value)
        try:
            aid = self.app.service("Drawing the set", sessions.start_assessment, self.app.engine, req)
        except ServiceFailed:
            return
        self.app.assessor = req.assessor.strip()
        self.app.switch_screen(PreviewScreen(aid))


class PreviewScreen(Screen):
    """The drawn set, seen before the assessment starts."""

    BINDINGS = [Binding("enter", "begin", "Begin", priority=True), Binding("escape", "home", "Home (keep it)")]

    def __init__(self, assessment_id: int):
        super().__init__()
        self.assessment_id = assessment_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield VerticalScroll(Static("", id="preview"), id="preview-box")
        yield Footer()

    def on_mount(self) -> None:
        try:
            v = self.app.service("Reading the set", sessions.load, self.app.engine, self.assessment_id)
        except ServiceFailed:
            return
        self.view = v
        from rich.markup import escape

        lines = [f"[b]Assessment {v.id}[/b]: {escape(v.apprentice)} · {v.standard} release {v.release} · {v.attempt}"
                 + (f" · extra time {v.extra_time_pct}%" if v.extra_time_pct else ""), ""]
        for m in v.methods:
            if m.status == "carried":
                lines.append(f"[b]{escape(m.method.name)}[/b]: carried over ({m.grade}) from assessment {m.carried_from}")
                continue
            lines.append(f"[b]{escape(m.method.name)}[/b] — {m.budget_minutes} minutes, {len(m.questions)} questions")
            for q in m.questions:
                lines.append(f"  [b]{q.code}[/b] v{q.version} · {q.minutes} min · {', '.join(q.outcomes)}")
                lines.append(f"    {escape(' '.join(q.text.split()))}")
            lines.append("")
        lines.append("Enter begins · Esc returns home (the assessment stays open to resume)")
        self.query_one("#preview", Static).update("\n".join(lines))

    def action_begin(self) -> None:
        self.app.pop_screen()
        self.app.resume(self.assessment_id)

    def action_home(self) -> None:
        self.app.pop_screen()


# --------------------------------------------------------------------------- browse


class BrowseScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters"):
            yield Input(placeholder="search text (fuzzy)", id="search")
            yield Select([], prompt="standard", id="f-standard")
            yield Input(placeholder="method", id="f-method")
            yield Input(placeholder="outcome", id="f-outcome")
        with Horizontal(id="browse-body"):
            yield DataTable(id="results", cursor_type="row")
            yield VerticalScroll(Static("", id="detail"), id="detail-box")
        yield Footer()

    def on_mount(self) -> None:
        try:
            choices = self.app.service("Reading the standards", sessions.standards, self.app.engine)
        except ServiceFailed:
            choices = []
        self.query_one("#f-standard", Select).set_options([(c.code, c.code) for c in choices])
        t = self.query_one("#results", DataTable)
        t.add_columns("id", "v", "outcomes", "text")
        self.search()
        self.query_one("#search", Input).focus()

    @on(Input.Changed)
    @on(Select.Changed)
    def search(self) -> None:
        std = self.query_one("#f-standard", Select).value
        try:
            rows = self.app.service(
                "Searching", catalogue.list_questions, self.app.engine,
                standard=None if std in (Select.NULL, None) else std,
                method=self.query_one("#f-method", Input).value.strip() or None,
                outcome=self.query_one("#f-outcome", Input).value.strip() or None,
                search=self.query_one("#search", Input).value.strip() or None, limit=200)
        except ServiceFailed:
            return
        self.rows = {r.id: r for r in rows}
        t = self.query_one("#results", DataTable)
        t.clear()
        for r in rows:
            t.add_row(r.id, str(r.version), ",".join(r.outcomes), r.text[:60], key=r.id)
        self.query_one("#results").border_title = f"{len(rows)} question(s)"

    @on(DataTable.RowHighlighted, "#results")
    def _detail(self, event: DataTable.RowHighlighted) -> None:
        from rich.markup import escape

        r = self.rows.get(event.row_key.value) if event.row_key else None
        if r is None:
            return
        self.query_one("#detail", Static).update(
            f"[b]{r.id} v{r.version}[/b] {r.standard} · {r.status}\nmethods: {', '.join(r.methods)}\n"
            f"outcomes: {', '.join(r.outcomes)} · {r.minutes} min · {escape(r.topic)}\n\n{escape(r.text)}")


# --------------------------------------------------------------------------- overall and record


class OverallScreen(Screen):
    BINDINGS = [
        Binding("c", "complete", "Complete"),
        Binding("v", "view_record", "View record"),
        Binding("h", "export('html')", "Record HTML"),
        Binding("m", "export('md')", "Record MD"),
        Binding("o", "override", "Override cap"),
        Binding("escape", "home", "Home"),
    ]
    COMMANDS_LIST = [
        ("View the record", "The assessor's record as it stands", "view_record"),
        ("Complete the assessment", "Freeze the record and the overall grade", "complete"),
        ("Override the resit cap", "Record an exceptional-circumstances decision", "override"),
    ]

    def __init__(self, assessment_id: int):
        super().__init__()
        self.assessment_id = assessment_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield VerticalScroll(Markdown("", id="overall-md"), id="overall-box")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_view()

    def refresh_view(self) -> None:
        try:
            v = self.app.service("Reading the assessment", sessions.load, self.app.engine, self.assessment_id)
        except ServiceFailed:
            return
        self.view = v
        lines = [f"# Assessment {v.id}: {v.apprentice}", f"{v.standard} release {v.release} · {v.attempt} · "
                 f"assessor {v.assessor} · **{v.status}**", "", "## Method grades", ""]
        for m in v.methods:
            extra = f" (carried from assessment {m.carried_from})" if m.status == "carried" else ""
            dis = f" — rules gave {m.computed_grade}; reason: {m.disagreement}" if m.disagreement else ""
            unc = f" — **{len(m.uncovered)} outcome(s) never evidenced**: {', '.join(m.uncovered)}" if m.uncovered else ""
            lines.append(f"- **{m.method.name}**: {m.grade or 'not graded'}{extra}{dis}{unc}")
        lines += ["", "## Overall", ""]
        for o in v.overall:
            lines.append(f"- **{o.name}: {o.grade or 'not yet available'}** — {o.explanation}")
        if not v.overall:
            lines.append("- no overall grade combines these methods")
        lines += ["", "v view the record · c complete · h / m write the record (HTML / Markdown) · "
                  "o override a resit cap · Esc home"]
        self.query_one("#overall-md", Markdown).update("\n".join(lines))

    def action_view_record(self) -> None:
        try:
            view = self.app.service("Reading the assessment", sessions.load, self.app.engine, self.assessment_id)
            text = self.app.service("Rendering the record", render, view, "md")
        except ServiceFailed:
            return
        self.app.push_screen(RecordScreen(text))

    def action_complete(self) -> None:
        try:
            self.app.service("Completing", sessions.complete, self.app.engine, self.assessment_id)
        except ServiceFailed:
            return
        self.refresh_view()
        self.notify("Assessment complete; the record is final", timeout=4)

    def action_export(self, fmt: str) -> None:
        try:
            view = self.app.service("Reading the assessment", sessions.load, self.app.engine, self.assessment_id)
            text = self.app.service("Rendering the record", render, view, fmt)
        except ServiceFailed:
            return
        folder = user_data_dir() / "records"
        path = folder / f"assessment-{self.assessment_id}.{fmt}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".part")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        except OSError as e:
            self.notify(f"Writing the record: cannot write {path}: {e.strerror}", severity="error")
            return
        self.last_export = Path(path)
        self.notify(f"Record written to {path}", timeout=6)

    def action_override(self) -> None:
        self.app.push_screen(OverrideDialog(), self._override)

    def _override(self, o) -> None:
        if o is None:
            return
        try:
            self.app.service("Recording the override", sessions.record_override, self.app.engine,
                             self.assessment_id, o.by, o.reason)
        except ServiceFailed:
            return
        self.refresh_view()

    def action_home(self) -> None:
        self.app.switch_screen(HomeScreen())


class RecordScreen(Screen):
    """The assessor's record (Markdown rendering), read-only."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(self, markdown: str):
        super().__init__()
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        yield Header()
        yield VerticalScroll(Markdown(self.markdown, id="record-md"), id="record-box")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#record-box").focus()


# --------------------------------------------------------------------------- help


HELP = """\
# qbank: keys

**Everywhere**: F1 or ? this help · Ctrl+P command palette · Ctrl+Q quit (everything is already saved).

**Home**: n new assessment · r or Enter resume the highlighted one · b browse the bank ·
v standardisation reviews (Ctrl+R run, Ctrl+T next table, Ctrl+E export HTML).

**Start**: Tab moves between fields · Ctrl+D draws the set · the set is shown before you begin (Enter).

**Running a method**

| key | does |
|---|---|
| Enter (in Next) | ask the highlighted question: it becomes current, notes go with it |
| F2 | ask the top / highlighted suggestion |
| F3 | log evidence: criterion, outcomes, level, note |
| F4 | ad-hoc question in your own words, tagged with outcomes |
| F5 | swap the highlighted question (not yet asked), with a reason |
| F6 | marks, strengths and areas for improvement per criterion |
| F7 | pause / resume the timer |
| F8 | end the method: uncovered outcomes, grade and rule, confirm or disagree |
| F9 | skip the highlighted question (recorded, for standardisation) |
| Esc | leave the notes for the Next list |

Notes are saved half a second after you stop typing and whenever you leave the notes; every
other entry is stored the moment you make it. If the terminal or the machine dies, start qbank
again and resume: you return to the same method and question.

**Overall**: v view the record · c complete · h / m write the record as HTML / Markdown (to the
qbank data folder, `records/`) · o override a resit cap.
"""


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,f1,q", "close", "Close", priority=True)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide"):
            yield Markdown(HELP)
            yield Button("Close (Esc)", id="close")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss()
