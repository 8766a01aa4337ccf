"""Near-duplicate detection between question texts.

Score: rapidfuzz's `fuzz.ratio` (normalised Indel similarity, 0-100) of the two texts after
normalisation: lower case, punctuation dropped, words sorted (so reordering a sentence does not
hide a duplicate; this is rapidfuzz's token_sort_ratio).

Comparing every pair is quadratic (50 M pairs for 10,000 questions). `near_duplicates` instead
runs a set-similarity join. Each text becomes a set of keys, two per word: its first and its last
three letters, so a typo changes at most one key of a word ("prioritise" and "prioritize" keep
"pri"). Two texts whose key sets have a Jaccard similarity of at least a floor must share three
of the rarest keys of each (prefix filtering: Bayardo et al. 2007; Xiao et al. 2008), so only
pairs that do are scored, in one C++ call per text (rapidfuzz drops pairs whose lengths rule the
score out before comparing them). The floor (`jaccard_floor`, 0.6 at the default threshold of
90) is a filter, not a proof: a score of 90 can in theory touch every word. Near-duplicates as
writers make them (typos, a reworded word, reordered clauses) stay well above it; the tests
check the scan against `naive_near_duplicates`, the pairwise loop, on such texts, and the
benchmark does on a 1,000-question subset with planted copies.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import chain

from rapidfuzz import fuzz, process


def jaccard_floor(threshold: float) -> float:
    """The key-set similarity below which no pair is scored: 0.6 at the default threshold of 90.

    A score of t allows about (100 - t) % of the characters to differ, and one differing
    character changes at most one key of a word (two if it splits the word), so the floor falls
    four times as fast as the threshold; it never rises above 0.6, so that a few typos in a short
    question are still seen.
    """
    return min(0.6, max(0.2, 1 - 4 * (1 - threshold / 100)))


_WORD = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    return " ".join(sorted(_WORD.findall(text.lower())))


def word_keys(normalised: str) -> set[str]:
    """Each word as two keys, its first and its last three letters: a typo changes at most one."""
    words = normalised.split()
    return {w[:3] + "<" for w in words} | {">" + w[-3:] for w in words}


def similarity(a: str, b: str) -> float:
    return fuzz.ratio(normalise(a), normalise(b))


@dataclass(frozen=True)
class NearDuplicate:
    a: str  # key of the first text
    b: str
    score: float


def naive_near_duplicates(texts: dict[str, str], threshold: float, *, prenormalise: bool = True) -> list[NearDuplicate]:
    """Every pair scored in a Python loop. With prenormalise=False it is the loop as first written:
    `similarity(a, b)` for each pair, normalising both texts every time."""
    keys = list(texts)
    if not prenormalise:
        out = []
        for i in range(len(keys)):
            for j in range(i + 1, len(keys)):
                s = similarity(texts[keys[i]], texts[keys[j]])
                if s >= threshold:
                    out.append(NearDuplicate(min(keys[i], keys[j]), max(keys[i], keys[j]), round(s, 1)))
        return sorted(out, key=lambda d: (d.a, d.b))
    norm = [normalise(texts[k]) for k in keys]
    out = []
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            s = fuzz.ratio(norm[i], norm[j])
            if s >= threshold:
                out.append(NearDuplicate(min(keys[i], keys[j]), max(keys[i], keys[j]), round(s, 1)))
    return sorted(out, key=lambda d: (d.a, d.b))


def near_duplicates(texts: dict[str, str], threshold: float) -> list[NearDuplicate]:
    """All pairs of texts scoring at least `threshold`, found without scoring every pair."""
    keys = list(texts)
    norm = [normalise(texts[k]) for k in keys]
    tokens = [word_keys(s) for s in norm]
    df = Counter(chain.from_iterable(tokens))
    rank = {w: r for r, w in enumerate(sorted(df, key=lambda w: (df[w], w)))}  # rarest first
    index: dict[str, list[int]] = defaultdict(list)
    floor = jaccard_floor(threshold)
    ks = [1] * len(keys)  # k used for each indexed text: a pair needs min(k_i, k_j) shared words
    out = []
    for i, ts in enumerate(tokens):
        ordered = sorted(ts, key=rank.__getitem__)
        # two sets with Jaccard >= floor overlap in at least o = ceil(floor * n) words; their
        # rarest n - o + k words then share at least k of them (k = 3 where o allows)
        o = math.ceil(floor * len(ordered))
        k = ks[i] = min(o, 3) if o >= 1 else 1
        prefix = ordered[: max(0, len(ordered) - o + k)]
        counts: Counter[int] = Counter()
        for w in prefix:  # one posting list per C call: a thread doing this never holds the GIL for long
            counts.update(index[w])
        cand = [j for j, c in counts.items() if c >= k or c >= ks[j]]
        if cand:  # rapidfuzz skips pairs whose lengths rule the score out before comparing them
            for _, s, m in process.extract_iter(
                norm[i], [norm[j] for j in cand], scorer=fuzz.ratio, score_cutoff=threshold
            ):
                j = cand[m]
                out.append(NearDuplicate(min(keys[i], keys[j]), max(keys[i], keys[j]), round(s, 1)))
        for w in prefix:
            index[w].append(i)
    return sorted(out, key=lambda d: (d.a, d.b))
