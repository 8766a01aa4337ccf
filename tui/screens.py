"""Home, start, drawn-set preview, bank browser, overall grade and help screens.

Every store call goes through `QBankApp.call` (a worker thread), so the screens stay responsive.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Markdown, Select, Static

from qbank import catalogue, clearance, sessions
from qbank.iqa import for_view as second_marking
from qbank.record import render, write_record
from qbank.settings import save_settings

from .app import Command, QBankApp, QBankModal, QBankScreen, ServiceFailed
from .dialogs import ConfirmDialog, OverrideDialog, ReasonDialog
from .widgets import ClearanceBanner, TickList

# --------------------------------------------------------------------------- home


class HomeScreen(QBankScreen):
    BINDINGS = [
        Command("n", "new", "New", title="New assessment", tooltip="Draw a set and start an assessment"),
        Command(
            "r", "resume", "Resume", title="Resume an assessment", tooltip="Open the highlighted unfinished assessment"
        ),
        Command(
            "x",
            "void",
            "Void unused",
            title="Void an unused assessment",
            tooltip="Abandon the highlighted one before any question was asked; its questions return to the "
            "apprentice's pool",
        ),
        Command(
            "c",
            "completed",
            "Completed",
            title="Completed assessments",
            tooltip="List completed assessments and open their records",
        ),
        Command(
            "b",
            "browse",
            "Browse",
            title="Browse the bank",
            tooltip="Search questions by text, standard, method and outcome",
        ),
        Command(
            "v",
            "reviews",
            "Reviews",
            title="Standardisation reviews",
            tooltip="Usage, overlap, avoidance, effectiveness, assessors, health, ad hoc",
        ),
        Binding("q", "app.quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="home"):
            yield Static(
                "[b]qbank[/b] — live assessment. [b]n[/b] new · [b]r[/b]/Enter resume · [b]x[/b] void an "
                "unused one · [b]c[/b] completed · [b]b[/b] browse · [b]v[/b] reviews · [b]F1[/b] help",
                id="home-intro",
            )
            yield Label("Unfinished assessments")
            yield DataTable(id="unfinished", cursor_type="row")
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        t = self.query_one("#unfinished", DataTable)
        t.add_columns("id", "standard", "apprentice", "assessor", "attempt", "started")
        await self.reload()
        t.focus()

    async def on_screen_resume(self) -> None:
        await self.reload()

    async def reload(self) -> None:
        try:
            rows = await self.qapp.call("Listing assessments", sessions.unfinished, self.qapp.engine)
        except ServiceFailed:
            return
        t = self.query_one("#unfinished", DataTable)
        t.clear()
        for r in rows:
            t.add_row(
                str(r["id"]),
                r["standard"],
                r["apprentice"],
                r["assessor"],
                r["attempt"],
                r["created_at"].strftime("%d %b %H:%M"),
                key=str(r["id"]),
            )

    def action_new(self) -> None:
        self.app.push_screen(StartScreen())

    def action_browse(self) -> None:
        self.app.push_screen(BrowseScreen())

    def action_completed(self) -> None:
        self.app.push_screen(CompletedScreen())

    def action_reviews(self) -> None:
        from .reviews import ReviewsScreen

        self.app.push_screen(ReviewsScreen())

    def _highlighted(self, verb: str) -> int | None:
        t = self.query_one("#unfinished", DataTable)
        if t.row_count == 0:
            self.notify(f"No unfinished assessment to {verb}; press n to start one", severity="warning")
            return None
        key = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        assert key is not None  # every row is added with its assessment's id as key
        return int(key)

    async def action_resume(self) -> None:
        aid = self._highlighted("resume")
        if aid is not None:
            await self.qapp.resume(aid)

    def action_void(self) -> None:
        aid = self._highlighted("void")
        if aid is None:
            return
        self.app.push_screen(
            ReasonDialog(
                f"Void assessment {aid}?",
                "Why is it abandoned? (kept, with you and the "
                "time; its drawn questions return to the apprentice's pool)",
                "Only an assessment with nothing asked or logged can be voided.",
                ok="Void",
            ),
            lambda reason: self._void(aid, reason),
        )

    async def _void(self, aid: int, reason: str | None) -> None:
        if reason is None:
            return
        try:
            await self.qapp.call(
                f"Voiding assessment {aid}",
                sessions.void_assessment,
                self.qapp.engine,
                aid,
                self.qapp.assessor or "unknown",
                reason,
            )
        except ServiceFailed:
            return
        self.notify(f"Assessment {aid} voided; its questions are free for this apprentice again", timeout=5)
        await self.reload()

    @on(DataTable.RowSelected, "#unfinished")
    async def _selected(self) -> None:
        await self.action_resume()


class CompletedScreen(QBankScreen):
    """Completed assessments, newest first; Enter opens the record."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("h", "export('html')", "Write HTML"),
        Binding("m", "export('md')", "Write MD"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="home"):
            yield Label("Completed assessments (Enter opens the record)")
            yield DataTable(id="completed", cursor_type="row")
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        t = self.query_one("#completed", DataTable)
        t.add_columns("id", "standard", "apprentice", "assessor", "attempt", "completed", "overall")
        try:
            rows = await self.qapp.call("Listing completed assessments", sessions.completed, self.qapp.engine)
        except ServiceFailed:
            return
        for r in rows:
            done = r.get("completed_at")
            t.add_row(
                str(r["id"]),
                r["standard"],
                r["apprentice"],
                r["assessor"],
                r["attempt"],
                done.strftime("%d %b %Y %H:%M") if done else "",
                r.get("overall", ""),
                key=str(r["id"]),
            )
        t.focus()

    def _highlighted(self) -> int | None:
        t = self.query_one("#completed", DataTable)
        if t.row_count == 0:
            self.notify("No completed assessment yet", severity="warning")
            return None
        key = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        assert key is not None  # every row is added with its assessment's id as key
        return int(key)

    @on(DataTable.RowSelected, "#completed")
    async def _open(self) -> None:
        aid = self._highlighted()
        if aid is not None:
            await open_record(self.qapp, aid)

    async def action_export(self, fmt: str) -> None:
        aid = self._highlighted()
        if aid is not None:
            await export_record(self.qapp, aid, fmt)


