"""Loading a bank tree and checking it whole: references, ids, versions, releases, health.

`load_bank(path)` reads every standard, question file and release manifest below `path` and
returns a `Bank` with every problem found; nothing here touches the database.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .bank_types import Method, PartialQuestion, Question, Release, ReleaseItem, Standard
from .bankfiles import read_question_file, read_release, read_standard
from .draw import Candidate, theme_counts
from .fields import suggest
from .memory import gc_paused
from .problems import Problem, display_path
from .similarity import Cluster, Known, NearDuplicate, clusters, near_duplicates, normalise, pairs_touching


@dataclass
class Bank:
    root: Path
    standards: dict[str, Standard] = field(default_factory=dict)
    questions: list[Question] = field(default_factory=list)
    releases: dict[str, list[Release]] = field(default_factory=dict)  # standard code -> sorted releases
    problems: list[Problem] = field(default_factory=list)
    files_read: int = 0
    unreadable: set[str] = field(default_factory=set)  # ids of questions whose blocks had errors
    # what could be read of those blocks: the checks across files run on it too (never drawn)
    partial: list[PartialQuestion] = field(default_factory=list)

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    def blocks(self) -> Iterator[Question | PartialQuestion]:
        """Every [[question]] block read: the questions, then what could be read of those with errors."""
        yield from self.questions
        yield from self.partial

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    def questions_of(self, code: str) -> list[Question]:
        return [q for q in self.questions if q.standard == code]

    def latest_release(self, code: str) -> Release | None:
        rs = self.releases.get(code) or []
        return rs[-1] if rs else None


def find_standard_folders(path: Path) -> list[Path]:
    """Standard folders at or below `path`; or, for a path inside one, that folder."""
    if path.is_dir():
        found = sorted({p.parent for p in path.rglob("standard.toml") if ".venv" not in p.parts})
        if found:
            return found
    for parent in [path, *path.parents]:
        if parent.is_dir() and (parent / "standard.toml").is_file():
            return [parent]
    return []


def load_bank(
    path: Path | str,
    *,
    min_per_outcome: int | None = None,
    near_duplicate_threshold: int | None = None,
    health: bool = True,
) -> Bank:
    """Read every file below `path` and check the bank whole; `health=False` skips the
    sufficiency and near-duplicate checks (commands that only need the questions)."""
    with gc_paused():  # see qbank.memory: a third of the loading time at 50,000 questions
        return _load_bank(
            Path(path),
            min_per_outcome=min_per_outcome,
            near_duplicate_threshold=near_duplicate_threshold,
            health=health,
        )


def load_releases(path: Path | str) -> Bank:
    """Only what `qbank import` loads: each standard's standard.toml and release manifests, every
    manifest checked against its hashes and the others; the question files (drafts and working
    copies, which `validate` and `release` check) are not read."""
    with gc_paused():
        return _load_bank(
            Path(path), min_per_outcome=None, near_duplicate_threshold=None, health=False, questions=False
        )


def _load_bank(
    path: Path,
    *,
    min_per_outcome: int | None,
    near_duplicate_threshold: int | None,
    health: bool,
    questions: bool = True,
) -> Bank:
    bank = Bank(root=path)
    problems = bank.problems
    if not path.exists():
        problems.append(
            Problem(
                file=display_path(path),
                message="no such file or folder",
                fix="give the path of a bank folder, e.g. banks/",
            )
        )
        return bank
    folders = find_standard_folders(path)
    if not folders:
        problems.append(
            Problem(
                file=display_path(path),
                message="no standard.toml found here or above",
                fix="each bank folder needs a standard.toml (see banks/README.md)",
            )
        )
        return bank

    folder_of: dict[str, Path] = {}
    for folder in folders:
        std = read_standard(folder / "standard.toml", problems)
        bank.files_read += 1
        if std is None:  # no code: the other files' own problems are still reported, nothing across files
            _read_files_alone(bank, folder, questions)
            continue
        if std.code in bank.standards:
            problems.append(
                Problem(
                    file=std.path,
                    line=1,
                    field="code",
                    message=f"standard code {std.code} is also used by {bank.standards[std.code].path}",
                    fix="each standard has one folder and one code",
                )
            )
            continue
        if min_per_outcome is not None:
            std.min_per_outcome = min_per_outcome
        if near_duplicate_threshold is not None:
            std.near_duplicate_threshold = near_duplicate_threshold
        bank.standards[std.code] = std
        folder_of[std.code] = folder

        _check_links(folder, problems)
        question_files, strays = _bank_files(folder) if questions else ([], [])
        for qf in question_files:
            partial: list[PartialQuestion] = []
            named, qs = read_question_file(qf, problems, bank.unreadable, partial)
            bank.files_read += 1
            shown = display_path(qf)
            if named is not None and named != std.code:
                problems.append(
                    Problem(
                        file=shown,
                        line=1,
                        field="standard",
                        message=f"file says standard = {named!r} but lies in the folder of {std.code}",
                        fix=f'set `standard = "{std.code}"` or move the file to the right bank folder',
                    )
                )
                continue
            if named is None:  # the file's `standard` has an error (reported): the folder says whose they are
                for q in qs:
                    q.standard = std.code
                for pq in partial:
                    pq.standard = std.code
            bank.questions.extend(qs)
            bank.partial.extend(partial)
        rels = []
        for rf in sorted(folder.glob("releases/*.json")):
            rel = read_release(rf, problems)
            bank.files_read += 1
            if rel is None:
                continue
            if rel.standard != std.code:
                problems.append(
                    Problem(
                        file=rel.path,
                        message=f"release of {rel.standard} lies in the folder of {std.code}",
                        fix="move it back to its own standard's releases/ folder",
                        check="release",
                    )
                )
                continue
            rels.append(rel)
        bank.releases[std.code] = sorted(rels, key=lambda r: r.key)
        if questions:
            _warn_strays(folder, strays, problems)

    check_references(bank)
    check_excludes(bank)
    check_release_order(bank)
    check_ids_and_versions(bank, files_read=questions)
    if health:
        broken = _standards_with_errors(bank, folder_of)
        for code in sorted(broken):
            std = bank.standards[code]
            bank.problems.append(
                Problem(
                    file=std.path,
                    kind="warning",
                    check="sufficiency",
                    message=f"{code}: sufficiency and near-duplicate checks skipped until the errors above are fixed",
                    fix="fix the errors in this standard's files, then validate again",
                )
            )
        check_sufficiency(bank, skip=broken)
        check_tags(bank, skip=broken)
        check_authors(bank)
        check_reviewers(bank)
        check_review_dates(bank)
        check_near_duplicates(bank, skip=broken)
    return bank


def _read_files_alone(bank: Bank, folder: Path, questions: bool) -> None:
    """Read the question files and release manifests of a folder whose standard.toml could not be
    read, for their own problems only: without the standard, nothing they name can be checked."""
    for qf in _bank_files(folder)[0] if questions else []:
        read_question_file(qf, bank.problems)
        bank.files_read += 1
    for rf in sorted(folder.glob("releases/*.json")):
        read_release(rf, bank.problems)
        bank.files_read += 1


def _bank_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """The question files below `folder`/questions (`*.toml`, sorted), and the other files there,
    which are not read (hidden ones, such as .gitkeep, left out)."""
    read: list[Path] = []
    strays: list[Path] = []
    root = folder / "questions"
    for p in root.glob("**/*"):
        if p.name.endswith(".toml"):  # (a folder named so is read as a file and reported unreadable)
            read.append(p)
        elif not _hidden(p, root) and p.is_file():
            strays.append(p)
    return sorted(read), strays


def _check_links(folder: Path, problems: list[Problem]) -> None:
    """A standard's questions/ or releases/ that is a symbolic link leading nowhere (a loop, or a
    missing target) is named: otherwise its files would silently be missing."""
    for name in ("questions", "releases"):
        p = folder / name
        if p.is_symlink() and not p.exists():
            problems.append(
                Problem(
                    file=display_path(p),
                    check="format",
                    message=f"{name}/ is a symbolic link that leads nowhere (a loop, or its target is missing)",
                    fix=f"replace the link with the real {name} folder",
                )
            )


def _hidden(path: Path, root: Path) -> bool:
    """Whether `path`, below `root`, is or lies in a hidden file or folder."""
    rel = str(path)[len(str(root)) + 1 :]
    return rel.startswith(".") or f"{os.sep}." in rel


def _warn_strays(folder: Path, strays: list[Path], problems: list[Problem]) -> None:
    """A warning naming each file in a standard's folder that looks like a bank file but is not
    read: anything in questions/ but `*.toml`, anything in releases/ but `*.json`, and TOML or JSON
    files beside standard.toml. (Not an error: the rest of the bank validates without them.)"""
    rel_root = folder / "releases"
    strays = list(strays)
    strays += [
        p
        for p in rel_root.glob("**/*")
        if not _hidden(p, rel_root) and not (p.parent == rel_root and p.name.endswith(".json")) and p.is_file()
    ]
    strays += [
        p
        for p in folder.iterdir()
        if p.name != "standard.toml" and p.suffix.lower() in (".toml", ".json") and p.is_file()
    ]
    for stray in sorted(strays):
        where = stray.relative_to(folder).parts[0] if stray.parent != folder else ""
        expected = {"questions": ".toml", "releases": ".json"}.get(where)
        if expected and stray.suffix.lower() == expected != stray.suffix:  # e.g. "x.TOML": the case is wrong
            message = f"not read: bank files end in '{expected}' (lower case), not '{stray.suffix}'"
            fix = f"rename it to {stray.stem}{expected}"
        elif where == "releases":
            message = "not read: releases/ holds only release manifests (<version>.json) written by `qbank release`"
            fix = "move it out of releases/"
        elif where == "questions":
            message = "not a bank file, so it is not read: questions/ holds only question files (*.toml)"
            fix = "move it out of the bank folder, or convert it to a question file (*.toml)"
        else:
            message = "not read: only standard.toml and the files in questions/ and releases/ are bank files"
            fix = "move question files into questions/"
        problems.append(Problem(file=display_path(stray), kind="warning", check="files", message=message, fix=fix))


def _standards_with_errors(bank: Bank, folder_of: dict[str, Path]) -> set[str]:
    """Standards whose files have errors: their health checks would only repeat those errors."""
    out = set()
    for code, folder in folder_of.items():
        shown = display_path(folder)
        if any(p.is_error and _in_folder(p.file, shown) for p in bank.problems):
            out.add(code)
    return out


def _in_folder(file: str, folder: str) -> bool:
    """Whether a problem's file (as shown) lies in a folder (as shown)."""
    if folder == ".":  # validating the folder one is in: its files are shown relative to it
        return not os.path.isabs(file) and not file.startswith("..")
    return file.startswith(os.path.join(folder, ""))  # "banks/ST0556/", not also "banks/ST0556X/"


