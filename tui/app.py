"""The qbank Textual app: thin screens over `qbank` services (no SQL, no grading logic here).

Every service call goes through `QBankApp.call`, which runs it on a worker thread (the event loop
never waits on the database), shows a busy state when it takes more than a moment, and turns any
qbank error into a notification naming the step, so no key pressed at the wrong moment ever shows
a traceback. Key presses made while a call runs wait for it, in order.
"""

from __future__ import annotations

import asyncio
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
from qbank.settings import load_settings

log = logging.getLogger("qbank.tui")

BUSY_AFTER = 0.15  # seconds a call may take before the screen shows it is busy


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
                 timer: bool = True, resume: int | None = None, sticky_notifications: bool = False):
        super().__init__()
        self.engine = engine
        self.assessor = assessor or os.environ.get("QBANK_ASSESSOR") or load_settings().get("assessor", "") or ""
        self.clock = clock
        self.timer_enabled = timer  # tests and snapshots freeze the countdown
        self.resume_id = resume
        self.sticky_notifications = sticky_notifications  # snapshots: toasts never time out mid-capture
        self.inflight = 0  # service calls running now
        self._busy_screen: Screen | None = None
        self.busy_step = ""

    async def on_mount(self) -> None:
        from .screens import HomeScreen

        await self.push_screen(HomeScreen())
        if self.resume_id is not None:
            await self.resume(self.resume_id)

    def notify(self, message: str, *, timeout: float | None = None, **kwargs) -> None:  # type: ignore[override]
        if self.sticky_notifications:
            timeout = 3600
        super().notify(message, timeout=timeout, **kwargs)

    # ------------------------------------------------------------------ services

    async def call(self, step: str, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """Run a qbank service on a worker thread; on failure tell the user which step failed and
        why, then raise ServiceFailed so the caller stops without half-done UI changes."""
        self.inflight += 1
        busy = self.set_timer(BUSY_AFTER, lambda: self._show_busy(step))
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except BankError as e:
            self.notify(f"{step}: {e}", title="Not done", severity="error", timeout=8)
            raise ServiceFailed(str(e)) from None
        except Exception as e:  # the store went away, a bug: a message, never a traceback
            log.exception("%s failed", step)
            self.notify(f"{step}: {type(e).__name__}: {e}", title="Not done", severity="error", timeout=10)
            raise ServiceFailed(str(e)) from None
        finally:
            busy.stop()
            self.inflight -= 1
            if self.inflight == 0:
                self._hide_busy()

    def _show_busy(self, step: str) -> None:
        if self.inflight and self._busy_screen is None:
            self._busy_screen = self.screen
            self.screen.loading = True  # a spinner over the screen until the call returns
            self.busy_step = step

    def _hide_busy(self) -> None:
        if self._busy_screen is not None:
            self._busy_screen.loading = False
            self._busy_screen = None

    async def resume(self, assessment_id: int) -> None:
        """Open an unfinished assessment where it was left: the same method and question."""
        from qbank import sessions

        from .method import MethodScreen
        from .screens import OverallScreen

        try:
            view = await self.call("Resume", sessions.load, self.engine, assessment_id)
        except ServiceFailed:
            return
        ui = view.ui
        active = [m for m in view.methods if m.status in ("pending", "running")]
        wanted = next((m for m in active if m.id == ui.get("method")), None) or (active[0] if active else None)
        if wanted is None or ui.get("screen") == "overall":
            await self.push_screen(OverallScreen(assessment_id))
        else:
            await self.push_screen(MethodScreen(assessment_id, wanted.id, ask_id=ui.get("ask")))

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
