"""Releases: freezing a standard's approved questions into an append-only manifest, and diffs."""

from __future__ import annotations

import json
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .bank_types import SEMVER_RE, Release, ReleaseItem, content_hash, semver_key
from .defaults import NEAR_DUPLICATE_THRESHOLD
from .problems import BankError, display_path
from .similarity import near_duplicates
from .validation import Bank

MANIFEST_FORMAT = 1


@dataclass
class ReleaseResult:
    release: Release
    path: Path
    created: bool  # False when an identical release already existed


def build_release(bank: Bank, code: str, semver: str, created: str | None = None) -> Release:
    std = bank.standards[code]
    approved = sorted((q for q in bank.questions_of(code) if q.status == "approved"), key=lambda q: q.id)
    items = [ReleaseItem(question=q, hash=q.content_hash) for q in approved]
    return Release(
        standard=code,
        semver=semver,
        definition=std.definition(),
        items=items,
        created=created or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def manifest_text(rel: Release) -> str:
    """The manifest as pretty-printed JSON: machine-written, one key per line, so git diffs read well."""
    doc = {
        "_comment": "qbank release manifest, written by `qbank release`. Never edit it: every question "
        "version below is frozen and must always match its hash.",
        "format": MANIFEST_FORMAT,
        "standard": rel.standard,
        "release": rel.semver,
        "created": rel.created,
        "questions": len(rel.items),
        "definition_hash": content_hash(rel.definition),
        "definition": rel.definition,
        # found when released, so that no import scans the texts again (pairs of ids, with the score)
        "near_duplicates": near_duplicates_of(rel),
        "items": [
            {
                "id": i.question.id,
                "version": i.question.version,
                "hash": i.hash,
                "author": i.question.author,
                **i.question.content(),
            }
            for i in rel.items
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def near_duplicates_of(rel: Release) -> dict:
    """The release's near-duplicate pairs by its own threshold, as the manifest records them."""
    threshold = release_threshold(rel)
    found = near_duplicates({i.question.id: i.question.text for i in rel.items}, threshold)
    return {"threshold": threshold, "pairs": [[d.a, d.b, d.score] for d in found]}


def declared_pairs(rel: Release, known: AbstractSet[tuple[str, str]] = frozenset()) -> list[tuple[str, str]]:
    """The (id, id) pairs, smaller id first, that the release's questions declare in `excludes`
    (either side declaring is enough), leaving out ids not in the release and pairs in `known`."""
    ids = {i.question.id for i in rel.items}
    out: set[tuple[str, str]] = set()
    for i in rel.items:
        for other in i.question.excludes:
            if other in ids and other != i.question.id:
                pair = (min(i.question.id, other), max(i.question.id, other))
                if pair not in known:
                    out.add(pair)
    return sorted(out)


def release_threshold(rel: Release) -> float:
    """The near-duplicate threshold of the standard as the release froze it."""
    return float(rel.definition.get("checks", {}).get("near_duplicate_threshold", NEAR_DUPLICATE_THRESHOLD))


def make_release(bank: Bank, code: str, semver: str) -> ReleaseResult:
    """Write banks/<std>/releases/<semver>.json. The bank must validate without errors."""
    if not SEMVER_RE.match(semver):
        raise BankError(f"'{semver}' is not a semantic version: use MAJOR.MINOR.PATCH, e.g. 1.2.0")
    if code not in bank.standards:
        known = ", ".join(sorted(bank.standards)) or "none"
        raise BankError(f"no standard {code} in {display_path(bank.root)} (standards: {known})")
    if bank.errors:
        raise BankError(f"the bank has {len(bank.errors)} problem(s); fix them before releasing", bank.errors)
    std = bank.standards[code]
    assert std.folder is not None  # a standard loaded from a bank tree has its folder
    rel = build_release(bank, code, semver)
    folder = std.folder / "releases"
    path = folder / f"{semver}.json"
    existing = bank.releases.get(code, [])
    for old in existing:
        if old.semver == semver:
            if old.manifest_hash() == rel.manifest_hash():
                return ReleaseResult(release=old, path=path, created=False)
            raise BankError(
                f"release {code} {semver} already exists with different content: releases are append-only; "
                f"release the changes as a new number, e.g. {bump_minor(existing[-1].semver)}"
            )
    if existing and semver_key(semver) <= existing[-1].key:
        raise BankError(
            f"release numbers only go up: {code} is at {existing[-1].semver}; "
            f"use a higher number, e.g. {bump_minor(existing[-1].semver)}"
        )
    if not rel.items:
        raise BankError(f"{code} has no approved questions to release")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(manifest_text(rel), encoding="utf-8")
    tmp.replace(path)
    rel.path = display_path(path)
    return ReleaseResult(release=rel, path=path, created=True)


def bump_minor(semver: str) -> str:
    a, b, _ = semver_key(semver)
    return f"{a}.{b + 1}.0"


@dataclass
class ReleaseDiff:
    standard: str
    old: str
    new: str
    added: list[tuple[str, int]]
    changed: list[tuple[str, int, int]]  # id, old version, new version
    retired: list[tuple[str, int]]
    unchanged: int

    def as_dict(self) -> dict:
        return {
            "standard": self.standard,
            "from": self.old,
            "to": self.new,
            "added": [{"id": i, "version": v} for i, v in self.added],
            "changed": [{"id": i, "from": a, "to": b} for i, a, b in self.changed],
            "retired": [{"id": i, "version": v} for i, v in self.retired],
            "unchanged": self.unchanged,
        }


def diff_versions(standard: str, old: str, new: str, a: dict[str, int], b: dict[str, int]) -> ReleaseDiff:
    """Pure diff of two releases given as {question id: version}."""
    added = sorted((i, v) for i, v in b.items() if i not in a)
    retired = sorted((i, v) for i, v in a.items() if i not in b)
    changed = sorted((i, a[i], v) for i, v in b.items() if i in a and a[i] != v)
    unchanged = sum(1 for i, v in b.items() if a.get(i) == v)
    return ReleaseDiff(standard, old, new, added, changed, retired, unchanged)