def check_references(bank: Bank) -> None:
    """Questions name methods and outcomes of their standard. Blocks with errors are checked too
    (all is reported in one run); names the standard declares but could not read are not."""
    for q in bank.blocks():
        std = bank.standards.get(q.standard)
        if std is None:
            continue
        for m in q.methods:
            if m not in std.methods and m not in std.unreadable_methods:
                guess = suggest(m, std.methods)
                bank.problems.append(
                    Problem(
                        file=q.path,
                        line=q.field_line("methods"),
                        question=q.id,
                        field="methods",
                        check="reference",
                        message=f"unknown method '{m}' for {std.code}",
                        fix=f"did you mean '{guess}'?" if guess else f"use one of: {', '.join(std.methods)}",
                    )
                )
        for o in q.outcomes:
            if o not in std.outcomes and o not in std.unreadable_outcomes:
                guess = suggest(o, std.outcomes)
                bank.problems.append(
                    Problem(
                        file=q.path,
                        line=q.field_line("outcomes"),
                        question=q.id,
                        field="outcomes",
                        check="reference",
                        message=f"unknown outcome code '{o}' for {std.code}",
                        fix=f"did you mean '{guess}'?" if guess else f"add {o} to {std.path} [outcomes] or remove it",
                    )
                )


def check_release_order(bank: Bank) -> None:
    """Each release comes after the one before it: made later, and no question's version going
    down. An older manifest copied over a newer one (v1 brought back after v2) breaks both."""
    restore = "restore the file from git (`git log -p -- FILE` shows what it held); releases are never edited"
    for rels in bank.releases.values():
        for before, after in zip(rels, rels[1:]):
            if after.created < before.created or (after.created == before.created and _copy(after, before)):
                bank.problems.append(
                    Problem(
                        file=after.path,
                        check="release",
                        message=f"release {after.semver} is older than release {before.semver} (created "
                        f"{after.created}, before {before.created}): an older manifest copied over a newer one?",
                        fix=restore,
                    )
                )
                continue
            earlier = {i.question.id: i.question.version for i in before.items}
            for item in after.items:
                q = item.question
                was = earlier.get(q.id)
                if was is not None and q.version < was:
                    bank.problems.append(
                        Problem(
                            file=after.path,
                            line=q.line,
                            question=q.id,
                            check="release",
                            message=f"release {after.semver} has {q.id} v{q.version}, older than v{was} "
                            f"in release {before.semver}: versions never go down (an older manifest copied over?)",
                            fix=restore,
                        )
                    )


