"""Golden model of a multi-core chip (``hdl/top.py``): cores, routing, bus tree.

Bit-exact with the RTL's results (spikes, states, output events, per-level
event counts); timing is not modelled. Vectorised over cores and neurons:
one batched gather-and-sum, one neuron update over a (cores, N) array, and
one scatter of the routed events per tick.

Routing (docs/semantics.md §5): a spike of neuron n of core c at tick t
sends one event per valid routing entry (c, n, f) to axon
``route_axon[c, n, f]`` of core ``route_core[c, n, f]``, active at t + 1.
Host events for tick t and routed events are merged per axon (an axon is
active or not). Per level of the bus tree, ``carried[l]`` counts the
events that crossed a segment of that level: an event between cores whose
lowest common ancestor is at level L crosses two segments of each level
below L and one of level L; host events descend from the root (one segment
per level) and output events climb to it (one per level).
"""

from __future__ import annotations

import math

import numpy as np

from spikeloom.defs import COUNTERS, Geometry, LearnConfig, next_phase
from spikeloom.network import Network

from . import neuron
from .learning import Learner, LearnStats

__all__ = ["ChipModel", "lca_level"]


def lca_level(geometry: Geometry, src, dst) -> np.ndarray:
    """Level of the lowest bus segment joining cores ``src`` and ``dst``."""
    src, dst = np.asarray(src), np.asarray(dst)
    level = np.full(np.broadcast(src, dst).shape, len(geometry.levels) - 1)
    # A level-i segment joins the cores of one block of prod(levels[:i+1]).
    for i in reversed(range(len(geometry.levels))):
        span = math.prod(geometry.levels[: i + 1])
        level = np.where((src // span) == (dst // span), i, level)
    return level


class ChipModel:
    """All cores of one geometry, with routing between them."""

    def __init__(self, network: Network):
        network.validate()
        self.net = network
        self.g = g = network.geometry
        if g.rows * g.max_count >= 1 << 24:
            raise ValueError("geometry too large for exact float32 sums")  # pragma: no cover
        self.reload()
        self.state = {
            f: np.zeros((g.cores, g.neurons), dtype=np.int64) for f in neuron.STATE_FIELDS
        }
        self.last_spikes = np.zeros((g.cores, g.neurons), dtype=bool)
        self.pending = np.zeros((g.cores, g.axons), dtype=bool)  # routed, for next tick
        self.tick_count = 0
        # Learning (docs/semantics.md section 6): the chip's parameters, the
        # episode phase of the next tick, and every core's unit.
        self.learn_cfg = LearnConfig()
        self.phase = 0
        self.learners = [Learner(g) for _ in range(g.cores)]
        self.learn_stats = LearnStats()  #: summed over every learn phase so far
        nlev = len(g.levels)
        self.counters = {
            "carried": np.zeros(nlev, dtype=np.int64),  # per level, all segments
            # routed: events sent between cores (= delivered); delivered: events
            # into cores' axon inputs (routed + host). No host_dropped (COUNTERS).
            **{name: 0 for name in COUNTERS if name != "host_dropped"},
        }

    def reload(self):
        """Take the network's arrays again (after the caller changed them in
        place, as the link model's memory writes do); dynamic state is kept."""
        network, g = self.net, self.g
        # float32 holds every partial sum exactly (checked in __init__), and a
        # batched matrix product is the fastest exact sum numpy offers here.
        self._w = np.where(network.sign != 0, -network.count, network.count).astype(np.float32)
        self.params = {k: np.asarray(v, dtype=np.int64) for k, v in network.params.items()}
        # An entry naming a core that does not exist is ignored (as in hdl/fanout.py).
        self._valid = (network.route_valid != 0) & (network.route_core < g.cores)
        # Segments crossed per level by a routed event, by source and entry.
        lev = lca_level(g, np.arange(g.cores)[:, None, None], network.route_core)
        nlev = len(g.levels)
        self._hops = np.stack([np.where(lev > i, 2, np.where(lev == i, 1, 0)) for i in range(nlev)])

    def set_learning(self, cfg: LearnConfig):
        """Set the learning parameters (the phase goes on: see restart_episode)."""
        self.learn_cfg = cfg

    def restart_episode(self):
        """The next tick is tick 0 of an episode (a write of EPISODE does this)."""
        self.phase = 0

    def seed(self, core: int, value: int):
        """Seed core ``core``'s learning generator (SEED)."""
        if not 0 <= core < self.g.cores:
            raise ValueError(f"core {core} out of range 0..{self.g.cores - 1}")
        self.learners[core].seed(value)

    def soft_reset(self):
        """What RESET does to the chip's logic: tick 0, no pending events,
        counters 0, episode phase 0, generators at their reset value. The
        memories (crossbar, parameters, neuron states, histories) are kept."""
        self.last_spikes[:] = False
        self.pending[:] = False
        self.tick_count = 0
        self.phase = 0
        for k, v in self.counters.items():
            self.counters[k] = np.zeros_like(v) if isinstance(v, np.ndarray) else 0
        for lr in self.learners:
            lr.reset()

    def tick(self, host_events=()):
        """Advance one tick. ``host_events``: iterable of (core, axon).

        Returns ``(spikes, events)``: (cores, N) bool, and the output events
        ``[(tick, core, neuron), ...]`` sorted by core, then neuron (the
        hardware's interleaving of cores is not part of the semantics).
        """
        g = self.g
        ev = np.asarray(list(host_events), dtype=np.int64).reshape(-1, 2)
        if ev.size and (
            ev[:, 0].min() < 0
            or ev[:, 0].max() >= g.cores
            or ev[:, 1].min() < 0
            or ev[:, 1].max() >= g.axons
        ):
            raise ValueError(f"host event out of range (cores {g.cores}, axons {g.axons})")
        axons = self.pending.copy()
        axons[ev[:, 0], ev[:, 1]] = True
        active = np.concatenate([self.last_spikes, axons], axis=1).astype(np.float32)
        inp = np.matmul(active[:, None, :], self._w)[:, 0, :].astype(np.int64)
        self.state, spikes = neuron.update(g, self.params, self.state, inp)
        phase, self.phase = self.phase, next_phase(self.phase, self.learn_cfg.episode)
        if self.learn_cfg.learn and g.history:
            net = self.net
            for c, lr in enumerate(self.learners):
                self.learn_stats.add(
                    lr.learn(
                        net.count[c],
                        net.sign[c],
                        self.params["learn"][c],
                        active[c] != 0,
                        spikes[c],
                        self.learn_cfg,
                        phase,
                    )
                )
            self._w = np.where(net.sign != 0, -net.count, net.count).astype(np.float32)

        sent = spikes[:, :, None] & self._valid
        self.pending = np.zeros_like(self.pending)
        self.pending[self.net.route_core[sent], self.net.route_axon[sent]] = True
        out = spikes & (self.params["output"] != 0)
        nlev = len(g.levels)
        self.counters["routed"] += int(sent.sum())
        self.counters["delivered"] += int(sent.sum()) + len(ev)
        self.counters["host_events"] += len(ev)
        self.counters["output_events"] += int(out.sum())
        self.counters["carried"] += (self._hops * sent[None]).reshape(nlev, -1).sum(axis=1)
        self.counters["carried"] += len(ev) + int(out.sum())
        cores, neurons = np.nonzero(out)
        stamp = self.tick_count & ((1 << g.tick_bits) - 1)
        events = [(stamp, int(c), int(n)) for c, n in zip(cores, neurons)]
        self.last_spikes = spikes
        self.tick_count += 1
        return spikes, events
