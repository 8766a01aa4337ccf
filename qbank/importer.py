"""Importing released banks into the store: validated first, then one transaction, all or nothing.

Only releases are imported (the store holds what assessors may be given, never drafts). Importing
the same files again changes nothing; a new release adds only the question versions it brings.
A release number already in the store with different content is refused: releases are
append-only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import tomli
from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlmodel import col

from .bank_types import Release, semver_key
from .memory import gc_paused
from .models import (
    MethodOutcomeRow,
    MethodRow,
    OutcomeRow,
    QuestionRow,
    QuestionVersionMethodRow,
    QuestionVersionOutcomeRow,
    QuestionVersionRow,
    ReleaseItemRow,
    ReleaseNearDuplicateRow,
    ReleasePoolRow,
    ReleaseRow,
    StandardRow,
    table_of,
)
from .pools import POOL_FORMAT, PoolEntry, pool_payload
from .problems import BankError, Problem
from .releases import declared_pairs, release_threshold
from .similarity import NearDuplicate, near_duplicates
from .validation import Bank, find_standard_folders


@dataclass
class ImportReport:
    new_releases: list[str] = field(default_factory=list)  # "ST0556 1.0.0"
    known_releases: list[str] = field(default_factory=list)
    new_versions: int = 0
    unreleased: list[str] = field(default_factory=list)  # standards with no release yet

    @property
    def changed(self) -> bool:
        return bool(self.new_releases)

    def as_dict(self) -> dict:
        return {
            "new_releases": self.new_releases,
            "already_imported": self.known_releases,
            "new_question_versions": self.new_versions,
            "standards_without_release": self.unreleased,
        }


def manifest_files(root: Path) -> dict[Path, list[Path]]:
    """Each standard folder at or below `root`, with its release manifests."""
    return {folder: sorted((folder / "releases").glob("*.json")) for folder in find_standard_folders(root)}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def already_imported(engine: Engine, root: Path) -> ImportReport | None:
    """The report of importing `root`, when every release manifest there is already in the store
    byte for byte (their SHA-256 recorded at import): found by hashing the manifest files and one
    query, reading no question file. None when anything may be new (a manifest the store does not
    know, or a folder this cannot read without loading the bank): then the bank must be loaded."""
    folders = manifest_files(root)
    if not folders:
        return None
    hashes = {}
    try:
        for files in folders.values():
            for f in files:
                hashes[file_sha256(f)] = f
    except OSError:
        return None
    with Session(engine) as s:
        known = {
            sha: f"{code} {semver}"
            for sha, code, semver in s.execute(
                select(col(ReleaseRow.manifest_sha256), col(StandardRow.code), col(ReleaseRow.semver))
                .join(StandardRow, col(StandardRow.id) == ReleaseRow.standard_id)
                .where(col(ReleaseRow.manifest_sha256).in_(list(hashes)))
            )
        }
    if set(hashes) - set(known):
        return None
    report = ImportReport()
    report.known_releases = sorted(known.values(), key=lambda label: (label.split()[0], semver_key(label.split()[1])))
    for folder, files in folders.items():
        if not files:  # a standard with no release yet: name it, as a full import would
            try:
                code = tomli.loads((folder / "standard.toml").read_text(encoding="utf-8")).get("code")
            except (OSError, UnicodeDecodeError, tomli.TOMLDecodeError):
                return None
            if not isinstance(code, str):
                return None
            report.unreleased.append(code)
    report.unreleased.sort()
    return report


def record_manifest_hashes(engine: Engine, bank: Bank) -> None:
    """Remember each imported release's manifest file by its SHA-256 (`already_imported`)."""
    wanted = {}
    for code, rels in bank.releases.items():
        folder = bank.standards[code].folder if code in bank.standards else None
        for rel in rels:
            path = folder / "releases" / f"{rel.semver}.json" if folder else None
            if path is not None and path.is_file():
                wanted[(code, rel.semver)] = file_sha256(path)
    if not wanted:
        return
    with Session(engine) as s, s.begin():
        for rel_row, code in s.execute(
            select(ReleaseRow, col(StandardRow.code)).join(StandardRow, col(StandardRow.id) == ReleaseRow.standard_id)
        ):
            sha = wanted.get((code, rel_row.semver))
            if sha and rel_row.manifest_sha256 != sha:
                rel_row.manifest_sha256 = sha


