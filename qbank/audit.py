"""The audit log: who wrote what, when, in a hash chain that shows tampering.

Every write to a record row (apprentices, draws and their items and swaps, assessments, methods,
asks, evidence, marks, second marks, clearances) appends an event to `audit_event` in the same
transaction: the kind of write, the acting database user, the table and row, the SHA-256 of the
row's content as written, and the previous event's hash. An import appends one event per release
whose digest covers the release row, its items (each version's content hash and review) and its
near-duplicate pairs. Nothing else is kept in the log: no text, so erasing an apprentice's data
(`qbank.erase`) changes rows and appends events, and the chain still holds.

It works by itself: a session hook (`before_commit`) collects the rows the ORM inserted, changed or
deleted, and the few rows written by Core statements, which their writers name with `touch`. The
chain's tail is read under a lock (PostgreSQL: a transaction-scoped advisory lock; SQLite: the
write lock the flush already holds), so concurrent writers append one after the other.

`qbank.verify` recomputes the chain and compares every row with its newest event.

Not sealed (they change every few seconds and are not part of the record): the app's screen
position (`assessment.ui_json`) and the running timer (`assessment_method.elapsed_seconds`); the
method's start and end times are.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Table, event, insert, select, tuple_
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from .models import (
    ApprenticeRow,
    AskRow,
    AssessmentMethodRow,
    AssessmentRow,
    AuditEventRow,
    CriterionMarkRow,
    DrawItemRow,
    DrawRow,
    DrawSwapRow,
    EvidenceRow,
    ReleaseClearanceRow,
    ReleaseItemRow,
    ReleaseNearDuplicateRow,
    ReleaseRow,
    SecondMarkRow,
    table_of,
)
from .problems import BankError

GENESIS = "0" * 64
"""The previous hash of the first event."""

_PG_LOCK_KEY = 0x71_62_61_75_64  # "qbaud": pg_advisory_xact_lock key for appending to the log

UNSEALED: dict[str, frozenset[str]] = {
    "assessment": frozenset({"ui_json"}),
    "assessment_method": frozenset({"elapsed_seconds"}),
}
"""Columns left out of a row's hash: they change every few seconds and are not the record."""

AUDITED: tuple[type[SQLModel], ...] = (
    ReleaseRow,
    ApprenticeRow,
    DrawRow,
    DrawItemRow,
    DrawSwapRow,
    AssessmentRow,
    AssessmentMethodRow,
    AskRow,
    EvidenceRow,
    CriterionMarkRow,
    SecondMarkRow,
    ReleaseClearanceRow,
)
"""The record: every row of these tables has events. A release's hash covers its items and
near-duplicate pairs too (`release_hashes`), so an import is one event per release."""

OWNED: tuple[type[SQLModel], ...] = (AssessmentRow, DrawRow, SecondMarkRow, ReleaseClearanceRow)
"""Rows that carry their creator (`owner`), which row-level security on PostgreSQL checks."""

_AUDITED_TABLES = {table_of(m).name: m for m in AUDITED}

# how to find the apprentice a row belongs to, for the per-apprentice check before a draw
_APPRENTICE_COLUMN = {
    "apprentice": "id",
    "draw": "apprentice_id",
    "draw_item": "apprentice_id",
    "assessment": "apprentice_id",
}


# --------------------------------------------------------------------------- hashing


_canonical = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        if v.tzinfo is None:  # SQLite gives back naive datetimes: qbank writes UTC
            v = v.replace(tzinfo=timezone.utc)
        return v.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, float) and v.is_integer():
        return int(v)  # 3.0 and 3 are one value, however the driver returns it
    return v


def row_hash(table: str, values: dict[str, Any]) -> str:
    """SHA-256 of a row's sealed columns, as canonical JSON."""
    skip = UNSEALED.get(table, frozenset())
    return hashlib.sha256(
        _canonical({k: _plain(v) for k, v in values.items() if k not in skip}).encode("utf-8")
    ).hexdigest()


