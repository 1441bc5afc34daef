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
sequence, and applies every rule vectorised over rows and posts; the
sequence and its split among rows is exactly the hardware's. The draws
are generated in blocks by jump-ahead tables (xorshift32 is linear over
GF(2): state i after x is the XOR of four byte-indexed table entries), so
a learn phase has no Python loop over draws, rows or posts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeloom.defs import (
    PRNG_RESET,
    PROB_ONE,
    XORSHIFT,
    Geometry,
    LearnConfig,
    prng_seed,
    xorshift32,
)

__all__ = ["Learner", "LearnStats", "draws"]

_BLOCK = 512  #: draws per jump-ahead block
_TABLES: np.ndarray | None = None  #: (4, 256, _BLOCK) uint32, built on first use


def _tables() -> np.ndarray:
    """``T[k, b, i]``: the state i + 1 steps after the state ``b << 8k``."""
    global _TABLES
    if _TABLES is None:
        a, b, c = XORSHIFT
        cols = np.empty((_BLOCK, 32), dtype=np.uint32)  # step i of each basis bit
        x = (np.uint32(1) << np.arange(32, dtype=np.uint32)).astype(np.uint32)
        for i in range(_BLOCK):
            x = x ^ (x << np.uint32(a))
            x = x ^ (x >> np.uint32(b))
            x = x ^ (x << np.uint32(c))
            cols[i] = x
        t = np.zeros((4, 256, _BLOCK), dtype=np.uint32)
        for k in range(4):
            for v in range(1, 256):
                low = (v & -v).bit_length() - 1
                t[k, v] = t[k, v & (v - 1)] ^ cols[:, 8 * k + low]
        _TABLES = t
    return _TABLES


def draws(x: int, k: int) -> np.ndarray:
    """The next ``k`` generator states after state ``x`` (int64 array)."""
    out = np.empty(k, dtype=np.int64)
    if k <= 4:
        for i in range(k):
            x = xorshift32(x)
            out[i] = x
        return out
    t = _tables()
    pos = 0
    while pos < k:
        m = min(_BLOCK, k - pos)
        blk = t[0, x & 255, :m] ^ t[1, (x >> 8) & 255, :m]
        blk ^= t[2, (x >> 16) & 255, :m]
        blk ^= t[3, x >> 24, :m]
        out[pos : pos + m] = blk
        x = int(blk[-1])
        pos += m
    return out


def _rewrite(weights, count, sign, r, c):
    """The signed weights of entries (r, c) from their count and sign."""
    w = count[r, c]
    weights[r, c] = np.where(sign[r, c] != 0, -w, w)


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
        out = draws(self.prng, k)
        if k:
            self.prng = int(out[-1])
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
        weights: np.ndarray | None = None,
        stats: LearnStats | None = None,
    ) -> LearnStats:
        """One learn phase; changes ``count`` (rows, N) in place.

        ``active``: (rows,) bool, the rows active this tick; ``spikes``: (N,)
        bool, this tick's spikes; ``learn_bits``: every neuron's learn-enable;
        ``phase``: the tick's episode phase. ``sign`` is only read (growth
        keeps an entry's stored sign). ``weights``, if given, is the (rows,
        N) signed-weight array kept in step with ``count``: every changed
        entry is rewritten there too. The phase's counts are returned, and
        added to ``stats`` if given.
        """
        g = self.g
        active = np.asarray(active, dtype=bool)
        self.hist = ((self.hist << 1) | active) & ((1 << g.history) - 1)
        learn_bits = np.asarray(learn_bits)
        post = np.flatnonzero(np.asarray(spikes, dtype=bool) & (learn_bits != 0))
        total = stats
        stats = LearnStats(visits=g.rows * len(post))
        growing = np.flatnonzero(active) if cfg.p_grow else np.zeros(0, dtype=np.int64)
        if not post.size and not growing.size:
            return stats

        # The draws: row by row, a row's STDP entries (increasing j), then
        # its two growth draws if it grows. Entry k of the row-major list (r, p)
        # is preceded by two draws per growing row above r[k]; growing row i
        # by the STDP entries of the rows up to it and 2 i growth draws.
        # The signed weights (int16) are non-zero where count is: gathered
        # instead of count when given (a quarter of the bytes).
        nonzero = count if weights is None else weights
        r, p = np.nonzero(nonzero[:, post])
        u_all = self._draw(r.size + 2 * growing.size)
        stats.draws = len(u_all)

        if r.size:
            if growing.size:
                u = u_all[np.arange(r.size) + 2 * np.searchsorted(growing, r)]
            else:
                u = u_all[: r.size]
            u = u & (PROB_ONE - 1)
            j = post[p]
            c = count[r, j]
            pre = self.hist[r] != 0
            moved = np.zeros(r.size, dtype=bool)
            delta = np.zeros(r.size, dtype=np.int64)
            if cfg.p_plus:
                inc = pre & (u < cfg.p_plus) & (c < g.max_count)
                stats.potentiated = int(np.count_nonzero(inc))
                moved |= inc
                delta += inc
            if cfg.p_minus:
                dec = (u < cfg.p_minus) > pre  # and not in the window
                stats.depressed = int(np.count_nonzero(dec))
                moved |= dec
                delta -= dec
            if stats.potentiated or stats.depressed:
                rr, jj = r[moved], j[moved]
                count[rr, jj] = c[moved] + delta[moved]
                if weights is not None:  # before growth counts the row's synapses
                    _rewrite(weights, count, sign, rr, jj)

        if growing.size:
            rows = growing
            n = np.count_nonzero(nonzero[rows], axis=1)
            at = np.searchsorted(r, rows, side="right") + 2 * np.arange(rows.size)
            u = u_all[at] & (PROB_ONE - 1)
            col = u_all[at + 1] & (g.neurons - 1)
            e = max(cfg.episode, 1)
            phi = phase if cfg.episode else 0
            chance = u * (1 + n) * e < cfg.p_grow * (e - phi)
            ok = chance & (count[rows, col] == 0) & (learn_bits[col] != 0)
            if ok.any():
                count[rows[ok], col[ok]] = 1
                if weights is not None:
                    _rewrite(weights, count, sign, rows[ok], col[ok])
            stats.grown = int(np.count_nonzero(ok))

        if total is not None:
            total.add(stats)
        return stats
