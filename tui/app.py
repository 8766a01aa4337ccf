"""The qbank Textual app: thin screens over `qbank` services (no SQL, no grading logic here).

Every service call goes through `QBankApp.service`, which turns any qbank error into a notification
naming the step, so no key pressed at the wrong moment ever shows a traceback.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Engine
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from qbank.problems import BankError

log = logging.getLogger("qbank.tui")


class ServiceFailed(Exception):
    """A qbank call failed; the user has been told why."""


class QBankApp(App):
    TITLE = "qbank"
    SUB_TITLE = "live assessment"
    CSS_PATH = "qbank.tcss"
    BINDINGS = [
        Binding("f1", "help", "Help", priority=True),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, engine: Engine, *, assessor: str | None = None, clock: Callable[[], float] = time.monotonic,
                 timer: bool = True, resume: int | None = None):
        super().__init__()
        self.engine = engine
        self.assessor = assessor or os.environ.get("QBANK_ASSESSOR") or ""
        self.clock = clock
        self.timer_enabled = timer  # tests and snapshots freeze the countdown
        self.resume_id = resume

    def on_mount(self) -> None:
        from .screens import HomeScreen

        self.push_screen(HomeScreen())
        if self.resume_id is not None:
            self.resume(self.resume_id)

    # ------------------------------------------------------------------ services

    def service(self, step: str, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """Call a qbank service; on failure tell the user which step failed and why, then raise
        ServiceFailed so the caller stops without half-done UI changes."""
        try:
            return fn(*args, **kwargs)
        except BankError as e:
            self.notify(f"{step}: {e}", title="Not done", severity="error", timeout=8)
            raise ServiceFailed(str(e)) from None
        except Exception as e:  # the store went away, a bug: a message, never a traceback
            log.exception("%s failed", step)
            self.notify(f"{step}: {type(e).__name__}: {e}", title="Not done", severity="error", timeout=10)
            raise ServiceFailed(str(e)) from None

    def resume(self, assessment_id: int) -> None:
        """Open an unfinished assessment where it was left: the same method and question."""
        from qbank import sessions

        from .method import MethodScreen
        from .screens import OverallScreen

        try:
            view = self.service("Resume", sessions.load, self.engine, assessment_id)
        except ServiceFailed:
            return
        ui = view.ui
        active = [m for m in view.methods if m.status in ("pending", "running")]
        wanted = next((m for m in active if m.id == ui.get("method")), None) or (active[0] if active else None)
        if wanted is None or ui.get("screen") == "overall":
            self.push_screen(OverallScreen(assessment_id))
        else:
            self.push_screen(MethodScreen(assessment_id, wanted.id, ask_id=ui.get("ask")))

    # ------------------------------------------------------------------ actions and palette

    def action_help(self) -> None:
        from .screens import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys and how a live session works", self.action_help)
        for title, help_, action in getattr(screen, "COMMANDS_LIST", ()):
            yield SystemCommand(title, help_, getattr(screen, f"action_{action}"))


def run(engine: Engine | None = None, *, resume: int | None = None) -> None:
    from qbank.store import make_engine

    QBankApp(engine or make_engine(), resume=resume).run()