def release_hashes(conn: Connection, rows: list[dict[str, Any]]) -> dict[int, str]:
    """Per release row: the hash of the row with its items (each version's id, content hash and
    review) and its near-duplicate pairs, all of which an import writes and nothing changes."""
    out = {}
    it, nd = table_of(ReleaseItemRow), table_of(ReleaseNearDuplicateRow)
    from .models import QuestionVersionRow

    qv = table_of(QuestionVersionRow)
    for r in rows:
        items = sorted(
            (a, b, c, d)
            for a, b, c, d in conn.execute(
                select(it.c.question_version_id, qv.c.content_hash, it.c.reviewer, it.c.reviewed_on)
                .join(qv, qv.c.id == it.c.question_version_id)
                .where(it.c.release_id == r["id"])
            )
        )
        pairs = sorted(
            (a, b, float(c), d)
            for a, b, c, d in conn.execute(
                select(nd.c.a_version_id, nd.c.b_version_id, nd.c.score, nd.c.kind).where(nd.c.release_id == r["id"])
            )
        )
        values = {**r, "items": [list(i) for i in items], "near_duplicates": [list(p) for p in pairs]}
        out[r["id"]] = row_hash("release", values)
    return out


def event_hash(prev: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev + _canonical({k: _plain(v) for k, v in fields.items()})).encode("utf-8")).hexdigest()


def key_of(table: Table, values: dict[str, Any]) -> str:
    return "/".join(str(values[c.name]) for c in table.primary_key.columns)


# --------------------------------------------------------------------------- who is acting


def actor(conn: Connection) -> str:
    """The database's current user on PostgreSQL (asked once per database connection: a
    connection's user does not change); the operating-system user on SQLite."""
    if conn.dialect.name == "postgresql":
        if "qbank_actor" not in conn.info:
            conn.info["qbank_actor"] = str(conn.exec_driver_sql("SELECT current_user").scalar_one())
        return str(conn.info["qbank_actor"])
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): the uid itself
        import os

        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


# --------------------------------------------------------------------------- appending


@dataclass
class Pending:
    """An event to append: `row_hash` "" for a deletion."""

    kind: str
    table: str
    key: str
    row_hash: str
    apprentice_id: int | None = None
    detail: str = ""


def _tail(conn: Connection) -> tuple[int, str]:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
    t = table_of(AuditEventRow)
    last = conn.execute(select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1)).first()
    return (last[0], last[1]) if last else (0, GENESIS)


def append(conn: Connection, pending: list[Pending], *, who: str | None = None) -> None:
    """Append events, chained after the log's tail, inside the caller's transaction."""
    if not pending:
        return
    who = who or actor(conn)
    seq, prev = _tail(conn)
    now = datetime.now(timezone.utc)
    rows = []
    for p in pending:
        seq += 1
        fields = {
            "seq": seq,
            "at": now,
            "actor": who,
            "kind": p.kind,
            "table_name": p.table,
            "row_key": p.key,
            "apprentice_id": p.apprentice_id,
            "row_hash": p.row_hash,
            "detail": p.detail,
        }
        h = event_hash(prev, fields)
        rows.append({**fields, "prev_hash": prev, "hash": h})
        prev = h
    t = table_of(AuditEventRow)
    for i in range(0, len(rows), 1000):
        conn.execute(insert(t).values(rows[i : i + 1000]))


def latest_hashes(conn: Connection, table: str, keys: list[str]) -> dict[str, str]:
    """The newest event's row hash for each of `keys` of `table` (absent when it has none)."""
    t = table_of(AuditEventRow)
    out: dict[str, tuple[int, str]] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        for key, seq, h in conn.execute(
            select(t.c.row_key, t.c.seq, t.c.row_hash).where(t.c.table_name == table, t.c.row_key.in_(chunk))
        ):
            if key not in out or seq > out[key][0]:
                out[key] = (seq, h)
    return {k: h for k, (_, h) in out.items()}


def rows_of(conn: Connection, table: Table, where) -> Iterator[dict[str, Any]]:
    for r in conn.execute(select(table).where(where)).mappings():
        yield dict(r)


