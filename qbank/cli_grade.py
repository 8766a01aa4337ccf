"""`qbank grade`: one standard's grading rules from the command line (the newest release in the
store, or the bank files with --path) through `qbank.grading`: a method grade from levels or
marks, or the overall grade from method grades, each with the rule that gave it and what the
next grade up lacked.
"""

from __future__ import annotations

import json
from typing import Any

from .cli import EXIT_OK, UsageError, _pairs
from .grading import (
    WILDCARD,
    GradingError,
    GradingRules,
    MethodResult,
    MethodScheme,
    Overall,
    OverallResult,
    fmt_number,
    grade_method,
    overall_results,
)
from .grading_source import rules_in_files, rules_in_store
from .problems import BankError


def cmd_grade(args: Any) -> int:
    if args.overall and (args.method or args.level or args.mark):
        raise UsageError("give either --method M with --level/--mark, or --overall M=GRADE ..., not both")
    if not args.overall and not args.method:
        raise UsageError("give --method M with --level CRITERION=LEVEL or --mark CRITERION=N, or --overall M=GRADE")
    if args.level and args.mark:
        raise UsageError("give --level (descriptor schemes) or --mark (marks and weighted schemes), not both")
    if args.path and args.release:
        raise UsageError("--release picks a release in the store; with --path the rules are the files'")
    code = args.standard.strip()
    rules, source = _rules(code, args.path, args.release)
    if not rules.methods:
        raise BankError(f"{code} has no grading rules ({source} has no [grading] methods)")
    if args.overall:
        return _grade_overall(code, source, rules, args)
    return _grade_method(code, source, rules, args)


def _rules(code: str, path: str | None, release: str | None) -> tuple[GradingRules, str]:
    """The standard's grading rules and where they were read from."""
    if path:
        return rules_in_files(path, code)
    from .store import make_engine

    return rules_in_store(make_engine(), code, release)


def _criteria_help(scheme: MethodScheme) -> str:
    if scheme.scheme == "descriptors":
        return f"criteria: {', '.join(c.id for c in scheme.criteria)}; levels: {', '.join(scheme.levels)}"
    unit = "%" if scheme.scheme == "weighted" else ""
    parts = []
    for c in scheme.criteria:
        top = f"0-{fmt_number(c.max)}" if scheme.scheme == "marks" else "0-100%"
        extra = f", min {fmt_number(c.min)}{unit}" if c.min is not None else ""
        extra += f", weight {fmt_number(c.weight)}" if c.weight is not None else ""
        parts.append(f"{c.id} ({top}{extra})")
    return "criteria: " + ", ".join(parts)


def _grade_method(code: str, source: str, rules: GradingRules, args: Any) -> int:
    scheme = rules.methods.get(args.method)
    if scheme is None:
        raise BankError(
            f"{code} has no grading rules for method '{args.method}' "
            f"(methods with grading rules: {', '.join(rules.methods)})"
        )
    by_level = scheme.scheme == "descriptors"
    flag, other = ("--level", "--mark") if by_level else ("--mark", "--level")
    if getattr(args, other.lstrip("-")):
        how = {"descriptors": "descriptor levels", "marks": "marks", "weighted": "weighted marks (percentages)"}[
            scheme.scheme
        ]
        raise BankError(
            f"method {scheme.method} is graded by {how}: give {flag} "
            f"{'CRITERION=LEVEL' if by_level else 'CRITERION=N'}, not {other} ({_criteria_help(scheme)})"
        )
    given = getattr(args, flag.lstrip("-"))
    if not given:
        raise UsageError(
            f"give {flag} {'CRITERION=LEVEL' if by_level else 'CRITERION=N'} for {scheme.method}'s criteria "
            f"({_criteria_help(scheme)})"
        )
    pairs = _pairs(given, flag, "CRITERION", number=not by_level)
    wrong: list[str] = []
    for cid, value in pairs.items():
        c = scheme.criterion(cid)
        if c is None:
            wrong.append(f"no criterion '{cid}'")
        elif by_level and value not in scheme.levels:
            wrong.append(f"{cid}: level '{value}' is not one of: {', '.join(scheme.levels)}")
        elif not by_level:
            top = c.max if scheme.scheme == "marks" else 100.0
            if value < 0 or (top is not None and value > top):
                wrong.append(f"{cid}: mark {fmt_number(value)} is outside 0-{fmt_number(top)}")
    if wrong:
        raise BankError(f"{code} {scheme.method}: " + "; ".join(wrong) + f" ({_criteria_help(scheme)})")
    try:
        result = grade_method(scheme, pairs if by_level else None, None if by_level else pairs)
    except GradingError as e:
        raise BankError(str(e)) from None
    missing = [c.id for c in scheme.criteria if c.id not in pairs]
    if args.format == "json":
        print(json.dumps(_method_dict(code, source, scheme, result, missing), indent=2))
        return EXIT_OK
    print(f"{code} {scheme.method} ({source}): {result.grade}")
    print(f"  rule: {result.rule.describe(scheme.scheme)}")
    if result.short_of:
        print(f"  short of {result.short_of}: " + "; ".join(result.lacking or result.reasons[-1:]))
    else:
        print("  the highest grade: no rule above it")
    if result.total is not None:
        unit = "%" if scheme.scheme == "weighted" else ""
        print(f"  total: {fmt_number(result.total)}{unit} of {fmt_number(result.total_max)}{unit}")
    if missing:
        none = "nothing logged" if by_level else "not marked"
        print(f"  not given: {', '.join(missing)} (counted as {none})")
    return EXIT_OK


