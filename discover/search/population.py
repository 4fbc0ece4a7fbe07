"""The programs database: islands of clusters, FunSearch style.

Within an island, programs with the same per-instance results (the same *signature*) share a
cluster. A parent is drawn by a softmax over the clusters' gaps with a temperature that cools as the
island fills, then, inside the chosen cluster, by a softmax favouring shorter programs. Every random
choice comes from one ``numpy.random.Generator`` whose state can be saved and restored exactly.

With ``pareto=True`` (the ``pareto`` objective) clusters are drawn by their rank on the island's
non-dominated front of (gap, cost) instead of by gap: rank 0 is the front, rank 1 the front once
rank 0 is removed, and so on; a cluster's cost is its cheapest member's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Member:
    """A program as the population sees it."""

    id: int
    gap: float  # mean gap % on the training set; lower is better
    signature: str  # digest of the per-instance results
    length: int  # characters of code
    cost: float = math.inf  # cost ratio to the reference at cost.n; inf when unknown or unfinished
    prompt: int = -1  # the prompt whose commit added it (-1: seeds); prompts built later see it


@dataclass
class _Cluster:
    gap: float
    members: list[Member] = field(default_factory=list)

    @property
    def cost(self) -> float:
        return min(m.cost for m in self.members)


def front_ranks(points: list[tuple[float, float]]) -> list[int]:
    """Return the non-dominated sorting rank of each (gap, cost) point (0 = on the front; lower is better).

    A point dominates another when it is no worse in both and better in one.
    """
    order = sorted(range(len(points)), key=lambda i: points[i])
    ranks = [0] * len(points)
    last: list[tuple[float, float]] = []  # per rank, its member with the highest gap so far (lowest cost)
    for i in order:
        g, c = points[i]
        k = 0
        while k < len(last) and last[k][1] <= c and (last[k][1] < c or last[k][0] < g):
            k += 1  # dominated by rank k's latest member (gap no higher, cost no higher, one strictly)
        if k == len(last):
            last.append((g, c))
        else:
            last[k] = (g, c)
        ranks[i] = k
    return ranks


def _dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and (a[0] < b[0] or a[1] < b[1])


@dataclass
class _Island:
    clusters: dict[str, _Cluster] = field(default_factory=dict)
    count: int = 0
    best: Member | None = None

    def add(self, m: Member) -> None:
        c = self.clusters.get(m.signature)
        if c is None:
            c = self.clusters[m.signature] = _Cluster(gap=m.gap)
        c.members.append(m)
        self.count += 1
        if self.best is None or m.gap < self.best.gap:
            self.best = m


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits / max(temperature, 1e-12)
    z = np.exp(z - z.max())
    return z / z.sum()


class Population:
    """Islands of clusters with deterministic, seeded sampling.

    Parameters
    ----------
    islands
        Number of islands.
    rng
        The run's only source of randomness; the population draws from it and only from it.
    temperature_init, temperature_period
        Cluster softmax temperature, in gap %-points: ``T = T0·(1 − (count mod period)/period)``
        where ``count`` is the number of programs on the island.
    """

    def __init__(self, islands: int, rng: np.random.Generator, temperature_init: float = 1.0,
                 temperature_period: int = 1000, pareto: bool = False) -> None:
        if islands < 1:
            raise ValueError(f"islands = {islands} must be at least 1")
        self.rng = rng
        self.temperature_init = temperature_init
        self.temperature_period = temperature_period
        self.pareto = pareto
        self._islands = [_Island() for _ in range(islands)]

    # --- bookkeeping -------------------------------------------------------------------------
    @property
    def islands(self) -> int:
        """The number of islands."""
        return len(self._islands)

    def add(self, island: int, member: Member) -> None:
        """Register a scored program on an island."""
        self._islands[island].add(member)

    def clear(self, island: int) -> None:
        """Empty an island (the first step of a reset)."""
        self._islands[island] = _Island()

    def counts(self) -> list[int]:
        """Return the number of programs on each island."""
        return [isl.count for isl in self._islands]

    def cluster_counts(self) -> list[int]:
        """Return the number of clusters on each island."""
        return [len(isl.clusters) for isl in self._islands]

    def members(self, island: int) -> list[Member]:
        """Return the programs on an island in registration order."""
        return [m for c in self._islands[island].clusters.values() for m in c.members]

    def best(self, island: int | None = None) -> Member | None:
        """Return the best program of one island, or of all (ties: the earliest registered)."""
        if island is not None:
            return self._islands[island].best
        cands = [isl.best for isl in self._islands if isl.best is not None]
        return min(cands, key=lambda m: (m.gap, m.id)) if cands else None

    def best_gap(self, island: int, upto: int | None = None) -> float | None:
        """Return the lowest gap among the island's members added by prompts up to ``upto`` (all: None)."""
        ms = self.members(island)
        seen = [m.gap for m in ms if upto is None or m.prompt <= upto] or [m.gap for m in ms]
        return min(seen) if seen else None

    def front(self, island: int) -> list[Member]:
        """Return the island's non-dominated programs by (gap, cost), lowest gap first."""
        ms = self.members(island)
        ranks = front_ranks([(m.gap, m.cost) for m in ms])
        return sorted((m for m, r in zip(ms, ranks, strict=True) if r == 0), key=lambda m: (m.gap, m.id))

    def temperature(self, island: int) -> float:
        """Return the cluster softmax temperature of an island now."""
        period = self.temperature_period
        return self.temperature_init * (1.0 - (self._islands[island].count % period) / period)

    # --- sampling ----------------------------------------------------------------------------
    def choose_island(self) -> int:
        """Draw an island uniformly among the non-empty ones."""
        live = [i for i, isl in enumerate(self._islands) if isl.count]
        if not live:
            raise ValueError("the population is empty")
        return live[int(self.rng.integers(len(live)))]

    def sample(self, island: int, k: int, upto: int | None = None) -> list[Member]:
        """Draw up to ``k`` parents from distinct clusters of an island, ordered worst to best.

        ``upto``: only members added by prompts up to this one are drawn (the population as a prompt
        built in a continuous run saw it, even when later prompts are committed already, as after a
        resume); when that leaves nothing (an island reset since), every member is eligible.
        """
        isl = self._islands[island]
        clusters = list(isl.clusters.values())
        if not clusters:
            raise ValueError(f"island {island} is empty")
        if upto is not None:
            seen = [_Cluster(c.gap, [m for m in c.members if m.prompt <= upto]) for c in clusters]
            seen = [c for c in seen if c.members]
            clusters = seen or clusters
        if self.pareto:
            keys = np.array(front_ranks([(c.gap, c.cost) for c in clusters]), dtype=float)
        else:
            keys = np.fromiter((c.gap for c in clusters), float, len(clusters))
        probs = _softmax(-keys, self.temperature(island))
        k_eff = min(k, int(np.count_nonzero(probs)), len(clusters))
        picked = self.rng.choice(len(clusters), size=k_eff, replace=False, p=probs)
        chosen = [self._pick_member(clusters[int(i)]) for i in picked]
        return sorted(chosen, key=lambda m: (-m.gap, m.id))

    def _pick_member(self, cluster: _Cluster) -> Member:
        ms = cluster.members
        if len(ms) == 1:
            return ms[0]
        lengths = np.fromiter((m.length for m in ms), float, len(ms))
        norm = (lengths - lengths.min()) / (lengths.max() + 1e-6)
        return ms[int(self.rng.choice(len(ms), p=_softmax(-norm, 1.0)))]

    # --- resets and migration ----------------------------------------------------------------
    def plan_reset(self) -> list[tuple[int, Member]]:
        """Choose the weaker half of the islands and, for each, the best of a random survivor.

        Returns ``(island, founder)`` pairs; apply them with ``clear`` then ``add``. Ties between
        islands are broken at random; empty islands count as the weakest.
        """
        m = self.islands
        if m < 2:
            return []
        best = np.array([isl.best.gap if isl.best else np.inf for isl in self._islands])
        order = np.lexsort((self.rng.permutation(m), best))  # best first, random among equal
        keep, reset = order[: m - m // 2], order[m - m // 2:]
        plan = []
        for island in sorted(int(i) for i in reset):
            donor = int(keep[int(self.rng.integers(len(keep)))])
            founder = self._islands[donor].best
            if founder is not None:
                plan.append((island, founder))
        return plan

    def plan_migration(self) -> list[tuple[int, Member]]:
        """Return ``(island, member)`` pairs: each island's best goes to the next island on a ring.

        A migrant moves only where it beats the destination's best, so repeated migrations of an
        unchanged population add nothing.
        """
        m = self.islands
        plan = []
        for i in range(m if m > 1 else 0):
            b, dest = self._islands[i].best, self._islands[(i + 1) % m].best
            if b is not None and (dest is None or b.gap < dest.gap):
                plan.append(((i + 1) % m, b))
        return plan

    # --- random state --------------------------------------------------------------------------
    def rng_state(self) -> str:
        """Return the generator's state as JSON text."""
        return json.dumps(self.rng.bit_generator.state, sort_keys=True)

    def set_rng_state(self, text: str) -> None:
        """Restore the generator's state from ``rng_state`` text."""
        self.rng.bit_generator.state = json.loads(text)
