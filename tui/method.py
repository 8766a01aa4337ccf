"""The main screen: running one method of a live assessment.

Left: the current question (text, probes, guidance) and the notes editor. Right: every outcome the
method must assesses, UNCOVERED first, then not met, then evidenced with the level (a list that can
be focused and scrolled), and the next-question suggestions. Notes are saved half a second after
typing stops and at once on leaving the editor; everything else is stored the moment it is done.
Every store call runs off the event loop (`QBankApp.call`).

Two people may have the same assessment open. Notes and marks are saved compare-and-set (the
`previous=` of `set_notes` / `set_mark`: what this screen last read): when someone else saved
them meanwhile, nothing is overwritten. The notes box then shows their text, a marker line and
the assessor's own text below it (saved like that, so both are kept until the assessor merges
them); the marks dialog opens again with the assessor's values and what is stored now.
"""

from __future__ import annotations

import asyncio

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Header, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from qbank import sessions
from qbank.method_record import CriterionState, EditConflict
from qbank.suggest import rank

from .app import Command, QBankScreen, ServiceFailed
from .dialogs import (
    AdhocDialog,
    ConfirmDialog,
    DeclarationsDialog,
    DeclarationsEntry,
    EndDecision,
    EndMethodDialog,
    EvidenceDialog,
    EvidenceEntry,
    Feedback,
    FeedbackDialog,
    ReasonDialog,
    UndoChoice,
    UndoDialog,
    one_line,
    undoable,
)
from .widgets import ClearanceBanner

SAVE_AFTER = 0.5  # seconds of quiet typing before notes are stored
TIMER_SAVE_EVERY = 5  # seconds


def conflict_marker(e: EditConflict) -> str:
    """The line put between the other person's notes (above) and the assessor's own (below)."""
    when = f" at {e.changed_at:%H:%M:%S} UTC" if e.changed_at is not None else ""
    who = e.by or "someone else"
    return f"──── above: as {who} saved them{when}; below: yours. Merge, then delete this line ────"


def _set_notes_checked(engine, ask_id: int, text: str, previous: str) -> EditConflict | None:
    """`set_notes` compare-and-set; a conflict is returned for the screen to show, not raised."""
    try:
        sessions.set_notes(engine, ask_id, text, previous=previous)
    except EditConflict as e:
        return e
    return None


def _set_mark_checked(engine, am_id: int, f: Feedback, previous: CriterionState, clear: bool) -> EditConflict | None:
    """`set_mark` compare-and-set; a conflict is returned for the screen to show, not raised."""
    try:
        sessions.set_mark(
            engine,
            am_id,
            f.criterion,
            mark=f.mark,
            strengths=f.strengths,
            improvements=f.improvements,
            clear_mark=clear,
            previous=previous,
        )
    except EditConflict as e:
        return e
    return None


def _shown(value: str | float | None) -> str:
    if value is None or value == "":
        return "(none)"
    return f"{value:g}" if isinstance(value, float) else f"'{value}'"


def clock_text(seconds: float) -> str:
    s = int(abs(seconds))
    return ("-" if seconds < 0 else "") + f"{s // 60:d}:{s % 60:02d}"


def outcome_rows(m: sessions.MethodView) -> list[tuple[str, str, str]]:
    """(code, state, shown level) for every outcome of the method: UNCOVERED first (nothing
    logged), then not met (logged at the lowest level), then evidenced, each in the method's order."""
    rows = []
    for o in m.method.assesses:
        if o in m.uncovered:
            state = "notmet" if o in m.outcome_levels else "uncovered"
        else:
            state = "covered"
        rows.append((o, state, m.outcome_levels.get(o, "")))
    order = {"uncovered": 0, "notmet": 1, "covered": 2}
    return sorted(rows, key=lambda r: order[r[1]])


