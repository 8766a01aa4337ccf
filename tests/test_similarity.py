"""The fast near-duplicate scan finds exactly what the pairwise loop finds, on near-copies as
writers make them: typos, reworded, dropped and added words, swapped words, reordered clauses;
over generated texts and over the shipped banks' own question texts."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from tests_support import BANKS

from qbank.similarity import naive_near_duplicates, near_duplicates, normalise, signatures, similarity

STEMS = [
    "Talk me through",
    "Describe",
    "How did you",
    "What evidence showed",
    "Explain how you",
    "Tell me about a time you",
    "Which measures did you use to",
    "Why did you choose to",
]
VOCAB = (
    "lead change team evidence patients staff budget strategy risk stakeholders board data measure "
    "improve control report outcome organisation improvement culture values learning coaching "
    "priorities service redesign pathway waiting times capacity demand governance finance "
    "procurement workforce talent partnership community commissioning quality safety audit "
    "feedback conflict resilience innovation digital sustainability ethics regulation diversity "
    "inclusion performance scorecard forecast scenario negotiation influence sponsor programme "
    "project charter baseline variation sample hypothesis experiment pilot scale spread adopt "
    "resistance engagement trust honesty accountability delegation empowerment vision mission"
).split()


def question(rnd: random.Random) -> str:
    return f"{rnd.choice(STEMS)} " + " ".join(rnd.choice(VOCAB) for _ in range(rnd.randint(8, 30))) + "?"


def mutate(text: str, rnd: random.Random, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        op = rnd.choice("ids")
        pos = rnd.randrange(len(chars))
        if op == "i":
            chars.insert(pos, rnd.choice("abcdefghij "))
        elif op == "d" and len(chars) > 10:
            del chars[pos]
        else:
            chars[pos] = rnd.choice("abcdefghij")
    return "".join(chars)


def reword(text: str, rnd: random.Random) -> str:
    words = text.split()
    i = rnd.randrange(len(words))
    words[i] = rnd.choice(VOCAB)
    return " ".join(words)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(2, 80),
    dups=st.integers(0, 12),
    threshold=st.sampled_from([80, 85, 90, 95]),
)
def test_fast_scan_equals_naive(seed, n, dups, threshold):
    rnd = random.Random(seed)
    texts = {f"Q{i}": question(rnd) for i in range(n)}
    for k in range(dups):  # near-copies: character edits, a reworded word, or a reordered sentence
        src = texts[f"Q{rnd.randrange(n)}"]
        kind = rnd.randrange(3)
        if kind == 0:
            texts[f"D{k}"] = mutate(src, rnd, rnd.randint(1, 4))
        elif kind == 1:
            texts[f"D{k}"] = reword(src, rnd)
        else:
            words = src.split()
            rnd.shuffle(words)
            texts[f"D{k}"] = " ".join(words)
    assert near_duplicates(texts, threshold) == naive_near_duplicates(texts, threshold)


def test_normalisation_ignores_case_punctuation_and_order():
    assert normalise("How did YOU lead, the change?") == normalise("the change: how did you lead")
    assert similarity("Talk me through your plan.", "talk me through your plan") == 100


def test_spelling_variants_still_caught():
    a = "How did your organisation prioritise the improvement programme across the directorate?"
    b = "How did your organization prioritize the improvement program across the directorate?"
    assert [(d.a, d.b) for d in near_duplicates({"A": a, "B": b}, 85)] == [("A", "B")]


def test_different_questions_are_not_flagged():
    a = "Talk me through the strategy you wrote for your service."
    b = "Which financial measures told you the project was worth funding?"
    assert near_duplicates({"A": a, "B": b}, 60) == []


def _shipped_texts() -> list[str]:
    import tomli

    out = []
    for path in sorted(BANKS.glob("*/questions/*.toml")):
        out += [q["text"] for q in tomli.loads(path.read_text(encoding="utf-8")).get("question", [])]
    return out


SHIPPED = _shipped_texts()
SHIPPED_WORDS = sorted({w for t in SHIPPED for w in t.split()})


def edit_words(text: str, rnd: random.Random, edits: int) -> str:
    """A writer's near-copy: each edit a typo (a letter changed, added or dropped), a word
    replaced, dropped, added or swapped with another, or the text rotated at a clause."""
    words = text.split()
    for _ in range(edits):
        i = rnd.randrange(len(words))
        op = rnd.randrange(7)
        w = words[i]
        if op == 0 and len(w) > 1:
            j = rnd.randrange(len(w))
            c = rnd.choice("abcdefghijklmnopqrstuvwxyz")
            words[i] = rnd.choice([w[:j] + c + w[j + 1 :], w[:j] + c + w[j:], w[:j] + w[j + 1 :]])
        elif op == 1:
            words[i] = rnd.choice(SHIPPED_WORDS)
        elif op == 2 and len(words) > 3:
            del words[i]
        elif op == 3:
            words.insert(i, rnd.choice(SHIPPED_WORDS))
        elif op == 4:
            j = rnd.randrange(len(words))
            words[i], words[j] = words[j], words[i]
        else:
            cut = rnd.randrange(1, len(words))
            words = words[cut:] + words[:cut]
    return " ".join(words)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(20, 160),
    copies=st.integers(1, 60),
    threshold=st.sampled_from([80, 85, 90, 95]),
)
def test_fast_scan_equals_naive_on_shipped_questions_and_writers_edits(seed, n, copies, threshold):
    rnd = random.Random(seed)
    base = rnd.sample(SHIPPED, min(n, len(SHIPPED)))
    texts = {f"Q{i}": t for i, t in enumerate(base)}
    for c in range(copies):  # up to 10 edits: many copies fall below the threshold, as they should
        texts[f"C{c}"] = edit_words(rnd.choice(base), rnd, rnd.randint(1, 10))
        if rnd.random() < 0.3:  # a copy of a copy
            texts[f"CC{c}"] = edit_words(texts[f"C{c}"], rnd, rnd.randint(1, 3))
    exact = naive_near_duplicates(texts, threshold)
    assert near_duplicates(texts, threshold) == exact


def test_texts_with_nothing_rare_are_scored_against_every_text():
    """With every key too common to sign with (cap 1), each text is scored against all the others:
    the result is the pairwise loop's, and the signatures really are empty."""
    rnd = random.Random(3)
    texts = {f"Q{i}": question(rnd) for i in range(60)}
    for c in range(15):
        texts[f"C{c}"] = edit_words(texts[f"Q{c}"], rnd, 2)
    norm = [normalise(t) for t in texts.values()]
    assert all(not s for s in signatures(norm, 90, cap=1))
    assert near_duplicates(texts, 90, cap=1) == naive_near_duplicates(texts, 90)
    assert near_duplicates(texts, 90) == naive_near_duplicates(texts, 90)