def _copy(a: Release, b: Release) -> bool:
    """Whether two releases hold the same question versions, definition and reviews (which
    `qbank release` never writes twice: the later one is a copy)."""

    def reviews(r: Release) -> list[tuple[str, str]]:
        return [(i.question.reviewer, i.question.reviewed) for i in r.items]

    return a.manifest_hash() == b.manifest_hash() and reviews(a) == reviews(b)


def check_excludes(bank: Bank) -> None:
    """A question's `excludes` name other questions of its own standard."""
    by_id: dict[str, Question | PartialQuestion] = {q.id: q for q in bank.questions}
    for pq in bank.partial:
        if pq.id is not None:
            by_id.setdefault(pq.id, pq)
    for q in bank.blocks():
        for other in q.excludes:
            target = by_id.get(other)
            if other == q.id:
                message, fix = f"{q.id} excludes itself", f"remove {other} from excludes"
            elif target is None:
                guess = suggest(other, by_id)
                message = f"excludes unknown question '{other}'"
                fix = f"did you mean '{guess}'?" if guess else "name a question id of this standard"
            elif target.standard != q.standard:
                message = f"excludes {other}, a question of {target.standard}, not of {q.standard}"
                fix = "a draw never mixes standards: remove it"
            else:
                continue
            bank.problems.append(
                Problem(
                    file=q.path,
                    line=q.field_line("excludes"),
                    question=q.id,
                    field="excludes",
                    check="reference",
                    message=message,
                    fix=fix,
                )
            )


