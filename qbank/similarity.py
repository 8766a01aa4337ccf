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

import hashlib
import math
import multiprocessing
import os
import re
import threading
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from itertools import chain, repeat
from typing import NamedTuple

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


class NearDuplicate(NamedTuple):
    """Two texts at or above the threshold (a tuple: a scan of 2,000 copies of one text holds
    1,999,000 of them, and a tuple takes a third of a dataclass's memory)."""

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


def signatures(norm: list[str], threshold: float, cap: int | None = None, size: int | None = None) -> list[list[int]]:
    """Each text's signature: its rarest keys (as ranks, rarest first) held by 2 to `cap` texts."""
    keysets = _key_sets(norm)
    df = Counter(chain.from_iterable(keysets))
    cap = common_cap(len(norm)) if cap is None else cap
    ranked = sorted((k for k, c in df.items() if 1 < c <= cap), key=lambda k: (df[k], k))
    rank = {k: r for r, k in enumerate(ranked)}.get
    size = signature_size(threshold) if size is None else size
    unranked = len(ranked)  # sorts after every rank: cut off below
    out = []
    for ks in keysets:
        sig = sorted(map(rank, ks, repeat(unranked)))[:size]
        while sig and sig[-1] == unranked:
            sig.pop()
        out.append(sig)
    return out


_LAST: list[tuple[str, list[NearDuplicate]]] = []  # the last few scans in this process: (key, pairs)


@dataclass(frozen=True)
class Known:
    """Pairs found before among some texts, with the same threshold (a release's, from its manifest)."""

    texts: dict[str, str]
    pairs: list[NearDuplicate]


def near_duplicates(
    texts: dict[str, str],
    threshold: float,
    *,
    cap: int | None = None,
    known: Known | None = None,
    keys: int | None = None,
) -> list[NearDuplicate]:
    """All pairs of texts scoring at least `threshold`, found without scoring every pair.
    `cap` overrides `common_cap` (tests use a small one to exercise the common-key path).

    With `known` (the pairs a release recorded among its texts), the pairs among texts unchanged
    since are taken from it and only the new or changed texts are looked for: validating a
    released bank with a few edits probes those few. The same texts are scanned once per process:
    `qbank release` validates the bank and then writes the same pairs into the manifest.

    `keys` fixes the signature size instead of growing it as the threshold drops: a looser search
    (validate's warning band for texts sharing their content words) that finds the pairs sharing
    several rare words, not every pair at the threshold."""
    digest = hashlib.sha256(repr((threshold, cap, keys)).encode())
    for k in sorted(texts):
        digest.update(k.encode() + b"\0" + texts[k].encode() + b"\0")
    key = digest.hexdigest()
    for k, found in _LAST:
        if k == key:
            return list(found)
    changed = [k for k in texts if known is None or known.texts.get(k) != texts[k]]
    if known is not None and len(changed) <= INCREMENTAL_UP_TO * len(texts):
        same = set(texts) - set(changed)
        kept = [d for d in known.pairs if d.a in same and d.b in same]
        fresh = _scan(texts, threshold, cap, only=set(changed), sig_keys=keys) if changed else []
        found = sorted(
            {(d.a, d.b): d for d in kept + fresh}.values(),
            key=lambda d: (d.a, d.b),
        )
    else:
        found = _scan(texts, threshold, cap, sig_keys=keys)
    _LAST[:] = [*_LAST[-3:], (key, found)]
    return list(found)


def pairs_touching(
    texts: dict[str, str], threshold: float, only: set[str], *, keys: int | None = None
) -> list[NearDuplicate]:
    """The pairs among `texts` scoring at least `threshold` that have a text in `only` (all of
    them when `only` holds every text); `keys` as for `near_duplicates`."""
    if only >= texts.keys():
        return near_duplicates(texts, threshold, keys=keys)
    return _scan(texts, threshold, None, only=only & texts.keys(), sig_keys=keys)


INCREMENTAL_UP_TO = 0.2  # share of texts new or changed up to which the known pairs are reused


PARALLEL_FROM = 5_000  # texts: below this a second process costs more than it saves


def _scan(
    texts: dict[str, str],
    threshold: float,
    cap: int | None,
    workers: int | None = None,
    only: set[str] | None = None,
    sig_keys: int | None = None,
) -> list[NearDuplicate]:
    """The pairs among `texts`; with `only`, just the pairs with at least one text in `only`."""
    # texts in order of length: a pair can reach the threshold only if the shorter text is at least
    # `shortest` of the longer (Indel distance is at least the length difference), so each probe
    # reads only the part of each posting list that is long enough and earlier than itself
    normalised = {k: normalise(t) for k, t in texts.items()}
    keys = sorted(normalised, key=lambda k: len(normalised[k]))
    norm = [normalised[k] for k in keys]
    sigs = signatures(norm, threshold, cap, sig_keys)
    postings: dict[int, list[int]] = {}
    for i, sig in enumerate(sigs):
        for k in sig:
            postings.setdefault(k, []).append(i)  # ascending: texts are visited in order
    state = _ScanState(norm, [len(s) for s in norm], sigs, postings, threshold)
    if only is not None:
        found = state.probe_some([i for i, k in enumerate(keys) if k in only])
    else:
        if workers is None:
            workers = 2 if len(keys) >= PARALLEL_FROM and _can_fork() else 1
        found = _probe_in_processes(state, workers) if workers > 1 else state.probe(0, 1)
    out = [NearDuplicate(min(keys[i], keys[j]), max(keys[i], keys[j]), round(s, 1)) for (i, j), s in found.items()]
    del found  # (held with `out`, the pairs twice over: 2,000 copies of a text make 1,999,000 pairs)
    out.sort()  # by (a, b): each pair is found once, so its score never decides the order
    return out