async def open_record(app: QBankApp, aid: int) -> None:
    try:
        view = await app.call("Reading the assessment", sessions.load, app.engine, aid)
        text = await app.call(
            "Rendering the record",
            lambda: render(view, "md", screen=True, iqa=second_marking(app.engine, view)),  # with any second marks
        )
    except ServiceFailed:
        return
    await app.push_screen(RecordScreen(text, aid))


async def export_record(app: QBankApp, aid: int, fmt: str) -> Path | None:
    try:
        path = await app.call("Writing the record", write_record, app.engine, aid, fmt)
    except ServiceFailed:
        return None
    app.notify(f"Record written to {path}", timeout=8)
    return path


# --------------------------------------------------------------------------- start


def remember_assessor(name: str) -> bool:
    """Store the assessor's name for the next launch (runs on a worker thread); False when the
    settings file cannot be written: a read-only config folder must not stop an assessment."""
    try:
        save_settings({"assessor": name})
    except Exception:  # noqa: BLE001
        return False
    return True


REPORT_FORMAT_LABELS = {
    "written": "written report (marked as it stands, no questioning)",
    "oral": "oral presentation (questions after it are your option)",
}


class StartScreen(QBankScreen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("ctrl+d", "draw", "Draw the set", priority=True)]

    def compose(self) -> ComposeResult:
        yield Header()
        yield ClearanceBanner()
        with VerticalScroll(id="start", classes="form"):
            yield Label("Standard")
            yield Select([], id="standard", allow_blank=True, prompt="reading the store…")
            yield Label("Methods (Space or 1-9 to tick)")
            yield TickList(id="methods", numbered=True)
            yield Label("Apprentice reference (pseudonymous, never a name)")
            yield Input(id="apprentice", placeholder="e.g. EPA-2026-0147")
            # shown for a standard whose report may be presented in more than one way (ILM)
            yield Label("How the learner presented the report", id="report-format-label")
            yield Select([], id="report-format", allow_blank=True, prompt="choose: written or oral")
            yield Label("Assessor")
            yield Input(id="assessor", value=self.qapp.assessor)
            yield Label("Attempt")
            yield Select(
                [("first", "first"), ("resit", "resit"), ("retake", "retake")],
                value="first",
                allow_blank=False,
                id="attempt",
            )
            yield Label("Cohort / employer (optional)")
            yield Input(id="cohort")
            yield Label("Reasonable adjustments: extra time %", id="extra-label")
            yield Input(id="extra", value="0", type="integer")
            yield Label("Reasonable adjustments: note")
            yield Input(id="adjustments")
            with Horizontal(classes="buttons"):
                yield Button("Draw the set (Ctrl+D)", variant="primary", id="draw")
                yield Button("Back", id="back")
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        self.choices: list[sessions.StandardChoice] = []
        self.banners: dict[tuple[str, str], str] = {}  # (standard, release) -> the not-cleared banner
        self.carried_for: tuple[str, str] | None = None
        self._report_formats(None)
        self.query_one("#apprentice", Input).focus()
        try:
            self.choices = await self.qapp.call("Reading the standards", sessions.standards, self.qapp.engine)
            cleared = await self.qapp.call("Reading release clearances", clearance.listing, self.qapp.engine)
            self.banners = {(c.standard, c.release): c.banner for c in cleared}
        except ServiceFailed:
            pass
        sel = self.query_one("#standard", Select)
        if not self.choices:
            sel.set_options([])
            sel.prompt = "no released standard in the store"
            self.notify("No released standard in the store: run `qbank import banks`", severity="error")
            return
        sel.set_options([(f"{c.code} {c.title} (release {c.release})", c.code) for c in self.choices])
        sel.value = self.choices[0].code
        self._methods()

    @on(Select.Changed, "#standard")
    def _methods(self) -> None:
        code = self.query_one("#standard", Select).value
        choice = next((c for c in getattr(self, "choices", []) if c.code == code), None)
        banners = getattr(self, "banners", {})
        self.query_one(ClearanceBanner).show(banners.get((choice.code, choice.release), "") if choice else "")
        tl = self.query_one("#methods", TickList)
        tl.set_items([(name, mid, mid in choice.default_methods) for mid, name in choice.methods] if choice else [])
        self._report_formats(choice)
        self._prefill()

    def _report_formats(self, choice: sessions.StandardChoice | None) -> None:
        """The report-format choice, shown only for a standard whose report may take more than one way."""
        formats = sorted({f for fs in (choice.report_formats.values() if choice else ()) for f in fs})
        sel = self.query_one("#report-format", Select)
        shown = len(formats) > 1
        sel.set_options([(REPORT_FORMAT_LABELS.get(f, f), f) for f in formats] if shown else [])
        sel.display = shown
        self.query_one("#report-format-label", Label).display = shown

    @on(Input.Changed, "#apprentice")
    def _apprentice_changed(self) -> None:
        self._prefill()

    @work(exclusive=True, group="prefill")
    async def _prefill(self) -> None:
        """Reasonable adjustments carry over to the same apprentice's next attempt unless changed."""
        code = self.query_one("#standard", Select).value
        ref = self.query_one("#apprentice", Input).value.strip()
        if not isinstance(code, str) or not ref:  # no standard chosen (the blank) or no reference yet
            return
        try:
            prev = await self.qapp.call(
                "Reading earlier attempts", sessions.previous_adjustments, self.qapp.engine, code, ref
            )
        except ServiceFailed:
            return
        extra, note = self.query_one("#extra", Input), self.query_one("#adjustments", Input)
        if prev is None:
            if self.carried_for is not None:  # the reference changed away from a known apprentice
                extra.value, note.value = "0", ""
                self.carried_for = None
                self.query_one("#extra-label", Label).update("Reasonable adjustments: extra time %")
            return
        if self.carried_for != (code, ref):
            self.carried_for = (code, ref)
            extra.value, note.value = str(prev[0]), prev[1]
            self.query_one("#extra-label", Label).update(
                "Reasonable adjustments: extra time % (carried over from the earlier attempt; change if needed)"
            )

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.app.pop_screen()

    @on(Button.Pressed, "#draw")
    async def action_draw(self) -> None:
        extra_raw = self.query_one("#extra", Input).value.strip() or "0"
        try:
            extra = int(extra_raw)
        except ValueError:
            self.notify(f"Extra time must be a whole percentage, not '{extra_raw}'", severity="error")
            return
        if not self.choices:
            self.notify("No released standard in the store: run `qbank import banks`", severity="error")
            return
        standard = self.query_one("#standard", Select).value
        if not isinstance(standard, str):  # the blank entry is chosen
            self.notify("Choose the standard", severity="warning")
            return
        attempt = self.query_one("#attempt", Select).value
        assert isinstance(attempt, str)  # the attempt list has no blank entry
        methods = tuple(self.query_one("#methods", TickList).selected)
        if not methods and attempt == "first":
            self.notify("Choose at least one method", severity="warning")
            return
        choice = next((c for c in self.choices if c.code == standard), None)
        fmt_sel = self.query_one("#report-format", Select)
        report_format = fmt_sel.value if isinstance(fmt_sel.value, str) and fmt_sel.display else None
        with_formats = {m for m, fs in (choice.report_formats.items() if choice else ()) if len(fs) > 1}
        if report_format is None and with_formats and (attempt != "first" or with_formats & set(methods)):
            self.notify("Choose how the learner presented the report: written or oral", severity="warning")
            fmt_sel.focus()
            return
        req = sessions.StartRequest(
            standard=standard,
            apprentice=self.query_one("#apprentice", Input).value,
            assessor=self.query_one("#assessor", Input).value,
            methods=methods if attempt == "first" else (),
            attempt=attempt,
            cohort=self.query_one("#cohort", Input).value,
            extra_time_pct=extra,
            adjustments=self.query_one("#adjustments", Input).value,
            report_format=report_format,
        )
        try:
            aid = await self.qapp.call("Drawing the set", sessions.start_assessment, self.qapp.engine, req)
        except ServiceFailed:
            open_id = await self._open_one(req)
            if open_id is not None:
                self.app.push_screen(
                    ConfirmDialog(
                        "An assessment is already open",
                        f"{req.apprentice.strip()} has an open assessment ({open_id}) on {req.standard}. "
                        "Only one can be open at a time. Resume it? "
                        "(Or void it from home with x if nothing was asked.)",
                        ok="Resume it",
                        variant="primary",
                    ),
                    lambda yes: self._resume_open(open_id, yes),
                )
            return
        self.qapp.assessor = req.assessor.strip()
        try:
            remembered = await self.qapp.call("Remembering the assessor", remember_assessor, self.qapp.assessor)
        except ServiceFailed:
            remembered = True  # cannot happen (remember_assessor never raises); said already if it did
        if not remembered:
            self.notify("Could not remember the assessor's name (settings file not writable)", severity="warning")
        await self.app.switch_screen(PreviewScreen(aid))

    async def _open_one(self, req: sessions.StartRequest) -> int | None:
        try:
            return await self.qapp.call(
                "Looking for an open assessment",
                sessions.open_assessment_for,
                self.qapp.engine,
                req.standard,
                req.apprentice.strip(),
            )
        except ServiceFailed:
            return None

    async def _resume_open(self, aid: int, yes: bool | None) -> None:
        if yes:
            self.app.pop_screen()
            await self.qapp.resume(aid)


