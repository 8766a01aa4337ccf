"""Near-duplicate detection between question texts.

Score: rapidfuzz's `fuzz.ratio` (normalised Indel similarity, 0-100) of the two texts after
normalisation: lower case, punctuation dropped, words sorted (so reordering a sentence does not
hide a duplicate; this is rapidfuzz's token_sort_ratio).

Comparing every pair is quadratic (50 M pairs for 10,000 questions). `near_duplicates` instead
runs a set-similarity join: each text becomes the set of its words cut to their first five
letters ("organisation" and "organization" both become "organ"); two texts whose word sets have
a Jaccard similarity of at least the floor must share one of the rarest words of each
(prefix filtering, Bayardo et al. 2007), so only pairs that share such a word, and whose lengths
allow the score, are scored (in one C++ call per text). Near-duplicates in the sense above share
far more than half their cut words at the default threshold of 90 (see `jaccard_floor`); it is a filter, not
a proof, and `naive_near_duplicates` is the pairwise loop
the tests and the benchmark compare against.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

from rapidfuzz import fuzz, process



def jaccard_floor(threshold: float) -> float:
    """The word-set similarity below which no pair is scored: 0.5 at the default threshold of 90.

    A score of t allows about (100 - t) % of the characters to differ, and one differing
    character can change a cut word or split one in two, so the floor falls five times as fast
    as the threshold; it never rises above 0.6, so a single edit in a short question is still seen.
    """
    return min(0.6, max(0.2, 1 - 5 * (1 - threshold / 100)))
_WORD = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    return " ".join(sorted(_WORD.findall(text.lower())))


def similarity(a: str, b: str) -> float:
    return fuzz.ratio(normalise(a), normalise(b))


@dataclass(frozen=True)
class NearDuplicate:
    a: str  # key of the first text
    b: str
    score: float


def naive_near_duplicates(texts: dict[str, str], threshold: float) -> list[NearDuplicate]:
    keys = list(texts)
    norm = [normalise(texts[k]) for k in keys]
    out = []
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            s = fuzz.ratio(norm[i], norm[j])
            if s >= threshold:
                out.append(NearDuplicate(*sorted((keys[i], keys[j])), round(s, 1)))
    return sorted(out, key=lambda d: (d.a, d.b))


def near_duplicates(texts: dict[str, str], threshold: float) -> list[NearDuplicate]:
    """All pairs of texts scoring at least `threshold`, found without scoring every pair."""
    keys = list(texts)
    norm = [normalise(texts[k]) for k in keys]
    lengths = [len(s) for s in norm]
    tokens = [sorted({w[:5] for w in s.split()}) for s in norm]
    df: dict[str, int] = defaultdict(int)
    for ts in tokens:
        for t in ts:
            df[t] += 1
    index: dict[str, list[int]] = defaultdict(list)
    # allowed length ratio: ratio >= t implies 2*min/(l1+l2) >= t/100
    t = threshold / 100.0
    max_len_ratio = (2 - t) / t if t > 0 else math.inf
    floor = jaccard_floor(threshold)
    out = []
    for i, ts in enumerate(tokens):
        ordered = sorted(ts, key=lambda w: (df[w], w))
        prefix_len = len(ordered) - math.ceil(floor * len(ordered)) + 1 if ordered else 0
        prefix = ordered[:prefix_len]
        candidates: set[int] = set()
        for w in prefix:
            candidates.update(index[w])
        if candidates:
            li = lengths[i]
            lo, hi = li / max_len_ratio, li * max_len_ratio
            cand = [j for j in candidates if lo <= lengths[j] <= hi]
            for _, s, k in process.extract_iter(norm[i], [norm[j] for j in cand], scorer=fuzz.ratio,
                                                score_cutoff=threshold):
                j = cand[k]
                out.append(NearDuplicate(*sorted((keys[i], keys[j])), round(s, 1)))
        for w in prefix:
            index[w].append(i)
    return sorted(out, key=lambda d: (d.a, d.b))