def check_ids_and_versions(bank: Bank, files_read: bool = True) -> None:
    # released history: (id, version) -> (item, release); max released version per id
    released: dict[tuple[str, int], tuple[ReleaseItem, Release]] = {}
    max_released: dict[str, tuple[int, Release]] = {}
    owner: dict[str, str] = {}
    for code, rels in bank.releases.items():
        for rel in rels:
            for item in rel.items:
                qid, v = item.question.id, item.question.version
                if owner.setdefault(qid, code) != code:
                    bank.problems.append(
                        Problem(
                            file=rel.path,
                            question=qid,
                            check="release",
                            message=f"{qid} is released under both {owner[qid]} and {code}",
                            fix="a question id belongs to one standard",
                        )
                    )
                prev = released.get((qid, v))
                if prev and prev[0].hash != item.hash:
                    bank.problems.append(
                        Problem(
                            file=rel.path,
                            line=item.question.line,
                            question=qid,
                            check="release",
                            message=f"{qid} v{v} has different content in releases {prev[1].semver} and {rel.semver}",
                            fix="restore the release files from git; released versions never change",
                        )
                    )
                released.setdefault((qid, v), (item, rel))
                if qid not in max_released or v > max_released[qid][0]:
                    max_released[qid] = (v, rel)

    duplicates = _check_duplicate_ids(bank, released)
    for q in bank.questions:
        if duplicates and id(q) in duplicates:  # its versions are not compared: its id is not its own
            continue
        hit = released.get((q.id, q.version))
        top = max_released.get(q.id)
        if top and q.version < top[0]:
            bank.problems.append(
                Problem(
                    file=q.path,
                    line=q.field_line("version"),
                    question=q.id,
                    field="version",
                    check="version",
                    message=f"{q.id} is at version {q.version} "
                    f"but release {top[1].semver} already has version {top[0]}",
                    fix=f"versions only go up: restore v{top[0]} or set version = {top[0] + 1}",
                )
            )
        elif hit and _differs_from_release(q, hit[0]):
            bump = max(q.version, top[0] if top else 0) + 1
            bank.problems.append(
                Problem(
                    file=q.path,
                    line=q.field_line("version"),
                    question=q.id,
                    field="version",
                    check="version",
                    message=f"{q.id} v{q.version} changed since release {hit[1].semver}",
                    fix=f"bump its version to {bump} (or undo the change)",
                )
            )
        if q.id in owner and owner[q.id] != q.standard:
            bank.problems.append(
                Problem(
                    file=q.path,
                    line=q.field_line("id"),
                    question=q.id,
                    field="id",
                    check="release",
                    message=f"{q.id} was released under {owner[q.id]}, not {q.standard}",
                    fix="give this question a new id",
                )
            )

    if not files_read:  # only the manifests were read: nothing to compare the files with
        return
    present = {q.id for q in bank.questions}
    missing = [(qid, vr) for qid, vr in max_released.items() if qid not in present]  # sorted below: few
    for qid, (v, rel) in sorted(missing):
        if qid not in bank.unreadable and rel.standard in bank.standards:
            bank.problems.append(
                Problem(
                    file=bank.standards[rel.standard].path,
                    question=qid,
                    check="release",
                    message=f"{qid} v{v} (release {rel.semver}) is missing from the question files",
                    fix='never delete a released question: put it back with status = "retired"',
                )
            )


