"""The single source of truth for spikeloom.

Geometry, packed record layouts, enums and the per-core memory map are
defined here once and imported by the gateware (``spikeloom.hdl``), the golden
model (``spikeloom.sim``), the host (``spikeloom.host``), the testbenches and
the docs generator. Nothing in this module depends on the gateware; the
``amaranth.lib.data`` layouts are plain descriptions that the host can also
use to pack and unpack words (``layout.const({...}).as_value().value`` and
``layout.from_bits(...)``).
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass

import numpy as np
from amaranth.hdl import signed, unsigned
from amaranth.lib import data

__all__ = [
    "Geometry",
    "Model",
    "Region",
    "CORE_REGIONS",
    "COUNTERS",
    "REGION_BITS",
    "GEOMETRY_FIELDS",
    "PARAM_FIELDS",
    "STATE_FIELDS",
    "LEARN_LAYOUT",
    "LEARN_FIELDS",
    "LearnConfig",
    "PROB_BITS",
    "PROB_ONE",
    "EPISODE_BITS",
    "XORSHIFT",
    "PRNG_RESET",
    "xorshift32",
    "prng_seed",
    "next_phase",
]


class Model(enum.IntEnum):
    """Neuron model, the ``model`` field of the neuron parameters."""

    LIF = 0
    COUNTER = 1


class Region(enum.IntEnum):
    """Memories of one core reachable through its configuration port.

    Every region is addressed per element (one crossbar entry, one neuron):
    see :meth:`Geometry.region_depth` and :meth:`Geometry.region_layout`.
    """

    CROSSBAR = 0  #: index = row * neurons + column; an ``entry_layout`` word
    PARAMS = 1  #: index = neuron; a ``params_layout`` word
    STATE = 2  #: index = neuron; a ``state_layout`` word
    ROUTES = 3  #: index = neuron * fanout + entry; a ``route_layout`` word


#: Width of a configuration port's region select.
REGION_BITS = (len(Region) - 1).bit_length()

#: Regions held by the neuron core itself (``hdl/core.py``); the routing
#: table belongs to the core's fan-out unit (``hdl/fanout.py``).
CORE_REGIONS = (Region.CROSSBAR, Region.PARAMS, Region.STATE)

#: Event counters of the chip (``hdl/top.py``; ``sim/top.py`` keeps the same
#: names but ``host_dropped``: the golden model refuses such events instead).
#: The link reads them as registers (``protocol.CHIP_COUNTERS``), in this order.
COUNTERS = ("routed", "delivered", "host_events", "output_events", "host_dropped")


def _is_pow2(x: int) -> bool:
    return x > 0 and (x & (x - 1)) == 0


def _ceil_log2(x: int) -> int:
    return max(0, (x - 1).bit_length())


@dataclass(frozen=True)
class Geometry:
    """Elaboration-time parameters of a spikeloom chip.

    Every size in the gateware, the golden model and the host derives from
    one instance of this class. Invalid values raise :class:`ValueError`
    naming the field.
    """

    #: Branching factors of the bus tree, leaves first. ``(1,)`` is one core.
    levels: tuple[int, ...] = (1,)
    #: N, neurons per core (power of two).
    neurons: int = 256
    #: A, external input rows (axons) per core (power of two).
    axons: int = 256
    #: k, bits of synapse multiplicity: a crossbar entry holds 0 .. 2**k - 1.
    count_bits: int = 3
    #: P, signed width of the membrane potential and the counter slope.
    potential_bits: int = 16
    #: F, routing-table entries per neuron (power of two).
    fanout: int = 4
    #: H, ticks of spike history kept for learning; 0 builds no learning unit.
    history: int = 8
    #: Crossbar entries read per clock (power of two dividing ``neurons``).
    lanes: int = 4
    #: Width of the refractory / counter-age timer and of R and W.
    timer_bits: int = 8
    #: Width of the tick stamp carried by output events.
    tick_bits: int = 16
    #: V, logical cores per core engine (power of two dividing levels[0]):
    #: V consecutive cores (in one leaf segment) time-share one engine and
    #: one fan-out unit, their memories stacked in them, ticked one after
    #: another. Changes only timing and resources.
    virtual: int = 1

    def __post_init__(self):
        object.__setattr__(self, "levels", tuple(int(x) for x in self.levels))

        def bad(name, why):
            raise ValueError(f"Geometry.{name} = {getattr(self, name)!r}: {why}")

        if not self.levels or any(b < 1 for b in self.levels):
            bad("levels", "must be a non-empty tuple of branching factors >= 1")
        for name in ("neurons", "axons", "lanes"):
            if not _is_pow2(getattr(self, name)):
                bad(name, "must be a power of two")
        if self.neurons < 2:
            bad("neurons", "must be at least 2")
        if self.lanes > self.neurons:
            bad("lanes", f"must not exceed neurons ({self.neurons})")
        if not 1 <= self.count_bits <= 8:
            bad("count_bits", "must be in 1 .. 8")
        if not 4 <= self.potential_bits <= 32:
            bad("potential_bits", "must be in 4 .. 32")
        if not (_is_pow2(self.fanout) and self.fanout <= 64):
            # The routing table is addressed as neuron * fanout + entry, split
            # into bit fields in hardware.
            bad("fanout", "must be a power of two in 1 .. 64")
        if not 0 <= self.history <= 32:
            bad("history", "must be in 0 .. 32 (0: no learning unit)")
        if not 1 <= self.timer_bits <= 16:
            bad("timer_bits", "must be in 1 .. 16")
        if not 8 <= self.tick_bits <= 32:
            bad("tick_bits", "must be in 8 .. 32")
        if not _is_pow2(self.virtual) or self.levels[0] % self.virtual:
            # An engine's cores share a leaf segment (and a fan-out unit).
            bad("virtual", f"must be a power of two dividing levels[0] ({self.levels[0]})")
        if self.virtual > 1 and self.history:
            bad("virtual", "must be 1 with learning (history > 0): one learning unit per engine")

    # -- derived sizes ----------------------------------------------------

    @property
    def cores(self) -> int:
        return math.prod(self.levels)

    @property
    def rows(self) -> int:
        """Crossbar rows per core: N recurrent rows, then A axon rows."""
        return self.neurons + self.axons

    @property
    def groups(self) -> int:
        """Neuron groups per core: columns processed ``lanes`` at a time."""
        return self.neurons // self.lanes

    @property
    def max_count(self) -> int:
        return (1 << self.count_bits) - 1

    @property
    def v_min(self) -> int:
        return -(1 << (self.potential_bits - 1))

    @property
    def v_max(self) -> int:
        return (1 << (self.potential_bits - 1)) - 1

    @property
    def timer_max(self) -> int:
        return (1 << self.timer_bits) - 1

    @property
    def acc_bits(self) -> int:
        """Signed width of an input accumulator that can never overflow.

        The largest possible input to a neuron is every row active with a
        full-count synapse of one sign: ``rows * max_count`` in magnitude.
        """
        return (self.rows * self.max_count).bit_length() + 1

    @property
    def neuron_bits(self) -> int:
        return _ceil_log2(self.neurons)

    @property
    def axon_bits(self) -> int:
        return _ceil_log2(self.axons)

    @property
    def core_bits(self) -> int:
        return max(1, _ceil_log2(self.cores))

    @property
    def engines(self) -> int:
        """Core engines: each runs ``virtual`` logical cores."""
        return self.cores // self.virtual

    @property
    def virtual_bits(self) -> int:
        """Bits of a logical core's index within its engine (0 for V = 1)."""
        return _ceil_log2(self.virtual)

    # -- packed layouts (one definition, used everywhere) -----------------

    @property
    def entry_layout(self) -> data.StructLayout:
        """Crossbar entry: ``count`` parallel binary synapses of one sign.

        ``sign`` 0 is excitatory (+1 each), 1 inhibitory (-1 each); the
        weight is ``(-1)**sign * count``. A zero count is no synapse; its sign
        is kept (it is the row's default sign for growth).
        """
        return data.StructLayout({"count": unsigned(self.count_bits), "sign": unsigned(1)})

    @property
    def params_layout(self) -> data.StructLayout:
        """Per-neuron parameters (see docs/semantics.md)."""
        return data.StructLayout(
            {
                "model": unsigned(1),
                "threshold": unsigned(self.potential_bits - 1),
                "leak": unsigned(self.potential_bits - 1),
                "refractory": unsigned(self.timer_bits),
                "window": unsigned(self.timer_bits),
                "direct": unsigned(1),
                "output": unsigned(1),
                "learn": unsigned(1),
            }
        )

    @property
    def state_layout(self) -> data.StructLayout:
        """Per-neuron state: potential, counter slope, timer, counter active."""
        return data.StructLayout(
            {
                "v": signed(self.potential_bits),
                "s": signed(self.potential_bits),
                "timer": unsigned(self.timer_bits),
                "active": unsigned(1),
            }
        )

    @property
    def route_layout(self) -> data.StructLayout:
        """One routing-table entry: a spike also activates ``axon`` of ``core``.

        Each neuron has ``fanout`` entries; invalid ones are ignored.
        """
        return data.StructLayout(
            {
                "valid": unsigned(1),
                "core": unsigned(self.core_bits),
                "axon": unsigned(max(1, self.axon_bits)),
            }
        )

    @property
    def spike_layout(self) -> data.StructLayout:
        """A spike leaving a core for its fan-out unit; ``output`` is the
        neuron's output-enable bit."""
        return data.StructLayout(
            {"neuron": unsigned(max(1, self.neuron_bits)), "output": unsigned(1)}
        )

    @property
    def axon_event_layout(self) -> data.StructLayout:
        """An input event for ``axon`` of ``core`` (host input, routed event)."""
        return data.StructLayout(
            {"core": unsigned(self.core_bits), "axon": unsigned(max(1, self.axon_bits))}
        )

    @property
    def packet_layout(self) -> data.StructLayout:
        """An event on the bus tree.

        ``output`` 0: a routed or host event for axon ``index`` of ``core``;
        1: an output event of neuron ``index`` of ``core``, climbing to the
        root (which stamps it with the tick).
        """
        return data.StructLayout(
            {
                "output": unsigned(1),
                "core": unsigned(self.core_bits),
                "index": unsigned(max(1, self.neuron_bits, self.axon_bits)),
            }
        )

    @property
    def event_layout(self) -> data.StructLayout:
        """An output address event: the tick it was fired at and its source."""
        return data.StructLayout(
            {
                "tick": unsigned(self.tick_bits),
                "core": unsigned(self.core_bits),
                "neuron": unsigned(self.neuron_bits),
            }
        )

    # -- configuration-port memory map --------------------------------------

    def region_layout(self, region: Region) -> data.StructLayout:
        return {
            Region.CROSSBAR: self.entry_layout,
            Region.PARAMS: self.params_layout,
            Region.STATE: self.state_layout,
            Region.ROUTES: self.route_layout,
        }[Region(region)]

    def region_depth(self, region: Region) -> int:
        return {
            Region.CROSSBAR: self.rows * self.neurons,
            Region.PARAMS: self.neurons,
            Region.STATE: self.neurons,
            Region.ROUTES: self.neurons * self.fanout,
        }[Region(region)]

    @property
    def cfg_addr_bits(self) -> int:
        return max(_ceil_log2(self.region_depth(r)) for r in Region)

    @property
    def cfg_data_bits(self) -> int:
        return max(self.region_layout(r).size for r in Region)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["levels"] = list(self.levels)
        return d


