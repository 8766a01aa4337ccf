"""Releases: freezing a standard's approved questions into an append-only manifest, and diffs."""

from __future__ import annotations

import difflib
import json
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .bank_types import SEMVER_RE, Question, Release, ReleaseItem, content_hash, semver_key
from .bankfiles import manifest_digest
from .defaults import NEAR_DUPLICATE_THRESHOLD
from .problems import BankError, Problem, display_path
from .similarity import near_duplicates
from .validation import Bank, same_person

MANIFEST_FORMAT = 1


@dataclass
class ReleaseResult:
    release: Release
    path: Path
    created: bool  # False when an identical release already existed
    # what `qbank release` should say besides (the two-person rule off, and why)
    notices: list[str] = field(default_factory=list)


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
                "reviewer": i.question.reviewer,
                "reviewed": i.question.reviewed,
                **i.question.content(),
            }
            for i in rel.items
        ],
    }
    # the hash of everything the item hashes and the definition hash do not cover (created, authors,
    # reviews, ...): an edit of any of it is detected (`bankfiles.read_release`)
    keys = list(doc.items())  # (placed after definition_hash)
    doc = {**dict(keys[:7]), "manifest_hash": manifest_digest(doc), **dict(keys[7:])}
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
    from .limits import semver_problem

    if too_large := semver_problem(semver):
        raise BankError(f"{too_large}; nothing was written")
    if code not in bank.standards and bank.errors:  # (perhaps its standard.toml could not be read)
        raise BankError(f"the bank has {len(bank.errors)} problem(s); fix them before releasing", bank.errors)
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
            if _same(old, rel):
                return ReleaseResult(release=old, path=path, created=False)
            raise BankError(
                f"release {code} {semver} already exists with different content: releases are append-only; "
                f"release the changes as a new number, e.g. {bump_minor(existing[-1].semver)}"
            )
    if existing and _same(rel, existing[-1]):
        raise BankError(
            f"{code} {semver} would be identical to release {existing[-1].semver}: nothing changed "
            "(the same question versions, reviews and standard definition); approve, change or retire "
            "questions, record reviews, or change standard.toml, before releasing again"
        )
    if existing and semver_key(semver) <= existing[-1].key:
        raise BankError(
            f"release numbers only go up: {code} is at {existing[-1].semver}; "
            f"use a higher number, e.g. {bump_minor(existing[-1].semver)}"
        )
    if not rel.items:
        raise BankError(f"{code} has no approved questions to release")
    notices = []
    if not std.review_due:
        notices.append(
            f"{code} has no review_due: add `review_due = YYYY-MM-DD` to standard.toml, the date the bank must "
            "next be reviewed (at least annually); `qbank validate` warns until it is there"
        )
    if std.two_person:
        check_two_person_rule(rel, existing)
    else:
        notices.append(f"{code}: released without the two-person rule: {std.two_person_rule_reason}")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(manifest_text(rel), encoding="utf-8")
    tmp.replace(path)
    rel.path = display_path(path)
    return ReleaseResult(release=rel, path=path, created=True, notices=notices)


def reviews_of(rel: Release) -> dict[tuple[str, int], tuple[str, str]]:
    """Who reviewed each question version of a release, and when (empty when not recorded)."""
    return {(i.question.id, i.question.version): (i.question.reviewer, i.question.reviewed) for i in rel.items}


def _same(a: Release, b: Release) -> bool:
    """Whether two releases hold the same definition, question versions and reviews: a release that
    only records reviews done since the last one is a release (the store learns of the reviews)."""
    return a.manifest_hash() == b.manifest_hash() and reviews_of(a) == reviews_of(b)