def seal_changes(
    conn: Connection,
    table: Table,
    rows: Iterable[dict[str, Any]],
    deleted: Iterable[str] = (),
    new: frozenset[str] | set[str] = frozenset(),
) -> list[Pending]:
    """Events for rows that differ from their newest event (new rows: "insert"; changed: "update"),
    and for `deleted` keys. Keys in `new` were inserted by this transaction: they have no event
    yet, so the log is not asked."""
    rows = list(rows)
    keys = [key_of(table, r) for r in rows]
    deleted = list(deleted)
    asked = [k for k in keys if k not in new] + deleted
    before = latest_hashes(conn, table.name, asked) if asked else {}
    col = _APPRENTICE_COLUMN.get(table.name)
    special = release_hashes(conn, rows) if table.name == "release" else {}
    out = []
    for key, r in zip(keys, rows, strict=True):
        h = special[r["id"]] if special else row_hash(table.name, r)
        if before.get(key) == h:
            continue
        out.append(Pending("update" if key in before else "insert", table.name, key, h, r.get(col) if col else None))
    out += [Pending("delete", table.name, k, "") for k in deleted if before.get(k, "")]
    return out


# --------------------------------------------------------------------------- the session hook


def touch(s: Session, model: type[SQLModel], where, *, new: bool = False) -> None:
    """Name rows written by a Core statement (the hook sees only the ORM's own writes): their
    events are appended when the transaction commits. `new`: the statement inserted them."""
    s.info.setdefault("audit_touched", []).append((table_of(model), where, new))


def _ident(obj: SQLModel) -> tuple[Table, tuple]:
    t = table_of(type(obj))
    return t, tuple(getattr(obj, c.key) for c in t.primary_key.columns)


def _before_flush(s: Session, _flush_context, _instances) -> None:
    new_owned = [o for o in s.new if isinstance(o, OWNED) and not o.owner]  # type: ignore[attr-defined]
    if new_owned:
        who = s.info.get("audit_actor") or actor(s.connection())
        s.info["audit_actor"] = who
        for o in new_owned:
            o.owner = who
    rows: dict[Table, set] = s.info.setdefault("audit_rows", {})
    gone: dict[Table, set] = s.info.setdefault("audit_deleted", {})
    s.info.setdefault("audit_new_objs", []).extend(o for o in s.new if isinstance(o, AUDITED))
    for obj in s.dirty:
        if isinstance(obj, AUDITED) and s.is_modified(obj):
            t, ident = _ident(obj)
            rows.setdefault(t, set()).add(ident)
    for obj in s.deleted:
        if isinstance(obj, AUDITED):
            t, ident = _ident(obj)
            gone.setdefault(t, set()).add(ident)


def _after_flush_postexec(s: Session, _flush_context) -> None:
    rows: dict[Table, set] = s.info.setdefault("audit_rows", {})
    new: set[tuple[str, str]] = s.info.setdefault("audit_new", set())
    for obj in s.info.pop("audit_new_objs", ()):  # their primary keys exist only now
        t, ident = _ident(obj)
        rows.setdefault(t, set()).add(ident)
        new.add((t.name, "/".join(map(str, ident))))


def _before_commit(s: Session) -> None:
    s.flush()
    rows: dict[Table, set] = s.info.pop("audit_rows", {})
    deleted: dict[Table, set] = s.info.pop("audit_deleted", {})
    touched = s.info.pop("audit_touched", [])
    new_keys: set[tuple[str, str]] = s.info.pop("audit_new", set())
    s.info.pop("audit_new_objs", None)
    if not rows and not deleted and not touched:
        return
    conn = s.connection()
    pending: list[Pending] = []
    tables = set(rows) | set(deleted) | {t for t, _, _ in touched}
    for t in sorted(tables, key=lambda t: t.name):
        pk = list(t.primary_key.columns)
        found: list[dict[str, Any]] = []
        ids = rows.get(t, set())
        if ids:
            found += _read(conn, t, pk, sorted(ids))
        new = {k for name, k in new_keys if name == t.name}
        for tt, where, inserted in touched:
            if tt is t:
                got = list(rows_of(conn, t, where))
                found += got
                if inserted:
                    new.update(key_of(t, r) for r in got)
        unique = {key_of(t, r): r for r in found}
        gone = ["/".join(map(str, k)) for k in sorted(deleted.get(t, set()))]
        pending += seal_changes(conn, t, unique.values(), [g for g in gone if g not in unique], new)
    append(conn, pending, who=s.info.get("audit_actor"))


