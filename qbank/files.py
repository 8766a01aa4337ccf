"""Writing files the way qbank promises: atomically (a temporary file in the same folder, synced,
then moved into place), so a killed process never leaves half a file; failures are BankErrors
naming the file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .problems import BankError


def write_text_atomic(path: Path, text: str, *, action: str) -> None:
    """Write `text` to `path` atomically. `action` names the step in the error: "cannot {action}
    to {path}: ..." (e.g. "write the record")."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise BankError(f"cannot {action} to {path}: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
