"""The main screen: running one method of a live assessment.

Left: the current question (text, probes, guidance) and the notes editor. Right: every outcome the
method must assess, evidenced (with level) or UNCOVERED, and the next-question suggestions.
Notes are saved half a second after typing stops and at once on leaving the editor; everything
else is stored the moment it is done.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from qbank import sessions
from qbank.suggest import rank

from .app import ServiceFailed
from .dialogs import (AdhocDialog, EndDecision, EndMethodDialog, EvidenceDialog, EvidenceEntry, FeedbackDialog,
                      ReasonDialog)

SAVE_AFTER = 0.5  # seconds of quiet typing before notes are stored
TIMER_SAVE_EVERY = 5  # seconds


def clock_text(seconds: float) -> str:
    s = int(abs(seconds))
    return ("-" if seconds < 0 else "") + f"{s // 60:d}:{s % 60:02d}"


class MethodScreen(Screen):
    BINDINGS = [
        Binding("f2", "ask_next", "Ask next", priority=True),
        Binding("f3", "evidence", "Evidence", priority=True),
        Binding("f4", "adhoc", "Ad hoc", priority=True),
        Binding("f5", "swap", "Swap", priority=True),
        Binding("f6", "feedback", "Marks", priority=True),
        Binding("f7", "pause", "Pause", priority=True),
        Binding("f8", "end_method", "End", priority=True),
        Binding("f9", "skip", "Skip", priority=True),
        Binding("ctrl+s", "save_notes", "Save", show=False, priority=True),
        Binding("escape", "focus_suggestions", "To list", show=False),
    ]
    COMMANDS_LIST = [
        ("Ask the next suggested question", "Make the highlighted suggestion the current question", "ask_next"),
        ("Log evidence", "Record a criterion or outcome evidenced at a level", "evidence"),
        ("Ad-hoc question", "Record a question asked in your own words", "adhoc"),
        ("Swap the highlighted question", "Replace a question not yet asked, with a reason", "swap"),
        ("Marks and feedback", "Marks, strengths and areas for improvement per criterion", "feedback"),
        ("Pause or resume the timer", "Stop the countdown while the session is paused", "pause"),
        ("Skip the highlighted question", "Record that a drawn question was deliberately not asked", "skip"),
        ("End this method", "Review uncovered outcomes and confirm the grade", "end_method"),
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

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="topbar"):
            yield Static("", id="method-title")
            yield Static("", id="timer")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield VerticalScroll(Static("", id="question-text"), id="question")
                yield TextArea("", id="notes", soft_wrap=True, show_line_numbers=False)
            with Vertical(id="right"):
                yield Static("", id="outcomes")
                yield OptionList(id="suggestions")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#question").border_title = "Question"
        self.query_one("#notes").border_title = "Notes"
        self.query_one("#outcomes").border_title = "Outcomes"
        self.query_one("#suggestions").border_title = "Next (Enter asks)"
        self.refresh_view(first=True)
        self.set_interval(0.25, self._tick)
        if self.current_ask is None:
            self.query_one("#suggestions", OptionList).focus()
        else:
            self.query_one("#notes", TextArea).focus()

    # ------------------------------------------------------------------ data -> widgets

    def refresh_view(self, first: bool = False) -> None:
        try:
            self.view = self.app.service("Reading the assessment", sessions.load, self.app.engine, self.assessment_id)
        except ServiceFailed:
            return
        self.m = next(x for x in self.view.methods if x.id == self.am_id)
        if first:
            self.elapsed = self.m.elapsed_seconds
            if self.current_ask is not None and not any(q.ask_id == self.current_ask for q in self.m.questions):
                self.current_ask = None
        self.sub_title = f"{self.view.standard} · {self.view.apprentice} · {self.view.attempt}"
        self.query_one("#method-title", Static).update(
            f"[b]{self.m.method.name}[/b]  ({self.m.position} of {len(self.view.methods)})")
        self._show_question()
        self._show_outcomes()
        self._show_suggestions()
        self._show_timer()

    def _current(self) -> sessions.QuestionView | None:
        return next((q for q in self.m.questions if q.ask_id == self.current_ask), None) if self.current_ask else None

    def _show_question(self) -> None:
        q = self._current()
        notes = self.query_one("#notes", TextArea)
        if q is None:
            self.query_one("#question-text", Static).update(
                "No question asked yet.\n\nChoose one from [b]Next[/b] (right) and press Enter, or F2 for the top "
                "suggestion, or F4 for an ad-hoc question.")
            notes.disabled = True
            if notes.text:
                notes.load_text("")
            self.saved_notes = ""
            return
        label = "ad hoc (assessor-authored)" if q.adhoc else f"{q.code} v{q.version}"
        probes = "".join(f"\n  • {' '.join(p.split())}" for p in q.probes)
        parts = [f"[b]{label}[/b]  targets {', '.join(q.outcomes) or '-'}", "", " ".join(q.text.split())]
        if probes:
            parts += ["", f"[i]Probes[/i]{probes}"]
        if q.guidance:
            parts += ["", f"[i]Guidance:[/i] {' '.join(q.guidance.split())}"]
        self.query_one("#question-text", Static).update(_escape_markup_parts(parts))
        notes.disabled = False
        if notes.text != q.notes and self.dirty_since is None:
            notes.load_text(q.notes)
            notes.move_cursor(notes.document.end)  # carry on writing where the notes end
        self.saved_notes = q.notes
        self.query_one("#notes").border_subtitle = "saved"

    def _show_outcomes(self) -> None:
        m = self.m
        lines = []
        for o in m.method.assesses:
            if o in m.uncovered:
                lines.append(f"[b $error]✗ {o:<7} UNCOVERED[/]")
            else:
                lines.append(f"[$success]✓ {o:<7} {m.outcome_levels.get(o, '')}[/]")
        covered = len(m.method.assesses) - len(m.uncovered)
        self.query_one("#outcomes", Static).update("\n".join(lines))
        self.query_one("#outcomes").border_subtitle = f"{covered}/{len(m.method.assesses)} covered"

    def _show_suggestions(self) -> None:
        ol = self.query_one("#suggestions", OptionList)
        keep = ol.highlighted_option.id if ol.highlighted_option else None
        ranked = rank(self.m.questions, self.m.uncovered, self.seconds_left())
        ol.clear_options()
        ol.add_options([Option(f"{s.code} {s.minutes}m {'optional' if s.optional else '+' + ','.join(s.targets)}"
                               f"{'' if s.fits else ' ⏱'}", id=s.code) for s in ranked])
        if ranked:
            ids = [s.code for s in ranked]
            ol.highlighted = ids.index(keep) if keep in ids else 0

    def seconds_left(self) -> float:
        return self.m.budget_minutes * 60 - self.elapsed if self.m else 0

    def _show_timer(self) -> None:
        if self.m is None:
            return
        left = self.seconds_left()
        t = self.query_one("#timer", Static)
        state = " PAUSED" if self.paused else ""
        t.update(f"{clock_text(left)} left of {self.m.budget_minutes}:00{state}")
        t.set_class(left <= 0, "over")
        t.set_class(0 < left <= max(300, self.m.budget_minutes * 6), "low")  # 5 minutes or 10 % left

    # ------------------------------------------------------------------ timer and autosave

    def _tick(self) -> None:
        now = self.app.clock()
        if self.dirty_since is not None and now - self.dirty_since >= SAVE_AFTER:
            self.save_notes()
        if self.m is None or self.m.status != "running" or not self.app.timer_enabled:
            self.last_tick = now
            return
        if self.last_tick is not None and not self.paused:
            self.elapsed += now - self.last_tick
        self.last_tick = now
        self._show_timer()
        if now - self.last_timer_save >= TIMER_SAVE_EVERY and not self.paused:
            self.last_timer_save = now
            try:
                self.app.service("Saving the timer", sessions.set_elapsed, self.app.engine, self.am_id, self.elapsed)
            except ServiceFailed:
                pass

    @on(TextArea.Changed, "#notes")
    def _notes_changed(self) -> None:
        if self.current_ask is None:
            return
        if self.query_one("#notes", TextArea).text != self.saved_notes:
            if self.dirty_since is None:
                self.dirty_since = self.app.clock()
            self.query_one("#notes").border_subtitle = "editing…"

    def on_descendant_blur(self, event) -> None:
        if getattr(event.widget, "id", None) == "notes":
            self.save_notes()

    def save_notes(self) -> bool:
        """Store the notes now; True when the store holds what is on screen."""
        if self.current_ask is None:
            self.dirty_since = None
            return True
        text = self.query_one("#notes", TextArea).text
        if text == self.saved_notes:
            self.dirty_since = None
            return True
        try:
            self.app.service("Saving notes", sessions.set_notes, self.app.engine, self.current_ask, text)
        except ServiceFailed:
            return False  # kept on screen and dirty: the next tick tries again
        self.saved_notes = text
        self.dirty_since = None
        self.query_one("#notes").border_subtitle = "saved"
        return True

    def action_save_notes(self) -> None:
        self.save_notes()

    def on_screen_suspend(self) -> None:
        self.save_notes()

    def _remember(self) -> None:
        try:
            self.app.service("Saving where you are", sessions.set_ui_state, self.app.engine, self.assessment_id,
                             {"screen": "method", "method": self.am_id, "ask": self.current_ask})
        except ServiceFailed:
            pass

    # ------------------------------------------------------------------ actions

    def _ask(self, code: str) -> None:
        if not self.save_notes():
            return
        try:
            self.current_ask = self.app.service(f"Asking {code}", sessions.ask, self.app.engine, self.am_id, code)
        except ServiceFailed:
            return
        self._remember()
        self.refresh_view()
        self.query_one("#notes", TextArea).focus()

    @on(OptionList.OptionSelected, "#suggestions")
    def _suggestion_chosen(self, event: OptionList.OptionSelected) -> None:
        self._ask(event.option.id)

    def action_ask_next(self) -> None:
        ol = self.query_one("#suggestions", OptionList)
        if ol.option_count == 0:
            self.notify("Every drawn question has been asked; F4 adds an ad-hoc one", severity="warning")
            return
        opt = ol.highlighted_option or ol.get_option_at_index(0)
        self._ask(opt.id)

    def action_focus_suggestions(self) -> None:
        self.save_notes()
        self.query_one("#suggestions", OptionList).focus()

    def _preferred(self) -> list[str]:
        q = self._current()
        return [o for o in (q.outcomes if q else []) if o in self.m.uncovered] + (q.outcomes if q else [])

    def action_evidence(self) -> None:
        if self.m is None:
            return
        self.app.push_screen(EvidenceDialog(self.m, self.view.outcome_titles, self._preferred()), self._log)

    def _log(self, e: EvidenceEntry | None) -> None:
        if e is None:
            return
        try:
            self.app.service("Logging evidence", sessions.log_evidence, self.app.engine, self.am_id, e.level,
                             criterion=e.criterion, outcomes=e.outcomes, note=e.note, ask_id=self.current_ask)
        except ServiceFailed:
            return
        self.refresh_view()
        self.notify(f"Logged {e.criterion or ', '.join(e.outcomes)} at {e.level}", timeout=3)

    def action_adhoc(self) -> None:
        if self.m is None:
            return
        self.app.push_screen(AdhocDialog(self.m, self.view.outcome_titles, self.m.uncovered), self._adhoc)

    def _adhoc(self, a) -> None:
        if a is None or not self.save_notes():
            return
        try:
            self.current_ask = self.app.service("Adding the ad-hoc question", sessions.add_adhoc, self.app.engine,
                                                self.am_id, a.text, a.outcomes)
        except ServiceFailed:
            return
        self._remember()
        self.refresh_view()
        self.query_one("#notes", TextArea).focus()

    def action_swap(self) -> None:
        ol = self.query_one("#suggestions", OptionList)
        opt = ol.highlighted_option
        if opt is None:
            self.notify("Highlight a question not yet asked in Next, then swap it", severity="warning")
            return
        code = opt.id
        self.app.push_screen(ReasonDialog(f"Swap {code}", "Why is this question being replaced?"),
                             lambda reason: self._swap(code, reason))

    def _swap(self, code: str, reason: str | None) -> None:
        if reason is None:
            return
        try:
            new = self.app.service(f"Swapping {code}", sessions.swap_question, self.app.engine, self.am_id, code, reason)
        except ServiceFailed:
            return
        self.refresh_view()
        self.notify(f"{code} swapped for {new}", timeout=4)

    def action_skip(self) -> None:
        opt = self.query_one("#suggestions", OptionList).highlighted_option
        if opt is None:
            self.notify("Highlight a question not yet asked in Next, then skip it", severity="warning")
            return
        keep = self.current_ask
        try:
            self.app.service(f"Skipping {opt.id}", sessions.skip, self.app.engine, self.am_id, opt.id)
        except ServiceFailed:
            return
        self.current_ask = keep  # skipping never changes the question being discussed
        self.refresh_view()
        self.notify(f"{opt.id} recorded as skipped", timeout=3)

    def action_feedback(self) -> None:
        if self.m is None or self.m.scheme is None:
            self.notify("This method has no criteria to mark", severity="warning")
            return
        self.app.push_screen(FeedbackDialog(self.m), self._feedback)

    def _feedback(self, f) -> None:
        if f is None:
            return
        try:
            self.app.service("Saving marks and feedback", sessions.set_mark, self.app.engine, self.am_id, f.criterion,
                             mark=f.mark, strengths=f.strengths, improvements=f.improvements)
        except ServiceFailed:
            return
        self.refresh_view()
        self.notify(f"Saved {f.criterion}", timeout=3)

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._show_timer()
        try:
            self.app.service("Saving the timer", sessions.set_elapsed, self.app.engine, self.am_id, self.elapsed)
        except ServiceFailed:
            pass

    def action_end_method(self) -> None:
        if not self.save_notes():
            return
        self.refresh_view()
        self.app.push_screen(EndMethodDialog(self.m, self.view.outcome_titles), self._end)

    def _end(self, d: EndDecision | None) -> None:
        if d is None:
            return
        engine = self.app.engine
        try:
            self.app.service("Saving the timer", sessions.set_elapsed, engine, self.am_id, self.elapsed)
            self.app.service("Ending the method", sessions.end_method, engine, self.am_id)
            self.app.service("Confirming the grade", sessions.confirm_grade, engine, self.am_id, d.grade,
                             d.disagreement)
        except ServiceFailed:
            return
        self._next_screen()

    @work(exclusive=True, group="navigate")
    async def _next_screen(self) -> None:
        from .screens import OverallScreen

        view = sessions.load(self.app.engine, self.assessment_id)
        nxt = next((m for m in view.methods if m.status in ("pending", "running")), None)
        if nxt is not None:
            sessions.set_ui_state(self.app.engine, self.assessment_id, {"screen": "method", "method": nxt.id})
            self.app.switch_screen(MethodScreen(self.assessment_id, nxt.id))
        else:
            sessions.set_ui_state(self.app.engine, self.assessment_id, {"screen": "overall"})
            self.app.switch_screen(OverallScreen(self.assessment_id))


def _escape_markup_parts(parts: list[str]) -> str:
    """Bank text may hold [brackets]; escape everything but our own markup lines' tags."""
    from rich.markup import escape

    out = []
    for p in parts:
        if p.startswith("[b]") or p.startswith("[i]"):
            head, _, rest = p.partition("[/b]") if p.startswith("[b]") else p.partition("[/i]")
            closing = "[/b]" if p.startswith("[b]") else "[/i]"
            out.append(head[:3] + escape(head[3:]) + closing + escape(rest))
        else:
            out.append(escape(p))
    return "\n".join(out)