def import_bank(engine: Engine, bank: Bank) -> ImportReport:
    if bank.errors:
        raise BankError(f"validation found {len(bank.errors)} problem(s); nothing was imported", bank.errors)
    report = ImportReport()
    try:
        with gc_paused(), Session(engine) as s, s.begin():  # 50,000 questions' rows built and kept
            for code in sorted(bank.standards):
                rels = bank.releases.get(code) or []
                if not rels:
                    report.unreleased.append(code)
                for rel in rels:
                    try:
                        _import_release(s, rel, report)
                    except _RowsRefused as e:
                        raise _refused(rel, e) from None
    except BankError:
        raise
    except SQLAlchemyError as e:
        raise BankError(f"import failed and was rolled back, the store is unchanged: {getattr(e, 'orig', e)}") from None
    try:
        record_manifest_hashes(engine, bank)
    except (OSError, SQLAlchemyError):
        pass  # only a shortcut for the next import is lost: it will load the bank again
    return report


def _import_release(s: Session, rel: Release, report: ImportReport) -> None:
    label = f"{rel.standard} {rel.semver}"
    std = s.execute(select(StandardRow).where(col(StandardRow.code) == rel.standard)).scalars().first()
    if std is not None:
        existing = (
            s.execute(
                select(ReleaseRow).where(col(ReleaseRow.standard_id) == std.id, col(ReleaseRow.semver) == rel.semver)
            )
            .scalars()
            .first()
        )
        if existing is not None:
            if existing.manifest_hash != rel.manifest_hash():
                raise BankError(
                    f"release {label} is already in the store with different content: releases are "
                    f"append-only, so the manifest {rel.path} must not change; nothing was imported"
                )
            report.known_releases.append(label)
            return
        newest = (
            s.execute(
                select(ReleaseRow)
                .where(col(ReleaseRow.standard_id) == std.id)
                .order_by(col(ReleaseRow.major).desc(), col(ReleaseRow.minor).desc(), col(ReleaseRow.patch).desc())
            )
            .scalars()
            .first()
        )
        is_newest = newest is None or semver_key(rel.semver) > (newest.major, newest.minor, newest.patch)
    else:
        is_newest = True

    std = _upsert_definition(s, std, rel.definition, update=is_newest)
    outcome_ids = {
        r.code: r.id for r in s.execute(select(OutcomeRow).where(col(OutcomeRow.standard_id) == std.id)).scalars()
    }
    method_ids = {
        r.key: r.id for r in s.execute(select(MethodRow).where(col(MethodRow.standard_id) == std.id)).scalars()
    }

    # questions and versions
    codes = [i.question.id for i in rel.items]
    conn = s.connection()  # Core rows, read by standard: no ORM objects, no 50,000-long IN lists

    def own_questions() -> dict[str, int]:
        return dict(
            conn.execute(
                select(col(QuestionRow.code), col(QuestionRow.id)).where(col(QuestionRow.standard_id) == std.id)
            ).all()
        )

    qid_by_code = own_questions()
    missing = [c for c in codes if c not in qid_by_code]
    if missing:
        others = set(
            conn.execute(select(col(QuestionRow.code)).where(col(QuestionRow.standard_id) != std.id)).scalars()
        )
        taken = sorted(c for c in missing if c in others)
        if taken:
            raise BankError(f"{taken[0]} in release {label} already belongs to another standard in the store")
        _bulk_insert(s, table_of(QuestionRow), [{"code": c, "standard_id": std.id} for c in missing])
        qid_by_code = own_questions()

    def versions() -> dict[tuple[int, int], tuple[int, str]]:
        return {
            (qid, version): (qv_id, digest)
            for qv_id, qid, version, digest in conn.execute(
                select(
                    col(QuestionVersionRow.id),
                    col(QuestionVersionRow.question_id),
                    col(QuestionVersionRow.version),
                    col(QuestionVersionRow.content_hash),
                )
                .join(QuestionRow, col(QuestionRow.id) == QuestionVersionRow.question_id)
                .where(col(QuestionRow.standard_id) == std.id)
            )
        }

    have = versions()

    new_rows = []
    for item in rel.items:
        q = item.question
        key = (qid_by_code[q.id], q.version)
        if key in have:
            if have[key][1] != item.hash:
                raise BankError(
                    f"{q.id} v{q.version} in release {label} differs from the version already in the "
                    f"store: a released version never changes; nothing was imported"
                )
            continue
        new_rows.append(
            {
                "question_id": key[0],
                "version": q.version,
                "content_hash": item.hash,
                "text": q.text,
                "probes_json": json.dumps(list(q.probes), ensure_ascii=False),
                "guidance": q.guidance,
                "bands_json": json.dumps(q.bands, ensure_ascii=False),
                "minutes": q.minutes,
                "topic": q.topic,
                "opener": q.opener,
                "author": q.author,
                "excludes_json": json.dumps(sorted(q.excludes), ensure_ascii=False),
                "tags_justification": q.tags_justification,
            }
        )
    if new_rows:
        _bulk_insert(s, table_of(QuestionVersionRow), new_rows)
        report.new_versions += len(new_rows)
        have = versions()  # with the new versions' ids
        fresh = {(row["question_id"], row["version"]) for row in new_rows}
        outcome_links, method_links = [], []
        for item in rel.items:
            q = item.question
            key = (qid_by_code[q.id], q.version)
            if key not in fresh:
                continue
            qv_id = have[key][0]
            for o in q.outcomes:
                if o not in outcome_ids:
                    raise BankError(f"{q.id} v{q.version} in release {label} targets {o}, which its definition lacks")
                outcome_links.append({"question_version_id": qv_id, "outcome_id": outcome_ids[o]})
            for m in q.methods:
                if m not in method_ids:
                    raise BankError(
                        f"{q.id} v{q.version} in release {label} uses method {m}, which its definition lacks"
                    )
                method_links.append({"question_version_id": qv_id, "method_id": method_ids[m]})
        _bulk_insert(s, table_of(QuestionVersionOutcomeRow), outcome_links)
        _bulk_insert(s, table_of(QuestionVersionMethodRow), method_links)

    major, minor, patch = semver_key(rel.semver)
    rrow = ReleaseRow(
        standard_id=std.id,
        semver=rel.semver,
        major=major,
        minor=minor,
        patch=patch,
        created=rel.created,
        manifest_hash=rel.manifest_hash(),
        definition_json=json.dumps(rel.definition, ensure_ascii=False, sort_keys=True),
    )
    s.add(rrow)
    s.flush()
    version_of = {i.question.id: have[(qid_by_code[i.question.id], i.question.version)][0] for i in rel.items}
    items = [
        {
            "release_id": rrow.id,
            "question_version_id": version_of[i.question.id],
            "reviewer": i.question.reviewer,  # as the manifest froze them ("" in one made before reviews)
            "reviewed_on": i.question.reviewed,
        }
        for i in rel.items
    ]
    _bulk_insert(s, table_of(ReleaseItemRow), items)
    rrow.near_duplicate_threshold = threshold = release_threshold(rel)
    if rel.near_duplicates is not None and rel.near_duplicate_threshold == threshold:
        found = [NearDuplicate(min(a, b), max(a, b), score) for a, b, score in rel.near_duplicates]  # from release
    else:  # a manifest from before releases recorded their pairs: found now, once
        found = near_duplicates({i.question.id: i.question.text for i in rel.items}, threshold)
    pair_codes = [{"a": d.a, "b": d.b} for d in found]
    pairs = [
        {
            "release_id": rrow.id,
            "a_version_id": min(va, vb),
            "b_version_id": max(va, vb),
            "score": d.score,
            "kind": "text",
        }
        for d in found
        for va, vb in [(version_of[d.a], version_of[d.b])]
    ]
    # the writers' declared exclusions keep two questions out of one set just as a near-duplicate does
    for a, b in declared_pairs(rel, {(d.a, d.b) for d in found}):
        va, vb = version_of[a], version_of[b]
        pair_codes.append({"a": a, "b": b})
        pairs.append(
            {
                "release_id": rrow.id,
                "a_version_id": min(va, vb),
                "b_version_id": max(va, vb),
                "score": 100.0,
                "kind": "declared",
            }
        )
    _bulk_insert(s, table_of(ReleaseNearDuplicateRow), pairs)
    # each method's draw pool, so that a draw reads one row (pools.pool_for)
    code_pairs = [(min(p["a"], p["b"]), max(p["a"], p["b"])) for p in pair_codes]
    pools = []
    for m in rel.definition["methods"]:
        entries: list[PoolEntry] = [
            (qid_by_code[q.id], q.id, version_of[q.id], q.version, q.minutes, q.topic, q.opener, list(q.outcomes))
            for q in (i.question for i in rel.items)
            if m["id"] in q.methods
        ]
        pools.append(
            {
                "release_id": rrow.id,
                "method_id": method_ids[m["id"]],
                "format": POOL_FORMAT,
                "payload": pool_payload(entries, code_pairs),
            }
        )
    _bulk_insert(s, table_of(ReleasePoolRow), pools)
    report.new_releases.append(label)


