"""A method's exposure plan: the least maximum exposure its bank allows and the rates a draw
steers towards. Solved by `floor.plan` (linear programming, SciPy) at import; stored as JSON in
`release_plan`; read by every draw, which needs none of the solver (this module imports nothing
heavy, so a cold `qbank draw` does not load SciPy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALGORITHM = "qbank-floor/3"  # stored with every plan; change it when the plan would come out differently
# (/3: stage 2 minimises the overlap Σπ²/L̄ as simulate measures it, where /1 minimised Σπ², and
# keeps the opener rule of qbank-draw/3, openers at the cap; /2 kept the rule with Σπ²)


@dataclass(frozen=True)
class Plan:
    """A method's exposure floor and the rates a draw should keep its questions to."""

    method: str
    budget: int  # the minutes the sets were valid for (no extra time, nothing excluded)
    floor: float  # the least maximum exposure any draw can reach (the LP's optimum, stage 1)
    bound: float  # a proved lower bound on it (== floor when `proved`)
    proved: bool
    cap: float
    limit: float  # max(cap, floor): what the target rates keep to
    rates: dict[str, float]  # question id -> target inclusion rate (stage 2); absent = 0
    overlap: float  # expected overlap of two sets drawn from stage 2's distribution, Σπ²/L̄
    mean_length: float  # L̄ of that distribution
    usable: int  # questions that fit the method's time: the N of the even share L̄/N
    binding: tuple[str, ...]  # outcomes whose covering questions are all at the floor, every set taking one
    seconds: float
    columns: int  # valid sets the LPs held in the end
    rounds: int
    note: str = ""  # why a stage stopped short of a proof, or that the method draws nothing
    algorithm: str = ALGORITHM
    support: list[tuple[float, tuple[str, ...]]] = field(default_factory=list, compare=False)  # stage 2's sets

    @property
    def even_share(self) -> float:
        return self.mean_length / self.usable if self.usable else 0.0

    @property
    def overlap_floor(self) -> float:
        """The least overlap the formula allows, as many sets are drawn: L̄/N (all questions equal)."""
        return self.even_share

    def as_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "method": self.method,
            "budget": self.budget,
            "floor": round(self.floor, 6),
            "bound": round(self.bound, 6),
            "proved": self.proved,
            "cap": self.cap,
            "limit": round(self.limit, 6),
            "overlap": round(self.overlap, 6),
            "mean_length": round(self.mean_length, 4),
            "usable": self.usable,
            "binding": list(self.binding),
            "seconds": round(self.seconds, 3),
            "columns": self.columns,
            "rounds": self.rounds,
            "note": self.note,
            "rates": {k: round(v, 6) for k, v in sorted(self.rates.items()) if v > 0},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        return cls(
            method=d["method"],
            budget=d["budget"],
            floor=d["floor"],
            bound=d["bound"],
            proved=d["proved"],
            cap=d["cap"],
            limit=d["limit"],
            rates=dict(d["rates"]),
            overlap=d["overlap"],
            mean_length=d["mean_length"],
            usable=d["usable"],
            binding=tuple(d["binding"]),
            seconds=d["seconds"],
            columns=d["columns"],
            rounds=d["rounds"],
            note=d.get("note", ""),
            algorithm=d.get("algorithm", ALGORITHM),
        )