def check_two_person_rule(rel: Release, earlier: list[Release]) -> None:
    """The two-person rule: every question version new in `rel` (in none of the standard's `earlier`
    releases) names a reviewer who is not its author, in a review dated no earlier than the release
    that froze the question's previous version (a review left over from that version is not one of
    this). Versions released before stand: they were released before the rule, or under it.
    BankError listing each version that breaks it."""
    released = {(i.question.id, i.question.version) for r in earlier for i in r.items}
    last_seen: dict[str, tuple[Release, int]] = {}  # id -> the latest earlier release holding it, its version
    for r in earlier:
        for i in r.items:
            last_seen[i.question.id] = (r, i.question.version)
    problems = []
    for item in rel.items:
        q = item.question
        if (q.id, q.version) in released:
            continue
        before = last_seen.get(q.id)
        if not q.reviewer:
            why = "has no reviewer"
        elif q.author and same_person(q.reviewer, q.author):
            why = f"is reviewed only by its author, {q.author}"
        elif before is not None and q.reviewed < before[0].created[:10]:
            # the review predates the release that froze the earlier version: it is that version's
            why = (
                f"carries a review dated {q.reviewed}, before release {before[0].semver} froze v{before[1]}: "
                "the changed version needs a new review"
            )
        else:
            continue
        problems.append(
            Problem(
                file=q.path,
                line=q.field_line("reviewer"),
                question=q.id,
                field="reviewer",
                check="review",
                message=f"{q.id} v{q.version} {why}: the two-person rule needs a second person's review",
                fix='a second person reviews it and sets `reviewer = "Full Name"` and `reviewed = YYYY-MM-DD`; '
                'or keep it out of the release (status = "draft") until then',
            )
        )
    if problems:
        raise BankError(
            f"{rel.standard} {rel.semver}: {len(problems)} new question version(s) were not reviewed by a second "
            "person (the two-person rule); nothing was released. A standard may set the rule off in "
            'standard.toml with `two_person_rule = false` and `two_person_rule_reason = "..."`',
            problems,
        )


def bump_minor(semver: str) -> str:
    a, b, _ = semver_key(semver)
    return f"{a}.{b + 1}.0"


@dataclass(frozen=True)
class FieldChange:
    """One field of a question that differs between two versions: `old` and `new` as the question's
    content holds them (text, a list, a {band: text} table, a number or a flag)."""

    name: str
    old: Any
    new: Any

    @property
    def kind(self) -> str:
        if self.name in SET_FIELDS:
            return "set"
        if self.name == "probes":
            return "list"
        if self.name == "bands":
            return "table"
        return "text" if self.name in TEXT_FIELDS else "value"

    def lines(self) -> list[str]:
        """The change as a writer reads it, compactly: one line, or one per probe or band."""
        name, old, new = self.name, self.old, self.new
        if self.kind == "set":
            gone, came = _minus(old, new), _minus(new, old)
            return [f"{name}: " + " ".join([*(f"+{x}" for x in came), *(f"-{x}" for x in gone)])]
        if self.kind == "list":  # each probe on its own line, indented under the field's name
            gone, came = _minus(old, new), _minus(new, old)
            if not gone and not came:
                return [f"{name}: reordered"]
            return [f"{name}:", *(f"  - {x}" for x in gone), *(f"  + {x}" for x in came)]
        if self.kind == "table":
            out = []
            for band in sorted(set(old) | set(new)):
                a, b = old.get(band), new.get(band)
                if a == b:
                    continue
                what = f"+ {b}" if a is None else f"- {a}" if b is None else word_diff(a, b)
                out.append(f"{name}.{band}: {what}")
            return out
        if self.kind == "text":
            return [f"{name}: {word_diff(old, new)}"]
        return [f"{name}: {_show(old)} -> {_show(new)}"]

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"field": self.name, "from": self.old, "to": self.new}
        if self.kind in ("set", "list"):
            d["added"], d["removed"] = _minus(self.new, self.old), _minus(self.old, self.new)
        elif self.kind == "text":
            d["words"] = word_diff(self.old, self.new)
        elif self.kind == "table":
            d["changed"] = sorted(k for k in set(self.old) | set(self.new) if self.old.get(k) != self.new.get(k))
        return d


# the fields of a question version a diff compares, in the order it lists them
DIFF_FIELDS = (
    "status",
    "text",
    "probes",
    "outcomes",
    "methods",
    "minutes",
    "topic",
    "opener",
    "excludes",
    "guidance",
    "bands",
    "tags_justification",
)
SET_FIELDS = frozenset({"outcomes", "methods", "excludes"})
TEXT_FIELDS = frozenset({"text", "guidance", "tags_justification"})
EMPTY: dict[str, Any] = {"probes": [], "bands": {}, "excludes": [], "tags_justification": "", "guidance": ""}


def _minus(a: list, b: list) -> list:
    keep = set(b)
    return [x for x in a if x not in keep]


def _show(v: Any) -> str:
    return "yes" if v is True else "no" if v is False else f"'{v}'" if isinstance(v, str) else str(v)