def _check_duplicate_ids(bank: Bank, released: dict[tuple[str, int], tuple[ReleaseItem, Release]]) -> set[int]:
    """An error on each question whose id an earlier one has (blocks with errors count too: their
    ids were read). Of the blocks sharing an id, the one that matches its released version, else
    the first in file order, keeps it; the `id()`s of the others are returned, so that they are
    not also compared with the release of a question they are not."""
    seen: dict[str, Question | PartialQuestion] = {}
    again: dict[str, list[Question | PartialQuestion]] = {}
    for q in bank.blocks():
        if q.id is None:
            continue
        first = seen.setdefault(q.id, q)
        if first is not q:
            again.setdefault(q.id, [first]).append(q)
    out: set[int] = set()
    for qid, blocks in again.items():
        blocks.sort(key=lambda q: (q.path, q.line or 0))
        owner = next((q for q in blocks if _is_released(q, released)), blocks[0])
        for q in blocks:
            if q is owner:
                continue
            out.add(id(q))
            bank.problems.append(
                Problem(
                    file=q.path,
                    line=q.field_line("id"),
                    question=qid,
                    field="id",
                    message=f"duplicate id {qid}: also at {owner.path}:{owner.line}",
                    fix="ids are unique across all banks: give the new question a new id (versions share an id)",
                )
            )
    return out


def _is_released(q: Question | PartialQuestion, released: dict[tuple[str, int], tuple[ReleaseItem, Release]]) -> bool:
    """Whether `q` is a question exactly as a release holds it."""
    if not isinstance(q, Question):
        return False
    hit = released.get((q.id, q.version))
    return hit is not None and not _differs_from_release(q, hit[0])


def _differs_from_release(q: Question, item: ReleaseItem) -> bool:
    """Whether `q`'s content hash differs from the hash its version was released with.

    Most questions are unchanged since release, and hashing every one of them would double the
    hashing that validation does. Content read from files holds only strings, whole numbers and
    booleans, so equal content has equal canonical JSON: the hash of the released question, which
    reading the manifest has already computed. Only a question that differs is hashed itself.
    """
    same = _same_content(q, item.question)
    return item.hash != (item.question.content_hash if same else q.content_hash)


def _same_content(a: Question, b: Question) -> bool:
    """`a.content() == b.content()`, field by field without building the two dicts (it runs for
    every released question). tests/test_validation_speed_equivalence.py checks that every field
    of a Question counts here exactly when it counts in `content()`."""
    return (
        a.text == b.text
        and a.minutes == b.minutes
        and a.opener == b.opener
        and a.guidance == b.guidance
        and a.topic == b.topic
        and a.bands == b.bands
        and (a.probes == b.probes or list(a.probes) == list(b.probes))
        and (a.methods == b.methods or sorted(a.methods) == sorted(b.methods))
        and (a.outcomes == b.outcomes or sorted(a.outcomes) == sorted(b.outcomes))
        and (a.excludes == b.excludes or sorted(a.excludes) == sorted(b.excludes))
        and a.tags_justification == b.tags_justification
    )


def check_sufficiency(bank: Bank, skip: AbstractSet[str] = frozenset()) -> None:
    for std in bank.standards.values():
        if std.code in skip:
            continue
        approved = [q for q in bank.questions_of(std.code) if q.status == "approved"]
        for m in std.methods.values():
            counts: dict[str, int] = defaultdict(int)
            for q in approved:
                if m.id in q.methods:
                    for o in q.outcomes:
                        counts[o] += 1
            if m.themes:
                _check_themes(bank, std, m, [q for q in approved if m.id in q.methods])
            for o in m.assesses:
                n = counts[o]
                if n < std.min_per_outcome:
                    more = std.min_per_outcome - n
                    bank.problems.append(
                        Problem(
                            file=std.path,
                            line=std.lines.get(f"method:{m.id}"),
                            field="assesses",
                            check="sufficiency",
                            message=f"{std.code} {m.id}: {o} has {n} approved question{'s' if n != 1 else ''} "
                            f"(needs {std.min_per_outcome})",
                            fix=f"write {more} more approved question{'s' if more != 1 else ''} "
                            f"for {o} usable in {m.id}",
                        )
                    )


def _check_themes(bank: Bank, std: Standard, m: Method, usable: list[Question]) -> None:
    """Every theme of the method can get its minimum from the approved questions, each question
    counting for one theme, with `min_questions_per_outcome` times as many as its minimum to spare
    (so that sets of the theme's questions do not repeat: the same rule as for outcomes)."""
    cands = [Candidate(q.id, q.version, 0, frozenset(q.outcomes), q.minutes) for q in usable]
    for t, n in zip(m.themes, theme_counts(cands, m.themes)):
        have = sum(1 for c in cands if c.outcomes & t.outcomes)
        need = t.min_questions * std.min_per_outcome
        if n < t.min_questions or have < need:
            bank.problems.append(
                Problem(
                    file=std.path,
                    line=std.lines.get(f"method:{m.id}"),
                    field="theme",
                    check="sufficiency",
                    message=f"{std.code} {m.id}: theme {t.name!r} has {have} approved question"
                    f"{'s' if have != 1 else ''} on its outcomes (needs {need}: {t.min_questions} per set, "
                    f"times {std.min_per_outcome})"
                    + ("" if n >= t.min_questions else "; the other themes' questions leave too few for it"),
                    fix=f"write approved questions for {', '.join(sorted(t.outcomes))} usable in {m.id}",
                )
            )


