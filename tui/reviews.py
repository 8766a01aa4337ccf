"""The Reviews screen: any standardisation review with its filters, flags first, then its tables;
exportable as self-contained HTML. All computing is in `qbank.reviews`."""

from __future__ import annotations

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input, Select, Static

from qbank.problems import BankError
from qbank.record import records_dir
from qbank.reports import render
from qbank.reviews import KINDS, Filters, Report, review

from .app import Command, QBankScreen, ServiceFailed


class ReviewsScreen(QBankScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Command(
            "ctrl+r",
            "run",
            "Run",
            priority=True,
            title="Run the review",
            tooltip="Compute the chosen review with these filters",
        ),
        Binding("ctrl+t", "next_table", "Next table", priority=True),
        Command(
            "ctrl+e",
            "export",
            "Export HTML",
            priority=True,
            title="Export the review as HTML",
            tooltip="A self-contained report with its charts",
        ),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="review-filters"):
            yield Select([(k, k) for k in KINDS], value="usage", allow_blank=False, id="kind")
            yield Input(placeholder="standard", id="r-standard")
            yield Input(placeholder="method", id="r-method")
            yield Input(placeholder="assessor", id="r-assessor")
            yield Input(placeholder="cohort", id="r-cohort")
        with Vertical(id="review-body"):
            yield Static("", id="review-flags")
            yield DataTable(id="review-table", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.report: Report | None = None
        self.table_index = 0
        self.action_run()

    def _filters(self) -> Filters:
        def val(i):
            return self.query_one(i, Input).value.strip() or None

        return Filters(
            standard=val("#r-standard"), method=val("#r-method"), assessor=val("#r-assessor"), cohort=val("#r-cohort")
        )

    @on(Select.Changed, "#kind")
    @on(Input.Submitted)
    @work(exclusive=True, group="review")
    async def action_run(self) -> None:
        kind = self.query_one("#kind", Select).value
        try:
            r: Report = await self.qapp.call(f"The {kind} review", review, self.qapp.engine, kind, self._filters())
        except ServiceFailed:
            return
        self.report = r
        self.table_index = 0
        flags = "\n".join(f"[b $error]! {escape(x)}[/]" for x in r.flags[:8]) or "[$success]Nothing flagged.[/]"
        more = f"\n… {len(r.flags) - 8} more" if len(r.flags) > 8 else ""
        summary = "  ".join(escape(x) for x in r.summary)
        self.query_one("#review-flags", Static).update(
            f"[b]{escape(r.title)}[/b] · {escape(r.filters)}\n{summary}\n{flags}{more}"
        )
        self._show_table()

    def _show_table(self) -> None:
        t = self.query_one("#review-table", DataTable)
        t.clear(columns=True)
        if not self.report or not self.report.tables:
            return
        table = self.report.tables[self.table_index]
        t.border_title = f"{table.title} ({self.table_index + 1}/{len(self.report.tables)}, Ctrl+T next)"
        t.add_columns(*table.columns)
        for row in table.rows[:500]:
            t.add_row(*[str(c) for c in row])

    def action_next_table(self) -> None:
        if self.report and self.report.tables:
            self.table_index = (self.table_index + 1) % len(self.report.tables)
            self._show_table()

    async def action_export(self) -> None:
        if self.report is None:
            return
        report, engine = self.report, self.qapp.engine

        def write() -> str:
            folder = records_dir(engine).parent / "reviews"
            path = folder / f"review-{report.kind}.html"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".part")
                tmp.write_text(render(report, "html"), encoding="utf-8")
                tmp.replace(path)
            except OSError as e:
                raise BankError(f"cannot write {path}: {e.strerror}") from None
            return str(path)

        try:
            path = await self.qapp.call("Exporting the review", write)
        except ServiceFailed:
            return
        self.notify(f"Review written to {path}", timeout=6)