class PreviewScreen(QBankScreen):
    """The drawn set, seen before the assessment starts."""

    BINDINGS = [Binding("enter", "begin", "Begin", priority=True), Binding("escape", "home", "Home (keep it)")]

    def __init__(self, assessment_id: int):
        super().__init__()
        self.assessment_id = assessment_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield ClearanceBanner()
        yield VerticalScroll(Static("", id="preview"), id="preview-box")
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        try:
            v = await self.qapp.call("Reading the set", sessions.load, self.qapp.engine, self.assessment_id)
        except ServiceFailed:
            return
        self.view = v
        self.query_one(ClearanceBanner).show(v.clearance.banner if v.clearance else "")
        lines = [
            f"[b]Assessment {v.id}[/b]: {escape(v.apprentice)} · {v.standard} release {v.release} · {v.attempt}"
            + (f" · extra time {v.extra_time_pct}%" if v.extra_time_pct else ""),
            "",
        ]
        if v.adjustments:
            lines[-1:] = [f"Adjustments: {escape(v.adjustments)}", ""]
        for m in v.methods:
            if m.status == "carried":
                lines.append(
                    f"[b]{escape(m.method.name)}[/b]: carried over ({m.grade}) from assessment {m.carried_from}"
                )
                continue
            if m.method.questions_optional and not m.questioning:
                said = {"written": "written report: marked on the mark sheet, no questioning"}.get(
                    m.report_format or "",
                    f"{m.report_format or 'the'} report: no questions drawn; to ask some after it, "
                    "draw them in the method (Ctrl+D)",
                )
                lines += [f"[b]{escape(m.method.name)}[/b] — {escape(said)}", ""]
                continue
            lines.append(f"[b]{escape(m.method.name)}[/b] — {m.budget_minutes} minutes, {len(m.questions)} questions")
            for q in m.questions:
                lines.append(f"  [b]{q.code}[/b] v{q.version} · {q.minutes} min · {', '.join(q.outcomes)}")
                lines.append(f"    {escape(' '.join(q.text.split()))}")
            lines.append("")
        lines.append("Enter begins · Esc returns home (the assessment stays open to resume)")
        self.query_one("#preview", Static).update("\n".join(lines))

    async def action_begin(self) -> None:
        self.app.pop_screen()
        await self.qapp.resume(self.assessment_id)

    def action_home(self) -> None:
        self.app.pop_screen()