class _RowsRefused(Exception):
    """The store refused a bulk insert: the table and the database's reason."""

    def __init__(self, table: str, reason: str, *, content: bool = True):
        super().__init__(f"{table}: {reason}")
        self.table, self.reason = table, reason
        self.content = content  # False: not the rows' fault (the connection, a lock)


def _refused(rel: Release, e: _RowsRefused) -> BankError:
    """A store's refusal of a release's rows, reported like every other import failure. `validate`
    refuses everything either store is known not to hold (qbank.limits), so this names a gap in it."""
    message = (
        f"import failed and was rolled back, the store is unchanged: release {rel.standard} {rel.semver}: "
        f"the store refused its rows for {e.table} ({e.reason})"
    )
    fix = (
        f"run `qbank validate` on the bank and fix what it reports; if it reports nothing, the store refused "
        f"something validation does not check: report it with this message (the release is {rel.path})"
        if e.content
        else "check the connection to the store and run the import again"
    )
    said = f"release {rel.semver}: the store refused its rows for {e.table} ({e.reason}); nothing was imported"
    return BankError(message, [Problem(file=rel.path, check="import", message=said, fix=fix)])


def _bulk_insert(s: Session, table, rows: list[dict]) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL (one round trip instead
    of one statement per row), the driver's executemany on SQLite. A row the store refuses raises
    `_RowsRefused` (COPY raises the driver's own errors, which SQLAlchemy never sees)."""
    if not rows:
        return
    conn = s.connection()
    cols = list(rows[0])
    if conn.dialect.name == "sqlite":  # the driver's executemany: no per-row parameter processing
        quoted = ", ".join(f'"{c}"' for c in cols)
        try:
            conn.exec_driver_sql(
                f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join("?" * len(cols))})',
                [tuple(r[c] for c in cols) for r in rows],
            )
        except (IntegrityError, DataError) as e:
            raise _RowsRefused(table.name, _first_line(e.orig or e)) from None
        except OverflowError as e:  # a whole number beyond SQLite's 64 bits, refused by the driver
            raise _RowsRefused(table.name, _first_line(e)) from None
        return
    if conn.dialect.name != "postgresql":
        s.execute(insert(table), rows)
        return
    import psycopg  # the PostgreSQL driver: present whenever the dialect is

    driver = conn.connection.driver_connection
    assert driver is not None  # a connection checked out of the pool always has its driver's connection
    cursor = driver.cursor()
    try:
        with cursor.copy(f'COPY "{table.name}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) FROM STDIN') as copy:
            for r in rows:
                copy.write_row([r[c] for c in cols])
    except (psycopg.DataError, psycopg.IntegrityError, OverflowError, ValueError) as e:  # (or cannot send)
        raise _RowsRefused(table.name, _first_line(e)) from None
    except psycopg.Error as e:
        raise _RowsRefused(table.name, _first_line(e), content=False) from None


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _upsert_definition(s: Session, std: StandardRow | None, d: dict, *, update: bool) -> StandardRow:
    checks = d.get("checks", {})
    if std is None:
        std = StandardRow(
            code=d["code"], title=d["title"], level=d["level"], version=d["version"], source=d.get("source", "")
        )
        s.add(std)
        update = True
    if update:
        std.title, std.level, std.version, std.source = d["title"], d["level"], d["version"], d.get("source", "")
        std.min_per_outcome = checks.get("min_questions_per_outcome", 3)
        std.near_duplicate_threshold = checks.get("near_duplicate_threshold", 90)
        std.grading_json = json.dumps(d.get("grading", {}), ensure_ascii=False, sort_keys=True)
    s.flush()

    outcomes = {r.code: r for r in s.execute(select(OutcomeRow).where(col(OutcomeRow.standard_id) == std.id)).scalars()}
    for pos, o in enumerate(d["outcomes"]):
        row = outcomes.get(o["code"])
        if row is None:
            row = OutcomeRow(standard_id=std.id, code=o["code"], title=o["title"], group=o["group"], position=pos)
            s.add(row)
            outcomes[o["code"]] = row
        elif update:
            row.title, row.group, row.position = o["title"], o["group"], pos
    methods = {r.key: r for r in s.execute(select(MethodRow).where(col(MethodRow.standard_id) == std.id)).scalars()}
    touched: list[tuple[MethodRow, dict]] = []
    for pos, m in enumerate(d["methods"]):
        mrow = methods.get(m["id"])
        if mrow is None:
            mrow = MethodRow(
                standard_id=std.id,
                key=m["id"],
                name=m["name"],
                kind=m["kind"],
                minutes=m["minutes"],
                min_questions=m["min_questions"],
                position=pos,
            )
            s.add(mrow)
            methods[m["id"]] = mrow
            touched.append((mrow, m))
        elif update:
            mrow.name, mrow.kind, mrow.minutes, mrow.min_questions, mrow.position = (
                m["name"],
                m["kind"],
                m["minutes"],
                m["min_questions"],
                pos,
            )
            touched.append((mrow, m))
    s.flush()
    for mrow, m in touched:
        s.execute(delete(table_of(MethodOutcomeRow)).where(col(MethodOutcomeRow.method_id) == mrow.id))
        links = [{"method_id": mrow.id, "outcome_id": outcomes[c].id} for c in m["assesses"]]
        if links:
            s.execute(insert(table_of(MethodOutcomeRow)), links)
    return std