GEOMETRY_FIELDS = tuple(Geometry.__dataclass_fields__)
#: Field names of the neuron parameter and state records (same for every geometry).
PARAM_FIELDS = tuple(name for name, _ in Geometry().params_layout)
STATE_FIELDS = tuple(name for name, _ in Geometry().state_layout)


def pack(layout: data.StructLayout, **fields) -> int:
    """Pack field values into the integer word of ``layout``."""
    return layout.const(fields).as_value().value


def unpack(layout: data.StructLayout, word: int) -> dict:
    """Unpack an integer word of ``layout`` into a dict of Python ints."""
    view = layout.from_bits(word)
    return {name: int(getattr(view, name)) for name, _ in layout}


def pack_array(layout: data.StructLayout, **fields) -> list[int]:
    """Vectorised :func:`pack`: each field an array (or scalar), one word each.

    Signed fields are taken in two's complement. Returns Python ints (a
    word may be wider than 64 bits).
    """
    arrays = {k: np.asarray(v, dtype=object) for k, v in fields.items()}
    shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    words = np.zeros(shape, dtype=object)
    for name, f in layout:
        mask = (1 << f.width) - 1
        words = words + ((arrays[name] & mask) << f.offset)
    return [int(w) for w in words.reshape(-1)]


def unpack_array(layout: data.StructLayout, words) -> dict[str, np.ndarray]:
    """Vectorised :func:`unpack`: each field of ``layout`` as an int64 array, one per word.

    Signed fields are sign-extended.
    """
    w = np.array(list(words), dtype=object)
    out = {}
    for name, f in layout:
        v = ((w >> f.offset) & ((1 << f.width) - 1) if len(w) else w).astype(np.int64)
        if f.shape.signed:
            v = np.where(v >> (f.width - 1), v - (1 << f.width), v)
        out[name] = v
    return out