def test_signatures_keep_the_rarest_shared_keys():
    texts = ["alpha beta gamma", "alpha beta delta", "alpha epsilon zeta", "omega"]
    sigs = signatures([normalise(t) for t in texts], 90)
    assert sigs[3] == []  # every key of "omega" is its own: nothing to match on
    assert sigs[0] and sigs[1] and len(set(sigs[0]) & set(sigs[1])) >= 3  # alp< >pha bet< >eta shared


def test_length_filter_keeps_pairs_at_the_edge():
    """A pair exactly at the length bound the scan uses (the shorter text t/(200-t) of the longer)."""
    a = "x" * 90
    b = "x" * 110  # ratio = 100 * 180/200 = 90
    assert similarity(a, b) == 90
    assert [(d.a, d.b) for d in near_duplicates({"A": a, "B": b}, 90)] == [("A", "B")]


def test_the_scan_split_over_two_processes_finds_the_same_pairs(tmp_path):
    """Large banks are probed by two forked processes (each every other text); the pairs are the
    single process's and the pairwise loop's. Run in a fresh interpreter: qbank forks only a
    process with no other thread, and a test worker has some."""
    import json
    import subprocess
    import sys

    rnd = random.Random(11)
    texts = {f"Q{i}": t for i, t in enumerate(rnd.sample(SHIPPED, min(120, len(SHIPPED))))}
    for c in range(40):
        texts[f"C{c}"] = edit_words(rnd.choice(list(texts.values())[:120]), rnd, rnd.randint(1, 6))
    exact = naive_near_duplicates(texts, 90)
    assert exact  # there is something to find
    (tmp_path / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    script = (
        "import json, sys; from qbank import similarity as S; "
        "t = json.load(open(sys.argv[1], encoding='utf-8')); "
        "two, one = S._scan(t, 90, None, workers=2), S._scan(t, 90, None, workers=1); "
        "print(json.dumps([[d.a, d.b, d.score] for d in two]) if two == one else 'DIFFERENT')"
    )
    r = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "texts.json")], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [[d.a, d.b, d.score] for d in exact]


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(20, 120),
    copies=st.integers(1, 40),
    changed=st.integers(0, 12),
    threshold=st.sampled_from([80, 85, 90, 95]),
)
def test_reusing_a_releases_pairs_finds_what_a_full_scan_finds(seed, n, copies, changed, threshold):
    """A released bank with some questions edited, added or removed since: the pairs among the
    unchanged texts come from the release, the rest are looked for; the result is the pairwise loop's."""
    from qbank.similarity import Known

    rnd = random.Random(seed)
    base = rnd.sample(SHIPPED, min(n, len(SHIPPED)))
    released = {f"Q{i}": t for i, t in enumerate(base)}
    for c in range(copies):
        released[f"C{c}"] = edit_words(rnd.choice(base), rnd, rnd.randint(1, 6))
    known = Known(texts=dict(released), pairs=naive_near_duplicates(released, threshold))
    now = dict(released)
    keys = sorted(now)
    for _ in range(changed):  # an edit that makes or breaks a near-copy, a new question, a deletion
        kind = rnd.randrange(3)
        if kind == 0:
            k = rnd.choice(keys)
            now[k] = edit_words(rnd.choice(base), rnd, rnd.randint(1, 4))
        elif kind == 1:
            now[f"N{rnd.randrange(10**6)}"] = edit_words(rnd.choice(list(now.values())), rnd, rnd.randint(1, 5))
        else:
            now.pop(rnd.choice(keys), None)
    assert near_duplicates(now, threshold, known=known) == naive_near_duplicates(now, threshold)