def check_tags(bank: Bank, skip: AbstractSet[str] = frozenset()) -> None:
    """Approved questions tagged with more outcomes than the standard's cap need a written
    justification: a tag is a claim that a good answer evidences the outcome, and a set whose
    coverage rests on five tags per question covers nothing in practice."""
    for std in bank.standards.values():
        if std.code in skip:
            continue
        cap = std.max_outcomes_per_question
        for q in bank.questions_of(std.code):
            if q.status != "approved" or len(q.outcomes) <= cap or q.tags_justification:
                continue
            bank.problems.append(
                Problem(
                    file=q.path,
                    line=q.field_line("outcomes"),
                    question=q.id,
                    field="outcomes",
                    check="tags",
                    message=f"{q.id} is tagged with {len(q.outcomes)} outcomes; the cap is {cap}",
                    fix="keep the outcomes a good answer really evidences, or add `tags_justification` "
                    "saying why it evidences each of them",
                )
            )


def check_authors(bank: Bank, shown: int = 5) -> None:
    """A warning, one per question file, for approved questions that name no author: in an audit or
    an appeal, and when a standardisation review follows a question up, someone must answer for its
    content (banks/README.md, "Authors"). A warning, not an error: the writer fills it in."""
    by_file: dict[str, list[Question]] = defaultdict(list)
    for q in bank.questions:
        if q.status == "approved" and not q.author.strip():
            by_file[q.path].append(q)
    for path, qs in sorted(by_file.items()):
        ids = _ids(qs, shown)
        bank.problems.append(
            Problem(
                file=path,
                line=1,
                field="author",
                kind="warning",
                check="author",
                message=f"no author on {len(qs)} approved question(s) ({ids}): the writer who wrote or last "
                "changed each question should be named",
                fix='add `author = "Full Name"` to the file\'s header, or to each question another writer wrote',
            )
        )


