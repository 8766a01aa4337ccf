"""Writing a command's output to the file a person named (`-o FILE`), never through a link.

The text goes to a new temporary file created exclusively (O_CREAT|O_EXCL: never an existing
file or a link someone planted) in the target's folder, is synced, then renamed onto the target.
A rename replaces a symbolic link at the target rather than following it, so the link's former
target is never touched, and a reader never sees half a file. The folder must exist: a mistyped
folder is an error, not a new folder.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from .problems import BankError


def write_output(path: str | os.PathLike[str], text: str) -> Path:
    """Write `text` (UTF-8) to `path` safely; BankError naming the file when it cannot be done."""
    target = Path(path)
    folder = target.parent
    if target.is_dir() and not target.is_symlink():
        raise BankError(f"cannot write {target}: it is a folder; give a file name, e.g. {target / 'out.txt'}")
    if not folder.is_dir():
        raise BankError(f"cannot write {target}: there is no folder {folder}; create it first or choose another")
    mode = _kept_mode(target)  # replacing a file keeps its permissions
    tmp = None
    try:
        tmp, fd = create_exclusive(folder, target.name)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        tmp = None
        sync_folder(folder)
    except OSError as e:
        raise BankError(f"cannot write {target}: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return target


def write_via(
    path: str | os.PathLike[str], write: Callable[[Path], None], *, error: type[BankError] = BankError
) -> Path:
    """For writers that produce a file themselves (XLSX, a QTI zip): `write(tmp)` fills a new
    temporary file created exclusively beside `path`, which is then synced and renamed onto `path`,
    as `write_output` does for text. Nothing is left behind when `write` fails; `error` (a
    BankError) names the file when the system refuses."""
    target = Path(path)
    folder = target.parent
    if target.is_dir() and not target.is_symlink():
        raise error(f"cannot write {target}: it is a folder; give a file name")
    if not folder.is_dir():
        raise error(f"cannot write {target}: there is no folder {folder}; create it first or choose another")
    mode = _kept_mode(target)
    tmp: Path | None = None
    try:
        tmp, fd = create_exclusive(folder, target.name)
        if mode is not None:
            os.fchmod(fd, mode)
        os.close(fd)
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        tmp = None
        sync_folder(folder)
    except OSError as e:
        raise error(f"cannot write {target}: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return target


def _kept_mode(target: Path) -> int | None:
    """The permissions of the regular file being replaced (kept by the new one), else None."""
    try:
        st = target.lstat()
    except OSError:
        return None
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None


def create_exclusive(folder: Path, name: str) -> tuple[Path, int]:
    """A new temporary file beside `name` in `folder`, created exclusively and never through a
    link: (its path, an open descriptor). For writers that produce bytes themselves (XLSX, a
    QTI zip): write, fsync, `os.replace` onto the target, then `sync_folder`."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = folder / f".{name}.{secrets.token_hex(6)}.part"
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def sync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the system allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