@dataclass
class _ScanState:
    norm: list[str]
    lengths: list[int]
    sigs: list[list[int]]
    postings: dict[int, list[int]]
    threshold: float

    @property
    def need(self) -> list[int]:
        """Signature keys each text must share with another for the pair to be scored."""
        return [min(SHARED_KEYS, len(s)) for s in self.sigs]

    def score(self, found: dict[tuple[int, int], float], i: int, cand: list[int]) -> None:
        """Score text i against the candidates (one C++ call), keeping the pairs at the threshold."""
        norm = self.norm
        for _, s, m in process.extract_iter(
            norm[i], [norm[j] for j in cand], scorer=fuzz.ratio, score_cutoff=self.threshold
        ):
            j = cand[m]
            found[(min(i, j), max(i, j))] = s

    def counts(self, i: int, lo: int, hi: int) -> Counter[int]:
        """Texts lo <= j < hi with the signature keys each shares with text i."""
        lists = [self.postings[k] for k in self.sigs[i]]  # every signature key has a posting list
        return Counter(chain.from_iterable([lst[bisect_left(lst, lo) : bisect_left(lst, hi)] for lst in lists]))

    def probe(self, part: int, parts: int) -> dict[tuple[int, int], float]:
        """The pairs (j, i), j < i, for every text i with i % parts == part."""
        lengths, sigs, need = self.lengths, self.sigs, self.need
        shortest = self.threshold / (200 - self.threshold)
        found: dict[tuple[int, int], float] = {}
        for i in range(part, len(sigs), parts):
            if not sigs[i]:  # nothing rare to go by: score it against every text (once: a later
                # text with nothing rare to go by scores itself against this one)
                self.score(found, i, [j for j in range(len(sigs)) if j < i or (j > i and sigs[j])])
                continue
            first = bisect_left(lengths, math.floor(lengths[i] * shortest), 0, i)  # the first text long enough
            cand = [j for j, c in self.counts(i, first, i).items() if c >= need[i] or c >= need[j]]
            if cand:
                self.score(found, i, cand)
        return found

    def probe_some(self, which: list[int]) -> dict[tuple[int, int], float]:
        """The pairs of each text in `which` with any other text (earlier or later)."""
        lengths, sigs, need = self.lengths, self.sigs, self.need
        shortest = self.threshold / (200 - self.threshold)
        found: dict[tuple[int, int], float] = {}
        for i in which:
            if sigs[i]:
                lo = bisect_left(lengths, math.floor(lengths[i] * shortest))
                hi = bisect_left(lengths, math.ceil(lengths[i] / shortest) + 1)  # lengths are sorted
                cand = [j for j, c in self.counts(i, lo, hi).items() if j != i and (c >= need[i] or c >= need[j])]
            else:
                cand = [j for j in range(len(sigs)) if j != i]
            if cand:
                self.score(found, i, cand)
        # a text with nothing rare to go by finds its pairs only by being scored against every text
        asked = set(which)
        for j in (j for j, sig in enumerate(sigs) if not sig and j not in asked):
            self.score(found, j, list(which))
        return found


def _can_fork() -> bool:
    """A second process by fork: only where fork exists, there are two cores, and this process runs
    no other thread (forking a threaded process can deadlock it; the live app imports in a thread)."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and (os.cpu_count() or 1) > 1
        and threading.active_count() == 1
    )


_STATE: _ScanState | None = None  # what forked workers read (inherited, not pickled)


def _probe_part(part: int, parts: int) -> dict[tuple[int, int], float]:
    assert _STATE is not None
    return _STATE.probe(part, parts)


def _probe_in_processes(state: _ScanState, workers: int) -> dict[tuple[int, int], float]:
    """The probe split over forked processes, each taking every `workers`-th text (long texts, which
    have the most to read, are spread over all of them); the pairs found are merged."""
    global _STATE
    _STATE = state
    try:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers) as pool:
            parts = pool.starmap(_probe_part, [(p, workers) for p in range(workers)])
    finally:
        _STATE = None
    found: dict[tuple[int, int], float] = {}
    for part in parts:
        found.update(part)
    return found


@dataclass(frozen=True)
class Cluster:
    """A connected group of near-duplicates: texts joined by pairs at the threshold, directly or
    through others (A~B and B~C make one group of three even when A and C score lower)."""

    members: tuple[str, ...]  # sorted
    pairs: int
    low: float  # the lowest and highest score of its pairs
    high: float


def clusters(pairs: list[NearDuplicate]) -> list[Cluster]:
    """The connected groups the pairs make (union-find: memory grows with the texts, not the
    pairs), ordered by their first member."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        up = parent.get(x)
        if up is None:
            parent[x] = x
            return x
        if up == x or parent[up] == up:  # a root, or one step below one (most, after compression)
            return up
        root = up
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b, _ in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            parent[rb] = ra
    stats: dict[str, list[float]] = {}  # root -> [pairs, low, high]
    for a, _, score in pairs:
        root = find(a)
        s = stats.get(root)
        if s is None:
            stats[root] = [1, score, score]
            continue
        s[0] += 1
        if score < s[1]:
            s[1] = score
        elif score > s[2]:
            s[2] = score
    members: dict[str, list[str]] = {}
    for x in parent:
        members.setdefault(find(x), []).append(x)
    out = [Cluster(tuple(sorted(ms)), int(stats[r][0]), stats[r][1], stats[r][2]) for r, ms in members.items()]
    return sorted(out, key=lambda c: c.members[0])
