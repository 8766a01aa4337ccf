"""Recent use of each method's questions: what the draw's soft goals (exposure, cohort overlap) weigh.

One `UsageCache` per store, method and window, per process, follows the draws and swaps any
process or assessor makes, reading only what it has not seen; `recent_usage` brings it up to date
and gives the `draw.Usage` snapshot a draw uses (and stores, for replay). Voided draws leave the
window and undone swaps are reversed, so only what apprentices were really given counts.
"""

from __future__ import annotations

import threading
from collections import Counter, deque

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from .defaults import USAGE_WINDOW
from .draw import Usage
from .models import DrawItemRow, DrawRow, DrawSwapRow, QuestionRow, table_of

OVERLAP = 64  # draw and swap ids re-read below each watermark (concurrent commits can land out of order)


class UsageCache:
    """Recent use of one method's questions, kept up to date incrementally.

    Each call reads only the draws and swaps it has not seen (re-reading OVERLAP ids below its
    watermarks, since concurrent transactions can commit out of id order), so it follows draws
    made by any process or assessor; the window holds the active questions of the last `window`
    sets. Usage steers only the soft goals; each draw stores the snapshot it used for replay."""

    def __init__(self, window: int):
        self.window = window
        self.last_draw = 0
        self.last_swap = 0
        self.sets: deque[tuple[int, str, list[str]]] = deque()  # (draw id, cohort, active question ids)
        self.counts: Counter = Counter()
        self.cohorts: dict[str, Counter] = {}
        self.items = 0
        self.seen_draws: set[int] = set()
        self.seen_swaps: set[int] = set()
        self.seen_void: set[int] = set()  # voided draws already taken out of the window
        self.seen_undone: set[int] = set()  # undone swaps already reversed

    def refresh(self, s: Session, method_id: int) -> None:
        cold = self.last_draw == 0
        # re-read a little below the watermark: a draw given a lower id may commit after a higher one;
        # never more than the window needs (the newest draws, through the (method_id, id) index)
        newest = s.execute(
            select(col(DrawRow.id), col(DrawRow.cohort))
            .where(
                col(DrawRow.method_id) == method_id,
                col(DrawRow.id) > self.last_draw - OVERLAP,
                col(DrawRow.voided_at).is_(None),
            )
            .order_by(col(DrawRow.id).desc())
            .limit(self.window + OVERLAP)
        ).all()
        new = [r for r in reversed(newest) if r[0] not in self.seen_draws]
        self.seen_draws.update(r[0] for r in new)
        if len(new) > self.window:
            new = new[-self.window :]
        if cold:
            # the items read below are the live ones: every swap, void and undo made so far is in
            # them already, so only what comes after needs following
            self.last_swap = s.execute(select(func.max(DrawSwapRow.id))).scalar() or 0
        if new:
            codes: dict[int, list[str]] = {d: [] for d, _ in new}
            for draw_id, code in s.execute(
                select(col(DrawItemRow.draw_id), col(QuestionRow.code))
                .join(QuestionRow, col(QuestionRow.id) == DrawItemRow.question_id)
                .where(col(DrawItemRow.draw_id).in_(list(codes)), col(DrawItemRow.active).is_(True))
                .order_by(col(DrawItemRow.draw_id), col(DrawItemRow.position))
            ):
                codes[draw_id].append(code)
            for draw_id, cohort in new:
                self._add(draw_id, cohort, codes[draw_id])
            self.last_draw = max(self.last_draw, new[-1][0])
        if cold:
            return  # nothing read yet can have been swapped, voided or undone since
        swaps = [
            r
            for r in s.execute(
                select(
                    col(DrawSwapRow.id),
                    col(DrawSwapRow.draw_id),
                    col(DrawItemRow.question_id),
                    col(DrawSwapRow.in_item_id),
                )
                .join(DrawItemRow, col(DrawItemRow.id) == DrawSwapRow.out_item_id)
                .join(DrawRow, col(DrawRow.id) == DrawSwapRow.draw_id)
                .where(
                    col(DrawSwapRow.id) > self.last_swap - OVERLAP,
                    col(DrawRow.method_id) == method_id,
                    col(DrawSwapRow.undone_at).is_(None),
                )
                .order_by(col(DrawSwapRow.id))
            ).all()
            if r[0] not in self.seen_swaps
        ]
        if swaps:
            code_of = dict(
                s.execute(
                    select(col(QuestionRow.id), col(QuestionRow.code)).where(
                        col(QuestionRow.id).in_(
                            {r[2] for r in swaps}
                            | set(
                                s.execute(
                                    select(col(DrawItemRow.question_id)).where(
                                        col(DrawItemRow.id).in_([r[3] for r in swaps])
                                    )
                                ).scalars()
                            )
                        )
                    )
                ).all()
            )
            in_q = dict(
                s.execute(
                    select(col(DrawItemRow.id), col(DrawItemRow.question_id)).where(
                        col(DrawItemRow.id).in_([r[3] for r in swaps])
                    )
                ).all()
            )
            by_draw = {d: (cohort, lst) for d, cohort, lst in self.sets}
            for swap_id, draw_id, out_qid, in_item in swaps:
                self.seen_swaps.add(swap_id)
                if draw_id in by_draw:
                    cohort, lst = by_draw[draw_id]
                    out_code, in_code = code_of[out_qid], code_of[in_q[in_item]]
                    if out_code in lst and in_code not in lst:  # not already read as active
                        lst[lst.index(out_code)] = in_code
                        self.counts[out_code] -= 1
                        self.counts[in_code] += 1
                        self.cohorts[cohort][out_code] -= 1
                        self.cohorts[cohort][in_code] += 1
                self.last_swap = max(self.last_swap, swap_id)
        self._forget_undone(s, method_id)
        # remember only the ids that could still be re-read below the watermarks
        self.seen_draws = {d for d in self.seen_draws if d > self.last_draw - OVERLAP}
        self.seen_swaps = {w for w in self.seen_swaps if w > self.last_swap - OVERLAP}

    def _forget_undone(self, s: Session, method_id: int) -> None:
        """Voided draws leave the window; undone swaps are reversed. Only the window's draws are
        looked at (ids from its oldest up, through the (method_id, id) index)."""
        if not self.sets:
            return
        oldest = self.sets[0][0]
        voided = [
            d
            for d in s.execute(
                select(col(DrawRow.id)).where(
                    col(DrawRow.method_id) == method_id,
                    col(DrawRow.id) >= oldest,
                    col(DrawRow.voided_at).is_not(None),
                )
            ).scalars()
            if d not in self.seen_void
        ]
        if voided:
            self.seen_void.update(voided)
            gone = set(voided)
            keep: deque[tuple[int, str, list[str]]] = deque()
            for draw_id, cohort, codes in self.sets:
                if draw_id in gone:
                    self.counts.subtract(codes)
                    self.cohorts[cohort].subtract(codes)
                    self.items -= len(codes)
                else:
                    keep.append((draw_id, cohort, codes))
            self.sets = keep
        out_item = table_of(DrawItemRow).alias("uo")
        in_item = table_of(DrawItemRow).alias("ui")
        qo = table_of(QuestionRow).alias("uqo")
        qi = table_of(QuestionRow).alias("uqi")
        undone = [
            r
            for r in s.execute(
                select(col(DrawSwapRow.id), col(DrawSwapRow.draw_id), qo.c.code, qi.c.code)
                .join(DrawRow, col(DrawRow.id) == DrawSwapRow.draw_id)
                .join(out_item, out_item.c.id == DrawSwapRow.out_item_id)
                .join(qo, qo.c.id == out_item.c.question_id)
                .join(in_item, in_item.c.id == DrawSwapRow.in_item_id)
                .join(qi, qi.c.id == in_item.c.question_id)
                .where(
                    col(DrawSwapRow.undone_at).is_not(None),
                    col(DrawRow.method_id) == method_id,
                    col(DrawRow.id) >= oldest,
                )
                .order_by(col(DrawSwapRow.id).desc())
            ).all()
            if r[0] not in self.seen_undone
        ]
        if undone:
            by_draw = {d: (cohort, lst) for d, cohort, lst in self.sets}
            for swap_id, draw_id, out_code, in_code in undone:
                self.seen_undone.add(swap_id)
                if draw_id in by_draw:
                    cohort, lst = by_draw[draw_id]
                    if in_code in lst and out_code not in lst:  # read while the swap stood
                        lst[lst.index(in_code)] = out_code
                        self.counts[in_code] -= 1
                        self.counts[out_code] += 1
                        self.cohorts[cohort][in_code] -= 1
                        self.cohorts[cohort][out_code] += 1

    def _add(self, draw_id: int, cohort: str, codes: list[str]) -> None:
        self.sets.append((draw_id, cohort, codes))
        self.counts.update(codes)
        self.cohorts.setdefault(cohort, Counter()).update(codes)
        self.items += len(codes)
        while len(self.sets) > self.window:
            _, old_cohort, old = self.sets.popleft()
            self.counts.subtract(old)
            self.cohorts[old_cohort].subtract(old)
            self.items -= len(old)

    def usage(self, cohort: str) -> Usage:
        n = len(self.sets)
        if not n:
            return Usage()
        return Usage(
            sets=n,
            mean_length=round(self.items / n, 4),
            counts={k: v for k, v in self.counts.items() if v},
            cohort_counts={k: v for k, v in self.cohorts.get(cohort, {}).items() if v} if cohort else {},
        )


CACHES: dict[tuple[str, int, int], UsageCache] = {}  # (store, method id, window) -> its cache, per process
_LOCK = threading.Lock()


def recent_usage(s: Session, method_id: int, cohort: str, window: int = USAGE_WINDOW) -> Usage:
    """The method's recent use as a draw in `cohort` sees it, brought up to date from the store."""
    key = (str(s.get_bind().engine.url), method_id, window)  # .engine: the bind may be a connection
    with _LOCK:
        cache = CACHES.setdefault(key, UsageCache(window))
        cache.refresh(s, method_id)
        return cache.usage(cohort)
