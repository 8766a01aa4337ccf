"""The qbank Textual app: thin screens over `qbank` services (no SQL, no grading logic here).

Every service call goes through `QBankApp.call`, which runs it on a worker thread (the event loop
never waits on the database), shows a busy state when it takes more than a moment, and turns any
qbank error into a notification naming the step, so no key pressed at the wrong moment ever shows
a traceback. Key presses made while a call runs wait for it, in order.

Screens derive from `QBankScreen` / `QBankModal`, whose `qapp` is the running `QBankApp`, typed
(engine, call, assessor, resume, clock, timer_enabled). A screen's key bindings made with
`Command` are also its command-palette entries (`ScreenCommands`): one list per screen, no copy.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen

from qbank.problems import BankError
from qbank.roles import denial_message
from qbank.settings import load_settings

if TYPE_CHECKING:  # the engine is only passed through to qbank services: the TUI never imports SQLAlchemy
    from qbank.store import Engine

log = logging.getLogger("qbank.tui")

BUSY_AFTER = 0.15  # seconds a call may take before the screen shows it is busy


class ServiceFailed(Exception):
    """A qbank call failed; the user has been told why."""


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Command(Binding):
    """A key binding that is also a command-palette entry of the screen (or app) declaring it.

    `title` names it in the palette (default: the footer's `description`, which stays short);
    `tooltip` is the longer help shown under the title, and when the pointer rests on the footer key.
    """

    title: str = ""


def palette_commands(screen: Screen) -> list[SystemCommand]:
    """The palette entries for `screen`: every `Command` in its BINDINGS (its class and bases), then
    the app's, each once by title, running the binding's own action on the node that declares it."""
    out: list[SystemCommand] = []
    seen: set[str] = set()
    for node in (screen, screen.app):
        for cls in type(node).__mro__:
            for b in cls.__dict__.get("BINDINGS", ()):
                title = (b.title or b.description) if isinstance(b, Command) else ""
                if title and title not in seen:
                    seen.add(title)
                    out.append(SystemCommand(title, b.tooltip, partial(node.run_action, b.action)))
    return out


class ScreenCommands(Provider):
    """The command palette's entries for the screen it was opened over (see `Command`)."""

    async def discover(self) -> Hits:
        for c in sorted(palette_commands(self.screen), key=lambda c: c.title):
            yield DiscoveryHit(c.title, c.callback, help=c.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for c in palette_commands(self.screen):
            if (score := matcher.match(c.title)) > 0:
                yield Hit(score, matcher.highlight(c.title), c.callback, help=c.help)


class QBankApp(App):
    TITLE = "qbank"
    SUB_TITLE = "live assessment"
    CSS_PATH = "qbank.tcss"
    COMMANDS = App.COMMANDS | {ScreenCommands}
    BINDINGS = [
        Command("f1", "help", "Help", priority=True, tooltip="Keys and how a live session works"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        engine: Engine,
        *,
        assessor: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        timer: bool = True,
        resume: int | None = None,
        sticky_notifications: bool = False,
    ):
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
        # Everything loaded so far (Textual, SQLAlchemy, the app) lives as long as the app: keep it out
        # of the collector's full passes, which run in whichever thread allocates and hold the GIL, so a
        # worker's collection would otherwise stall the event loop for the whole heap's scan.
        gc.collect()
        gc.freeze()

    def notify(self, message: str, *, timeout: float | None = None, **kwargs) -> None:
        if self.sticky_notifications:
            timeout = 3600
        super().notify(message, timeout=timeout, **kwargs)

    # ------------------------------------------------------------------ services

    async def call(self, step: str, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """Run a qbank service on a worker thread; on failure tell the user which step failed and
        why, then raise ServiceFailed so the caller stops without half-done UI changes."""
        self.inflight += 1
        if self.inflight == 1:
            gc.disable()  # no collector pass while a worker allocates: it would hold the GIL (see on_mount)
        busy = self.set_timer(BUSY_AFTER, lambda: self._show_busy(step))
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except BankError as e:
            self.notify(f"{step}: {e}", title="Not done", severity="error", timeout=8)
            raise ServiceFailed(str(e)) from None
        except Exception as e:  # the store went away, a bug: a message, never a traceback
            denied = denial_message(e, self.engine.url.username)
            if denied:  # PostgreSQL refused this login: say so plainly
                self.notify(f"{step}: {denied}", title="Not allowed", severity="error", timeout=10)
                raise ServiceFailed(denied) from None
            log.exception("%s failed", step)
            self.notify(f"{step}: {type(e).__name__}: {e}", title="Not done", severity="error", timeout=10)
            raise ServiceFailed(str(e)) from None
        finally:
            busy.stop()
            self.inflight -= 1
            if self.inflight == 0:
                gc.enable()
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

    # ------------------------------------------------------------------ actions

    def action_help(self) -> None:
        from .screens import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


# --------------------------------------------------------------------------- screens

ResultT = TypeVar("ResultT")


def qbank_app(node: DOMNode) -> QBankApp:
    """The running app, typed: every qbank screen and dialog runs inside a `QBankApp`."""
    return cast(QBankApp, node.app)


class QBankScreen(Screen[ResultT]):
    """A full screen of the app; `qapp` is the app, typed."""

    @property
    def qapp(self) -> QBankApp:
        return qbank_app(self)


class QBankModal(ModalScreen[ResultT]):
    """A modal screen (dialog, help) of the app; `qapp` is the app, typed."""

    @property
    def qapp(self) -> QBankApp:
        return qbank_app(self)


def run(engine: Engine | None = None, *, resume: int | None = None) -> None:
    from qbank.store import make_engine

    QBankApp(engine or make_engine(), resume=resume).run()