def _read(conn: Connection, t: Table, pk: list, ids: list[tuple]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        where = pk[0].in_([k[0] for k in chunk]) if len(pk) == 1 else tuple_(*pk).in_(chunk)
        out += rows_of(conn, t, where)
    return out


def _after_rollback(s: Session) -> None:
    for k in ("audit_rows", "audit_deleted", "audit_touched", "audit_new_objs", "audit_new"):
        s.info.pop(k, None)


def install() -> None:
    """Attach the hook to every Session (idempotent; done when qbank.store is imported)."""
    if event.contains(Session, "before_commit", _before_commit):
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush_postexec", _after_flush_postexec)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_soft_rollback", lambda s, _t: _after_rollback(s))


def seal_existing(conn: Connection, who: str) -> int:
    """Seal every record row that has no event yet, or whose hash differs from its newest event
    (a store made before the log, at its upgrade; a migration that adds a column to a record
    table): one "seal" event each. Only migrations call it: it would cover a change made behind
    qbank's back as well, so `qbank verify` should pass before an upgrade. The tables are read as
    they are in the database, not as the models say, so a later migration's columns do not break
    this one. Returns the number of events."""
    from sqlalchemy import MetaData
    from sqlalchemy import Table as SaTable

    pending: list[Pending] = []
    meta = MetaData()
    for model in AUDITED:
        name = table_of(model).name
        t = SaTable(name, meta, autoload_with=conn)
        rows = [dict(r) for r in conn.execute(select(t)).mappings()]
        for p in seal_changes(conn, t, rows):
            p.kind = "seal"
            pending.append(p)
    append(conn, pending, who=who)
    return len(pending)


class TamperedError(BankError):
    """The record was changed behind qbank's back in a way that matters to what is asked."""


def require_intact_history(conn: Connection, apprentice_id: int, ref: str = "") -> None:
    """Before a draw relies on an apprentice's history (the no-repeat rule): every draw and drawn
    question the log records for them must still be there as written, so a draw deleted or
    altered outside qbank cannot silently let a question be asked again."""
    t = table_of(AuditEventRow)
    newest: dict[tuple[str, str], tuple[int, str, str]] = {}
    for table, key, seq, kind, h in conn.execute(
        select(t.c.table_name, t.c.row_key, t.c.seq, t.c.kind, t.c.row_hash).where(
            t.c.apprentice_id == apprentice_id, t.c.table_name.in_(("draw", "draw_item"))
        )
    ):
        if (table, key) not in newest or seq > newest[(table, key)][0]:
            newest[(table, key)] = (seq, kind, h)
    if not newest:
        return
    broken = []
    for model in (DrawRow, DrawItemRow):
        tt = table_of(model)
        rows = {
            str(r["id"]): row_hash(tt.name, dict(r))
            for r in conn.execute(select(tt).where(tt.c.apprentice_id == apprentice_id)).mappings()
        }
        for (table, key), (_seq, kind, h) in sorted(newest.items()):
            if table != tt.name or kind == "delete":
                continue
            if key not in rows:
                broken.append(f"{table} {key} was deleted outside qbank")
            elif rows[key] != h:
                broken.append(f"{table} {key} was changed outside qbank")
    if broken:
        at = table_of(ApprenticeRow)
        ref = ref or conn.execute(select(at.c.ref).where(at.c.id == apprentice_id)).scalar() or ""
        who = ref or f"apprentice {apprentice_id}"
        more = f" (and {len(broken) - 3} more)" if len(broken) > 3 else ""
        raise TamperedError(
            f"{who}'s history of questions cannot be trusted: {'; '.join(broken[:3])}{more}. Nothing was drawn, "
            "so no question they were asked can be asked again; run `qbank verify` and restore the store from a backup"
        )
