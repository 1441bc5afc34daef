"""The host side of the link: a :class:`Board` speaks ``spikeloom.protocol``.

Every request is built with :func:`spikeloom.protocol.request` and
:func:`~spikeloom.protocol.frame`, every response taken apart with
:class:`~spikeloom.protocol.Deframer` and checked (CRC, echoed command,
tag). Requests are pipelined: the host sends ahead as long as the line
bytes of the requests not yet answered fit in the device's receive FIFO
(``rx_fifo`` from IDENTIFY, 512 bytes before it), and matches responses
to requests in order by tag. Any failure raises :class:`BoardError` with a
message for humans.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from spikeloom import protocol as P
from spikeloom.defs import (
    GEOMETRY_FIELDS,
    LEARN_FIELDS,
    LEARN_MAX,
    PROB_ONE,
    Geometry,
    LearnConfig,
    Region,
    pack_array,
)
from spikeloom.network import PARAM_FIELDS, Learning, Network

from . import wire

__all__ = [
    "Board",
    "BoardError",
    "Response",
    "DEFAULT_WINDOW",
    "RESPONSE_WINDOW",
    "learn_config",
    "probability_text",
]


class BoardError(Exception):
    """Talking to a device failed; the message says what happened, for humans."""


#: The receive window assumed before IDENTIFY reports the device's ``rx_fifo``.
DEFAULT_WINDOW = 512
#: Most response bytes the host lets the device owe it: the operating
#: system's receive buffer of a serial port is a few KiB, and nothing on
#: the line stops a device that sends into a full one.
RESPONSE_WINDOW = 4096
#: Most requests in flight: their 8-bit tags must differ.
MAX_IN_FLIGHT = 128
#: Line bytes of a response besides its data: 2 FLAGs, cmd, tag, status, CRC.
_RESPONSE_OVERHEAD = 2 + P.RESPONSE_HEADER + P.CRC_BYTES
#: The regions :meth:`Board.load` writes, in order.
_LOAD_REGIONS = wire.LOAD_REGIONS


def _status_text(status: P.Status) -> str:
    doc = P.STATUS_TEXT[status]
    return f"{status.name} ({doc})" if doc else status.name


class Response(NamedTuple):
    """A response taken apart: echoed command (with 0x80), tag, status, data."""

    cmd: int
    tag: int
    status: P.Status
    data: bytes


@dataclass
class _Request:
    cmd: P.Command
    what: str  # names the request in messages: "WRITE_MEM core 0 PARAMS index 60"
    args: dict = field(default_factory=dict)
    payload: bytes = b""
    reply: int = 0  # most data bytes of the response
    exact: bool = False  # the response data is exactly ``reply`` bytes
    busy_clocks: int = 0  # device clocks before it can answer (STEP, STOP)
    done: Callable[[bytes], None] | None = None  # takes the data of an OK response
    hints: dict = field(default_factory=dict)  # status -> advice added to its message
    tag: int = 0
    line: bytes = b""
    sent_at: float = 0.0


class _Progress:
    """Counts work done for an optional ``progress(done, total)`` callback."""

    def __init__(self, callback, total):
        self.callback, self.total, self.done = callback, total, 0
        if callback:
            callback(0, total)

    def __call__(self, n):
        self.done += n
        if self.callback:
            self.callback(self.done, self.total)


def _fields(layout, words: Sequence[int]) -> dict[str, np.ndarray]:
    """Vectorised unpack: each field of ``layout`` as an int64 array (signed ones sign-extended)."""
    w = np.array(list(words), dtype=object)
    out = {}
    for name, f in layout:
        v = (w >> f.offset) & ((1 << f.width) - 1) if len(w) else w
        v = v.astype(np.int64)
        if f.shape.signed:
            v = np.where(v >> (f.width - 1), v - (1 << f.width), v)
        out[name] = v
    return out


def describe(g: Geometry, fields=GEOMETRY_FIELDS, sep: str = " ") -> str:
    """``levels=4,4 neurons=64 ...``: fields of a geometry (all by default), one line."""
    return sep.join(
        f"{f}={','.join(map(str, g.levels)) if f == 'levels' else getattr(g, f)}" for f in fields
    )


def _geometry_diff(a: Geometry, b: Geometry) -> tuple[str, str]:
    fields = [f for f in GEOMETRY_FIELDS if getattr(a, f) != getattr(b, f)]
    return describe(a, fields, ", "), describe(b, fields, ", ")


class Board:
    """A spikeloom device behind a transport (``spikeloom.host.transport``).

    ``timeout`` is how long to wait for a response beyond the time its
    bytes take on the line (and, for STEP, its ticks); by default the
    transport's (1 s; 10 s for the RTL simulator).
    """

    def __init__(self, transport, timeout: float | None = None):
        self.transport = transport
        self.timeout = getattr(transport, "default_timeout", 1.0) if timeout is None else timeout
        self._identity: P.Identity | None = None
        self._regs: tuple[P.Register, ...] = ()
        self._reg_map: dict[str, int] = {}
        self._tag = 0
        self._deframer = P.Deframer()
        self._bodies: deque[tuple[bytes, bool]] = deque()
        self._dirty = False  # a request went unanswered: its answer may still come
        #: After run_ticks: the output events of ticks before this are all in (None: none).
        self.completed_tick: int | None = None
        self._last_answer = 0.0
        self._outputs: int | None = None  # output-enabled neurons of the loaded network
        #: Most requests that were ever in flight at once (pipelining at work).
        self.max_in_flight = 0
        #: core -> the seed its generator was last set to by this host (RESET: 0).
        self._seeds: dict[int, int] = {}

    @property
    def description(self) -> str:
        return getattr(self.transport, "description", "the device")

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- identity ---------------------------------------------------------

    def identify(self) -> P.Identity:
        """The device's identity block: one IDENTIFY round trip, then cached.

        Refuses a device that speaks another protocol.
        """
        if self._identity is None:
            data = self._one(_Request(P.Command.IDENTIFY, "IDENTIFY", reply=4 * len(P.IDENTITY)))
            if len(data) < 4 or len(data) % 4:
                raise BoardError(
                    f"IDENTIFY: {self.description} answered {len(data)} bytes, "
                    "not an identity block: is it a spikeloom bitstream?"
                )
            words = [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data), 4)]
            if words[0] != P.PROTOCOL_ID:
                raise BoardError(
                    f"{self.description} speaks protocol 0x{words[0]:08X}, this host "
                    f"0x{P.PROTOCOL_ID:08X}: rebuild the bitstream or update spikeloom"
                )
            try:
                ident = P.Identity.from_words(words)
            except ValueError as e:
                raise BoardError(
                    f"the identity block of {self.description} makes no sense: {e}"
                ) from None
            self._identity = ident
            self._regs = P.registers(ident.geometry)
            self._reg_map = P.register_map(ident.geometry)
        return self._identity

    @property
    def geometry(self) -> Geometry:
        return self.identify().geometry

    @property
    def link(self) -> P.LinkConfig:
        return self.identify().link

    @property
    def window(self) -> int:
        """Line bytes of unanswered requests the device can hold (its ``rx_fifo``)."""
        return self._identity.link.rx_fifo if self._identity else DEFAULT_WINDOW

    @property
    def max_payload(self) -> int:
        ident = self._identity
        return min(P.MAX_PAYLOAD, ident.max_payload) if ident else P.MAX_PAYLOAD

    # -- registers --------------------------------------------------------

    @property
    def register_names(self) -> list[str]:
        self.identify()
        return [r.name for r in self._regs]

    def address(self, addr_or_name: int | str) -> int:
        """A register's address from its name (any case) or a number ("22", "0x16")."""
        self.identify()
        if isinstance(addr_or_name, str):
            text = addr_or_name.strip()
            if text.upper() in self._reg_map:
                return self._reg_map[text.upper()]
            try:
                addr = int(text, 0)
            except ValueError:
                raise BoardError(
                    f"no register named {text!r}; the registers are: {', '.join(self._reg_map)}"
                ) from None
        else:
            addr = int(addr_or_name)
        if not 0 <= addr < 1 << 16:
            raise BoardError(f"register address {addr}: 0 .. 65535")
        return addr

    def _reg_label(self, addr: int, count: int = 1) -> str:
        last = addr + count - 1
        if last >= len(self._regs):
            return (
                f"address {_span(addr, count)} (the device has registers 0..{len(self._regs) - 1})"
            )
        if count == 1:
            return f"{self._regs[addr].name} (address {addr})"
        return f"{self._regs[addr].name}..{self._regs[last].name} (addresses {addr}..{last})"

    def read_regs(self, addr_or_name: int | str, count: int = 1) -> list[int]:
        """``count`` registers from a name or address (READ_REG; one round trip per 64)."""
        addr = self.address(addr_or_name)
        if count < 1:
            raise BoardError(f"read {count} registers? at least 1")
        per = self.max_payload // 4
        values: list[int] = []

        def reqs():
            for a in range(addr, addr + count, per):
                n = min(per, addr + count - a)
                yield _Request(
                    P.Command.READ_REG,
                    f"READ_REG {self._reg_label(a, n)}",
                    {"addr": a, "count": n},
                    reply=4 * n,
                    exact=True,
                    done=lambda d: values.extend(
                        int.from_bytes(d[i : i + 4], "little") for i in range(0, len(d), 4)
                    ),
                )

        self._exchange(reqs())
        return values

    def write_regs(self, addr_or_name: int | str, values: Iterable[int] | int) -> None:
        """Write registers from a name or address on (WRITE_REG; one round trip per 64).

        The device refuses read-only registers (BAD_ADDRESS).
        """
        addr = self.address(addr_or_name)
        values = [values] if isinstance(values, int) else [int(v) for v in values]
        for i, v in enumerate(values):
            if not 0 <= v < 1 << 32:
                raise BoardError(f"{self._reg_label(addr + i)} = {v}: registers hold 0 .. 2**32-1")
        per = self.max_payload // 4

        def reqs():
            for i in range(0, len(values), per):
                chunk = values[i : i + per]
                a = addr + i
                regs = self._regs[a : a + len(chunk)]
                ro = [r.name for r in regs if r.access != P.Access.RW]
                over = [
                    f"{r.name} = {v} is over its maximum {P.REGISTER_MAX[r.name]}"
                    for r, v in zip(regs, chunk)
                    if v > P.REGISTER_MAX.get(r.name, v)
                ]
                hint = ", ".join(over)
                if ro:
                    hint = f"{', '.join(ro)} {'is' if len(ro) == 1 else 'are'} read-only"
                yield _Request(
                    P.Command.WRITE_REG,
                    f"WRITE_REG {self._reg_label(a, len(chunk))}",
                    {"addr": a},
                    b"".join(v.to_bytes(4, "little") for v in chunk),
                    exact=True,
                    hints={P.Status.BAD_ADDRESS: hint} if hint else {},
                )

        self._exchange(reqs())

    def registers(self) -> dict[str, int]:
        """Every register, name -> value (READ_REG, in chunks: usually one round trip)."""
        values = self.read_regs(0, len(self.register_names))
        return dict(zip(self.register_names, values))

    # -- memories ---------------------------------------------------------

    @staticmethod
    def region(region: Region | str | int) -> Region:
        """A region from a Region, its name (any case) or its number."""
        if isinstance(region, str) and region.strip().upper() in Region.__members__:
            return Region[region.strip().upper()]
        try:
            return Region(int(region))
        except ValueError:
            names = ", ".join(r.name for r in Region)
            raise BoardError(f"no memory region {region!r}: one of {names}") from None

    def _read_reqs(self, core, region, index, count, out: list, tick):
        g = self.geometry
        wb = P.word_bytes(g, region)

        def done(d):
            out.extend(wire.words_of(g, region, d))
            tick(len(d) // wb)

        for args in wire.mem_reads(g, core, region, index, count, self.max_payload):
            i, n = args["index"], args["count"]
            yield _Request(
                P.Command.READ_MEM,
                f"READ_MEM core {core} {region.name} index {_span(i, n)}",
                args,
                reply=n * wb,
                exact=True,
                done=done,
            )

    def _write_reqs(self, core, region, index, words: Sequence[int], tick):
        g = self.geometry
        wb = P.word_bytes(g, region)
        for args, payload in wire.mem_writes(g, core, region, index, words, self.max_payload):
            n = len(payload) // wb
            yield _Request(
                P.Command.WRITE_MEM,
                f"WRITE_MEM core {core} {region.name} index {_span(args['index'], n)}",
                args,
                payload,
                exact=True,
                done=lambda d, n=n: tick(n),
            )

    def _check_mem(self, core, region, index, count):
        g = self.geometry
        if not 0 <= core < g.cores:
            raise BoardError(f"core {core}: the device has cores 0..{g.cores - 1}")
        depth = g.region_depth(region)
        if index < 0 or count < 0 or index + count > depth:
            raise BoardError(
                f"{region.name} index {_span(index, count)}: "
                f"the region has {depth} words (0..{depth - 1})"
            )

    def read_mem(self, core: int, region, index: int, count: int, progress=None) -> list[int]:
        """``count`` words of a region (READ_MEM, pipelined, one frame per 256 bytes).

        ``progress(done, total)`` is called with words done after each frame.
        """
        region = self.region(region)
        self._check_mem(core, region, index, count)
        out: list[int] = []
        self._exchange(self._read_reqs(core, region, index, count, out, _Progress(progress, count)))
        return out

    def write_mem(self, core: int, region, index: int, words: Iterable[int], progress=None):
        """Write words of a region (WRITE_MEM, pipelined, one frame per 256 bytes).

        A word with bits set beyond its layout (padding) is refused by the
        device (BAD_ADDRESS).
        """
        region = self.region(region)
        words = [int(w) for w in words]
        self._check_mem(core, region, index, len(words))
        wb = P.word_bytes(self.geometry, region)
        for i, w in enumerate(words):
            if not 0 <= w < 1 << (8 * wb):
                raise BoardError(
                    f"{region.name} word {index + i} = {w:#x}: does not fit its {wb} bytes"
                )
        if region == Region.PARAMS:
            self._outputs = None  # output enables may change
        tick = _Progress(progress, len(words))
        self._exchange(self._write_reqs(core, region, index, words, tick))

    # -- networks ---------------------------------------------------------

    def check_geometry(self, network: Network) -> None:
        """Refuse a network made for another geometry, naming the fields that differ."""
        g = self.geometry
        if network.geometry != g:
            mine, theirs = _geometry_diff(network.geometry, g)
            raise BoardError(f"network geometry {mine} does not match the device's {theirs}")

    def load(self, network: Network, progress=None) -> None:
        """RESET, then write CROSSBAR, PARAMS, ROUTES and zero STATE of every core.

        All pipelined: as many round trips as the line needs (one per window
        of the device's receive FIFO). ``progress(done, total)`` counts words.
        """
        self.check_geometry(network)
        network.validate()
        g = network.geometry
        total = g.cores * sum(g.region_depth(r) for r in _LOAD_REGIONS)
        tick = _Progress(progress, total)
        reqs = [iter([_Request(P.Command.RESET, "RESET", exact=True)])]
        for core in range(g.cores):
            for region in _LOAD_REGIONS:
                words = network.region_words(core, region)
                reqs.append(self._write_reqs(core, region, 0, words, tick))
        self._outputs = None
        self._exchange(itertools.chain(*reqs))
        self._seeds = dict.fromkeys(range(g.cores), 0)  # RESET: the generators' reset state
        self._outputs = int((np.asarray(network.params["output"]) != 0).sum())

    def read_network(self, progress=None, learning: bool = False) -> Network:
        """Read back CROSSBAR, PARAMS and ROUTES of every core as a :class:`Network`.

        ``learning``: also the learning section, from registers LEARN ..
        EPISODE and the seed each core's generator was last set to by this
        host (0 after a RESET; no seeds if a core's is unknown: a
        generator's state cannot be read, so the seeds are where the
        generators started, not where they are). On a chip without
        a learning unit (history 0) there is no section.
        """
        g = self.geometry
        regions = (Region.CROSSBAR, Region.PARAMS, Region.ROUTES)
        total = g.cores * sum(g.region_depth(r) for r in regions)
        tick = _Progress(progress, total)
        words = {(c, r): [] for c in range(g.cores) for r in regions}
        reqs = [
            self._read_reqs(c, r, 0, g.region_depth(r), words[c, r], tick)
            for c in range(g.cores)
            for r in regions
        ]
        self._exchange(itertools.chain(*reqs))
        net = Network.empty(g)
        for c in range(g.cores):
            f = _fields(g.entry_layout, words[c, Region.CROSSBAR])
            net.count[c] = f["count"].reshape(g.rows, g.neurons)
            net.sign[c] = f["sign"].reshape(g.rows, g.neurons)
            f = _fields(g.params_layout, words[c, Region.PARAMS])
            for k in PARAM_FIELDS:
                net.params[k][c] = f[k]
            f = _fields(g.route_layout, words[c, Region.ROUTES])
            shape = (g.neurons, g.fanout)
            net.route_valid[c] = f["valid"].reshape(shape)
            net.route_core[c] = f["core"].reshape(shape)
            net.route_axon[c] = f["axon"].reshape(shape)
        if learning and g.history:
            seeds = [self._seeds.get(c) for c in range(g.cores)]
            seeds = None if None in seeds else tuple(seeds)
            net.learning = Learning(self.learning(), seeds)
        return net

    def read_state(self, core: int) -> dict[str, np.ndarray]:
        """The neuron states of one core, field -> array (READ_MEM of STATE)."""
        g = self.geometry
        return _fields(g.state_layout, self.read_mem(core, Region.STATE, 0, g.neurons))

    # -- running ----------------------------------------------------------

    def _tick_clocks(self) -> int:
        # A generous bound on one tick: every crossbar row active, every
        # neuron firing through every routing entry, twice over.
        g = self.geometry
        # A learn phase with every neuron firing and every row growing.
        learn = g.rows * (2 + 2 * g.neurons + g.groups + 4)
        engine = g.virtual * (g.rows * g.groups + g.neurons)  # its logical cores in turn
        return 2 * (engine + g.cores * g.neurons * g.fanout + learn) + 1000

    def tick_seconds(self) -> float:
        """A lower bound on the wall time of one tick of :meth:`run_ticks`, for estimates.

        The bytes of a STEP and an empty READ_EVENTS on the line (some 24),
        and a tick's least work, at the transport's clock; at least the
        transport's own ``tick_seconds`` (the golden model's pace).
        """
        g = self.geometry
        cpb = self.link.clocks_per_bit
        clocks = 10 * cpb * 24 + g.groups * g.cores
        return max(self._clock_seconds() * clocks, getattr(self.transport, "tick_seconds", 0.0))

    def _inject_reqs(self, events, label=""):
        """INJECT requests for (core, axon) events, checked first so that none is half sent."""
        g = self.geometry
        ev = np.asarray(list(events), dtype=np.int64).reshape(-1, 2)
        bad = np.flatnonzero(
            (ev[:, 0] < 0) | (ev[:, 0] >= g.cores) | (ev[:, 1] < 0) | (ev[:, 1] >= g.axons)
        )
        if bad.size:
            c, a = ev[bad[0]]
            raise BoardError(
                f"input event{label} (core {c}, axon {a}) out of range: "
                f"the device has cores 0..{g.cores - 1}, axons 0..{g.axons - 1}"
            )
        size = P.INJECT_EVENT.size // 8
        words = pack_array(P.INJECT_EVENT, core=ev[:, 0], axon=ev[:, 1])
        per = self.max_payload // size
        reqs = []
        for i in range(0, len(words), per):
            chunk = words[i : i + per]
            reqs.append(
                _Request(
                    P.Command.INJECT,
                    f"INJECT {len(chunk)} events{label}",
                    payload=b"".join(w.to_bytes(size, "little") for w in chunk),
                    exact=True,
                )
            )
        return reqs

    def inject(self, events: Iterable[tuple[int, int]]) -> None:
        """Queue host events (core, axon) for the next tick (INJECT, 64 a frame, pipelined)."""
        self._exchange(self._inject_reqs(events))

    def _step_req(self, ticks: int, done=None) -> _Request:
        if not 0 <= ticks < 1 << 32:
            raise BoardError(f"STEP {ticks}: 0 .. 2**32-1 ticks")
        return _Request(
            P.Command.STEP,
            f"STEP {ticks}",
            {"ticks": ticks},
            reply=4,
            exact=True,
            busy_clocks=ticks * self._tick_clocks(),
            done=done,
            hints={P.Status.BAD_STATE: "the device is running free: stop it first"},
        )

    def step(self, ticks: int = 1) -> int:
        """Run ``ticks`` ticks; returns TICK (STEP: one round trip, answered after the ticks)."""
        out = []
        self._exchange([self._step_req(ticks, lambda d: out.append(_u32(d)))])
        return out[0]

    def run(self, period: int) -> None:
        """Run free, one tick every ``period`` clocks (RUN; one round trip)."""
        if not 0 <= period < 1 << 32:
            raise BoardError(f"RUN period {period}: 0 .. 2**32-1 clocks")
        self._exchange([_Request(P.Command.RUN, f"RUN period {period}", {"period": period})])

    def stop(self) -> None:
        """Stop running free (STOP; answered once the tick in progress is over)."""
        busy = self._tick_clocks()
        self._exchange([_Request(P.Command.STOP, "STOP", exact=True, busy_clocks=busy)])

    def reset(self) -> None:
        """Soft reset: tick 0, FIFOs and counters cleared, memories kept (RESET)."""
        self._exchange([_Request(P.Command.RESET, "RESET", exact=True)])
        self._seeds = dict.fromkeys(range(self.geometry.cores), 0)

    # -- learning ---------------------------------------------------------

    def learning(self) -> LearnConfig:
        """The learning parameters: registers LEARN .. EPISODE (one READ_REG)."""
        values = self.read_regs(_LEARN_FIRST, len(LEARN_FIELDS))
        try:
            return LearnConfig(*values)
        except ValueError as e:
            raise BoardError(
                f"{self.description} holds impossible learning registers: {e}"
            ) from None

    def set_learning(
        self,
        config: LearnConfig | None = None,
        *,
        p_plus: float = 0.0,
        p_minus: float = 0.0,
        p_grow: float = 0.0,
        episode: int = 0,
        learn: bool = True,
    ) -> LearnConfig:
        """Set the learning parameters (one WRITE_REG of LEARN .. EPISODE); returns them.

        Either a :class:`~spikeloom.defs.LearnConfig` (fixed-point values),
        or probabilities as floats in [0, 1] (rounded to 1/65536), the
        episode length in ticks and whether learning is on. The chip takes
        them when the next tick starts; writing EPISODE restarts the
        episode (the next tick has phase 0).
        """
        if config is None:
            config = learn_config(
                p_plus=p_plus, p_minus=p_minus, p_grow=p_grow, episode=episode, learn=learn
            )
        elif not isinstance(config, LearnConfig):
            raise BoardError(f"set_learning({config!r}): a LearnConfig, or keyword arguments")
        self.write_regs(_LEARN_FIRST, [getattr(config, f) for f in LEARN_FIELDS])
        return config

    def start_learning(self, learning: Learning | None = None) -> LearnConfig:
        """Turn learning on: the parameters of a network's learning section
        (LEARN written 1) and its seeds, if any; without one, the device's
        own parameters with LEARN 1. One WRITE_REG (and a SEED per core);
        returns the parameters. Refused by a chip without a learning unit."""
        g = self.geometry
        if not g.history:
            raise BoardError(
                f"{self.description} has no learning unit (history 0): build one with "
                "--history 1 or more (or a board with learning, spikeloom boards)"
            )
        config = self.learning() if learning is None else learning.config
        config = self.set_learning(dataclasses.replace(config, learn=1))
        if learning is not None and learning.seeds is not None:
            self.seed_cores(list(learning.seeds))
        return config

    def restart_episode(self) -> None:
        """Restart the episode: the next tick has phase 0 (EPISODE read and written back)."""
        self.write_regs("EPISODE", self.read_regs("EPISODE"))

    def phase(self) -> int:
        """The episode phase of the next tick (register PHASE)."""
        return self.read_regs("PHASE")[0]

    def _check_seed(self, core: int, value: int) -> None:
        g = self.geometry
        if not 0 <= core < g.cores:
            raise BoardError(f"core {core}: the device has cores 0..{g.cores - 1}")
        if not 0 <= value < 1 << 32:
            raise BoardError(f"seed {value}: 0 .. 2**32-1")

    def _seed_req(self, core: int, value: int) -> _Request:
        return _Request(
            P.Command.SEED,
            f"SEED core {core}",
            {"core": core, "seed": value},
            exact=True,
            busy_clocks=self._tick_clocks(),  # answered once the tick in progress is over
        )

    def seed(self, core: int, value: int) -> None:
        """Seed the learning generator of ``core`` (SEED; 0 seeds its reset value)."""
        core, value = int(core), int(value)
        self._check_seed(core, value)
        self._exchange([self._seed_req(core, value)])
        self._seeds[core] = value

    def seed_cores(self, seeds: int | Sequence[int]) -> list[int]:
        """Seed every core's learning generator (SEED per core, pipelined).

        ``seeds``: one per core, or a single number ``s``: core ``c`` then
        gets ``(s + c) mod 2**32``, so that no two cores draw the same
        sequence. Returns the seeds sent, by core.
        """
        cores = self.geometry.cores
        if isinstance(seeds, (int, np.integer)):
            if not 0 <= seeds < 1 << 32:
                raise BoardError(f"seed {seeds}: 0 .. 2**32-1")
            values = [(int(seeds) + c) & 0xFFFF_FFFF for c in range(cores)]
        else:
            values = [int(s) for s in seeds]
            if len(values) != cores:
                raise BoardError(f"{len(values)} seeds for the device's {cores} cores")
        for c, v in enumerate(values):
            self._check_seed(c, v)
        self._exchange([self._seed_req(c, v) for c, v in enumerate(values)])
        self._seeds.update(enumerate(values))
        return values

    # -- output events ----------------------------------------------------

    def _events_per_frame(self) -> int:
        return min(self.max_payload // P.event_bytes(self.geometry), 0xFFFF)

    def _events_req(self, done) -> _Request:
        per = self._events_per_frame()
        return _Request(
            P.Command.READ_EVENTS,
            "READ_EVENTS",
            {"max": per},
            reply=per * P.event_bytes(self.geometry),
            done=done,
        )

    def _decode_events(self, data: bytes, tick: int) -> list[tuple[int, int, int]]:
        """Output events from READ_EVENTS data, tick stamps unwrapped against TICK = ``tick``."""
        g = self.geometry
        eb = P.event_bytes(g)
        if len(data) % eb:
            raise BoardError(f"READ_EVENTS: {len(data)} bytes of data, not whole {eb}-byte events")
        words = [int.from_bytes(data[i : i + eb], "little") for i in range(0, len(data), eb)]
        f = _fields(g.event_layout, words)
        # Every event in the FIFO was fired before TICK: at the latest
        # tick before it whose low bits match the stamp.
        last = tick - 1
        mask = (1 << g.tick_bits) - 1
        ticks = [last - ((last - int(s)) & mask) if last >= 0 else int(s) for s in f["tick"]]
        return list(zip(ticks, f["core"].tolist(), f["neuron"].tolist()))

    def read_events(self) -> list[tuple[int, int, int]]:
        """Drain the output-event FIFO: [(tick, core, neuron)], sorted.

        Each round trip pipelines READ_EVENTS and a read of TICK (to unwrap
        the ``tick_bits``-wide stamps); it repeats until fewer events than
        asked come back. Events older than 2**tick_bits ticks come out
        2**tick_bits (or a multiple) late.
        """
        per = self._events_per_frame()
        out: list[tuple[int, int, int]] = []
        got: dict = {}
        while True:
            got.clear()
            reqs = [
                self._events_req(lambda d: got.update(data=d)),
                _Request(
                    P.Command.READ_REG,
                    "READ_REG TICK",
                    {"addr": self.address("TICK"), "count": 1},
                    reply=4,
                    exact=True,
                    done=lambda d: got.update(tick=_u32(d)),
                ),
            ]
            self._exchange(reqs)
            events = self._decode_events(got["data"], got["tick"])
            out += events
            if len(events) < per:
                return sorted(out)

    def run_ticks(
        self,
        ticks: int,
        inputs: Mapping[int, Iterable[tuple[int, int]]] | Sequence | None = None,
        progress=None,
        on_events=None,
    ) -> list[tuple[int, int, int]]:
        """Run ``ticks`` ticks one by one with host input; returns the output events.

        ``inputs`` maps a tick of this run (0 = the first) to its (core,
        axon) events (a list of lists works too). Per tick: INJECT, STEP 1,
        READ_EVENTS (enough to drain a full event FIFO), all pipelined as far
        as the device's receive FIFO allows. Events are (tick, core,
        neuron) with full tick numbers (the board's TICK at the start is the
        first tick of the run), sorted; events still in the FIFO from before
        come too. ``progress(done, total)`` counts ticks.

        ``on_events(events, tick)``: called with each tick's events (sorted)
        as soon as they are all in, ``tick`` being TICK after them; the
        events are then not kept, and the list returned is empty. If the
        run fails or is interrupted, every event received has been passed
        on, and :attr:`completed_tick` is the TICK before which they are complete.
        """
        g = self.geometry
        if ticks < 0:
            raise BoardError(f"run {ticks} ticks? 0 or more")
        if inputs is None:
            inputs = {}
        elif not isinstance(inputs, Mapping):
            inputs = dict(enumerate(inputs))
        injects = {t: self._inject_reqs(ev, f" at tick {t}") for t, ev in inputs.items()}
        per = self._events_per_frame()
        bound = g.cores * g.neurons if self._outputs is None else self._outputs
        reads = max(1, math.ceil(min(bound, self.link.event_fifo) / per))
        count = _Progress(progress, ticks)
        now = {"tick": 0, "full": False}
        events: list[tuple[int, int, int]] = []
        pending: list[tuple[int, int, int]] = []

        def flush():
            if on_events is None:
                events.extend(pending)
            elif pending or ticks:
                on_events(sorted(pending), now["tick"])
            pending.clear()

        def stepped(d):
            flush()  # every read of the tick before has been answered
            self.completed_tick = now["tick"]
            now["tick"] = _u32(d)
            count(1)

        def drained(d):
            got = self._decode_events(d, now["tick"])
            pending.extend(got)
            now["full"] = len(got) == per

        def reqs():
            yield _Request(
                P.Command.READ_REG,
                "READ_REG TICK",
                {"addr": self.address("TICK"), "count": 1},
                reply=4,
                exact=True,
                done=lambda d: now.update(tick=_u32(d)),
            )
            for t in range(ticks):
                yield from injects.get(t, ())
                yield self._step_req(1, stepped)
                for _ in range(reads):
                    yield self._events_req(drained)

        self.completed_tick = None
        try:
            self._exchange(reqs())
            if now["full"]:
                pending.extend(self.read_events())
            self.completed_tick = now["tick"]
        finally:
            flush()
        return sorted(events)

    # -- the link ---------------------------------------------------------

    def send_raw(self, line: bytes) -> Response:
        """Send raw line bytes (a frame, maybe a bad one) and wait for one response."""
        if self._dirty:
            self._resync()
        self.transport.write(bytes(line))
        start = time.monotonic()
        self._last_answer = start
        body, aborted = self._await(start + self.timeout + self._cost(len(line), 256), "a frame")
        if aborted or len(body) < P.RESPONSE_HEADER + P.CRC_BYTES or P.crc16(body):
            self._dirty = True
            raise BoardError(f"garbled answer from {self.description}: {body.hex(' ')}")
        try:
            status = P.Status(body[2])
        except ValueError:
            raise BoardError(f"unknown status {body[2]} from {self.description}") from None
        return Response(body[0], body[1], status, body[P.RESPONSE_HEADER : -P.CRC_BYTES])

    def _clock_seconds(self) -> float:
        t = self.transport
        sec = getattr(t, "seconds_per_clock", None)
        if sec is not None:
            return sec
        baud = getattr(t, "baud", None)
        cpb = self._identity.link.clocks_per_bit if self._identity else 104
        return 1.0 / (baud * cpb) if baud else 0.0

    def _cost(self, request_bytes: int, reply: int, busy_clocks: int = 0) -> float:
        """Seconds a request takes beyond the timeout: its bytes on the line, its ticks."""
        clock = self._clock_seconds()
        cpb = self._identity.link.clocks_per_bit if self._identity else 104
        # Stuffing may double the response; count it at its worst.
        line = request_bytes + 2 * (reply + _RESPONSE_OVERHEAD)
        return clock * (10 * cpb * line + busy_clocks)

    def _one(self, req: _Request) -> bytes:
        out = []
        req.done = out.append
        self._exchange([req])
        return out[0]

    def _receive(self, timeout: float) -> None:
        data = self.transport.read(timeout)
        if data:
            self._bodies.extend(self._deframer.feed(data))

    def _await(self, deadline: float, what: str) -> tuple[bytes, bool]:
        """The next response body; BoardError if none comes by ``deadline``."""
        start = time.monotonic()
        while not self._bodies:
            left = deadline - time.monotonic()
            if left <= 0:
                self._dirty = True
                waited = max(deadline - start, self.timeout)
                raise BoardError(
                    f"no answer from {self.description} to {what} within {waited:.1f} s: "
                    "is a spikeloom bitstream loaded, and is the baud rate right?"
                )
            self._receive(left)
        self._last_answer = time.monotonic()
        return self._bodies.popleft()

    def _resync(self) -> None:
        """Forget answers still on their way after a failure, so the next ones match."""
        for _ in range(100):
            if not self.transport.read(0.05):
                break
        self._deframer = P.Deframer()
        self._bodies.clear()
        self._dirty = False

    def _answer(self, req: _Request) -> tuple[P.Status, bytes]:
        deadline = max(req.sent_at, self._last_answer) + self.timeout
        deadline += self._cost(len(req.line), req.reply, req.busy_clocks)
        body, aborted = self._await(deadline, req.what)
        why = None
        if aborted:
            why = "aborted frame"
        elif len(body) < P.RESPONSE_HEADER + P.CRC_BYTES:
            why = f"{len(body)} bytes"
        elif P.crc16(body):
            why = "bad CRC"
        if why:
            self._dirty = True
            raise BoardError(
                f"garbled answer to {req.what} from {self.description} ({why}): "
                "is the baud rate right?"
            )
        if body[0] != req.cmd | P.RESPONSE_BIT or body[1] != req.tag:
            self._dirty = True
            if body[2] in (P.Status.BAD_CRC, P.Status.BAD_FRAME, P.Status.TOO_LONG):
                # The request arrived damaged, its command or tag among the damage.
                raise BoardError(
                    f"{req.what}: {self.description} received it damaged "
                    f"({_status_text(P.Status(body[2]))}): is the baud rate right?"
                )
            raise BoardError(
                f"answer out of step from {self.description}: expected {req.cmd.name} "
                f"tag {req.tag}, got command 0x{body[0]:02X} tag {body[1]}"
            )
        try:
            status = P.Status(body[2])
        except ValueError:
            self._dirty = True
            raise BoardError(
                f"unknown status {body[2]} in the answer to {req.what} from {self.description}"
            ) from None
        return status, body[P.RESPONSE_HEADER : -P.CRC_BYTES]

    def _exchange(self, requests: Iterable[_Request]) -> None:
        """Send requests pipelined; hand each OK response's data to its ``done``.

        Sends ahead while the unanswered requests' line bytes fit the
        device's receive FIFO (and their answers the response window). At
        the first error status it stops sending, collects the answers still
        owed (so the link stays in step), then raises.
        """
        if self._dirty:
            self._resync()
        it = iter(requests)
        flight: deque[_Request] = deque()
        self._last_answer = time.monotonic()
        try:
            error = self._pipeline(it, flight)
        except BaseException:
            # Answers may still be on their way (Ctrl-C, a lost answer):
            # drop them before the next exchange.
            if flight:
                self._dirty = True
            raise
        if error is not None:
            raise error

    def _pipeline(self, it, flight: deque) -> BoardError | None:
        line_bytes = reply_bytes = 0
        error: BoardError | None = None
        req = next(it, None)
        while True:
            while req is not None and error is None:
                line = P.frame(P.request(req.cmd, self._tag, req.args, req.payload))
                reply = req.reply + _RESPONSE_OVERHEAD
                if flight and (
                    line_bytes + len(line) > self.window
                    or reply_bytes + reply > RESPONSE_WINDOW
                    or len(flight) >= MAX_IN_FLIGHT
                ):
                    break
                req.tag, req.line = self._tag, line
                self._tag = (self._tag + 1) & 0xFF
                self.transport.write(line)
                req.sent_at = time.monotonic()
                flight.append(req)
                line_bytes += len(line)
                reply_bytes += reply
                self.max_in_flight = max(self.max_in_flight, len(flight))
                # Take in what has arrived, so the receive buffer never fills up.
                self._receive(0)
                req = next(it, None)
            if not flight:
                break
            head = flight[0]
            status, data = self._answer(head)
            flight.popleft()
            line_bytes -= len(head.line)
            reply_bytes -= head.reply + _RESPONSE_OVERHEAD
            if error is not None:
                continue
            if status != P.Status.OK:
                hint = f": {head.hints[status]}" if status in head.hints else ""
                error = BoardError(f"{head.what}: {_status_text(status)}{hint}")
            elif head.exact and len(data) != head.reply or len(data) > head.reply:
                error = BoardError(
                    f"{head.what}: {self.description} answered {len(data)} bytes of data, "
                    f"expected {head.reply}"
                )
            elif head.done is not None:
                try:
                    head.done(data)
                except BoardError as e:
                    error = e
        return error


#: The first learning register (LEARN); LEARN_FIELDS follow it in order.
_LEARN_FIRST = next(iter(P.LEARN_REGISTERS))


def learn_config(
    p_plus: float = 0.0,
    p_minus: float = 0.0,
    p_grow: float = 0.0,
    episode: int = 0,
    learn: bool = True,
) -> LearnConfig:
    """A :class:`LearnConfig` from probabilities (floats in [0, 1]); BoardError if out of range."""
    for name, p in (("p_plus", p_plus), ("p_minus", p_minus), ("p_grow", p_grow)):
        if not 0.0 <= float(p) <= 1.0:
            raise BoardError(f"{name} = {p}: a probability, 0 .. 1")
    if not 0 <= int(episode) <= LEARN_MAX["episode"]:
        raise BoardError(f"episode = {episode}: 0 .. {LEARN_MAX['episode']} ticks")
    return LearnConfig.from_probabilities(p_plus, p_minus, p_grow, int(episode), int(bool(learn)))


def probability_text(value: int) -> str:
    """A fixed-point probability for humans: ``0.1 (6554/65536)``."""
    return f"{value / PROB_ONE:.6g} ({value}/{PROB_ONE})"


def _u32(data: bytes) -> int:
    return int.from_bytes(data[:4], "little")


def _span(index: int, count: int) -> str:
    return str(index) if count == 1 else f"{index}..{index + count - 1}"
