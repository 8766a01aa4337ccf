"""The fast near-duplicate scan finds exactly what the pairwise loop finds."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from qbank.similarity import naive_near_duplicates, near_duplicates, normalise, similarity

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