class MethodScreen(QBankScreen):
    BINDINGS = [
        Binding("f1", "app.help", "Help", priority=True),
        Command(
            "f2",
            "ask_next",
            "Ask",
            priority=True,
            title="Ask the next suggested question",
            tooltip="The top suggestion, or the one you highlighted",
        ),
        Command(
            "f3",
            "evidence",
            "Evidence",
            priority=True,
            title="Log evidence",
            tooltip="Tick the outcomes the answer evidenced, choose the level, add a note",
        ),
        Command(
            "f8",
            "end_method",
            "End",
            priority=True,
            title="End this method",
            tooltip="Review uncovered outcomes and confirm the grade",
        ),
        Command(
            "f4",
            "adhoc",
            "Ad hoc",
            priority=True,
            title="Ad-hoc question",
            tooltip="Record a question asked in your own words",
        ),
        Command(
            "f5",
            "swap",
            "Swap",
            priority=True,
            title="Swap the highlighted question",
            tooltip="Replace a question not yet asked, with a reason",
        ),
        Command(
            "f6",
            "feedback",
            "Marks",
            priority=True,
            title="Marks and feedback",
            tooltip="Marks, strengths and areas for improvement per criterion",
        ),
        Command(
            "ctrl+z",
            "undo",
            "Undo",
            priority=True,
            title="Undo",
            tooltip="Retract evidence, undo a swap or a skip (kept in the record, marked)",
        ),
        Command(
            "f9",
            "skip",
            "Skip",
            show=False,
            priority=True,
            title="Skip the highlighted question",
            tooltip="Record, with a reason, that a drawn question was not asked",
        ),
        Command(
            "f7",
            "pause",
            "Pause",
            show=False,
            priority=True,
            title="Pause or resume the timer",
            tooltip="Stop the countdown while the session is paused",
        ),
        Command(
            "f10",
            "declarations",
            "Declarations",
            show=False,
            priority=True,
            title="Learner's declarations",
            tooltip="Mark sheet: the learner confirms authenticity; refuses anonymous use of the script",
        ),
        Command(
            "ctrl+d",
            "draw_questions",
            "Draw questions",
            show=False,
            title="Draw questions after an oral report",
            tooltip="Questions after an oral report are your option: draw a set covering the criteria",
        ),
        Binding("ctrl+s", "save_notes", "Save", show=False, priority=True),
        Binding("escape", "focus_suggestions", "To list", show=False),
    ]

    def __init__(self, assessment_id: int, am_id: int, ask_id: int | None = None):
        super().__init__()
        self.assessment_id = assessment_id
        self.am_id = am_id
        self.current_ask: int | None = ask_id
        self.view: sessions.AssessmentView | None = None
        self.m: sessions.MethodView | None = None
        self.saved_notes = ""  # what the store holds for the current ask
        self.dirty_since: float | None = None
        self.elapsed = 0.0
        self.paused = False
        self.last_tick: float | None = None
        self.last_timer_save = 0.0
        self.chosen: str | None = None  # a suggestion the assessor moved the highlight to (None: the top one)
        self._shown_top: str | None = None
        self._shown_suggestions: list[tuple[str, str]] = []
        self._shown_question = ""
        self._save_lock = asyncio.Lock()

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield ClearanceBanner()
        with Horizontal(id="topbar"):
            yield Static("", id="method-title")
            yield Static("", id="timer")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield VerticalScroll(Static("", id="question-text"), id="question")
                yield TextArea("", id="notes", soft_wrap=True, show_line_numbers=False)
            with Vertical(id="right"):
                yield OptionList(id="outcomes")
                yield OptionList(id="suggestions")
        yield Footer(compact=True, show_command_palette=False)  # Ctrl+P still opens it (see F1)

    async def on_mount(self) -> None:
        self.query_one("#question").border_title = "Question"
        self.query_one("#notes").border_title = "Notes"
        self.query_one("#outcomes").border_title = "Outcomes"
        self.query_one("#suggestions").border_title = "Next (Enter asks)"
        await self.refresh_view(first=True)
        self.set_interval(0.25, self._tick)
        if self.current_ask is None:
            self.query_one("#suggestions", OptionList).focus()
        else:
            self.query_one("#notes", TextArea).focus()

    # ------------------------------------------------------------------ data -> widgets

    async def refresh_view(self, first: bool = False, view: sessions.AssessmentView | None = None) -> None:
        if view is not None:
            self.view = view  # read already, in the same worker call as the change that preceded it
        else:
            try:
                self.view = await self.qapp.call(
                    "Reading the assessment", sessions.load, self.qapp.engine, self.assessment_id
                )
            except ServiceFailed:
                return
        self.m = next(x for x in self.view.methods if x.id == self.am_id)
        if first:
            self.elapsed = self.m.elapsed_seconds
            if self.current_ask is not None and not any(q.ask_id == self.current_ask for q in self.m.questions):
                self.current_ask = None
        self.sub_title = f"{self.view.standard} · {self.view.apprentice} · {self.view.attempt}"
        self.query_one(ClearanceBanner).show(self.view.clearance.banner if self.view.clearance else "")
        fmt = f" · {self.m.report_format} report" if self.m.report_format else ""
        self.query_one("#method-title", Static).update(
            f"[b]{escape(self.m.method.name)}[/b]{fmt}  ({self.m.position} of {len(self.view.methods)})"
        )
        self._show_question()
        self._show_outcomes()
        self._show_suggestions()
        self._show_timer()

    def _current(self) -> sessions.QuestionView | None:
        if self.m is None or self.current_ask is None:
            return None
        return next((q for q in self.m.questions if q.ask_id == self.current_ask), None)

    def _show_question(self) -> None:
        q = self._current()
        notes = self.query_one("#notes", TextArea)
        if q is None:
            self._shown_question = ""
            self.query_one("#question-text", Static).update(self._no_question_text())
            notes.disabled = True
            if notes.text:
                notes.load_text("")
            self.saved_notes = ""
            return
        label = "ad hoc (assessor-authored)" if q.adhoc else f"{q.code} v{q.version}"
        parts = [
            f"[b]{escape(label)}[/b]  targets {escape(', '.join(q.outcomes) or '-')}",
            "",
            escape(" ".join(q.text.split())),
        ]
        if q.probes:
            parts += ["", "[i]Probes[/i]"] + [f"  • {escape(' '.join(p.split()))}" for p in q.probes]
        if q.guidance:
            parts += ["", f"[i]Guidance:[/i] {escape(' '.join(q.guidance.split()))}"]
        shown = "\n".join(parts)
        if shown != self._shown_question:  # unchanged after logging evidence: no re-layout
            self._shown_question = shown
            self.query_one("#question-text", Static).update(shown)
        notes.disabled = False
        if self.dirty_since is not None:
            return  # being typed: what was read when typing began stays the base the save is checked against
        if notes.text != q.notes:
            notes.load_text(q.notes)
            notes.move_cursor(notes.document.end)  # carry on writing where the notes end
        self.saved_notes = q.notes
        self.query_one("#notes").border_subtitle = "saved"

    def _no_question_text(self) -> str:
        m = self.m
        if m is None or not m.method.questions_optional or m.questioning:
            return (
                "No question asked yet.\n\nChoose one from [b]Next[/b] (right) and press Enter, or F2 for the top "
                "suggestion, or F4 for an ad-hoc question."
            )
        marking = "F6 marks each section, with strengths and areas for improvement. "
        if m.method.report_formats:
            marking += "F10 records the learner's declarations (authenticity; anonymous use of the script). "
        marking += "F8 ends the method and confirms the grade."
        if m.report_format == "written":
            return f"[b]Written report[/b]: marked as it stands, no questioning.\n\n{marking}"
        head = f"[b]{m.report_format.capitalize()} report[/b]: questions after it" if m.report_format else "Questions"
        return (
            f"{head} are your option.\n\n"
            f"Ctrl+D draws a set covering the criteria; F4 asks one in your own words. {marking}"
        )

    def _show_outcomes(self) -> None:
        m = self.m
        assert m is not None  # shown only once the view is read
        ol = self.query_one("#outcomes", OptionList)
        keep = ol.highlighted
        opts = []
        for code, state, level in outcome_rows(m):
            if state == "uncovered":
                prompt = Content.from_markup(f"[b $error]✗ {code:<6} UNCOVERED[/]")
            elif state == "notmet":
                prompt = Content.from_markup(f"[$warning]✗ {code:<6} not met ({escape(level)})[/]")
            else:
                prompt = Content.from_markup(f"[$success]✓ {code:<6} {escape(level)}[/]")
            opts.append(Option(prompt, id=code))
        ol.set_options(opts)
        if opts:
            ol.highlighted = min(keep or 0, len(opts) - 1)
        covered = len(m.method.assesses) - len(m.uncovered)
        ol.border_subtitle = f"{covered}/{len(m.method.assesses)} covered"

    @on(OptionList.OptionSelected, "#outcomes")
    def _outcome_chosen(self, event: OptionList.OptionSelected) -> None:
        code = event.option.id
        assert code is not None  # every outcome row has its code as id
        title = self.view.outcome_titles.get(code, "") if self.view else ""
        self.notify(f"{code}: {title}", title="Outcome", timeout=6)

    def _show_suggestions(self) -> None:
        ol = self.query_one("#suggestions", OptionList)
        assert self.m is not None  # shown only once the view is read
        asked_any = any(q.status != "planned" for q in self.m.questions)
        ranked = rank(self.m.questions, self.m.uncovered, self.seconds_left(), started=asked_any)
        ids = [s.code for s in ranked]
        if self.chosen not in ids:
            self.chosen = None
        self._shown_top = ids[0] if ids else None
        labels = [
            (
                s.code,
                f"{s.code} {s.minutes}m {'optional' if s.optional else '+' + ','.join(s.targets)}"
                f"{'' if s.fits else ' ⏱'}{' opener' if s.opener else ''}",
            )
            for s in ranked
        ]
        if labels != self._shown_suggestions:  # rebuilding an unchanged list costs a repaint for nothing
            self._shown_suggestions = labels
            ol.clear_options()
            ol.add_options([Option(label, id=code) for code, label in labels])
        if ranked:
            ol.highlighted = ids.index(self.chosen) if self.chosen else 0

    @on(OptionList.OptionHighlighted, "#suggestions")
    def _suggestion_moved(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is None:
            return
        ol = self.query_one("#suggestions", OptionList)
        if ol.has_focus and event.option.id != (self.chosen or self._shown_top):
            self.chosen = event.option.id if event.option.id != self._shown_top else None

    def seconds_left(self) -> float:
        return self.m.budget_minutes * 60 - self.elapsed if self.m else 0

    def _show_timer(self) -> None:
        if self.m is None:
            return
        t = self.query_one("#timer", Static)
        if self.m.method.questions_optional and not self.m.questioning:  # its minutes are questioning time
            t.update("no questioning")
            t.set_class(False, "over")
            t.set_class(False, "low")
            return
        left = self.seconds_left()
        state = " PAUSED" if self.paused else ""
        t.update(f"{clock_text(left)} left of {self.m.budget_minutes}:00{state}")
        t.set_class(left <= 0, "over")
        t.set_class(0 < left <= max(300, self.m.budget_minutes * 6), "low")  # 5 minutes or 10 % left

    # ------------------------------------------------------------------ timer and autosave

    async def _tick(self) -> None:
        now = self.qapp.clock()
        if self.dirty_since is not None and now - self.dirty_since >= SAVE_AFTER:
            await self.save_notes()
        if self.m is None or self.m.status != "running" or not self.qapp.timer_enabled:
            self.last_tick = now
            return
        if self.last_tick is not None and not self.paused:
            self.elapsed += now - self.last_tick
        self.last_tick = now
        self._show_timer()
        if now - self.last_timer_save >= TIMER_SAVE_EVERY and not self.paused:
            self.last_timer_save = now
            try:
                await self.qapp.call(
                    "Saving the timer", sessions.set_elapsed, self.qapp.engine, self.am_id, self.elapsed
                )
            except ServiceFailed:
                pass

    @on(TextArea.Changed, "#notes")
    def _notes_changed(self) -> None:
        if self.current_ask is None:
            return
        if self.query_one("#notes", TextArea).text != self.saved_notes:
            if self.dirty_since is None:
                self.dirty_since = self.qapp.clock()
            self.query_one("#notes").border_subtitle = "editing…"

    async def on_descendant_blur(self, event) -> None:
        if getattr(event.widget, "id", None) == "notes":
            await self.save_notes()

    async def save_notes(self) -> bool:
        """Store the notes now; True when the store holds what is on screen."""
        async with self._save_lock:
            if self.current_ask is None:
                self.dirty_since = None
                return True
            text = self.query_one("#notes", TextArea).text
            if text == self.saved_notes:
                self.dirty_since = None
                return True
            try:
                conflict = await self.qapp.call(
                    "Saving notes", _set_notes_checked, self.qapp.engine, self.current_ask, text, self.saved_notes
                )
            except ServiceFailed:
                return False  # kept on screen and dirty: the next tick tries again
            if conflict is not None:
                self._notes_conflict(conflict, text)
                return False
            self.saved_notes = text
            if self.query_one("#notes", TextArea).text == text:
                self.dirty_since = None
                self.query_one("#notes").border_subtitle = "saved"
            return True

    def _notes_conflict(self, e: EditConflict, mine: str) -> None:
        """Someone else saved these notes since this screen read them: show theirs, a marker line
        and the assessor's own below it. The box stays unsaved, so the merged text is stored at the
        next save (checked against theirs): both are kept until the assessor merges them."""
        theirs = str(e.conflicts[0].stored or "")
        area = self.query_one("#notes", TextArea)
        merged = f"{theirs.rstrip()}\n\n{conflict_marker(e)}\n{mine}" if theirs.strip() else mine
        self.saved_notes = theirs
        area.load_text(merged)
        area.move_cursor(area.document.end)
        self.dirty_since = self.qapp.clock()
        area.border_subtitle = "changed elsewhere: merge"
        when = f" at {e.changed_at:%H:%M:%S} UTC" if e.changed_at is not None else ""
        self.notify(
            f"{e.by or 'Someone else'} saved these notes{when}, after you began. Nothing was overwritten: theirs "
            "are above the line, yours below it, and both are kept. Merge them.",
            title="Someone else changed these notes",
            severity="warning",
            timeout=12,
        )

    async def action_save_notes(self) -> None:
        await self.save_notes()

    async def on_screen_suspend(self) -> None:
        await self.save_notes()

    async def _remember(self) -> None:
        try:
            await self.qapp.call(
                "Saving where you are",
                sessions.set_ui_state,
                self.qapp.engine,
                self.assessment_id,
                {"screen": "method", "method": self.am_id, "ask": self.current_ask},
            )
        except ServiceFailed:
            pass

    # ------------------------------------------------------------------ asking

    async def _ask(self, code: str) -> None:
        if not await self.save_notes():
            return
        try:
            self.current_ask = await self.qapp.call(f"Asking {code}", sessions.ask, self.qapp.engine, self.am_id, code)
        except ServiceFailed:
            return
        self.chosen = None
        await self._remember()
        await self.refresh_view()
        self.query_one("#notes", TextArea).focus()

    @on(OptionList.OptionSelected, "#suggestions")
    async def _suggestion_chosen(self, event: OptionList.OptionSelected) -> None:
        assert event.option.id is not None  # every suggestion has its question's code as id
        await self._ask(event.option.id)

    async def action_ask_next(self) -> None:
        """The top suggestion, unless the assessor moved the highlight to another."""
        ol = self.query_one("#suggestions", OptionList)
        if self.m is not None and not self.m.questioning:
            self.notify(self._not_drawn(), severity="warning")
            return
        if ol.option_count == 0:
            self.notify("Every drawn question has been asked; F4 adds an ad-hoc one", severity="warning")
            return
        code = self.chosen or ol.get_option_at_index(0).id
        assert code is not None  # every suggestion has its question's code as id
        await self._ask(code)

    async def action_focus_suggestions(self) -> None:
        await self.save_notes()
        self.query_one("#suggestions", OptionList).focus()

    def _highlighted_planned(self, verb: str) -> sessions.QuestionView | None:
        opt = self.query_one("#suggestions", OptionList).highlighted_option
        if opt is None:
            self.notify(f"Highlight a question not yet asked in Next, then {verb} it", severity="warning")
            return None
        assert self.m is not None  # suggestions are shown only once the view is read
        return next((q for q in self.m.questions if q.code == opt.id), None)

    # ------------------------------------------------------------------ evidence

    def action_evidence(self) -> None:
        if self.m is None:
            return
        assert self.view is not None  # read together with self.m
        self.app.push_screen(
            EvidenceDialog(
                self.m,
                self.view.outcome_titles,
                self._current(),
                submit=self._log,
                statements=self.view.outcome_statements,
            )
        )

    async def _log(self, entries: list[EvidenceEntry] | None) -> None:
        if not entries:
            return
        engine, am_id, ask_id, done = self.qapp.engine, self.am_id, self.current_ask, []

        def log_then_read() -> sessions.AssessmentView:
            """One worker call: every entry stored, then the view read back for the panels."""
            for e in entries:
                sessions.log_evidence(
                    engine, am_id, e.level, criterion=e.criterion, outcomes=e.outcomes, note=e.note, ask_id=ask_id
                )
                done.append(f"{', '.join(e.outcomes)} at {e.level}")
            return sessions.load(engine, self.assessment_id)

        try:
            view = await self.qapp.call("Logging evidence", log_then_read)
        except ServiceFailed:
            view = None  # what was stored before the failure is shown
        await self.refresh_view(view=view)
        if done:
            self.notify("Logged " + "; ".join(done), timeout=3)

    # ------------------------------------------------------------------ ad hoc, swap, skip, marks

    def action_adhoc(self) -> None:
        if self.m is None:
            return
        assert self.view is not None  # read together with self.m
        self.app.push_screen(AdhocDialog(self.m, self.view.outcome_titles, self.m.uncovered), self._adhoc)

    async def _adhoc(self, a) -> None:
        if a is None or not await self.save_notes():
            return
        try:
            self.current_ask = await self.qapp.call(
                "Adding the ad-hoc question", sessions.add_adhoc, self.qapp.engine, self.am_id, a.text, a.outcomes
            )
        except ServiceFailed:
            return
        await self._remember()
        await self.refresh_view()
        self.query_one("#notes", TextArea).focus()

    def action_swap(self) -> None:
        q = self._highlighted_planned("swap")
        if q is None:
            return
        code = q.code
        assert code is not None  # a suggestion is a drawn question, which has a code
        self.app.push_screen(
            ReasonDialog(
                f"Swap {code}",
                "Why is this question being replaced?",
                f"{code} · {', '.join(q.outcomes)} · {q.minutes} min\n{one_line(q.text)}",
                ok="Swap",
            ),
            lambda reason: self._swap(code, reason),
        )

    async def _swap(self, code: str, reason: str | None) -> None:
        if reason is None:
            return
        try:
            new = await self.qapp.call(
                f"Swapping {code}", sessions.swap_question, self.qapp.engine, self.am_id, code, reason
            )
        except ServiceFailed:
            return
        await self.refresh_view()
        self.notify(f"{code} swapped for {new}", timeout=4)

    def action_skip(self) -> None:
        q = self._highlighted_planned("skip")
        if q is None:
            return
        code = q.code
        assert code is not None  # a suggestion is a drawn question, which has a code
        self.app.push_screen(
            ReasonDialog(
                f"Skip {code}? It will not be asked",
                "Why is it not being asked?",
                f"{code} · {', '.join(q.outcomes)}\n{one_line(q.text)}",
                ok="Skip",
            ),
            lambda reason: self._skip(code, reason),
        )

    async def _skip(self, code: str, reason: str | None) -> None:
        if reason is None:
            return
        keep = self.current_ask
        try:
            await self.qapp.call(f"Skipping {code}", sessions.skip, self.qapp.engine, self.am_id, code, reason)
        except ServiceFailed:
            return
        self.current_ask = keep  # skipping never changes the question being discussed
        await self.refresh_view()
        self.notify(f"{code} recorded as skipped", timeout=3)

    def action_feedback(self) -> None:
        if self.m is None or self.m.scheme is None:
            self.notify("This method has no criteria to mark", severity="warning")
            return
        m = self.m
        self.app.push_screen(FeedbackDialog(m), lambda f: self._feedback(f, m))

    async def _feedback(self, f: Feedback | None, read: sessions.MethodView) -> None:
        """Store what the dialog gave, checked against what the dialog was opened with (`read`)."""
        if f is None:
            return
        assert read.scheme is not None  # the dialog opens only for a method with rules
        mv = read.marks.get(f.criterion)
        previous = CriterionState(mv.mark, mv.strengths, mv.improvements) if mv else CriterionState()
        try:
            conflict = await self.qapp.call(
                "Saving marks and feedback",
                _set_mark_checked,
                self.qapp.engine,
                self.am_id,
                f,
                previous,
                f.mark is None and read.scheme.scheme != "descriptors",
            )
        except ServiceFailed:
            return
        await self.refresh_view()
        if conflict is None:
            self.notify(f"Saved {f.criterion}", timeout=3)
            return
        assert self.m is not None  # read again just now
        when = f" at {conflict.changed_at:%H:%M:%S} UTC" if conflict.changed_at is not None else ""
        stored = "; ".join(f"{c.field} {_shown(c.stored)}" for c in conflict.conflicts)
        note = (
            f"{conflict.by or 'Someone else'} saved {f.criterion}{when}, after you opened it. Stored now: {stored}. "
            "Yours are below, unsaved: Save puts them in its place; Cancel keeps what is stored."
        )
        m = self.m  # (said in the dialog itself: a toast would cover its fields at 80x24)
        now = m.marks.get(f.criterion)
        # the dialog again: what the assessor changed, as typed; everything else as it is stored now
        merged = Feedback(
            criterion=f.criterion,
            mark=f.mark if f.mark != previous.mark else (now.mark if now else None),
            strengths=f.strengths if f.strengths.strip() != previous.strengths else (now.strengths if now else ""),
            improvements=(
                f.improvements if f.improvements.strip() != previous.improvements else (now.improvements if now else "")
            ),
        )
        self.app.push_screen(FeedbackDialog(m, mine=merged, conflict=note), lambda again: self._feedback(again, m))

    # ------------------------------------------------------------------ undo

    def action_undo(self) -> None:
        if self.m is None:
            return
        choices = undoable(self.m)
        if not choices:
            self.notify("Nothing to undo in this method", severity="warning")
            return
        self.app.push_screen(UndoDialog(choices), self._undo_chosen)

    def _undo_chosen(self, c: UndoChoice | None) -> None:
        if c is None:
            return
        if c.kind == "evidence":
            self.app.push_screen(
                ReasonDialog(
                    "Retract this evidence entry?", "Why? (kept in the record, marked retracted)", c.label, ok="Retract"
                ),
                lambda reason: self._undo(c, reason),
            )
        else:
            self.run_worker(self._undo(c, ""), group="undo")

    async def _undo(self, c: UndoChoice, reason: str | None) -> None:
        if reason is None:
            return
        engine = self.qapp.engine
        try:
            if c.kind == "evidence":
                await self.qapp.call("Retracting evidence", sessions.retract_evidence, engine, int(c.key), reason)
            elif c.kind == "swap":
                await self.qapp.call("Undoing the swap", sessions.undo_swap, engine, self.am_id, c.key)
            else:
                await self.qapp.call("Undoing the skip", sessions.undo_skip, engine, self.am_id, c.key)
        except ServiceFailed:
            return
        await self.refresh_view()
        self.notify(f"Undone: {c.label}", timeout=4)

    # ------------------------------------------------------------------ report: questions, declarations

    def _not_drawn(self) -> str:
        assert self.m is not None  # asked only once the view is read
        if self.m.report_format == "written":
            return "A written report is marked as it stands: no questions are drawn (F6 marks, F8 ends)"
        return "No questions drawn: Ctrl+D draws a set covering the criteria, F4 asks one in your own words"

    def action_draw_questions(self) -> None:
        m = self.m
        if m is None:
            return
        if m.questioning:
            self.notify("The questions are drawn already: choose one from Next", severity="warning")
            return
        if m.report_format == "written":
            self.notify(self._not_drawn(), severity="warning")
            return
        self.app.push_screen(
            ConfirmDialog(
                "Draw questions after the oral report?",
                "A set covering every criterion is drawn for this learner and counts against them from now on "
                "(never drawn for them again). Draw only if you will ask questions.",
                ok="Draw questions",
                variant="primary",
            ),
            self._draw_questions,
        )

    async def _draw_questions(self, yes: bool | None) -> None:
        if not yes:
            return
        try:
            await self.qapp.call("Drawing questions", sessions.draw_questions, self.qapp.engine, self.am_id)
        except ServiceFailed:
            return
        await self.refresh_view()
        self.query_one("#suggestions", OptionList).focus()
        assert self.m is not None  # read again just now
        self.notify(f"{len(self.m.questions)} questions drawn; Enter asks the highlighted one", timeout=4)

    def action_declarations(self) -> None:
        if self.m is None or self.view is None:
            return
        if not self.m.method.report_formats:
            self.notify("This method's record has no learner's declarations (they belong to a report's mark sheet)")
            return
        self.app.push_screen(DeclarationsDialog(self.view.declarations), self._declarations)

    async def _declarations(self, d: DeclarationsEntry | None) -> None:
        if d is None or self.view is None:
            return
        by = self.qapp.assessor or self.view.assessor
        try:
            await self.qapp.call(
                "Recording the learner's declarations",
                sessions.record_declarations,
                self.qapp.engine,
                self.assessment_id,
                by,
                authenticity=d.authenticity,
                anonymous_use_refused=d.anonymous_use_refused,
            )
        except ServiceFailed:
            return
        await self.refresh_view()
        said = "authenticity confirmed" if d.authenticity else "authenticity NOT confirmed"
        refused = "anonymous use refused" if d.anonymous_use_refused else "anonymous use not refused"
        self.notify(f"Recorded: {said}; {refused}", timeout=4)

    # ------------------------------------------------------------------ timer, end

    async def action_pause(self) -> None:
        self.paused = not self.paused
        self._show_timer()
        try:
            await self.qapp.call("Saving the timer", sessions.set_elapsed, self.qapp.engine, self.am_id, self.elapsed)
        except ServiceFailed:
            pass

    async def action_end_method(self) -> None:
        if not await self.save_notes():
            return
        await self.refresh_view()
        assert self.m is not None and self.view is not None  # the screen read them when it opened
        r = self.m.result
        if r is not None and not r.complete and self.m.scheme is not None and self.m.scheme.scheme != "descriptors":
            unmarked = ", ".join(c.id for c in r.criteria if c.mark is None)
            self.notify(f"Record every mark first (F6): no mark for {unmarked}", severity="warning")
            return
        if self.m.method.report_formats and not self.view.declarations.authenticity_confirmed:
            self.notify(
                "Record the learner's authenticity confirmation first (F10): the grade is not confirmed without it",
                severity="warning",
            )
            return
        warnings = sessions.end_warnings(self.m, self.elapsed)
        self.app.push_screen(EndMethodDialog(self.m, self.view.outcome_titles, warnings), self._end)

    async def _end(self, d: EndDecision | None) -> None:
        if d is None:
            return
        engine = self.qapp.engine
        try:
            await self.qapp.call("Saving the timer", sessions.set_elapsed, engine, self.am_id, self.elapsed)
            await self.qapp.call("Ending the method", sessions.end_method, engine, self.am_id, reason=d.end_reason)
            await self.qapp.call(
                "Confirming the grade", sessions.confirm_grade, engine, self.am_id, d.grade, d.disagreement
            )
        except ServiceFailed:
            return
        await self._next_screen()

    async def _next_screen(self) -> None:
        from .screens import OverallScreen

        try:
            view = await self.qapp.call("Reading the assessment", sessions.load, self.qapp.engine, self.assessment_id)
        except ServiceFailed:
            return
        nxt = next((m for m in view.methods if m.status in ("pending", "running")), None)
        state = {"screen": "method", "method": nxt.id} if nxt is not None else {"screen": "overall"}
        try:
            await self.qapp.call(
                "Saving where you are", sessions.set_ui_state, self.qapp.engine, self.assessment_id, state
            )
        except ServiceFailed:
            return
        if nxt is not None:
            await self.app.switch_screen(MethodScreen(self.assessment_id, nxt.id))
        else:
            await self.app.switch_screen(OverallScreen(self.assessment_id))