# --------------------------------------------------------------------------- browse


class BrowseScreen(QBankScreen):
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
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        self.rows: dict[str, catalogue.QuestionSummary] = {}
        t = self.query_one("#results", DataTable)
        t.add_columns("id", "v", "outcomes", "text")
        self.query_one("#search", Input).focus()
        try:
            choices = await self.qapp.call("Reading the standards", sessions.standards, self.qapp.engine)
        except ServiceFailed:
            choices = []
        self.query_one("#f-standard", Select).set_options([(c.code, c.code) for c in choices])
        self.search()

    @on(Input.Changed)
    @on(Select.Changed)
    @work(exclusive=True, group="search")
    async def search(self) -> None:
        std = self.query_one("#f-standard", Select).value
        try:
            rows = await self.qapp.call(
                "Searching",
                catalogue.list_questions,
                self.qapp.engine,
                standard=None if std in (Select.NULL, None) else std,
                method=self.query_one("#f-method", Input).value.strip() or None,
                outcome=self.query_one("#f-outcome", Input).value.strip() or None,
                search=self.query_one("#search", Input).value.strip() or None,
                limit=200,
            )
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
        key = event.row_key.value if event.row_key else None
        r = self.rows.get(key) if key is not None else None
        if r is None:
            return
        self.query_one("#detail", Static).update(
            f"[b]{r.id} v{r.version}[/b] {r.standard} · {r.status}\nmethods: {', '.join(r.methods)}\n"
            f"outcomes: {', '.join(r.outcomes)} · {r.minutes} min · {escape(r.topic)}\n\n{escape(r.text)}"
        )


