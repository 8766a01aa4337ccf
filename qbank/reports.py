"""Rendering a review `Report` as a plain table, JSON, CSV or self-contained HTML (jinja2,
autoescaped, inline SVG charts, nothing fetched from outside the file)."""

from __future__ import annotations

import csv
import io
import json

from .record import _env
from .safe_text import csv_cell, drop_controls, json_escape_controls

FORMATS = ("table", "json", "csv", "html")


def render(report, fmt: str = "table") -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    return {"table": _text, "json": _json, "csv": _csv, "html": _html}[fmt](report)


def _json(r) -> str:
    return json_escape_controls(json.dumps(r.as_dict(), indent=2, default=str, ensure_ascii=False)) + "\n"


def _csv(r) -> str:
    """Every table, one after another. Cells pass through `csv_cell`: numbers stay numbers, text
    that a spreadsheet would run as a formula (= + - @, tab, CR) gets a leading single quote."""
    out = io.StringIO()
    w = csv.writer(out)
    for i, t in enumerate(r.tables):
        if i:
            w.writerow([])
        w.writerow([csv_cell(f"# {t.title}")])
        w.writerow([csv_cell(c) for c in t.columns])
        w.writerows([csv_cell(c) for c in row] for row in t.rows)
    return out.getvalue()


def _text(r, max_rows: int = 40, width: int = 48) -> str:
    lines = [r.title, "=" * len(r.title), f"filters: {r.filters}", ""]
    lines += _wrap(r.explanation, 100) + [""]
    if r.flags:
        lines.append(f"FLAGGED ({len(r.flags)}):")
        lines += [f"  ! {x}" for x in r.flags] + [""]
    else:
        lines += ["Nothing flagged.", ""]
    lines += [f"  {x}" for x in r.summary] + ([""] if r.summary else [])
    for t in r.tables:
        lines.append(f"{t.title} ({len(t.rows)} row(s))")
        if not t.rows:
            lines += ["  (none)", ""]
            continue
        cells = [[_cut(str(c), width) for c in row] for row in t.rows[:max_rows]]
        widths = [max(len(str(h)), *(len(row[i]) for row in cells)) for i, h in enumerate(t.columns)]
        lines.append(("  " + "  ".join(str(h).ljust(w) for h, w in zip(t.columns, widths))).rstrip())
        lines.append("  " + "  ".join("-" * w for w in widths))
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
        if len(t.rows) > max_rows:
            lines.append(f"  ... {len(t.rows) - max_rows} more (use --format csv or html for all)")
        lines.append("")
    return drop_controls("\n".join(lines))


def _html(r) -> str:
    charts = [_chart_geometry(c) for c in r.charts if c.bars]
    return drop_controls(_env().get_template("review.html").render(r=r, charts=charts))


def _chart_geometry(c) -> dict:
    values = [v for _, v, _ in c.bars]
    top = max([abs(v) for v in values] + [abs(c.reference or 0)]) or 1.0
    negative = any(v < 0 for v in values)
    label_w, bar_w, row_h = 230, 400, 18
    zero = label_w + (bar_w / 2 if negative else 0)
    scale = (bar_w / 2 if negative else bar_w) / (top * 1.05)
    bars = []
    for i, (label, v, flagged) in enumerate(c.bars):
        x = zero if v >= 0 else zero + v * scale
        bars.append(
            {
                "y": 24 + i * row_h,
                "x": round(x, 1),
                "w": round(max(abs(v) * scale, 1), 1),
                "label": label,
                "value": _fmt(v),
                "flagged": flagged,
                "vx": round(max(zero + v * scale, zero) + 4, 1),
            }
        )
    ref = None
    if c.reference is not None:
        ref = [round(zero + sign * c.reference * scale, 1) for sign in ((1, -1) if negative else (1,))]
    return {
        "title": c.title,
        "unit": c.unit,
        "bars": bars,
        "height": 24 + len(bars) * row_h + 10,
        "width": label_w + bar_w + 70,
        "zero": zero,
        "ref": ref,
        "ref_label": c.reference_label,
    }


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) >= 1 or v == 0 else f"{v:.3f}".rstrip("0")


def _cut(s: str, n: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _wrap(text: str, n: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, n)
