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

        # The draws of each row: its STDP entries (row-major), then 2 if it grows.
        nz = count[:, post] != 0
        r, p = np.nonzero(nz)
        n_stdp = np.bincount(r, minlength=g.rows)
        per_row = n_stdp.copy()
        per_row[growing] += 2
        first = np.cumsum(per_row) - per_row  # each row's first draw
        u_all = self._draw(int(per_row.sum()))
        stats.draws = len(u_all)
        changed_r, changed_c = [], []

        if r.size:
            # Rows are in increasing order in r; an entry's rank in its row is
            # its position minus the row's first STDP entry.
            rank = np.arange(r.size) - (np.cumsum(n_stdp) - n_stdp)[r]
            u = u_all[first[r] + rank] & (PROB_ONE - 1)
            j = post[p]
            c = count[r, j]
            pre = self.hist[r] != 0
            inc = pre & (u < cfg.p_plus) & (c < g.max_count)
            dec = ~pre & (u < cfg.p_minus)
            stats.potentiated = int(np.count_nonzero(inc))
            stats.depressed = int(np.count_nonzero(dec))
            moved = inc | dec
            if moved.any():
                rr, jj = r[moved], j[moved]
                count[rr, jj] = c[moved] + inc[moved] - dec[moved]
                changed_r.append(rr)
                changed_c.append(jj)

        if growing.size:
            rows = growing
            n = np.count_nonzero(count[rows], axis=1)
            at = first[rows] + n_stdp[rows]
            u = u_all[at] & (PROB_ONE - 1)
            col = u_all[at + 1] & (g.neurons - 1)
            e = max(cfg.episode, 1)
            phi = phase if cfg.episode else 0
            chance = u * (1 + n) * e < cfg.p_grow * (e - phi)
            ok = chance & (count[rows, col] == 0) & (learn_bits[col] != 0)
            if ok.any():
                count[rows[ok], col[ok]] = 1
                changed_r.append(rows[ok])
                changed_c.append(col[ok])
            stats.grown = int(np.count_nonzero(ok))

        if weights is not None and changed_r:
            rr, cc = np.concatenate(changed_r), np.concatenate(changed_c)
            w = count[rr, cc]
            weights[rr, cc] = np.where(sign[rr, cc] != 0, -w, w)
        if total is not None:
            total.add(stats)
        return stats
