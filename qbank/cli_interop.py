"""`qbank convert` (a spreadsheet, Moodle XML or QTI 3.0 file into draft questions) and
`qbank export` (a release as QTI 3.0, Moodle XML, CSV or XLSX)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add this module's subcommands to the `qbank` parser's subparsers."""


COMMANDS: dict[str, Callable[[Any], int]] = {}