# --------------------------------------------------------------------------- overall and record


class OverallScreen(QBankScreen):
    BINDINGS = [
        Command(
            "c",
            "complete",
            "Complete",
            title="Complete the assessment",
            tooltip="Freeze the record and the overall grade",
        ),
        Command(
            "v", "view_record", "View record", title="View the record", tooltip="The assessor's record as it stands"
        ),
        Binding("h", "export('html')", "Record HTML"),
        Binding("m", "export('md')", "Record MD"),
        Command(
            "o",
            "override",
            "Override cap",
            title="Override the resit cap",
            tooltip="Record an exceptional-circumstances decision",
        ),
        Binding("escape", "home", "Home"),
    ]

    def __init__(self, assessment_id: int):
        super().__init__()
        self.assessment_id = assessment_id
        self.view: sessions.AssessmentView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield ClearanceBanner()
        yield VerticalScroll(Markdown("", id="overall-md"), id="overall-box")
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        await self.refresh_view()

    async def refresh_view(self) -> None:
        try:
            v = await self.qapp.call("Reading the assessment", sessions.load, self.qapp.engine, self.assessment_id)
        except ServiceFailed:
            return
        self.view = v
        self.query_one(ClearanceBanner).show(v.clearance.banner if v.clearance else "")
        lines = [
            f"# Assessment {v.id}: {v.apprentice}",
            f"{v.standard} release {v.release} · {v.attempt} · assessor {v.assessor} · **{v.status}**",
            "",
            "## Method grades",
            "",
        ]
        for m in v.methods:
            extra = f" (carried from assessment {m.carried_from})" if m.status == "carried" else ""
            dis = f" — rules gave {m.computed_grade}; reason: {m.disagreement}" if m.disagreement else ""
            why = getattr(m, "reason", "") or m.rule_text
            lines.append(f"- **{m.method.name}**: {m.grade or 'not graded'}{extra}{dis}")
            if why and m.status != "carried":
                lines.append(f"  - why: {why}")
            if m.uncovered and m.status != "carried":
                lines.append(f"  - outcomes never evidenced: {', '.join(m.uncovered)}")
        lines += ["", "## Overall", ""]
        for o in v.overall:
            lines.append(f"- **{o.name}: {o.grade or 'not yet available'}** — {o.explanation}")
        if not v.overall:
            lines.append("- no overall grade combines these methods")
        lines += [
            "",
            "v view the record · c complete · h / m write the record (HTML / Markdown) · "
            "o override a resit cap · Esc home",
        ]
        self.text = "\n".join(lines)
        self.query_one("#overall-md", Markdown).update(self.text)

    async def action_view_record(self) -> None:
        await open_record(self.qapp, self.assessment_id)

    def action_complete(self) -> None:
        if self.view is not None and self.view.status == "complete":
            self.notify("This assessment is already complete; its record is final", severity="warning")
            return
        self.app.push_screen(
            ConfirmDialog(
                "Complete the assessment?",
                "Completing freezes the record and the overall grade: nothing in it can change afterwards.",
                ok="Complete",
            ),
            self._complete,
        )

    async def _complete(self, yes: bool | None) -> None:
        if not yes:
            return
        try:
            await self.qapp.call("Completing", sessions.complete, self.qapp.engine, self.assessment_id)
        except ServiceFailed:
            return
        await self.refresh_view()
        self.notify("Assessment complete; the record is final", timeout=4)

    async def action_export(self, fmt: str) -> None:
        self.last_export = await export_record(self.qapp, self.assessment_id, fmt)

    def action_override(self) -> None:
        self.app.push_screen(OverrideDialog(), self._override)

    async def _override(self, o) -> None:
        if o is None:
            return
        try:
            await self.qapp.call(
                "Recording the override", sessions.record_override, self.qapp.engine, self.assessment_id, o.by, o.reason
            )
        except ServiceFailed:
            return
        await self.refresh_view()

    def action_home(self) -> None:
        self.app.switch_screen(HomeScreen())


