"""Reads the `[grading]` table of a standard file into `grading.GradingRules`, and checks it.

Checks (each a Problem with file, line, field and a one-line fix): the table's shape and types;
every criterion's outcome codes exist and belong to the method; every outcome a method must assess
is reachable by some criterion; rules run from the highest grade down and end with an unconditional
rule; rule levels and grades exist; marks and weights add up; every combination table is complete
and unambiguous (every combination of method grades has exactly one overall grade).

The same reader turns a release's frozen definition back into rules at run time (`rules_from_definition`).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

from .bank_types import Method
from .fields import Fields, LineIndex, suggest, toml_type
from .grading import (
    DEFAULT_LEVELS,
    SCHEMES,
    WILDCARD,
    Criterion,
    GradingRules,
    MethodScheme,
    Overall,
    ResitCap,
    Rule,
    TableRow,
    fmt_number,
)
from .problems import Problem

MAX_COMBINATIONS = 100_000  # a table over more combinations than this is refused, not enumerated
ATTEMPT_KINDS = ("resit", "retake")


class _Lines:
    """Line numbers for grading blocks, when the source text is at hand."""

    def __init__(self, idx: LineIndex | None):
        tops = idx.headers("grading") if idx else []
        self.top: tuple[int | None, dict[str, int]] = tops[0] if tops else (None, {})
        self.methods = idx.headers("grading.method") if idx else []
        self.criteria = idx.headers("grading.method.criterion") if idx else []
        self.overalls = idx.headers("grading.overall") if idx else []
        self._crit_pos = 0

    def method(self, i: int) -> tuple[int | None, dict[str, int]]:
        return self.methods[i] if i < len(self.methods) else (self.top[0], {})

    def next_criterion(self, fallback: int | None) -> tuple[int | None, dict[str, int]]:
        if self._crit_pos < len(self.criteria):
            self._crit_pos += 1
            return self.criteria[self._crit_pos - 1]
        return fallback, {}

    def overall(self, i: int) -> tuple[int | None, dict[str, int]]:
        return self.overalls[i] if i < len(self.overalls) else (self.top[0], {})


class _Known:
    """What the standard declares, and what the grading blocks declare as they are read."""

    def __init__(
        self,
        outcomes: Mapping[str, object],
        methods: Mapping[str, Method],
        unreadable_outcomes: AbstractSet[str],
        unreadable_methods: AbstractSet[str],
    ):
        self.outcomes = outcomes
        self.methods = methods
        self.unreadable_outcomes = unreadable_outcomes
        self.unreadable_methods = unreadable_methods
        # method id -> its grades, for every [[grading.method]] naming it (None: grades unreadable)
        self.graded: dict[str, tuple[str, ...] | None] = {}
        self.combined: set[str] = set()  # methods named by the `methods` of some [[grading.overall]]
        # a block naming an unknown method, by the method it was probably meant for (the "did you
        # mean"): the one error is reported, and the method meant is not also said to have no rules
        self.misnamed: dict[str, tuple[str, ...] | None] = {}

    def method_known(self, mid: str) -> bool:
        return mid in self.methods or mid in self.unreadable_methods


def read_grading(
    grading: Mapping,
    *,
    outcomes: Mapping[str, object],
    methods: Mapping[str, Method],
    file: str,
    problems: list[Problem],
    idx: LineIndex | None = None,
    unreadable_outcomes: AbstractSet[str] = frozenset(),
    unreadable_methods: AbstractSet[str] = frozenset(),
) -> GradingRules:
    """The grading rules in `grading`, recording every problem found; always returns what could be read.

    Each problem is reported once: outcomes and methods that the standard declares but could not
    read (`unreadable_*`, their errors reported already) are not reported as unknown here, and a
    block with errors still counts as written for the checks that only need to know it is there
    (a method's grades for the combination tables, the methods a table combines)."""
    lines = _Lines(idx)
    known = _Known(outcomes, methods, unreadable_outcomes, unreadable_methods)
    top = Fields(
        dict(grading), file=file, where="grading", lines=lines.top[1], base_line=lines.top[0], problems=problems
    )
    notes = top.string("notes", required=False, allow_empty=True) or ""
    methods_raw = top._get("method", False, "array", "[[grading.method]] tables")
    overalls_raw = top._get("overall", False, "array", "[[grading.overall]] tables")
    top.unknown()

    schemes: dict[str, MethodScheme] = {}
    if methods_raw is not None and not _is_table_list(methods_raw):
        top.add(
            "method",
            "grading: 'method' must be [[grading.method]] tables",
            "write each method's rules as a `[[grading.method]]` block",
        )
        methods_raw = []
    for i, raw in enumerate(methods_raw or []):
        mline, mkeys = lines.method(i)
        scheme = _read_method(raw, i, mline, mkeys, lines, known, file, problems)
        if scheme is None:
            continue
        if scheme.method in schemes:
            problems.append(
                Problem(
                    file=file,
                    line=mline,
                    field="method",
                    message=f"grading: method '{scheme.method}' has rules twice",
                    fix="keep one [[grading.method]] block per method",
                    check="grading",
                )
            )
            continue
        schemes[scheme.method] = scheme
    for meant, grades in known.misnamed.items():
        known.graded.setdefault(meant, grades)

    overalls: list[Overall] = []
    if overalls_raw is not None and not _is_table_list(overalls_raw):
        top.add(
            "overall",
            "grading: 'overall' must be [[grading.overall]] tables",
            "write each combination table as a `[[grading.overall]]` block",
        )
        overalls_raw = []
    for i, raw in enumerate(overalls_raw or []):
        oline, okeys = lines.overall(i)
        o = _read_overall(raw, i, oline, okeys, schemes, known, file, problems)
        if o is None:
            continue
        if any(x.id == o.id for x in overalls):
            problems.append(
                Problem(
                    file=file,
                    line=oline,
                    field="id",
                    message=f"grading: overall '{o.id}' is defined twice",
                    fix="give each [[grading.overall]] its own id",
                    check="grading",
                )
            )
            continue
        overalls.append(o)

    if grading and methods:
        for mid in methods:
            if mid not in known.graded:  # (a block with errors has had them reported)
                problems.append(
                    Problem(
                        file=file,
                        line=lines.top[0],
                        field="method",
                        kind="warning",
                        check="grading",
                        message=f"grading: method '{mid}' has no grading rules; its grade cannot be computed",
                        fix=f'add a `[[grading.method]]` block with `method = "{mid}"`',
                    )
                )
            elif mid not in known.combined:
                problems.append(
                    Problem(
                        file=file,
                        line=lines.top[0],
                        field="overall",
                        kind="warning",
                        check="grading",
                        message=f"grading: method '{mid}' is in no [[grading.overall]] table; "
                        "it gets a method grade but no overall grade",
                        fix="add it to an overall table's `methods`",
                    )
                )
    return GradingRules(methods=schemes, overalls=tuple(overalls), notes=notes)


def rules_from_definition(definition: Mapping) -> GradingRules:
    """The rules frozen in a release's definition (already validated when it was released)."""
    outcomes = {o["code"]: o for o in definition.get("outcomes", [])}
    methods = {m["id"]: Method.from_dict(m) for m in definition.get("methods", [])}
    problems: list[Problem] = []
    rules = read_grading(
        definition.get("grading") or {},
        outcomes=outcomes,
        methods=methods,
        file=f"release of {definition.get('code', '?')}",
        problems=problems,
    )
    errors = [p for p in problems if p.is_error]
    if errors:
        raise ValueError("the release's grading rules are invalid: " + errors[0].render())
    return rules


# --------------------------------------------------------------------------- one method


def _read_method(
    raw: dict,
    i: int,
    mline: int | None,
    mkeys: dict[str, int],
    lines: _Lines,
    known: _Known,
    file: str,
    problems: list[Problem],
) -> MethodScheme | None:
    before = len(problems)
    f = Fields(raw, file=file, where=f"grading.method #{i + 1}", lines=mkeys, base_line=mline, problems=problems)
    mid = f.string("method", example='"professional-discussion"')
    if mid:
        f.where = f"grading for method {mid}"
    scheme = f.string("scheme", choices=SCHEMES, example='"descriptors"')
    levels = f.string_list(
        "levels", required=scheme == "descriptors", example='["not met", "pass", "merit", "distinction"]'
    )
    grades = f.string_list("grades", example='["Fail", "Pass", "Merit", "Distinction"]')
    rules_raw = f._get("rules", True, "array", '[{ grade = "Pass", met = ["pass"] }, { grade = "Fail" }]')
    crit_raw = f._get("criterion", True, "array", "[[grading.method.criterion]] tables")
    f.unknown()

    method = None
    if mid is not None:
        method = known.methods.get(mid)
        if not known.method_known(mid):
            guess = suggest(mid, list(known.methods))
            if guess:
                known.misnamed.setdefault(guess, None if grades is None else tuple(grades))
            f.add(
                "method",
                f"grading: method '{mid}' is not a method of this standard",
                f"did you mean '{guess}'?" if guess else f"use one of: {', '.join(known.methods)}",
                check="reference",
            )
    if levels is None and scheme in ("marks", "weighted"):
        levels = list(DEFAULT_LEVELS)
    if levels is not None and len(levels) < 2:
        f.add("levels", f"{f.w}'levels' needs at least two levels, lowest first", 'e.g. `levels = ["not met", "pass"]`')
        levels = None
    if grades is not None and len(grades) < 2:
        f.add(
            "grades",
            f"{f.w}'grades' needs at least two grades, the fail grade first",
            'e.g. `grades = ["Fail", "Pass"]`',
        )
        grades = None
    if mid is not None and mid not in known.graded:  # a second block for it is reported below
        known.graded[mid] = None if grades is None else tuple(grades)

    # criteria (read even when the header failed, so their problems are all reported at once)
    criteria: list[Criterion] = []
    reached: set[str] | None = set()  # the outcomes the criteria name (None: some list unreadable)
    if crit_raw is not None and not _is_table_list(crit_raw):
        f.add(
            "criterion",
            f"{f.w}criteria must be [[grading.method.criterion]] tables",
            "write each criterion as a `[[grading.method.criterion]]` block after its method",
        )
        crit_raw = []
    if crit_raw == []:
        f.add(None, f"{f.w}has no criteria", "add `[[grading.method.criterion]]` blocks after this method")
    for j, c in enumerate(crit_raw or []):
        cline, ckeys = lines.next_criterion(mline)
        crit, outs = _read_criterion(c, j, cline, ckeys, f.where, scheme, levels, method, known, file, problems)
        if outs is None:
            reached = None
        elif reached is not None:
            reached.update(outs)
        if crit is None:
            continue
        if any(x.id == crit.id for x in criteria):
            problems.append(
                Problem(
                    file=file,
                    line=cline,
                    field="id",
                    check="grading",
                    message=f"{f.w}criterion id '{crit.id}' is used twice",
                    fix="give each criterion of a method its own id",
                )
            )
            continue
        criteria.append(crit)

    # the checks over all the criteria need them all: one with errors (reported) would skew them
    every = criteria if isinstance(crit_raw, list) and len(criteria) == len(crit_raw) else None
    rules = _read_rules(rules_raw, f, scheme, levels, grades, every) if rules_raw is not None else []

    if method is not None and crit_raw and reached is not None:
        for o in method.assesses:
            if o not in reached:
                f.add(
                    "method",
                    f"{f.w}outcome {o} is assessed by the method but no criterion evidences it",
                    f"add {o} to the `outcomes` of the criterion that judges it",
                    check="grading",
                )
    if scheme == "weighted" and every and all(c.weight is not None for c in every):
        wsum = sum(c.weight for c in every if c.weight is not None)  # all of them (checked above)
        if abs(wsum - 100) > 1e-9:
            f.add(
                "criterion",
                f"{f.w}criterion weights add up to {fmt_number(wsum)}, not 100",
                "make the `weight`s add up to 100 (per cent)",
                check="grading",
            )
    if scheme == "marks" and every and rules:
        top_marks = sum(c.max or 0 for c in every)
        for r in rules:
            if r.total is not None and r.total > top_marks:
                f.add(
                    "rules",
                    f"{f.w}rule {r.grade} needs a total of {fmt_number(r.total)} but only "
                    f"{fmt_number(top_marks)} marks are available",
                    "lower the total or raise the criteria's `max`",
                    check="grading",
                )
    if len(problems) > before and any(p.is_error for p in problems[before:]):
        return None
    if mid is None or scheme is None or levels is None or grades is None or method is None:
        return None
    return MethodScheme(
        method=mid,
        scheme=scheme,
        levels=tuple(levels),
        grades=tuple(grades),
        rules=tuple(rules),
        criteria=tuple(criteria),
    )


def _read_criterion(
    raw: dict,
    j: int,
    cline: int | None,
    ckeys: dict[str, int],
    where: str,
    scheme: str | None,
    levels: list[str] | None,
    method: Method | None,
    known: _Known,
    file: str,
    problems: list[Problem],
) -> tuple[Criterion | None, list[str] | None]:
    """The criterion, or None when it has errors; and the outcomes it names, when they could be
    read (an outcome next to a bad code is still evidenced by the criterion)."""
    before = len(problems)
    f = Fields(raw, file=file, where=f"{where}, criterion #{j + 1}", lines=ckeys, base_line=cline, problems=problems)
    cid = f.string("id", example='"PD1"')
    if cid:
        f.where = f"{where}, criterion {cid}"
    title = f.string("title", required=scheme in ("marks", "weighted"), example='"Define the project"') or ""
    theme = f.string("theme", required=False) or ""
    outs = f.string_list("outcomes", example='["K1", "S2"]')
    desc = f._get("descriptors", scheme == "descriptors", "table", '{ pass = "..." }')
    cmax = _number(f, "max", required=scheme == "marks", positive=True)
    cmin = _number(f, "min", required=False)
    weight = _number(f, "weight", required=scheme == "weighted", positive=True)
    f.unknown()
    for name, allowed in (
        ("max", ("marks",)),
        ("weight", ("weighted",)),
        ("min", ("marks", "weighted")),
        ("descriptors", ("descriptors",)),
    ):
        if name in raw and scheme and scheme not in allowed:
            f.add(
                name,
                f"{f.w}'{name}' has no meaning in a {scheme} scheme",
                f"remove `{name}` (it belongs to {' / '.join(allowed)} schemes)",
            )
    if cmin is not None:
        top = cmax if scheme == "marks" else 100.0
        if cmin < 0 or (top is not None and cmin > top):
            f.add(
                "min",
                f"{f.w}min {fmt_number(cmin)} is outside 0-{fmt_number(top)}",
                "set a minimum within the marks available",
            )
    descriptors: dict[str, str] = {}
    if desc is not None and scheme == "descriptors":
        if not isinstance(desc, dict):
            f.add(
                "descriptors",
                f"{f.w}'descriptors' must be a table, not {toml_type(desc)}",
                'write `descriptors = { pass = "..." }`',
            )
        else:
            for lv, text in desc.items():
                if levels is not None and lv not in levels[1:]:
                    guess = suggest(lv, levels[1:])
                    f.add(
                        "descriptors",
                        f"{f.w}descriptor level '{lv}' is not one of the method's levels above '{levels[0]}'",
                        f"did you mean '{guess}'?" if guess else f"use one of: {', '.join(levels[1:])}",
                        check="grading",
                    )
                elif not isinstance(text, str) or not text.strip():
                    f.add("descriptors", f"{f.w}the {lv} descriptor is empty or not text", f'write `{lv} = "..."`')
                else:
                    descriptors[lv] = " ".join(text.split())
            if not desc:
                f.add("descriptors", f"{f.w}has no descriptors", 'add at least `pass = "..."`')
    for o in outs or []:
        if o in known.unreadable_outcomes:  # its own error is reported in [outcomes]
            continue
        if o not in known.outcomes:
            guess = suggest(o, list(known.outcomes))
            f.add(
                "outcomes",
                f"{f.w}unknown outcome '{o}'",
                f"did you mean '{guess}'?" if guess else "use an outcome code from [outcomes]",
                check="reference",
            )
        elif method is not None and o not in method.assesses:
            f.add(
                "outcomes",
                f"{f.w}outcome {o} is not assessed by method {method.id}",
                f"remove {o}, or add it to the method's `assesses`",
                check="grading",
            )
    if len(problems) > before and any(p.is_error for p in problems[before:]):
        return None, outs
    if cid is None or outs is None:
        return None, outs
    criterion = Criterion(
        id=cid,
        outcomes=tuple(outs),
        title=title,
        theme=theme,
        descriptors=descriptors,
        max=cmax,
        min=cmin,
        weight=weight,
    )
    return criterion, outs


def _read_rules(
    raw,
    f: Fields,
    scheme: str | None,
    levels: list[str] | None,
    grades: list[str] | None,
    criteria: list[Criterion] | None,
) -> list[Rule]:
    """The method's rules; `criteria` are all of its criteria, or None when some could not be read
    (the checks that need them all are then left out)."""
    if not isinstance(raw, list) or not raw or not all(isinstance(r, dict) for r in raw):
        f.add(
            "rules",
            f"{f.w}'rules' must be a non-empty list of {{ grade = ..., ... }} tables",
            '`rules = [{ grade = "Pass", met = ["pass"] }, { grade = "Fail" }]`',
        )
        return []
    rules: list[Rule] = []
    for k, r in enumerate(raw):
        rf = Fields(
            r, file=f.file, where=f"{f.where}, rule #{k + 1}", lines={}, base_line=f.line("rules"), problems=f.problems
        )
        grade = rf.string("grade", example='"Pass"')
        met = rf.string_list("met", required=False) or []
        total = _number(rf, "total", required=False)
        minimums = rf.boolean("minimums")
        text = rf.string("text", required=False) or ""
        rf.unknown()
        if grades is not None and grade is not None and grade not in grades:
            guess = suggest(grade, grades)
            rf.add(
                "rules",
                f"{rf.w}grade '{grade}' is not one of the method's grades",
                f"did you mean '{guess}'?" if guess else f"use one of: {', '.join(grades)}",
                check="grading",
            )
            grade = None
        if met and scheme is not None and scheme != "descriptors":
            rf.add("rules", f"{rf.w}'met' applies to descriptor schemes only", "use `total` and `minimums` instead")
        if (total is not None or minimums) and scheme == "descriptors":
            rf.add(
                "rules",
                f"{rf.w}'total' and 'minimums' apply to marks and weighted schemes only",
                "use `met = [levels]` instead",
            )
        if total is not None and scheme == "weighted" and not 0 <= total <= 100:
            rf.add("rules", f"{rf.w}total {fmt_number(total)} is not a percentage", "use a total from 0 to 100")
        if minimums and criteria and not any(c.min is not None for c in criteria):
            rf.add(
                "rules",
                f"{rf.w}asks for every minimum but no criterion has a `min`",
                "add `min = ...` to the criteria, or drop `minimums`",
                check="grading",
            )
        for lv in met:
            if levels is not None and lv not in levels[1:]:
                guess = suggest(lv, levels[1:])
                rf.add(
                    "rules",
                    f"{rf.w}level '{lv}' is not one of the method's levels above '{levels[0]}'",
                    f"did you mean '{guess}'?" if guess else f"use one of: {', '.join(levels[1:])}",
                    check="grading",
                )
            elif criteria and not any(lv in c.descriptors for c in criteria):
                rf.add(
                    "rules",
                    f"{rf.w}asks for every {lv} descriptor but no criterion has one, so it holds trivially",
                    f"add {lv} descriptors to the criteria, or remove '{lv}' from `met`",
                    check="grading",
                )
        if grade is not None:
            rules.append(Rule(grade=grade, met=tuple(met), total=total, minimums=minimums, text=text))
    if len(rules) != len(raw) or grades is None:
        return rules
    ranks = [grades.index(r.grade) for r in rules]
    if any(b >= a for a, b in itertools.pairwise(ranks)):
        f.add(
            "rules",
            f"{f.w}rules must run from the highest grade down, each grade once "
            f"(found {' > '.join(r.grade for r in rules)})",
            "order the rules highest grade first, so that more evidence can never give a lower grade",
            check="grading",
        )
    if not rules[-1].unconditional:
        f.add(
            "rules",
            f"{f.w}the last rule must have no condition, so that every case gets a grade",
            f'end `rules` with `{{ grade = "{grades[0]}" }}`',
            check="grading",
        )
    for r in rules[:-1]:
        if r.unconditional:
            f.add(
                "rules",
                f"{f.w}rule {r.grade} has no condition, so the rules after it can never apply",
                "give it a condition, or make it the last rule",
                check="grading",
            )
    for g in grades:
        if g not in {r.grade for r in rules}:
            f.add(
                "rules",
                f"{f.w}grade '{g}' is never given by any rule",
                f"add a rule for {g}, or drop it from `grades`",
                check="grading",
                kind="warning",
            )
    return rules


# --------------------------------------------------------------------------- combination tables


def _read_overall(
    raw: dict,
    i: int,
    oline: int | None,
    okeys: dict[str, int],
    schemes: Mapping[str, MethodScheme],
    known: _Known,
    file: str,
    problems: list[Problem],
) -> Overall | None:
    before = len(problems)
    f = Fields(raw, file=file, where=f"grading.overall #{i + 1}", lines=okeys, base_line=oline, problems=problems)
    oid = f.string("id", example='"epa"')
    if oid:
        f.where = f"overall {oid}"
    name = f.string("name", example='"Overall EPA grade"')
    meths = f.string_list("methods", example='["presentation-questioning", "professional-discussion"]')
    grades = f.string_list("grades", example='["Fail", "Pass", "Distinction"]')
    table_raw = f._get("table", True, "array", '[{ when = ["Pass", "Pass"], grade = "Pass" }]')
    cap_raw = f._get(
        "resit_cap", False, "table", '{ grade = "Pass", attempts = ["resit", "retake"], override = "..." }'
    )
    f.unknown()

    known.combined.update(meths or [])
    method_grades: dict[str, tuple[str, ...]] = {}  # of the methods whose grades could be read
    for m in meths or []:
        if not known.method_known(m):
            guess = suggest(m, list(known.methods))
            if guess:
                known.combined.add(guess)  # (it is not also said to be in no table)
            f.add(
                "methods",
                f"{f.w}unknown method '{m}'",
                f"did you mean '{guess}'?" if guess else f"use one of: {', '.join(known.methods)}",
                check="reference",
            )
        elif m not in known.graded:
            f.add(
                "methods",
                f"{f.w}method '{m}' has no [[grading.method]] rules, so its grades are unknown",
                f'add a `[[grading.method]]` block with `method = "{m}"`',
                check="grading",
            )
        elif (mg := known.graded[m]) is not None:
            method_grades[m] = mg
        # else its block has errors, reported with it: the table is not checked against it
    if len(problems) > before and any(p.is_error for p in problems[before:]):
        return None
    if oid is None or name is None or meths is None or grades is None or table_raw is None:
        return None
    if any(m not in method_grades for m in meths):
        return None

    rows: list[TableRow] = []
    if not isinstance(table_raw, list) or not table_raw or not all(isinstance(r, dict) for r in table_raw):
        f.add(
            "table",
            f"{f.w}'table' must be a non-empty list of {{ when = [...], grade = ... }} tables",
            '`table = [{ when = ["Pass", "Pass"], grade = "Pass" }]`',
        )
        return None
    for k, r in enumerate(table_raw):
        rf = Fields(
            r, file=file, where=f"{f.where}, table row #{k + 1}", lines={}, base_line=f.line("table"), problems=problems
        )
        when = rf._get("when", True, "list", '["Pass", "Pass"]')
        if when is not None and not (isinstance(when, list) and when and all(isinstance(w, str) for w in when)):
            rf.add(
                "table",
                f"{rf.w}'when' must be a list of grades (or \"*\"), one per method",
                'write e.g. `when = ["Pass", "*"]`',
            )
            when = None
        grade = rf.string("grade", example='"Pass"')
        rf.unknown()
        if when is None or grade is None:
            continue
        ok = True
        if len(when) != len(meths):
            rf.add(
                "table",
                f"{rf.w}'when' has {len(when)} grades but the table combines {len(meths)} methods ({', '.join(meths)})",
                'give one grade (or "*") per method, in the order of `methods`',
                check="grading",
            )
            ok = False
        else:
            for m, w in zip(meths, when):
                if w != WILDCARD and w not in method_grades[m]:
                    rf.add(
                        "table",
                        f"{rf.w}'{w}' is not a grade of method {m}",
                        f'use one of: {", ".join(method_grades[m])} or "*"',
                        check="grading",
                    )
                    ok = False
        if grade not in grades:
            rf.add(
                "table",
                f"{rf.w}overall grade '{grade}' is not one of `grades`",
                f"use one of: {', '.join(grades)}",
                check="grading",
            )
            ok = False
        if ok:
            rows.append(TableRow(when=tuple(when), grade=grade))

    cap = None
    if cap_raw is not None:
        if not isinstance(cap_raw, dict):
            f.add(
                "resit_cap", f"{f.w}'resit_cap' must be a table", '`resit_cap = { grade = "Pass", override = "..." }`'
            )
        else:
            cf = Fields(
                cap_raw,
                file=file,
                where=f"{f.where}, resit_cap",
                lines={},
                base_line=f.line("resit_cap"),
                problems=problems,
            )
            cg = cf.string("grade", choices=tuple(grades), example='"Pass"')
            attempts = cf.string_list("attempts", required=False) or list(ATTEMPT_KINDS)
            override = cf.string("override", example='"exceptional circumstances determined by the EPAO"')
            cf.unknown()
            for a in attempts:
                if a not in ATTEMPT_KINDS:
                    cf.add(
                        "resit_cap",
                        f"{cf.w}attempt '{a}' is not one of {', '.join(ATTEMPT_KINDS)}",
                        f"use {' and/or '.join(ATTEMPT_KINDS)}",
                    )
            if cg and override:
                cap = ResitCap(grade=cg, attempts=tuple(attempts), override=override)

    if len(problems) > before and any(p.is_error for p in problems[before:]):
        return None
    overall = Overall(id=oid, name=name, methods=tuple(meths), grades=tuple(grades), table=tuple(rows), resit_cap=cap)
    _check_table(overall, method_grades, f)
    if len(problems) > before and any(p.is_error for p in problems[before:]):
        return None
    if any(m not in schemes for m in meths):  # a method's rules have errors: no overall grade from them
        return None
    return overall


def _check_table(overall: Overall, method_grades: Mapping[str, tuple[str, ...]], f: Fields) -> None:
    """Complete (every combination has a row) and unambiguous (all rows that match agree)."""
    size = 1
    for m in overall.methods:
        size *= len(method_grades[m])
    if size > MAX_COMBINATIONS:
        f.add(
            "methods",
            f"{f.w}combines {size:,} grade combinations; at most {MAX_COMBINATIONS:,} can be checked",
            "split the table, or use fewer methods per overall grade",
            check="grading",
        )
        return
    missing, conflicts = [], []
    for combo in itertools.product(*(method_grades[m] for m in overall.methods)):
        found = {r.grade for r in overall.table if r.matches(combo)}
        if not found:
            missing.append(combo)
        elif len(found) > 1:
            conflicts.append((combo, sorted(found)))
    if missing:
        shown = "; ".join(" + ".join(c) for c in missing[:4]) + (
            f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        )
        f.add(
            "table",
            f"{f.w}the table is incomplete: no overall grade for {shown}",
            f'add a row, e.g. `{{ when = {json.dumps(list(missing[0]))}, grade = "..." }}`',
            check="grading",
        )
    for combo, agreed in conflicts[:4]:
        f.add(
            "table",
            f"{f.w}the table is ambiguous: {' + '.join(combo)} gives {' and '.join(agreed)}",
            "change the rows so that exactly one grade applies to that combination",
            check="grading",
        )
    if len(conflicts) > 4:
        f.add("table", f"{f.w}{len(conflicts) - 4} more ambiguous combinations", "see the ones above", check="grading")


# --------------------------------------------------------------------------- helpers


def _is_table_list(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, dict) for x in v)


def _number(f: Fields, name: str, *, required: bool, positive: bool = False) -> float | None:
    v = f._get(name, required, "number", "10")
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        f.add(name, f"{f.w}'{name}' must be a number, not {toml_type(v)} {v!r}", f"write `{name} = 10` (no quotes)")
        return None
    if not math.isfinite(v):
        f.add(name, f"{f.w}'{name}' must be a finite number, not {v!r}", f"write a number such as `{name} = 10`")
        return None
    if positive and v <= 0:
        f.add(name, f"{f.w}'{name}' must be more than 0", f"set `{name}` above 0")
        return None
    if v < 0:
        f.add(name, f"{f.w}'{name}' must not be negative", f"set `{name}` to 0 or more")
        return None
    return float(v)