def _method_dict(
    code: str, source: str, scheme: MethodScheme, result: MethodResult, missing: list[str]
) -> dict[str, Any]:
    return {
        "standard": code,
        "source": source,
        "method": scheme.method,
        "scheme": scheme.scheme,
        "grade": result.grade,
        "rule": result.rule.describe(scheme.scheme),
        "short_of": result.short_of,
        "lacking": list(result.lacking),
        "reasons": list(result.reasons),
        "total": result.total,
        "total_max": result.total_max,
        "complete": result.complete,
        "missing": missing,
        "criteria": [{"id": c.id, "level": c.level, "mark": c.mark, "short": c.short} for c in result.criteria],
    }


def _grade_overall(code: str, source: str, rules: GradingRules, args: Any) -> int:
    grades = _pairs(args.overall, "--overall", "METHOD", number=False)
    wrong: list[str] = []
    for m, g in grades.items():
        scheme = rules.methods.get(m)
        if scheme is None:
            wrong.append(f"no method '{m}' with grading rules (methods: {', '.join(rules.methods)})")
        elif g not in scheme.grades:
            wrong.append(f"{m}: grade '{g}' is not one of: {', '.join(scheme.grades)}")
    if wrong:
        raise BankError(f"{code}: " + "; ".join(wrong))
    tables = ", ".join(f"{o.id} ({' + '.join(o.methods)})" for o in rules.overalls) or "none"
    try:
        results = overall_results(rules, grades, grades, args.attempt)
    except GradingError as e:
        raise BankError(str(e)) from None
    if not results:
        needs = [
            f"{o.id} also needs {', '.join(m for m in o.methods if m not in grades)}"
            for o in rules.overalls
            if set(o.methods) & set(grades)
        ]
        raise BankError(
            f"{code}: no overall grade combines only the methods given"
            + (f" ({'; '.join(needs)})" if needs else f"; overall grades: {tables}")
        )
    graded = {m for r in results for o in rules.overalls if o.id == r.id for m in o.methods}
    unused = [m for m in grades if m not in graded]
    pairs = [(next(o for o in rules.overalls if o.id == r.id), r) for r in results]
    if args.format == "json":
        print(
            json.dumps(
                {
                    "standard": code,
                    "source": source,
                    "attempt": args.attempt,
                    "overall": [_overall_dict(o, r, args.attempt) for o, r in pairs],
                    "unused": unused,
                },
                indent=2,
            )
        )
        return EXIT_OK
    for o, r in pairs:
        print(f"{code} {o.id}: {o.name} ({source}, {args.attempt} attempt): {r.grade}")
        print(f"  rule: {r.explanation}")
        up = _next_up(o, r, args.attempt)
        print(f"  {up}" if up else "  the highest grade: no grade above it")
    if unused:
        print(f"  (not in an overall grade graded here: {', '.join(unused)}; overall grades: {tables})")
    return EXIT_OK


def _when(o: Overall, when: tuple[str, ...]) -> str:
    return " + ".join(f"{m} {'any' if w == WILDCARD else w}" for m, w in zip(o.methods, when))


def _next_up(o: Overall, r: OverallResult, attempt: str) -> str:
    """What the next grade up lacked: the cap that held the grade down, or the rows that give it."""
    if r.grade is None:
        return ""
    if r.capped and r.cap is not None:
        return (
            f"short of {r.table_grade}: a {attempt} is capped at {r.cap.grade} "
            f"(lifted only for {r.cap.override or 'a recorded override'})"
        )
    rank = o.rank(r.grade)
    if rank + 1 >= len(o.grades):
        return ""
    up = o.grades[rank + 1]
    rows = [_when(o, row.when) for row in o.table if row.grade == up]
    if len(rows) == 1:
        text = f"short of {up}, which needs {rows[0]}"
    else:
        text = f"short of {up}, which needs one of: " + ("; ".join(rows) if rows else "(no row gives it)")
    if r.cap is not None and o.rank(up) > o.rank(r.cap.grade):
        text += f" (and on a {attempt} is capped at {r.cap.grade})"
    return text


def _overall_dict(o: Overall, r: OverallResult, attempt: str) -> dict[str, Any]:
    return {
        "id": o.id,
        "name": o.name,
        "methods": list(o.methods),
        "grade": r.grade,
        "table_grade": r.table_grade,
        "rule": r.explanation,
        "capped": r.capped,
        "cap": r.cap.grade if r.cap else None,
        "next_up": _next_up(o, r, attempt) or None,
    }
