"""`qbank verify`: is the store what qbank wrote?

Three checks, each naming every record that fails it:

1. The audit log's chain: events numbered 1, 2, 3 … with none missing, each one's hash
   recomputed from its fields and the previous event's hash.
2. The record against the log: every row of the record (`audit.AUDITED`) must hash to what its
   newest event says. A row changed outside qbank, a row deleted outside qbank (its newest event
   is not a deletion, yet the row is gone) and a row with no event at all (inserted outside qbank)
   are each reported.
3. The bank: every question version's content hash is recomputed from its text, probes,
   guidance, bands, methods, outcomes and the rest, and compared with the stored hash (which the
   release's events seal in turn); every stored draw pool (what draws choose from, derived from
   the release's rows) is rebuilt from those rows and compared with what a draw reads of it.

A checkpoint (`--checkpoint SEQ:HASH`, printed by every run) proves more: that the log still holds
that event unchanged, so a log cut back, or rebuilt from scratch by someone who could write to it,
is found too. Keep the printed checkpoint somewhere the database's users cannot write.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection
from sqlmodel import col

from . import audit
from .bank_types import content_hash
from .models import (
    ApprenticeRow,
    AuditEventRow,
    MethodRow,
    OutcomeRow,
    QuestionRow,
    QuestionVersionMethodRow,
    QuestionVersionOutcomeRow,
    QuestionVersionRow,
    table_of,
)


@dataclass
class Finding:
    check: str  # chain | changed | deleted | unlogged | content | derived | checkpoint
    record: str  # e.g. "draw 17", "event #45", "question_version 3 (Q-0001 v2)"
    problem: str


@dataclass
class Report:
    events: int = 0
    rows: int = 0
    versions: int = 0
    pools: int = 0
    head_seq: int = 0
    head_hash: str = audit.GENESIS
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def checkpoint(self) -> str:
        return f"{self.head_seq}:{self.head_hash}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "rows_checked": self.rows,
            "question_versions_checked": self.versions,
            "pools_checked": self.pools,
            "checkpoint": self.checkpoint,
            "findings": [asdict(f) for f in self.findings],
        }


@dataclass
class _Last:
    seq: int
    kind: str
    row_hash: str
    actor: str
    at: Any


def verify(engine: Engine, checkpoint: str | None = None, *, pools: bool = True) -> Report:
    """Run the checks (see the module docstring); `pools=False` leaves out rebuilding the draw
    pools (the slowest part on a small store: the test suite's check after every test)."""
    from .roles import RolesError, sees_everything

    everything, who = sees_everything(engine)
    if not everything:
        raise RolesError(
            f"run `qbank verify` as an admin, reviewer or IQA login: {who} sees only their own assessments, "
            "and every row hidden from them would look deleted"
        )
    report = Report()
    with engine.connect() as conn:
        latest = _chain(conn, report)
        if checkpoint:
            _checkpoint(conn, report, checkpoint)
        at = table_of(ApprenticeRow)
        refs: dict[int, str] = {}
        for apprentice_id, ref in conn.execute(select(at.c.id, at.c.ref)):
            refs[apprentice_id] = ref
        for model in audit.AUDITED:
            _rows(conn, table_of(model), latest, report, refs)
        _versions(conn, report)
    if pools:
        _pools(engine, report)
    return report


def parse_checkpoint(text: str) -> tuple[int, str]:
    seq, sep, h = text.partition(":")
    if not sep or not seq.isdigit() or len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        raise ValueError(f"a checkpoint is SEQ:HASH as `qbank verify` prints it (e.g. 42:{'0' * 64}), not {text!r}")
    return int(seq), h


# --------------------------------------------------------------------------- 1. the chain


def _events(conn: Connection) -> Iterator[Any]:
    t = table_of(AuditEventRow)
    result = conn.execution_options(yield_per=5000).execute(select(t).order_by(t.c.seq))
    yield from result.mappings()


def _chain(conn: Connection, report: Report) -> dict[tuple[str, str], _Last]:
    latest: dict[tuple[str, str], _Last] = {}
    prev, expected = audit.GENESIS, 1
    for e in _events(conn):
        report.events += 1
        seq = e["seq"]
        where = f"event #{seq}"
        if seq != expected:
            gap = f"#{expected}" if seq == expected + 1 else f"#{expected}–#{seq - 1}"
            report.findings.append(Finding("chain", where, f"events {gap} are missing from the audit log (deleted)"))
        elif e["prev_hash"] != prev:
            report.findings.append(
                Finding("chain", where, "does not follow the event before it (the log was edited or re-ordered)")
            )
        fields = {
            k: e[k]
            for k in ("seq", "at", "actor", "kind", "table_name", "row_key", "apprentice_id", "row_hash", "detail")
        }
        if audit.event_hash(e["prev_hash"], fields) != e["hash"]:
            report.findings.append(
                Finding(
                    "chain",
                    where,
                    f"its content no longer matches its hash ({e['kind']} of {e['table_name']} {e['row_key']}: "
                    "the event was edited)",
                )
            )
        prev, expected = e["hash"], seq + 1
        latest[(e["table_name"], e["row_key"])] = _Last(seq, e["kind"], e["row_hash"], e["actor"], e["at"])
        report.head_seq, report.head_hash = seq, e["hash"]
    return latest


def _checkpoint(conn: Connection, report: Report, checkpoint: str) -> None:
    seq, h = parse_checkpoint(checkpoint)
    t = table_of(AuditEventRow)
    stored = conn.execute(select(t.c.hash).where(t.c.seq == seq)).scalar()
    if stored is None:
        report.findings.append(
            Finding("checkpoint", f"event #{seq}", "the checkpoint's event is gone: the log was cut back or rebuilt")
        )
    elif stored != h:
        report.findings.append(
            Finding("checkpoint", f"event #{seq}", "differs from the checkpoint: the log was rebuilt")
        )


# --------------------------------------------------------------------------- 2. the record


def _label(table: str, key: str, row: dict[str, Any] | None, refs: dict[int, str]) -> str:
    label = f"{table} {key}"
    if row is not None:
        aid = row.get("id") if table == "apprentice" else row.get("apprentice_id")
        if aid in refs:
            label += f" (apprentice {refs[aid]})"
    return label


def _rows(conn: Connection, t: Any, latest: dict[tuple[str, str], _Last], report: Report, refs: dict[int, str]) -> None:
    seen: set[str] = set()
    batch: list[dict[str, Any]] = []

    def check(rows: list[dict[str, Any]]) -> None:
        hashes = audit.release_hashes(conn, rows) if t.name == "release" else {}
        for r in rows:
            key = audit.key_of(t, r)
            seen.add(key)
            report.rows += 1
            h = hashes[r["id"]] if hashes else audit.row_hash(t.name, r)
            last = latest.get((t.name, key))
            if last is None:
                report.findings.append(
                    Finding(
                        "unlogged", _label(t.name, key, r, refs), "has no event in the audit log: written outside qbank"
                    )
                )
            elif last.kind == "delete":
                report.findings.append(
                    Finding(
                        "unlogged",
                        _label(t.name, key, r, refs),
                        f"was deleted (event #{last.seq}) but is back: written outside qbank",
                    )
                )
            elif last.row_hash != h:
                report.findings.append(
                    Finding(
                        "changed",
                        _label(t.name, key, r, refs),
                        f"changed outside qbank since event #{last.seq} "
                        f"({last.kind} by {last.actor}, {audit._plain(last.at)})",
                    )
                )

    for r in conn.execution_options(yield_per=2000).execute(select(t)).mappings():
        batch.append(dict(r))
        if len(batch) >= 2000:
            check(batch)
            batch = []
    check(batch)
    for (table, key), last in latest.items():
        if table == t.name and key not in seen and last.kind != "delete":
            report.findings.append(
                Finding(
                    "deleted",
                    f"{table} {key}",
                    f"is gone: deleted outside qbank (last written by {last.actor}, {audit._plain(last.at)}, "
                    f"event #{last.seq})",
                )
            )


# --------------------------------------------------------------------------- 3. the bank


def _versions(conn: Connection, report: Report) -> None:
    methods: dict[int, list[str]] = {}
    for qv_id, key in conn.execute(
        select(col(QuestionVersionMethodRow.question_version_id), col(MethodRow.key)).join(
            MethodRow, col(MethodRow.id) == QuestionVersionMethodRow.method_id
        )
    ):
        methods.setdefault(qv_id, []).append(key)
    outcomes: dict[int, list[str]] = {}
    for qv_id, code in conn.execute(
        select(col(QuestionVersionOutcomeRow.question_version_id), col(OutcomeRow.code)).join(
            OutcomeRow, col(OutcomeRow.id) == QuestionVersionOutcomeRow.outcome_id
        )
    ):
        outcomes.setdefault(qv_id, []).append(code)
    qv = table_of(QuestionVersionRow)
    q = table_of(QuestionRow)
    query = select(qv, q.c.code).join(q, q.c.id == qv.c.question_id)
    for r in conn.execution_options(yield_per=2000).execute(query).mappings():
        report.versions += 1
        try:
            content: dict[str, Any] = {
                "text": r["text"],
                "probes": json.loads(r["probes_json"]),
                "guidance": r["guidance"],
                "bands": dict(sorted(json.loads(r["bands_json"]).items())),
                "methods": sorted(methods.get(r["id"], [])),
                "outcomes": sorted(outcomes.get(r["id"], [])),
                "minutes": r["minutes"],
                "topic": r["topic"],
                "opener": bool(r["opener"]),
            }
            excludes = json.loads(r["excludes_json"])
        except (ValueError, AttributeError) as e:
            report.findings.append(
                Finding("content", f"question_version {r['id']} ({r['code']} v{r['version']})", f"cannot be read: {e}")
            )
            continue
        if excludes:
            content["excludes"] = sorted(excludes)
        if r["tags_justification"]:
            content["tags_justification"] = r["tags_justification"]
        if content_hash(content) != r["content_hash"]:
            report.findings.append(
                Finding(
                    "content",
                    f"question_version {r['id']} ({r['code']} v{r['version']})",
                    "its content no longer matches its content hash: text, probes, guidance, bands, tags or "
                    "time changed outside qbank",
                )
            )


def _pools(engine: Engine, report: Report) -> None:
    """Each stored pool in the current layout must be what the release's rows give: a pool changed
    behind qbank's back would change what every draw chooses from."""
    from sqlalchemy.orm import Session

    from .models import ReleasePoolRow, ReleaseRow
    from .pools import POOL_FORMAT, _pool_rows, pool_payload, read_pool_payload

    def meaning(payload: str) -> tuple:
        """What a draw reads of a pool: candidates (with outcomes), question ids, and the pairs
        among them (a stored pool may also list pairs with other methods' questions: no matter)."""
        cands, qids, pairs = read_pool_payload(payload)
        codes = set(qids)
        return cands, qids, frozenset(p for p in pairs if p <= codes)

    with Session(engine) as s:
        stored = s.execute(
            select(
                col(ReleasePoolRow.release_id),
                col(ReleasePoolRow.method_id),
                col(ReleasePoolRow.payload),
                col(ReleaseRow.standard_id),
            )
            .join(ReleaseRow, col(ReleaseRow.id) == ReleasePoolRow.release_id)
            .where(col(ReleasePoolRow.format) == POOL_FORMAT)
        ).all()
        for release_id, method_id, payload, standard_id in stored:
            report.pools += 1
            if meaning(pool_payload(*_pool_rows(s, standard_id, release_id, method_id))) != meaning(payload):
                report.findings.append(
                    Finding(
                        "derived",
                        f"release_pool {release_id}/{method_id}",
                        "differs from what the release's rows give: the draw pool was changed outside qbank "
                        "(delete the row: the next draw rebuilds it)",
                    )
                )
