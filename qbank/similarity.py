"""Near-duplicate detection between question texts.

Score: rapidfuzz's `fuzz.ratio` (normalised Indel similarity, 0-100) of the two texts after
normalisation: lower case, punctuation dropped, words sorted (so reordering a sentence does not
hide a duplicate; this is rapidfuzz's token_sort_ratio).

Comparing every pair is quadratic (1.25 billion pairs for 50,000 questions). `near_duplicates`
scores only the pairs that share rare words. Each text becomes a set of keys, two per word: its
first and its last three letters, so a typo changes at most one key of a long word ("prioritise"
and "prioritize" keep "pri<"). Keys are ranked by how many texts hold them, rarest first; a key
held by one text alone can match nothing and is dropped. A text's *signature* is its
`signature_size` rarest keys (16 at the default threshold of 90, one more per point below it), and
a pair is scored when the two signatures share at least `SHARED_KEYS` keys (fewer when a text has
fewer keys in its signature): one C++ call per text scores its candidates, and rapidfuzz skips
pairs whose lengths rule the score out before comparing them. Texts whose signature is empty
(every key is common, or unique to them) are scored against every text.

Near-copies as writers make them (typos, a reworded word, a dropped or added word, reordered
clauses) keep most of their rarest keys, so they share far more than three; unrelated texts rarely
share three of their rarest. The filter is not a proof (a score of 90 can in theory touch every
word): tests check the scan against `naive_near_duplicates`, the pairwise loop, on realistic
near-copies, and the benchmark does on planted copies at 50,000 questions.

Cost: building keys and signatures is linear; the probe reads, for each text, the earlier texts
holding each of its signature keys. Keys held by more than `common_cap(n)` texts (1 in 50 texts,
at least 512) are left out of signatures, so a probe reads at most that many entries per key.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from itertools import chain

from rapidfuzz import fuzz, process

SIGNATURE_KEYS = 16  # signature size at the default threshold of 90
SHARED_KEYS = 3  # signature keys a pair must share to be scored


def signature_size(threshold: float) -> int:
    """More keys in each signature for a looser threshold: a looser threshold lets a near-copy
    change more words, and each changed word can push one rare key out of the signature."""
    return SIGNATURE_KEYS + max(0, math.ceil(90 - threshold))


def common_cap(n: int) -> int:
    """The most texts a signature key may be held by: keys more common than this are left out."""
    return max(512, n // 50)


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


def _key_sets(norm: list[str]) -> list[set[str]]:
    """Each text's keys, each distinct word's keys computed once."""
    cache: dict[str, tuple[str, str]] = {}

    def keys_of(w: str) -> tuple[str, str]:
        k = cache.get(w)
        if k is None:
            k = cache[w] = (w[:3] + "<", ">" + w[-3:])
        return k

    return [set(chain.from_iterable([keys_of(w) for w in s.split()])) for s in norm]


def signatures(norm: list[str], threshold: float, cap: int | None = None) -> list[list[int]]:
    """Each text's signature: its rarest keys (as ranks, rarest first) held by 2 to `cap` texts."""
    keysets = _key_sets(norm)
    df = Counter(chain.from_iterable(keysets))
    cap = common_cap(len(norm)) if cap is None else cap
    ranked = sorted((k for k, c in df.items() if 1 < c <= cap), key=lambda k: (df[k], k))
    rank = {k: r for r, k in enumerate(ranked)}.get
    size = signature_size(threshold)
    return [sorted([r for r in map(rank, ks) if r is not None])[:size] for ks in keysets]


def near_duplicates(texts: dict[str, str], threshold: float, *, cap: int | None = None) -> list[NearDuplicate]:
    """All pairs of texts scoring at least `threshold`, found without scoring every pair.
    `cap` overrides `common_cap` (tests use a small one to exercise the common-key path)."""
    # texts in order of length: a pair can reach the threshold only if the shorter text is at least
    # `shortest` of the longer (Indel distance is at least the length difference), so each probe
    # reads only the tail of each posting list, the earlier texts that are long enough
    keys = sorted(texts, key=lambda k: len(normalise(texts[k])))
    norm = [normalise(texts[k]) for k in keys]
    lengths = [len(s) for s in norm]
    shortest = threshold / (200 - threshold)
    sigs = signatures(norm, threshold, cap)
    need = [min(SHARED_KEYS, len(s)) for s in sigs]
    postings: dict[int, list[int]] = {}
    found: dict[tuple[int, int], float] = {}

    def score(i: int, cand: list[int]) -> None:
        for _, s, m in process.extract_iter(
            norm[i], [norm[j] for j in cand], scorer=fuzz.ratio, score_cutoff=threshold
        ):
            j = cand[m]
            found[(min(i, j), max(i, j))] = s

    for i, sig in enumerate(sigs):
        if not sig:
            continue
        lists = [postings.setdefault(k, []) for k in sig]
        first = bisect_left(lengths, math.floor(lengths[i] * shortest), 0, i)  # the first text long enough
        counts = Counter(chain.from_iterable([lst[bisect_left(lst, first) :] for lst in lists]))
        for lst in lists:
            lst.append(i)
        k = need[i]
        cand = [j for j, c in counts.items() if c >= k or c >= need[j]]
        if cand:
            score(i, cand)
    everyone = list(range(len(keys)))
    for i, sig in enumerate(sigs):
        if not sig:  # nothing rare to go by: score it against every text
            score(i, [j for j in everyone if j != i])
    out = [NearDuplicate(min(keys[i], keys[j]), max(keys[i], keys[j]), round(s, 1)) for (i, j), s in found.items()]
    return sorted(out, key=lambda d: (d.a, d.b))
