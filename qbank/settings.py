"""The user's settings (for now the assessor's name the live app remembers), as a small JSON file.

`settings_path()` is <config folder>/qbank/settings.json, the config folder being $XDG_CONFIG_HOME
(or ~/.config) on Linux, ~/Library/Application Support on macOS and %APPDATA% on Windows;
QBANK_CONFIG_DIR names the qbank folder itself instead (tests use it). Reading never fails: a
missing, unreadable or corrupt file gives {}. Writing is atomic (a temporary file in the same
folder, then moved into place), so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .files import write_text_atomic
from .problems import BankError

ENV_DIR = "QBANK_CONFIG_DIR"
FILENAME = "settings.json"


def config_dir() -> Path:
    override = os.environ.get(ENV_DIR, "").strip()
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "qbank"


def settings_path() -> Path:
    return config_dir() / FILENAME


def load_settings() -> dict:
    """The stored settings; {} when there are none or the file cannot be read as a JSON object."""
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_settings(updates: dict) -> None:
    """Merge `updates` into the stored settings (a key set to None is removed) and write them
    atomically; BankError naming the file when it cannot be written."""
    path = settings_path()
    data = load_settings()
    for key, value in updates.items():
        if value is None:
            data.pop(key, None)
        else:
            data[str(key)] = value
    try:
        text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    except (TypeError, ValueError) as e:
        raise BankError(f"cannot store these settings in {path}: {e}") from None
    write_text_atomic(path, text, action="save the settings")