# -- learning (docs/semantics.md section 6) ----------------------------------

#: A probability is a fixed-point number p / PROB_ONE, p in 0 .. PROB_ONE; an
#: event of probability p happens when a 16-bit draw u satisfies u < p (so 0
#: is never and PROB_ONE always).
PROB_BITS = 16
PROB_ONE = 1 << PROB_BITS
#: Width of the episode length E and of the phase counter.
EPISODE_BITS = 16

#: The learning parameters, one set per chip (registers LEARN, P_PLUS,
#: P_MINUS, P_GROW, EPISODE, in this order). ``learn`` 1 enables the learn
#: phase; ``episode`` is E (0: no episodes, the growth factor is 1).
LEARN_LAYOUT = data.StructLayout(
    {
        "learn": unsigned(1),
        "p_plus": unsigned(PROB_BITS + 1),
        "p_minus": unsigned(PROB_BITS + 1),
        "p_grow": unsigned(PROB_BITS + 1),
        "episode": unsigned(EPISODE_BITS),
    }
)
LEARN_FIELDS = tuple(name for name, _ in LEARN_LAYOUT)
#: Largest legal value of each learning parameter.
LEARN_MAX = {
    "learn": 1,
    "p_plus": PROB_ONE,
    "p_minus": PROB_ONE,
    "p_grow": PROB_ONE,
    "episode": (1 << EPISODE_BITS) - 1,
}