def same_person(a: str, b: str) -> bool:
    """Whether two names are the same as written, case and spacing aside ("jo  smith" is "Jo Smith";
    nothing is guessed: "J. Smith" is not "Jo Smith")."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def check_reviewers(bank: Bank, shown: int = 5) -> None:
    """Warnings, one per question file, for approved questions no second person reviewed: with no
    `reviewer`, or reviewed by their own author. `qbank release` refuses such a version when it is
    new (the two-person rule, banks/README.md "From draft to release"); versions released before
    stand, so this is a warning: a second person reviews them and records it."""
    unreviewed: dict[str, list[Question]] = defaultdict(list)
    own: dict[str, list[Question]] = defaultdict(list)
    for q in bank.questions:
        if q.reviewer and q.author and q.status != "retired" and same_person(q.reviewer, q.author):
            own[q.path].append(q)
        elif q.status == "approved" and not q.reviewer:
            unreviewed[q.path].append(q)
    for path, qs in sorted(unreviewed.items()):
        bank.problems.append(
            Problem(
                file=path,
                line=1,
                field="reviewer",
                kind="warning",
                check="reviewer",
                message=f"no reviewer on {len(qs)} approved question(s) ({_ids(qs, shown)}): a second person "
                "should review each question and be named",
                fix='the reviewer adds `reviewer = "Full Name"` and `reviewed = YYYY-MM-DD` to each question '
                "they reviewed; `qbank release` refuses new versions without",
            )
        )
    for path, qs in sorted(own.items()):
        bank.problems.append(
            Problem(
                file=path,
                line=qs[0].field_line("reviewer"),
                question=qs[0].id if len(qs) == 1 else None,
                field="reviewer",
                kind="warning",
                check="review",
                message=f"{len(qs)} question(s) reviewed by their own author ({_ids(qs, shown)}): a review "
                "needs a second person",
                fix="a second person reviews them and replaces `reviewer` and `reviewed`; "
                "`qbank release` refuses new versions reviewed by their author",
            )
        )


def _ids(qs: list[Question], shown: int) -> str:
    return ", ".join(q.id for q in qs[:shown]) + (f" and {len(qs) - shown} more" if len(qs) > shown else "")


def check_review_dates(bank: Bank, today: date | None = None) -> None:
    """A warning for each standard whose review is due (`review_due` has passed), or that has been
    released (is in use) and records no review date: an awarding body's bank is reviewed at least
    once a year (the Senior Leader plan: "reviewed at least once a year")."""
    today = today or date.today()
    for code, std in sorted(bank.standards.items()):
        if std.review_due:
            late = (today - date.fromisoformat(std.review_due)).days
            if late > 0:
                bank.problems.append(
                    Problem(
                        file=std.path,
                        line=std.lines.get("review_due"),
                        field="review_due",
                        kind="warning",
                        check="review",
                        message=f"{code}: the bank's review was due on {std.review_due}, {late} day(s) ago",
                        fix="review the bank (questions, guidance, coverage; reviewers record `reviewed` on the "
                        "questions), then set `review_due` to the next date, at most a year on",
                    )
                )
        elif bank.releases.get(code):
            bank.problems.append(
                Problem(
                    file=std.path,
                    line=1,
                    field="review_due",
                    kind="warning",
                    check="review",
                    message=f"{code}: no review_due: a bank in use is reviewed at least annually, and the date "
                    "of its next review is recorded",
                    fix="add `review_due = YYYY-MM-DD` to standard.toml: the date the bank must next be reviewed",
                )
            )


def _released_pairs(bank: Bank, std: Standard) -> Known | None:
    """The pairs the standard's latest release recorded (at this threshold): only questions new or
    changed since then need looking at."""
    rel = bank.latest_release(std.code)
    if rel is None or rel.near_duplicates is None or rel.near_duplicate_threshold != std.near_duplicate_threshold:
        return None
    return Known(
        texts={i.question.id: i.question.text for i in rel.items},
        pairs=[NearDuplicate(a, b, score) for a, b, score in rel.near_duplicates],
    )


NEAR_DUPLICATE_GROUPS_LISTED = 50  # groups of near-duplicates listed per standard; the rest are counted
GROUP_IDS_SHOWN = 10  # members named in one group's problem; the rest are counted


def check_near_duplicates(bank: Bank, skip: AbstractSet[str] = frozenset()) -> None:
    """One error per group of near-duplicates (questions joined by pairs at the threshold), at most
    `NEAR_DUPLICATE_GROUPS_LISTED` per standard, then one saying how many more: 2,000 copies of a
    question are one problem naming ten of them, not 1,999,000. (The pairs themselves are kept
    whole where they matter: `qbank release` writes every pair into the manifest, and the draw
    keeps each pair apart.)"""
    for std in bank.standards.values():
        if std.code in skip:
            continue
        approved = {q.id: q for q in bank.questions_of(std.code) if q.status == "approved"}
        texts = {qid: q.text for qid, q in approved.items()}
        groups = clusters(near_duplicates(texts, std.near_duplicate_threshold, known=_released_pairs(bank, std)))
        groups.sort(key=lambda c: (approved[c.members[0]].path, approved[c.members[0]].line or 0, c.members[0]))
        threshold = std.near_duplicate_threshold
        for c in groups[:NEAR_DUPLICATE_GROUPS_LISTED]:
            bank.problems.append(_near_duplicate_problem(c, approved, threshold))
        hidden = groups[NEAR_DUPLICATE_GROUPS_LISTED:]
        if hidden:
            n = sum(len(c.members) for c in hidden)
            bank.problems.append(
                Problem(
                    file=std.path,
                    check="near-duplicate",
                    message=f"{std.code}: {len(hidden):,} more group(s) of near-duplicates ({n:,} questions) are "
                    f"not listed; only the first {NEAR_DUPLICATE_GROUPS_LISTED} are",
                    fix="reword or retire the near-duplicates listed, then validate again to see the rest",
                )
            )
        _warn_similar(bank, std, approved, texts, groups)


def _near_duplicate_problem(c: Cluster, approved: dict[str, Question], threshold: int) -> Problem:
    qa = approved[c.members[0]]
    if len(c.members) == 2:
        qb = approved[c.members[1]]
        message = (
            f"{qa.id} and {qb.id} ({qb.path}:{qb.line}) are near-duplicates: similarity {c.high:g} "
            f"(threshold {threshold})"
        )
        fix = f"reword one of them, or retire {qb.id}"
    else:
        shown = ", ".join(c.members[:GROUP_IDS_SHOWN])
        more = len(c.members) - GROUP_IDS_SHOWN
        scores = f"{c.low:g}" if c.low == c.high else f"{c.low:g} to {c.high:g}"
        message = (
            f"{len(c.members):,} questions are near-duplicates of one another: {shown}"
            + (f" and {more:,} more" if more > 0 else "")
            + f" ({c.pairs:,} pairs, similarity {scores}, threshold {threshold})"
        )
        fix = "reword them so that each asks something different, or retire all but one of them"
    return Problem(
        file=qa.path,
        line=qa.field_line("text"),
        question=qa.id,
        field="text",
        check="near-duplicate",
        message=message,
        fix=fix,
    )


_STOP_WORDS = frozenset(
    "a an and are as at be been being but by can could did do does doing for from had has have how i if in "
    "into is it its me more most my of on or our out over so some such than that the their them then there "
    "these they this those through to us was we were what when where which while who whom why will with "
    "would you your yours about after again also any been before both each few just made make many much "
    "now off once only other own same should tell talk take give describe explain walk not no example "
    "time last".split()
)


def content_words(text: str) -> frozenset[str]:
    """The words of a text that carry its meaning: normalised, without common function words."""
    return frozenset(w for w in normalise(text).split() if len(w) > 2 and w not in _STOP_WORDS)


SHARED_CONTENT = 0.4  # share of the shorter text's content words two texts must have in common
SIMILAR_KEYS = 32  # signature keys of the band's scan: finds every such pair in the shipped banks
SIMILAR_UP_TO = 2_000  # new or changed questions the band's scan looks at (about a second)
SIMILAR_LISTED = 50  # similar-wording warnings listed per standard; the rest are counted


def _warn_similar(
    bank: Bank, std: Standard, approved: dict[str, Question], texts: dict[str, str], groups: Sequence[Cluster] = ()
) -> None:
    """A warning band below the duplicate threshold: pairs scoring at least `similar_warning` whose
    texts share most of their content words may ask the same thing in other words. The writer
    rewords one, or declares the pair in `excludes` so that no set holds both (declared pairs are
    not warned about again)."""
    low = std.similar_warning
    if low >= std.near_duplicate_threshold:
        return
    # only questions new or changed since the latest release are looked at (released ones were
    # looked at when written): the band is far looser than the duplicate threshold, and a scan of
    # every pair in it costs seconds per thousand questions
    rel = bank.latest_release(std.code)
    released = {i.question.id: i.question.text for i in rel.items} if rel is not None else {}
    changed = {k for k, t in texts.items() if released.get(k) != t}
    # a group of near-duplicates is looked at as one of its members (a changed one, if any): the
    # others read almost the same, and 2,000 copies of a text are not scanned twice over
    others: set[str] = set()
    for c in groups:
        keep = next((m for m in c.members if m in changed), c.members[0])
        others.update(m for m in c.members if m != keep)
    if others:
        texts = {k: t for k, t in texts.items() if k not in others}
        changed -= others
    if not changed:
        return
    if len(changed) > SIMILAR_UP_TO:
        bank.problems.append(
            Problem(
                file=std.path,
                kind="warning",
                check="similar-wording",
                message=f"{std.code}: {len(changed)} questions are new or changed since the last release; "
                f"the check for similar wording looks at {SIMILAR_UP_TO} at most and was skipped",
                fix="release in smaller steps, or review the new questions' wording by topic",
            )
        )
        return
    declared = {frozenset((q.id, x)) for q in approved.values() for x in q.excludes}
    words: dict[str, frozenset[str]] = {}
    listed = 0
    for d in pairs_touching(texts, low, changed, keys=SIMILAR_KEYS):
        if d.score >= std.near_duplicate_threshold or frozenset((d.a, d.b)) in declared:
            continue
        wa = words.get(d.a) or words.setdefault(d.a, content_words(texts[d.a]))
        wb = words.get(d.b) or words.setdefault(d.b, content_words(texts[d.b]))
        shared = wa & wb
        if not wa or not wb or len(shared) < SHARED_CONTENT * min(len(wa), len(wb)):
            continue
        listed += 1
        if listed > SIMILAR_LISTED:
            continue
        qa, qb = approved[d.a], approved[d.b]
        bank.problems.append(
            Problem(
                file=qa.path,
                line=qa.field_line("text"),
                question=qa.id,
                field="text",
                check="similar-wording",
                kind="warning",
                message=f"{qa.id} and {qb.id} ({qb.path}:{qb.line}) may ask the same thing: similarity "
                f"{d.score:g}, sharing {', '.join(sorted(shared)[:6])}",
                fix=f'reword one, or if they must never meet in one set add `excludes = ["{qb.id}"]` to {qa.id}',
            )
        )
    if listed > SIMILAR_LISTED:
        bank.problems.append(
            Problem(
                file=std.path,
                kind="warning",
                check="similar-wording",
                message=f"{std.code}: {listed - SIMILAR_LISTED:,} more pair(s) of questions that may ask the same "
                f"thing are not listed; only the first {SIMILAR_LISTED} are",
                fix="reword or declare the pairs listed, then validate again to see the rest",
            )
        )
