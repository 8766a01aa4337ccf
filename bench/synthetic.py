"""A synthetic bank for benchmarks: N questions over K outcomes, two methods, valid and released.

Each question targets 2-5 outcomes and takes 3-8 minutes; the professional discussion must
assess all K outcomes in `discussion_minutes` (default 240), the presentation questioning the first
half in half that time. At 100 outcomes the default fits; with more outcomes give more minutes
(about 240 per 100 outcomes), or a set that covers them all will not fit and every draw fails.

Texts are drawn from a Zipf-distributed vocabulary (as real English is), so frequent words such
as "you" or "the" appear in most questions and rare words in few; no two texts are near-duplicates.
"""

from __future__ import annotations

import random
import string
from pathlib import Path

COMMON = (
    "you the how did your and what to in of a for with was it we this that team when "
    "which would why who were had be on at by from"
).split()


def _vocabulary(rnd: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rnd.choice(string.ascii_lowercase) for _ in range(rnd.randint(4, 11))))
    return COMMON + sorted(words)


def question_text(rnd: random.Random, vocab: list[str], weights: list[float]) -> str:
    n = rnd.randint(18, 40)
    words = rnd.choices(vocab, weights=weights, k=n)
    return " ".join(words).capitalize() + "?"


def write_synthetic_bank(
    root: Path,
    n_questions: int = 10_000,
    n_outcomes: int = 100,
    seed: int = 7,
    code: str = "SYN01",
    *,
    discussion_minutes: int = 240,
) -> Path:
    rnd = random.Random(seed)
    vocab = _vocabulary(rnd, 6000)
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(vocab))]
    folder = root / code
    (folder / "questions").mkdir(parents=True, exist_ok=True)
    outcomes = [f"K{i + 1}" for i in range(n_outcomes)]
    half = n_outcomes // 2
    lines = [
        f'code = "{code}"',
        'title = "Synthetic benchmark standard"',
        "level = 6",
        'version = "1.0"',
        "",
        "[outcomes]",
    ]
    lines += [f'{o} = {{ group = "knowledge", title = "Synthetic outcome {o}" }}' for o in outcomes]
    lines += [
        "",
        "[[method]]",
        'id = "professional-discussion"',
        'name = "Professional discussion"',
        'kind = "professional discussion"',
        f"minutes = {discussion_minutes}",
        "min_questions = 10",
        "assesses = [" + ", ".join(f'"{o}"' for o in outcomes) + "]",
        "",
        "[[method]]",
        'id = "presentation-questioning"',
        'name = "Presentation questioning"',
        'kind = "presentation questioning"',
        f"minutes = {discussion_minutes // 2}",
        "min_questions = 6",
        "assesses = [" + ", ".join(f'"{o}"' for o in outcomes[:half]) + "]",
        "",
        # the synthetic questions keep their 2-5 tags (the figures stay comparable across issues)
        "[checks]",
        "max_outcomes_per_question = 5",
        "",
    ]
    (folder / "standard.toml").write_text("\n".join(lines), encoding="utf-8")

    per_file = 500
    for f in range(0, n_questions, per_file):
        chunk = [f'standard = "{code}"', f'topic = "Topic {f // per_file + 1}"', 'author = "bench"', ""]
        for i in range(f, min(f + per_file, n_questions)):
            qouts = rnd.sample(outcomes, rnd.randint(2, 5))
            methods = ['"professional-discussion"']
            if any(int(o[1:]) <= half for o in qouts):
                methods.append('"presentation-questioning"')
            chunk += [
                "[[question]]",
                f'id = "SYN-{i + 1:05d}"',
                "version = 1",
                'status = "approved"',
                'reviewer = "Bench Reviewer"',
                "reviewed = 2026-11-20",
                f"methods = [{', '.join(methods)}]",
                "outcomes = [" + ", ".join(f'"{o}"' for o in qouts) + "]",
                f"minutes = {rnd.randint(3, 8)}",
                f'text = "{question_text(rnd, vocab, weights)}"',
                f'probes = ["{question_text(rnd, vocab, weights)}"]',
                'guidance = "A good answer gives a specific example and evaluates it."',
                "",
            ]
        (folder / "questions" / f"part{f // per_file + 1:02d}.toml").write_text("\n".join(chunk), encoding="utf-8")
    return root