@dataclass(frozen=True)
class LearnConfig:
    """Values of the learning parameters (``LEARN_LAYOUT``); checked on creation."""

    learn: int = 0
    p_plus: int = 0
    p_minus: int = 0
    p_grow: int = 0
    episode: int = 0

    def __post_init__(self):
        for name in LEARN_FIELDS:
            v = getattr(self, name)
            if not 0 <= int(v) <= LEARN_MAX[name]:
                raise ValueError(f"LearnConfig.{name} = {v!r}: must be in 0 .. {LEARN_MAX[name]}")
            object.__setattr__(self, name, int(v))

    @classmethod
    def from_probabilities(cls, p_plus=0.0, p_minus=0.0, p_grow=0.0, episode=0, learn=1):
        """Probabilities as floats in [0, 1], rounded to the fixed point."""
        q = lambda p: int(round(float(p) * PROB_ONE))  # noqa: E731
        return cls(learn, q(p_plus), q(p_minus), q(p_grow), int(episode))

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in LEARN_FIELDS}


#: The learning generator is xorshift32 (Marsaglia, 2003) with these shifts:
#: x ^= x << 13; x ^= x >> 17; x ^= x << 5 (32-bit). Each draw steps it
#: once and uses the new state.
XORSHIFT = (13, 17, 5)
#: The generator's state after reset, and what a seed of 0 becomes
#: (xorshift32 would stay at 0 forever).
PRNG_RESET = 0x2545F491
_M32 = 0xFFFFFFFF


def xorshift32(x: int) -> int:
    """One step of the learning generator."""
    a, b, c = XORSHIFT
    x ^= (x << a) & _M32
    x ^= x >> b
    x ^= (x << c) & _M32
    return x


def prng_seed(seed: int) -> int:
    """The generator state a host seed sets (0 becomes ``PRNG_RESET``)."""
    seed &= _M32
    return seed if seed else PRNG_RESET


def next_phase(phase: int, episode: int) -> int:
    """The episode phase of the tick after one at ``phase`` (E = ``episode``)."""
    return 0 if episode == 0 or phase + 1 >= episode else phase + 1
