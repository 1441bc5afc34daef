"""A mapped network: everything a chip of one geometry needs, as arrays.

Shared by the golden model (``spikeloom.sim.top``), the network mapper
(``spikeloom.host.mapper``), network files (``spikeloom.host.netfile``) and
the host's loader (``Board.load``). ``validate()``
raises :class:`NetworkError` naming the offending field and element.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikeloom.defs import (
    LEARN_FIELDS,
    PARAM_FIELDS,
    Geometry,
    LearnConfig,
    Region,
    pack_array,
    unpack_array,
)

__all__ = ["Network", "NetworkError", "Learning", "PARAM_FIELDS", "LEARNING_KEYS", "SEED_KEY"]

#: The key of the generator seeds in a network's learning section.
SEED_KEY = "seed"
#: The keys of a network's learning section: the ``LEARN_LAYOUT`` fields, then the seeds.
LEARNING_KEYS = (*LEARN_FIELDS, SEED_KEY)


class NetworkError(ValueError):
    """A network does not fit its geometry; the message names the field."""


@dataclass(frozen=True)
class Learning:
    """A network's learning section: the chip's learning parameters (registers
    LEARN .. EPISODE, fixed point) and, optionally, one generator seed per core
    (SEED; None: the generators are not seeded). The per-neuron learn-enable
    bits are ``params["learn"]`` of the network."""

    config: LearnConfig
    seeds: tuple[int, ...] | None = None

    def validate(self, geometry: Geometry) -> Learning:
        if not isinstance(self.config, LearnConfig):
            raise NetworkError(f"learning: a LearnConfig expected, got {self.config!r}")
        if self.seeds is not None:
            seeds = tuple(self.seeds)
            if len(seeds) != geometry.cores:
                raise NetworkError(
                    f"learning.{SEED_KEY}: {len(seeds)} seeds, expected one per core "
                    f"({geometry.cores})"
                )
            for c, v in enumerate(seeds):
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                    raise NetworkError(f"learning.{SEED_KEY}[{c}] = {v!r}: an integer expected")
                if not 0 <= v < 1 << 32:
                    raise NetworkError(f"learning.{SEED_KEY}[{c}] = {v}: out of range 0..2**32-1")
        return self

    def as_dict(self) -> dict:
        """The section as a table: ``LEARNING_KEYS``, the seeds only if given."""
        d = self.config.as_dict()
        if self.seeds is not None:
            d[SEED_KEY] = [int(v) for v in self.seeds]
        return d


@dataclass
class Network:
    """Crossbars, neuron parameters and routing tables of every core.

    Shapes (C cores, N neurons, R = N + A rows, F fan-out entries):
    ``count`` and ``sign`` (C, R, N); each ``params[f]`` (C, N);
    ``route_valid``, ``route_core``, ``route_axon`` (C, N, F).
    """

    geometry: Geometry
    count: np.ndarray
    sign: np.ndarray
    params: dict = field(default_factory=dict)
    route_valid: np.ndarray | None = None
    route_core: np.ndarray | None = None
    route_axon: np.ndarray | None = None
    #: The learning section (None: the network file has none).
    learning: Learning | None = None

    @classmethod
    def empty(cls, geometry: Geometry) -> Network:
        g = geometry
        c, n, r, f = g.cores, g.neurons, g.rows, g.fanout
        z = np.zeros
        return cls(
            geometry=g,
            count=z((c, r, n), dtype=np.int64),
            sign=z((c, r, n), dtype=np.int64),
            params={k: z((c, n), dtype=np.int64) for k in PARAM_FIELDS},
            route_valid=z((c, n, f), dtype=np.int64),
            route_core=z((c, n, f), dtype=np.int64),
            route_axon=z((c, n, f), dtype=np.int64),
        )

    def validate(self) -> Network:
        g = self.geometry
        c, n, r, f = g.cores, g.neurons, g.rows, g.fanout
        limits = {
            "count": ((c, r, n), 0, g.max_count),
            "sign": ((c, r, n), 0, 1),
            "route_valid": ((c, n, f), 0, 1),
            "route_core": ((c, n, f), 0, c - 1),
            "route_axon": ((c, n, f), 0, g.axons - 1),
        }
        widths = {name: fl.width for name, fl in g.params_layout}
        for k in PARAM_FIELDS:
            limits[f"params.{k}"] = ((c, n), 0, (1 << widths[k]) - 1)
        for name, (shape, lo, hi) in limits.items():
            if name.startswith("params."):
                key = name.split(".", 1)[1]
                if key not in self.params:
                    raise NetworkError(f"{name}: missing")
                arr = np.asarray(self.params[key])
            else:
                arr = getattr(self, name)
                if arr is None:
                    raise NetworkError(f"{name}: missing")
                arr = np.asarray(arr)
            if arr.shape != shape:
                raise NetworkError(f"{name}: shape {arr.shape}, expected {shape} for {g}")
            if not np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool:
                raise NetworkError(f"{name}: integers expected, got {arr.dtype}")
            bad = np.argwhere((arr < lo) | (arr > hi))
            if bad.size:
                where = tuple(int(x) for x in bad[0])
                raise NetworkError(
                    f"{name}{list(where)} = {int(arr[tuple(bad[0])])}: "
                    f"out of range {lo}..{hi} for this geometry"
                )
        extra = set(self.params) - set(PARAM_FIELDS)
        if extra:
            raise NetworkError(f"params: unknown field(s) {sorted(extra)}")
        if self.learning is not None:
            if not isinstance(self.learning, Learning):
                raise NetworkError(f"learning: a Learning expected, got {self.learning!r}")
            self.learning.validate(g)
        return self

    def region_words(self, core: int, region: Region) -> list[int]:
        """The configuration-port words of one region of ``core``, in index order.

        ``Region.STATE`` is all zeros: a network starts from rest.
        """
        g = self.geometry
        region = Region(region)
        if region == Region.CROSSBAR:
            return pack_array(
                g.entry_layout, count=self.count[core].ravel(), sign=self.sign[core].ravel()
            )
        if region == Region.PARAMS:
            return pack_array(g.params_layout, **{k: self.params[k][core] for k in PARAM_FIELDS})
        if region == Region.ROUTES:
            return pack_array(
                g.route_layout,
                valid=self.route_valid[core].ravel(),
                core=self.route_core[core].ravel(),
                axon=self.route_axon[core].ravel(),
            )
        return [0] * g.region_depth(region)

    def set_region_words(self, core: int, region: Region, index: int, words) -> None:
        """Write configuration-port words of one region of ``core`` from ``index``.

        The inverse of :meth:`region_words`; ``Region.STATE`` is not part of
        a network (ValueError).
        """
        g = self.geometry
        region = Region(region)
        if region == Region.STATE:
            raise ValueError("Region.STATE is not part of a network")
        f = unpack_array(g.region_layout(region), words)
        span = slice(index, index + len(f[next(iter(f))]))
        if region == Region.CROSSBAR:
            self.count[core].reshape(-1)[span] = f["count"]
            self.sign[core].reshape(-1)[span] = f["sign"]
        elif region == Region.PARAMS:
            for k in PARAM_FIELDS:
                self.params[k][core][span] = f[k]
        else:
            self.route_valid[core].reshape(-1)[span] = f["valid"]
            self.route_core[core].reshape(-1)[span] = f["core"]
            self.route_axon[core].reshape(-1)[span] = f["axon"]
