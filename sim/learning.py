"""Golden model of a core's learning unit (``hdl/learning.py``), bit-exact.

The rules are docs/semantics.md section 6: a learn phase runs after the
update of every tick in which learning is enabled. It shifts each row's
H-tick history, then walks the rows in increasing order; for row r it
applies post-triggered STDP to the entries (r, j) of the tick's learning
post-synaptic spikes j (increasing j, one draw per entry with a synapse),
then, if r was active this tick and P_GROW is not 0, tries to grow one
synapse (two draws: the chance, then the column).

Rows never interact (STDP and growth of row r touch row r only), so the
model counts each row's draws first, generates the tick's draws in one
sequence, and applies every rule vectorised; the sequence and its split
among rows is exactly the hardware's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeloom.defs import PRNG_RESET, PROB_ONE, Geometry, LearnConfig, prng_seed, xorshift32

__all__ = ["Learner", "LearnStats"]


@dataclass
class LearnStats:
    """What one learn phase did (for benchmarks and tests)."""

    visits: int = 0  #: STDP entries visited (rows x learning post spikes)
    draws: int = 0  #: generator steps
    potentiated: int = 0  #: entries whose count went up
    depressed: int = 0  #: entries whose count went down
    grown: int = 0  #: synapses grown

    def add(self, other: LearnStats):
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))


class Learner:
    """Learning state of one core: every row's history and the generator."""

    def __init__(self, geometry: Geometry):
        self.g = geometry
        self.hist = np.zeros(geometry.rows, dtype=np.int64)
        self.prng = PRNG_RESET

    def seed(self, value: int):
        self.prng = prng_seed(value)

    def reset(self):
        """Soft reset: the generator restarts; the history memory is kept."""
        self.prng = PRNG_RESET

    def _draw(self, k: int) -> np.ndarray:
        out = np.empty(k, dtype=np.int64)
        x = self.prng
        for i in range(k):
            x = xorshift32(x)
            out[i] = x
        self.prng = x
        return out

    def learn(
        self,
        count: np.ndarray,
        sign: np.ndarray,
        learn_bits: np.ndarray,
        active: np.ndarray,
        spikes: np.ndarray,
        cfg: LearnConfig,
        phase: int,
    ) -> LearnStats:
        """One learn phase; changes ``count`` (rows, N) in place.

        ``active``: (rows,) bool, the rows active this tick; ``spikes``: (N,)
        bool, this tick's spikes; ``learn_bits``: every neuron's learn-enable;
        ``phase``: the tick's episode phase. ``sign`` is only read (growth
        keeps an entry's sign).
        """
        g = self.g
        del sign  # growth keeps the entry's stored sign: nothing to read
        active = np.asarray(active, dtype=bool)
        self.hist = ((self.hist << 1) | active) & ((1 << g.history) - 1)
        pre = self.hist != 0
        post = np.flatnonzero(np.asarray(spikes, dtype=bool) & (np.asarray(learn_bits) != 0))
        nz = count[:, post] != 0  # (rows, posts): the STDP draws, row-major
        n_stdp = nz.sum(axis=1)
        growing = active & (cfg.p_grow != 0)
        per_row = n_stdp + 2 * growing
        start = np.cumsum(per_row) - per_row
        draws = self._draw(int(per_row.sum()))
        stats = LearnStats(visits=g.rows * len(post), draws=len(draws))

        r, p = np.nonzero(nz)
        if r.size:
            rank = np.arange(r.size) - (np.cumsum(n_stdp) - n_stdp)[r]
            u = draws[start[r] + rank] & (PROB_ONE - 1)
            j = post[p]
            c = count[r, j]
            inc = pre[r] & (u < cfg.p_plus)
            dec = ~pre[r] & (u < cfg.p_minus)
            new = np.where(inc, np.minimum(c + 1, g.max_count), np.where(dec, c - 1, c))
            stats.potentiated = int((new > c).sum())
            stats.depressed = int((new < c).sum())
            count[r, j] = new

        rows = np.flatnonzero(growing)
        if rows.size:
            n = (count[rows] != 0).sum(axis=1)
            at = start[rows] + n_stdp[rows]
            u = draws[at] & (PROB_ONE - 1)
            col = draws[at + 1] & (g.neurons - 1)
            e = max(cfg.episode, 1)
            phi = phase if cfg.episode else 0
            chance = u * (1 + n) * e < cfg.p_grow * (e - phi)
            ok = chance & (count[rows, col] == 0) & (np.asarray(learn_bits)[col] != 0)
            count[rows[ok], col[ok]] = 1
            stats.grown = int(ok.sum())
        return stats
