"""Widgets shared by the screens.

`TickList` is the one tick-list widget of the app: every row reads `[x]` or `[ ]`, so ticked and
unticked rows differ without colour; the first row is highlighted when it is filled; Space toggles
the highlighted row, a digit 1-9 toggles that row, and Enter submits (the dialog decides what that
means) instead of toggling, so the fastest path never changes a choice by accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


@dataclass
class Tick:
    value: str
    label: str
    ticked: bool = False


class TickList(OptionList):
    BINDINGS = [
        Binding("space", "tick", "Tick", show=False),
        *[Binding(str(n), f"toggle_index({n - 1})", show=False) for n in range(1, 10)],
    ]

    class Changed(Message):
        def __init__(self, tick_list: TickList) -> None:
            super().__init__()
            self.tick_list = tick_list

        @property
        def control(self) -> TickList:
            return self.tick_list

    class Submitted(Message):
        def __init__(self, tick_list: TickList) -> None:
            super().__init__()
            self.tick_list = tick_list

        @property
        def control(self) -> TickList:
            return self.tick_list

    def __init__(
        self,
        items: Iterable[Tick | tuple[str, str, bool]] = (),
        *,
        numbered: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.numbered = numbered
        self.items: list[Tick] = []
        self._pending = [self._tick(i) for i in items]

    @staticmethod
    def _tick(item: Tick | tuple[str, str, bool]) -> Tick:
        return item if isinstance(item, Tick) else Tick(value=item[1], label=item[0], ticked=bool(item[2]))

    def on_mount(self) -> None:
        super().on_mount()
        if self._pending:
            self.set_items(self._pending)

    # ------------------------------------------------------------------ content

    def set_items(self, items: Iterable[Tick | tuple[str, str, bool]]) -> None:
        self.items = [self._tick(i) for i in items]
        self.set_options([Option(self._prompt(n, t), id=t.value) for n, t in enumerate(self.items)])
        self.highlighted = 0 if self.items else None

    def _prompt(self, n: int, t: Tick) -> Content:
        num = f"{n + 1} " if self.numbered and n < 9 else ("  " if self.numbered else "")
        box = Content.styled("[x]", "bold") if t.ticked else Content("[ ]")
        return Content.assemble(num, box, " ", t.label)

    @property
    def selected(self) -> list[str]:
        return [t.value for t in self.items if t.ticked]

    def set_ticked(self, value: str, ticked: bool) -> None:
        for n, t in enumerate(self.items):
            if t.value == value and t.ticked != ticked:
                t.ticked = ticked
                self.replace_option_prompt_at_index(n, self._prompt(n, t))
                self.post_message(self.Changed(self))

    # ------------------------------------------------------------------ keys

    def action_tick(self) -> None:  # not action_toggle: Textual's DOMNode has one (toggle an attribute)
        if self.highlighted is not None:
            self.action_toggle_index(self.highlighted)

    def action_toggle_index(self, index: int) -> None:
        if 0 <= index < len(self.items):
            t = self.items[index]
            self.highlighted = index
            self.set_ticked(t.value, not t.ticked)

    def action_select(self) -> None:
        self.post_message(self.Submitted(self))


class ClearanceBanner(Static):
    """The line the assessment screens show while the release they run under needs clearing for
    live assessment and is not cleared (`qbank.clearance`): "NOT CLEARED FOR LIVE ASSESSMENT — ...".
    Hidden when there is nothing to say. It never blocks: the EPAO decides, the banner makes it seen."""

    LINES = 2  # at most: an 80x24 screen cannot give a long reason six rows; the full text is the tooltip

    def __init__(self) -> None:
        super().__init__("", id="clearance-banner", markup=False)
        self.display = False
        self.full = ""

    def show(self, text: str) -> None:
        if self.full != text:
            self.full = text
            self.tooltip = text or None
            self._fit()
        self.display = bool(text)

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """The text, cut with an ellipsis to what LINES lines of the banner's width can hold."""
        width = self.content_region.width or 78
        room = max((width - 12) * self.LINES, 20)  # wrapping at spaces loses up to a word a line
        text = self.full if len(self.full) <= room else self.full[: room - 1].rstrip() + "…"
        if str(self.content) != text:
            self.update(text)
