"""Helpers shared by test modules (not fixtures)."""

from __future__ import annotations

from pathlib import Path

from qbank.validation import load_bank

BANKS = Path(__file__).resolve().parent.parent / "banks"
_BANK: list = []


def shipped_bank():
    """The shipped banks, loaded once per test process."""
    if not _BANK:
        _BANK.append(load_bank(BANKS, health=False))
    return _BANK[0]