def word_diff(old: str, new: str, context: int = 4) -> str:
    """`old` to `new` word by word: [-removed-] {+added+}, long unchanged runs shortened to their
    ends ("…"); "(layout only: the same words)" when only the spacing or line breaks differ."""
    a, b = old.split(), new.split()
    if a == b:
        return "(layout only: the same words)"
    out: list[str] = []
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    for n, (op, i1, i2, j1, j2) in enumerate(ops):
        if op == "equal":
            words = a[i1:i2]
            head = words[:context] if n else []  # after a change: its right context
            tail = words[-context:] if n < len(ops) - 1 else []  # before a change: its left context
            if len(words) > len(head) + len(tail):
                out.append(" ".join([*head, "…", *tail]).strip())
            else:
                out.append(" ".join(words))
            continue
        if i2 > i1:
            out.append("[-" + " ".join(a[i1:i2]) + "-]")
        if j2 > j1:
            out.append("{+" + " ".join(b[j1:j2]) + "+}")
    return " ".join(x for x in out if x)


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """What differs between two versions of a question, given as their content (`Question.content()`
    or the store's version dict), field by field; fields one side lacks count as empty."""
    out = []
    for name in DIFF_FIELDS:
        if name not in old and name not in new:
            continue
        a, b = old.get(name, EMPTY.get(name)), new.get(name, EMPTY.get(name))
        if name in SET_FIELDS:
            a, b = sorted(a or []), sorted(b or [])
        elif name == "probes":
            a, b = list(a or []), list(b or [])
        elif name == "bands":
            a, b = dict(a or {}), dict(b or {})
        if a != b:
            out.append(FieldChange(name, a, b))
    return out


def version_content(q: Question) -> dict[str, Any]:
    """A question version as a diff compares it: its content and its status."""
    return {**q.content(), "status": q.status}


@dataclass
class ReleaseDiff:
    standard: str
    old: str
    new: str
    added: list[tuple[str, int]]
    changed: list[tuple[str, int, int]]  # id, old version, new version
    retired: list[tuple[str, int]]
    unchanged: int
    # what changed in each changed question, field by field (filled by `diff_releases`, or by the
    # caller from the store's versions)
    changes: dict[str, list[FieldChange]] = field(default_factory=dict)
    # top-level parts of the standard's definition that differ (methods, outcomes, grading...);
    # None when the definitions were not compared
    definition: list[str] | None = None

    def as_dict(self) -> dict:
        return {
            "standard": self.standard,
            "from": self.old,
            "to": self.new,
            "added": [{"id": i, "version": v} for i, v in self.added],
            "changed": [
                {"id": i, "from": a, "to": b, "fields": [c.as_dict() for c in self.changes.get(i, [])]}
                for i, a, b in self.changed
            ],
            "retired": [{"id": i, "version": v} for i, v in self.retired],
            "unchanged": self.unchanged,
            "definition_changed": self.definition,
        }


def diff_versions(standard: str, old: str, new: str, a: dict[str, int], b: dict[str, int]) -> ReleaseDiff:
    """Pure diff of two releases given as {question id: version}."""
    added = sorted((i, v) for i, v in b.items() if i not in a)
    retired = sorted((i, v) for i, v in a.items() if i not in b)
    changed = sorted((i, a[i], v) for i, v in b.items() if i in a and a[i] != v)
    unchanged = sum(1 for i, v in b.items() if a.get(i) == v)
    return ReleaseDiff(standard, old, new, added, changed, retired, unchanged)


def diff_releases(a: Release, b: Release) -> ReleaseDiff:
    """Two releases of bank files (manifests, or `build_release` of the working files: the draft)
    compared: questions added, changed (field by field) and retired, and the definition's parts
    that changed."""
    qa = {i.question.id: i.question for i in a.items}
    qb = {i.question.id: i.question for i in b.items}
    d = diff_versions(
        a.standard, a.semver, b.semver, {k: q.version for k, q in qa.items()}, {k: q.version for k, q in qb.items()}
    )
    for qid, _, _ in d.changed:
        d.changes[qid] = field_changes(version_content(qa[qid]), version_content(qb[qid]))
    keys = sorted(set(a.definition) | set(b.definition))
    d.definition = [k for k in keys if a.definition.get(k) != b.definition.get(k)]
    return d
