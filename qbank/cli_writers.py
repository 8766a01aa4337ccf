"""The writers' command-line tools: `qbank new` (templates) and `qbank grade` (the grading rules
from the command line). Wired into `qbank.cli` by `register` and `COMMANDS`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

COMMANDS: dict[str, Callable[[Any], int]] = {}


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add this module's subcommands to the `qbank` parser's subparsers."""
