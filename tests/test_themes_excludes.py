"""Issue 13, items 3-5: theme minimums in the draw, the swap and validate; declared exclusions;
the cap on outcome tags; the warning band for texts that share their content words."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from conftest import STANDARD, question_block, write_bank
from hypothesis import given, settings
from hypothesis import strategies as st

from qbank.definition import Method as DefMethod
from qbank.definition import ReleaseDefinition, Theme
from qbank.draw import (
    Candidate,
    DrawSpec,
    Infeasible,
    Usage,
    check_feasible,
    select,
    swap_options,
    theme_counts,
    themes_met,
)
from qbank.pools import spec_from_bank
from qbank.simulate import SimConfig, simulate
from qbank.validation import load_bank

SBP = "sbp-presentation-questioning"


def cand(code: str, *outcomes: str, minutes: int = 5) -> Candidate:
    return Candidate(code=code, version=1, qv_id=0, outcomes=frozenset(outcomes), minutes=minutes)


def themed(required, themes, minutes=60, min_questions=1) -> DefMethod:
    return DefMethod(
        id="m",
        name="m",
        kind="",
        minutes=minutes,
        min_questions=min_questions,
        assesses=tuple(sorted(required)),
        themes=tuple(Theme(n, frozenset(o), k) for n, o, k in themes),
    )


# --------------------------------------------------------------------------- the rule itself


def test_a_question_counts_for_one_theme_only():
    themes = (Theme("A", frozenset({"K1"}), 1), Theme("B", frozenset({"K2"}), 1))
    both = cand("Q1", "K1", "K2")
    assert theme_counts([both], themes) == [1, 0] or theme_counts([both], themes) == [0, 1]
    assert not themes_met([both], themes)
    assert themes_met([both, cand("Q2", "K2")], themes)
    # the matching moves Q1 to the theme only it can serve: order does not matter
    assert themes_met([cand("Q2", "K1"), both], themes)


def test_two_per_theme_needs_six_distinct_questions():
    themes = tuple(Theme(n, frozenset({n}), 2) for n in ("A", "B", "C"))
    qs = [cand(f"Q{i}", "A", "B", "C") for i in range(5)]
    assert not themes_met(qs, themes)
    assert themes_met([*qs, cand("Q9", "A")], themes)


def test_no_themes_always_met():
    assert themes_met([], ())


# --------------------------------------------------------------------------- the draw


@st.composite
def themed_specs(draw):
    outcomes = ["K1", "K2", "K3", "K4", "K5", "K6"]
    themes = (("T1", {"K1", "K2"}, draw(st.integers(1, 2))), ("T2", {"K3", "K4"}, draw(st.integers(1, 2))))
    themes = themes + ((("T3", {"K5", "K6"}, draw(st.integers(1, 2))),) if draw(st.booleans()) else ())
    n = draw(st.integers(2, 14))
    pool = tuple(
        cand(
            f"Q{i:02d}",
            *draw(st.sets(st.sampled_from(outcomes), min_size=1, max_size=3)),
            minutes=draw(st.integers(2, 8)),
        )
        for i in range(n)
    )
    codes = [c.code for c in pool]
    pairs = list(itertools.combinations(codes, 2))
    dups = frozenset(frozenset(p) for p in draw(st.lists(st.sampled_from(pairs), max_size=3)))
    method = themed(outcomes, themes, minutes=draw(st.integers(20, 60)), min_questions=draw(st.integers(1, 4)))
    return DrawSpec(method=method, pool=pool, near_duplicates=dups)


def _brute_force_exists(spec: DrawSpec) -> bool:
    m = spec.method
    pool = [c for c in spec.pool if c.minutes <= spec.budget]
    for r in range(m.least_questions, len(pool) + 1):
        for combo in itertools.combinations(pool, r):
            if sum(c.minutes for c in combo) > spec.budget:
                continue
            if any(frozenset((a.code, b.code)) in spec.near_duplicates for a, b in itertools.combinations(combo, 2)):
                continue
            if m.required <= set().union(*(c.outcomes for c in combo)) and themes_met(list(combo), m.themes):
                return True
    return False


@settings(max_examples=150, deadline=None)
@given(themed_specs(), st.integers(0, 10**6))
def test_every_set_meets_its_themes_or_the_draw_says_why(spec, seed):
    try:
        chosen = select(spec, Usage(), str(seed))
    except Infeasible as e:
        assert e.reasons
        assert not _brute_force_exists(spec), f"a set exists but the draw said: {e.reasons}"
        return
    assert themes_met(chosen, spec.method.themes)
    assert spec.method.required <= set().union(*(c.outcomes for c in chosen))
    assert sum(c.minutes for c in chosen) <= spec.budget
    assert len(chosen) >= spec.method.least_questions
    codes = [c.code for c in chosen]
    assert not any(frozenset(p) in spec.near_duplicates for p in itertools.combinations(codes, 2))


def test_feasibility_names_the_starved_theme():
    method = themed({"K1", "K2"}, [("Finance", {"K2"}, 2)])
    spec = DrawSpec(method=method, pool=(cand("Q1", "K1"), cand("Q2", "K1", "K2"), cand("Q3", "K1")))
    with pytest.raises(Infeasible) as e:
        check_feasible(spec)
    assert any("theme 'Finance'" in r and "needs 2" in r for r in e.value.reasons)


def test_the_swap_keeps_every_theme_at_its_minimum():
    method = themed({"K1", "K2"}, [("A", {"K1"}, 1), ("B", {"K2"}, 1)])
    pool = (cand("A1", "K1"), cand("B1", "K2"), cand("A2", "K1"), cand("B2", "K2"), cand("AB", "K1", "K2"))
    spec = DrawSpec(method=method, pool=pool)
    current = [pool[0], pool[1]]
    # swapping out the only "B" question may bring in B2 or AB, never A2
    assert {c.code for c in swap_options(spec, current, pool[1])} == {"B2", "AB"}


@pytest.fixture(scope="module")
def shipped():
    return load_bank("banks")


def test_st0480_method_1_declares_three_themes_of_two(shipped):
    m = shipped.standards["ST0480"].methods[SBP]
    assert [t.min_questions for t in m.themes] == [2, 2, 2]
    assert m.least_questions == 6
    # the themes partition the method's outcomes
    assert sorted(o for t in m.themes for o in t.outcomes) == sorted(m.assesses)


def test_st0480_method_1_never_short_of_a_theme_over_10000_draws(shipped):
    """Acceptance: no set of method 1 with fewer than 2 questions on any theme, over 10,000
    simulated draws (a population with resits and retakes, exposure feedback on)."""
    spec = spec_from_bank(shipped, "ST0480", SBP)
    ours, _ = simulate(spec, SimConfig(draws=10_000, seed=13))
    assert ours.sets + ours.failures == 10_000
    assert ours.sets >= 9_900  # the few failures are resits left with no fitting set: said, never broken
    assert ours.short_of_theme == 0
    assert ours.coverage == 1.0 and ours.repeats == 0 and ours.conflicting == 0


def test_swaps_in_shipped_sets_keep_the_themes(shipped):
    spec = spec_from_bank(shipped, "ST0480", SBP)
    rng = random.Random(5)
    for n in range(40):
        chosen = select(spec, Usage(), f"swap-{n}")
        out = rng.choice(chosen)
        for c in swap_options(spec, chosen, out):
            assert themes_met([x for x in chosen if x is not out] + [c], spec.method.themes)


def test_themes_round_trip_in_the_release_definition(shipped):
    d = shipped.standards["ST0480"].definition()
    rd = ReleaseDefinition.from_dict(json.loads(json.dumps(d)))
    assert rd.method(SBP).themes == shipped.standards["ST0480"].methods[SBP].themes
    assert json.loads(rd.to_json()) == json.loads(json.dumps(d, sort_keys=True))
    # a method without themes writes no key: definitions released before themes read back the same
    assert "themes" not in rd.method("professional-discussion").as_dict()


# --------------------------------------------------------------------------- validate: themes

THEMED = STANDARD.replace(
    'assesses = ["K1", "S1"]\n',
    'assesses = ["K1", "S1"]\n\n[[method.theme]]\nname = "Strategy"\noutcomes = ["K1"]\nmin_questions = 2\n'
    '\n[[method.theme]]\nname = "Change"\noutcomes = ["S1"]\nmin_questions = 2\n',
)


def test_validate_reads_themes_and_checks_their_sufficiency(tmp_path):
    # K1 and S1 are each on 3 of the 8 questions: a theme of 1 per set needs 1 x 2 (the standard's
    # min_questions_per_outcome): enough; a theme of 2 per set needs 4: short
    one_each = THEMED.replace("min_questions = 2\n", "min_questions = 1\n")
    bank = load_bank(write_bank(tmp_path / "a", standard=one_each))
    m = bank.standards["TST01"].methods["presentation-questioning"]
    assert [(t.name, t.min_questions) for t in m.themes] == [("Strategy", 1), ("Change", 1)]
    assert [p.render() for p in bank.problems if p.check == "sufficiency"] == []
    msgs = [
        p.message for p in load_bank(write_bank(tmp_path / "b", standard=THEMED)).problems if p.check == "sufficiency"
    ]
    assert msgs == [
        "TST01 presentation-questioning: theme 'Strategy' has 3 approved questions on its outcomes "
        "(needs 4: 2 per set, times 2)",
        "TST01 presentation-questioning: theme 'Change' has 3 approved questions on its outcomes "
        "(needs 4: 2 per set, times 2)",
    ]


@pytest.mark.parametrize(
    "theme, message",
    [
        ('name = "X"\noutcomes = ["B1"]\nmin_questions = 1\n', "outcome 'B1' is not one the method assesses"),
        ('name = "X"\noutcomes = ["K1"]\nmin_questions = 0\n', "min_questions"),
        ('name = "X"\noutcomes = ["K1"]\n', "missing required field 'min_questions'"),
        ('name = "X"\noutcomes = ["K1"]\nmin_questions = 1\nweight = 2\n', "unknown field 'weight'"),
    ],
)
def test_bad_themes_are_named(tmp_path, theme, message):
    std = STANDARD.replace('assesses = ["K1", "S1"]\n', f'assesses = ["K1", "S1"]\n\n[[method.theme]]\n{theme}')
    errs = [p for p in load_bank(write_bank(tmp_path, standard=std)).problems if p.is_error]
    assert any(message in p.message and "presentation-questioning" in p.message for p in errs), [
        p.render() for p in errs
    ]


# --------------------------------------------------------------------------- excludes


def _bank_with(tmp_path, extra_by_index: dict[int, str], outcomes_by_index: dict[int, list[str]] | None = None):
    outcomes_by_index = outcomes_by_index or {}
    qs = "".join(
        question_block(i, extra=extra_by_index.get(i, ""), outcomes=outcomes_by_index.get(i)) for i in range(8)
    )
    return write_bank(tmp_path, questions=qs)


def test_declared_exclusions_keep_two_questions_out_of_one_set(tmp_path):
    root = _bank_with(tmp_path, {0: 'excludes = ["TST-005"]\n'})
    bank = load_bank(root)
    assert not [p for p in bank.problems if p.is_error]
    spec = spec_from_bank(bank, "TST01", "professional-discussion")
    assert frozenset(("TST-001", "TST-005")) in spec.near_duplicates
    for n in range(200):
        codes = {c.code for c in select(spec, Usage(), f"x{n}")}
        assert not {"TST-001", "TST-005"} <= codes


@pytest.mark.parametrize(
    "excludes, message",
    [
        ('["TST-099"]', "excludes unknown question 'TST-099'"),
        ('["TST-001"]', "TST-001 excludes itself"),
        ('"TST-002"', "excludes"),
    ],
)
def test_bad_excludes_are_named(tmp_path, excludes, message):
    root = _bank_with(tmp_path, {0: f"excludes = {excludes}\n"})
    errs = [p for p in load_bank(root).problems if p.is_error]
    assert len(errs) == 1 and message in errs[0].message and errs[0].field == "excludes", [p.render() for p in errs]


def test_excludes_are_content_but_absent_keeps_old_hashes(tmp_path):
    plain = load_bank(_bank_with(tmp_path / "a", {})).questions[0]
    declared = load_bank(_bank_with(tmp_path / "b", {0: 'excludes = ["TST-005"]\n'})).questions[0]
    assert "excludes" not in plain.content()
    assert declared.content()["excludes"] == ["TST-005"]
    assert plain.content_hash != declared.content_hash


def test_declared_pairs_reach_the_store_pool_but_not_the_health_review(tmp_path, engine):
    from sqlalchemy import select as sql_select
    from sqlalchemy.orm import Session

    from qbank.importer import import_bank
    from qbank.models import ReleaseNearDuplicateRow
    from qbank.pools import method_spec
    from qbank.releases import make_release

    root = _bank_with(tmp_path, {0: 'excludes = ["TST-005"]\n'})
    make_release(load_bank(root), "TST01", "1.0.0")
    import_bank(engine, load_bank(root))
    with Session(engine) as s:
        kinds = [r.kind for r in s.execute(sql_select(ReleaseNearDuplicateRow)).scalars()]
    assert kinds == ["declared"]
    spec = method_spec(engine, "TST01", "professional-discussion")
    assert frozenset(("TST-001", "TST-005")) in spec.near_duplicates


# --------------------------------------------------------------------------- tags


def test_more_tags_than_the_cap_need_a_justification(tmp_path):
    four = {0: ["K1", "K2", "S1", "B1"]}
    errs = [p for p in load_bank(_bank_with(tmp_path / "a", {}, four)).problems if p.check == "tags"]
    assert len(errs) == 1 and "TST-001 is tagged with 4 outcomes; the cap is 3" in errs[0].message
    justified = {0: 'tags_justification = "The answer must cover all four to be complete."\n'}
    assert not [p for p in load_bank(_bank_with(tmp_path / "b", justified, four)).problems if p.check == "tags"]
    capped = STANDARD.replace("[checks]\n", "[checks]\nmax_outcomes_per_question = 4\n")
    qs = "".join(question_block(i, outcomes=four.get(i)) for i in range(8))
    assert not [p for p in load_bank(write_bank(tmp_path / "c", qs, capped)).problems if p.check == "tags"]


def test_shipped_banks_keep_to_the_cap(shipped):
    over = [
        q.id
        for q in shipped.questions
        if q.status == "approved"
        and len(q.outcomes) > shipped.standards[q.standard].max_outcomes_per_question
        and not q.tags_justification
    ]
    assert over == []


# --------------------------------------------------------------------------- the warning band

SIMILAR = "What did the monthly finance report tell you about overtime costs on the night shift?"
SIMILAR_TOO = "How did overtime on the night shift show up in the finance report each month?"


def test_similar_wording_is_warned_and_declaring_the_pair_silences_it(tmp_path):
    qs = question_block(0, text_=SIMILAR) + question_block(1, text_=SIMILAR_TOO)
    qs += "".join(question_block(i) for i in range(2, 8))
    warns = [p for p in load_bank(write_bank(tmp_path / "a", qs)).problems if p.check == "similar-wording"]
    assert len(warns) == 1 and not warns[0].is_error
    assert "TST-001 and TST-002" in warns[0].message and "overtime" in warns[0].message
    assert 'excludes = ["TST-002"]' in warns[0].fix
    declared = (
        question_block(0, text_=SIMILAR, extra='excludes = ["TST-002"]\n') + qs[len(question_block(0, text_=SIMILAR)) :]
    )
    assert not [p for p in load_bank(write_bank(tmp_path / "b", declared)).problems if p.check == "similar-wording"]


def test_the_band_looks_only_at_questions_changed_since_release(tmp_path):
    from qbank.releases import make_release

    qs = question_block(0, text_=SIMILAR) + question_block(1, text_=SIMILAR_TOO)
    qs += "".join(question_block(i) for i in range(2, 8))
    root = write_bank(tmp_path, qs)
    make_release(load_bank(root), "TST01", "1.0.0")
    assert not [p for p in load_bank(root).problems if p.check == "similar-wording"]


# --------------------------------------------------------------------------- draw_covers


def test_st0480_method_1_draws_for_its_themes_not_for_all_22_ksbs(shipped):
    """The plan asks of method 1's questions "at least 6, 2 per theme"; the proposal and the
    presentation evidence the KSBs. The set must meet the themes; it is not asked to cover 22 KSBs
    with six honestly tagged questions (which cannot be done in 40 minutes)."""
    m = shipped.standards["ST0480"].methods[SBP]
    assert m.draw_covers == () and m.required == frozenset()
    assert len(m.assesses) == 22  # the method still assesses them all: the live view shows the uncovered ones
    spec = spec_from_bank(shipped, "ST0480", SBP)
    ours, base = simulate(spec, SimConfig(draws=500, seed=2))
    assert ours.failures == 0 and ours.short_of_theme == 0
    assert ours.breadth > base.breadth  # the theme fill prefers questions that reach more KSBs


def test_draw_covers_must_be_assessed_and_round_trips(tmp_path):
    std = STANDARD.replace('assesses = ["K1", "S1"]\n', 'assesses = ["K1", "S1"]\ndraw_covers = ["K1", "B1"]\n')
    errs = [p for p in load_bank(write_bank(tmp_path / "a", standard=std)).problems if p.is_error]
    assert [p.field for p in errs] == ["draw_covers"] and "'B1' is not an outcome the method assesses" in errs[
        0
    ].message
    ok = STANDARD.replace('assesses = ["K1", "S1"]\n', 'assesses = ["K1", "S1"]\ndraw_covers = ["K1"]\n')
    bank = load_bank(write_bank(tmp_path / "b", standard=ok))
    m = bank.standards["TST01"].methods["presentation-questioning"]
    assert m.required == frozenset({"K1"})
    rd = ReleaseDefinition.from_dict(bank.standards["TST01"].definition())
    assert rd.method("presentation-questioning").required == frozenset({"K1"})
    assert "draw_covers" not in rd.method("professional-discussion").as_dict()


# --------------------------------------------------------------------------- the lead assessor's list (item 4)

MIS_TAGGED = {"SL-SBP-022": "K1", "SL-SBP-024": "S1", "SL-SBP-023": "K5", "SL-PD-027": "K13", "IL-PD-006": "K5"}
REWRITTEN = ["SL-SBP-031", "SL-SC-011", "SL-SC-014", "SL-SC-024", "SL-SBP-035", "SL-PD-022", "IL-PD-040", "IL-PQ-008"]
DISGUISED = [
    ("IL-PD-009", "IL-PD-041"),
    ("IL-PQ-002", "IL-PD-002"),
    ("IL-PQ-022", "IL-PD-027"),
    ("SL-PD-021", "SL-PD-037"),
    ("SL-PD-017", "SL-PD-027"),
    ("SL-PD-015", "SL-PD-045"),
    ("ILM-OR-016", "ILM-OR-019"),
]
CLOSED = ("did ", "do ", "does ", "is ", "are ", "was ", "were ", "have ", "has ", "can ", "could ", "would ", "will ")


def test_the_reviewed_questions_are_corrected_in_the_shipped_banks(shipped):
    q = {x.id: x for x in shipped.questions}
    for qid, wrong in MIS_TAGGED.items():
        assert wrong not in q[qid].outcomes and q[qid].version >= 2, qid
    for qid in REWRITTEN + ["ILM-OR-015"]:
        assert q[qid].version >= 2 and not q[qid].text.lower().startswith(CLOSED), qid
    for qid in ("SL-PD-024", "SL-PD-032"):  # not about the project: out of the LSBU showcase
        assert "lsbu-project-showcase" not in q[qid].methods
    for a, b in DISGUISED:  # declared, so no set holds both
        assert b in q[a].excludes or a in q[b].excludes, (a, b)
        for method in set(q[a].methods) & set(q[b].methods):  # a method could draw both: the pool keeps them apart
            assert frozenset((a, b)) in spec_from_bank(shipped, q[a].standard, method).near_duplicates, (a, b)
