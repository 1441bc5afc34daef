"""The host's user API: a :class:`Board` speaks ``spikeloom.protocol`` to a device.

Three layers: the sans-IO requests (``host/wire.py``: memory cut into
frames), the pipelined I/O engine (``host/engine.py``: the host sends ahead
as long as the line bytes of the requests not yet answered fit in the
device's receive FIFO, ``rx_fifo`` from IDENTIFY, 512 bytes before it, and
matches responses to requests in order by tag), and this API over them:
identity, registers, memories, networks, ticks, events, learning. Any
failure raises :class:`BoardError` with a message for humans.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence

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
    unpack_array,
)
from spikeloom.network import Learning, Network

from . import wire
from .engine import (
    DEFAULT_WINDOW,
    RESPONSE_WINDOW,
    BoardError,
    Pipelined,
    Response,
    _Request,
)

__all__ = [
    "Board",
    "BoardError",
    "Response",
    "DEFAULT_WINDOW",
    "RESPONSE_WINDOW",
    "learn_config",
    "probability_text",
]


#: The regions :meth:`Board.load` writes, in order.
_LOAD_REGIONS = wire.LOAD_REGIONS


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


def describe(g: Geometry, fields=GEOMETRY_FIELDS, sep: str = " ") -> str:
    """``levels=4,4 neurons=64 ...``: fields of a geometry (all by default), one line."""
    return sep.join(
        f"{f}={','.join(map(str, g.levels)) if f == 'levels' else getattr(g, f)}" for f in fields
    )


def _geometry_diff(a: Geometry, b: Geometry) -> tuple[str, str]:
    fields = [f for f in GEOMETRY_FIELDS if getattr(a, f) != getattr(b, f)]
    return describe(a, fields, ", "), describe(b, fields, ", ")


class Board(Pipelined):
    """A spikeloom device behind a transport (``spikeloom.host.transport``).

    ``timeout`` is how long to wait for a response beyond the time its
    bytes take on the line (and, for STEP, its ticks); by default the
    transport's (1 s; 10 s for the RTL simulator).
    """

    def __init__(self, transport, timeout: float | None = None):
        super().__init__(transport, timeout)
        self._identity: P.Identity | None = None
        self._regs: tuple[P.Register, ...] = ()
        self._reg_map: dict[str, int] = {}
        #: After run_ticks: the output events of ticks before this are all in (None: none).
        self.completed_tick: int | None = None
        self._outputs: int | None = None  # output-enabled neurons of the loaded network
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
        for (c, r), w in words.items():
            net.set_region_words(c, r, 0, w)
        if learning and g.history:
            seeds = [self._seeds.get(c) for c in range(g.cores)]
            seeds = None if None in seeds else tuple(seeds)
            net.learning = Learning(self.learning(), seeds)
        return net

    def read_state(self, core: int) -> dict[str, np.ndarray]:
        """The neuron states of one core, field -> array (READ_MEM of STATE)."""
        g = self.geometry
        return unpack_array(g.state_layout, self.read_mem(core, Region.STATE, 0, g.neurons))

    # -- running ----------------------------------------------------------

    def _tick_clocks(self) -> int:
        """A generous bound on one tick's clocks (twice the worst case).

        The worst case: the engine's cycle formula with every row active and
        every neuron firing (``hdl/core.tick_cycles``), a full learn phase per
        logical core (``hdl/learning.learn_cycles``), every spike through
        every route.
        """
        from spikeloom.hdl.core import tick_cycles
        from spikeloom.hdl.learning import learn_cycles

        g = self.geometry
        # An engine ticks its ``virtual`` logical cores in turn (tick_cycles counts them all).
        tick = tick_cycles(g, g.rows) + g.virtual * learn_cycles(g, g.neurons, g.rows)
        return 2 * (tick + g.cores * g.neurons * g.fanout) + 1000

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
        f = unpack_array(g.event_layout, words)
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