class RecordScreen(QBankScreen):
    """The assessor's record (Markdown rendering), read-only; line breaks in notes are kept."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("h", "export('html')", "Write HTML"),
        Binding("m", "export('md')", "Write MD"),
    ]

    def __init__(self, markdown: str, assessment_id: int | None = None):
        super().__init__()
        self.markdown = markdown
        self.assessment_id = assessment_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield VerticalScroll(Markdown(self.markdown, id="record-md"), id="record-box")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#record-box").focus()

    async def action_export(self, fmt: str) -> None:
        if self.assessment_id is not None:
            await export_record(self.qapp, self.assessment_id, fmt)


# --------------------------------------------------------------------------- help


HELP = """\
# qbank: keys

**Everywhere**: F1 or ? this help · Ctrl+P command palette · Ctrl+Q quit (everything is already saved).

**Home**: n new assessment · r or Enter resume the highlighted one · b browse the bank ·
v standardisation reviews (Ctrl+R run, Ctrl+T next table, Ctrl+E export HTML).

**Start**: Tab moves between fields · Ctrl+D draws the set · the set is shown before you begin (Enter).
For a report that may be written or oral (ILM), choose how the learner presented it: a written report
draws no questions; after an oral report questions are your option (drawn in the method with Ctrl+D).

**Running a method**

| key | does |
|---|---|
| Enter (in Next) | ask the highlighted question: it becomes current, notes go with it |
| F2 | ask the top suggestion (or the one you moved the highlight to); the opener comes first |
| F3 | log evidence: the question's targets are ticked; 1-9/Space untick, ←/→ level, type the note, Enter |
| F4 | ad-hoc question in your own words, tagged with outcomes |
| F5 | swap the highlighted question (not yet asked), with a reason |
| F6 | marks, strengths and areas for improvement per criterion (running total shown) |
| F7 | pause / resume the timer |
| F8 | end the method: uncovered outcomes, grade and rule, confirm or disagree; ending early needs a reason |
| F9 | skip the highlighted question, with a reason (recorded, for standardisation) |
| Ctrl+Z | undo: retract an evidence entry, undo a swap or a skip (kept in the record, marked) |
| Ctrl+D | after an oral report: draw questions covering the criteria (only if you will ask some) |
| F10 | the learner's declarations (mark sheet): authenticity, needed to confirm the grade; anonymous use refused |
| Tab | move between Next, the notes and the outcomes list (scroll it; Enter shows an outcome's title) |
| Esc | leave the notes for the Next list |

Notes are saved half a second after you stop typing and whenever you leave the notes; every
other entry is stored the moment you make it. If the terminal or the machine dies, start qbank
again and resume: you return to the same method and question.

**Overall**: v view the record · c complete (asks first) · h / m write the record as HTML / Markdown
(to a `records/` folder beside the store) · o override a resit cap.

**Home**: x voids the highlighted assessment when nothing was asked in it (kept, with the reason; its
questions return to the apprentice's pool) · c lists completed assessments and opens their records.
"""


class HelpScreen(QBankModal):
    BINDINGS = [Binding("escape,f1,q", "close", "Close", priority=True)]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="help-dialog"):
            yield VerticalScroll(Markdown(HELP), id="help-text")  # scrolls; the button stays in view
            yield Button("Close (Esc)", id="close", compact=True)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss()
