"""Register and counter file of the UART block (``protocol.registers``).

Two kinds of register:

- stored, in one byte-wide block RAM at ``4 * address + byte``: the
  identity block (a ROM part: its initial contents, never written), the
  read-write registers (SCRATCH, PERIOD and the learning registers, whose
  writes also go to flip-flops that drive the link and the chip, as wide
  as their fields), TICK, the link counters (``protocol.LINK_COUNTERS``)
  and the chip counters (``protocol.CHIP_COUNTERS``, CARRIED and STALLED:
  the chip sends its counts per clock, ``hdl/top.count_layout``; HOST_DROPPED
  only holds 0, as the link never sends an event it would count);
- live, read from where they are kept: RUNNING, PHASE, LAST_TICK_CYCLES,
  EVENTS_PENDING.

Requests (``req``: READ, WRITE, INC or CLEAR of one register) are taken
one at a time, in one clock (``ready`` depends on this block's flip-flops
only), and decoded the next. A live register's READ then selects it with a
registered one-hot select: ``rvalid`` 3 clocks after the request is taken.
A stored register is read, changed and written back byte by byte through
one shared 8-bit adder: a pass of 5 more clocks, ``rvalid`` (READ) on the
last. INC adds 1 (the status counters, once a response is out), CLEAR
writes 0 (RESET's TICK, EVENTS_DROPPED and chip counters); a WRITE of EPISODE pulses
``episode_restart`` the clock after it is taken. ``rdata`` holds a READ's
value until the next request (the response sends its bytes from there).

Counters of events outside the request flow (``async_counters``: TICK,
TIMEOUTS, FRAMING_ERRORS, OVERRUNS, EVENTS_DROPPED and the chip counters;
each any number of counts per clock) first count in pending registers,
which add every clock's counts, the clock a pending count is taken
included, so no count is lost. A READ or CLEAR of such a counter takes its
pending count on the clock after the request is taken (its decode): a READ
adds it in its own pass, so it reads every count up to the clock the
request was taken; a CLEAR drops it, so the counter holds the counts from
the clock after. Otherwise pending counts are added in turn, each an INC of
its counter decoded like a request (a pass of 7 clocks) with at most one
request (7 clocks) between two of them, so each is taken within
``flush_clocks`` of its first count and cannot overflow (its width holds
the most counts of that many clocks). The chip's counts trail the fabric
by ``hdl/top.COUNTER_LAG`` clock, so a READ taken at clock t reads the
events up to clock t - 1.
"""

import enum

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikeloom import protocol as P
from spikeloom.defs import EPISODE_BITS, LEARN_LAYOUT, Geometry

from .top import count_layout, count_max

__all__ = ["RegisterFile", "RegOp", "req_layout", "LINK_EVENTS", "async_counters", "flush_clocks"]


class RegOp(enum.IntEnum):
    READ = 0
    WRITE = 1
    INC = 2
    CLEAR = 3


req_layout = data.StructLayout({"op": unsigned(2), "addr": unsigned(8), "data": unsigned(32)})
#: Link counters counted as events happen, not per response, and the fewest
#: clocks between two of their events: up to one per clock (EVENTS_DROPPED),
#: one per tick (2 clocks at least), one per line character (40 at least).
LINK_EVENTS = {"TICK": 2, "TIMEOUTS": 40, "FRAMING_ERRORS": 40, "OVERRUNS": 40, "EVENTS_DROPPED": 1}


def flush_clocks(n: int) -> int:
    """Clocks within which each of ``n`` pending counts is taken (module docstring)."""
    return 16 * n + 16


def async_counters(geometry: Geometry) -> dict[str, int]:
    """Counters counted as events happen -> the width of their pending counts.

    The link's (``LINK_EVENTS``), then the chip's (``hdl/top.count_max``, by register name).
    """
    chip = {name.upper(): most for name, most in count_max(geometry).items()}
    # The link never sends an event for a core that does not exist (INJECT
    # refuses it), so the chip's host_dropped count is 0 here: HOST_DROPPED
    # stays at the 0 that reset and RESET leave in its place.
    del chip["HOST_DROPPED"]
    clocks = flush_clocks(len(LINK_EVENTS) + len(chip))
    widths = {name: (clocks // gap + 1).bit_length() for name, gap in LINK_EVENTS.items()}
    return widths | {name: (most * clocks).bit_length() for name, most in chip.items()}


#: Registers read from where they are kept (the others are stored in the block RAM).
LIVE = ("RUNNING", "PHASE", "LAST_TICK_CYCLES", "EVENTS_PENDING")


def or_all(values):
    """The bitwise OR of ``values``, as a balanced tree."""
    values = list(values)
    while len(values) > 1:
        values = [a | b for a, b in zip(values[::2], values[1::2])] + values[len(values) & ~1 :]
    return values[0]


class RegisterFile(wiring.Component):
    """The link's registers. See the module docstring for timing."""

    def __init__(self, geometry: Geometry, link: P.LinkConfig, event_fifo_bits: int):
        g = self.geometry = geometry
        self.link = link
        self.regs = P.registers(g)
        if len(self.regs) > 64:
            raise ValueError(f"{len(self.regs)} registers: the register file holds 64")
        self.pending_widths = async_counters(g)
        super().__init__(
            {
                "req": In(stream.Signature(req_layout)),
                "rdata": Out(32),
                "rvalid": Out(1),
                "busy": Out(1),  # a pass or a pending count is left
                **{f"count_{n.lower()}": In(1) for n in LINK_EVENTS},
                "chip_counts": In(count_layout(g)),
                "period": Out(32),
                "learn": Out(LEARN_LAYOUT),
                "episode_restart": Out(1),
                # Live values (module docstring).
                "running": In(1),
                "events_pending": In(event_fifo_bits),
                "phase": In(EPISODE_BITS),
                "last_tick_cycles": In(32),
            }
        )

    def live_values(self) -> dict:
        """Register name -> value, for the registers not kept in the block RAM."""
        return dict(
            RUNNING=self.running,
            PHASE=self.phase,
            LAST_TICK_CYCLES=self.last_tick_cycles,
            EVENTS_PENDING=self.events_pending,
        )

    def counts(self) -> dict:
        """Register name -> its counts per clock, for the counters counted as events happen."""
        counts = {name: getattr(self, f"count_{name.lower()}") for name in LINK_EVENTS}
        for name in count_max(self.geometry):
            if name.upper() in self.pending_widths:  # not host_dropped (async_counters)
                counts[name.upper()] = self.chip_counts[name]
        return counts

    def elaborate(self, platform):
        m = Module()
        addr_of = P.register_map(self.geometry)
        live = self.live_values()
        assert set(LIVE) <= set(live)
        self.live_sel = Signal(len(live))
        self.live_value = Signal(32)
        m.d.comb += self.live_value.eq(
            or_all(Mux(self.live_sel[i], v, 0) for i, v in enumerate(live.values()))
        )
        ident = dict(zip((n for n, _ in P.IDENTITY), P.identity(self.geometry, self.link).words()))
        init = [0] * (4 * 64)
        for name, word in ident.items():
            for b in range(4):
                init[4 * addr_of[name] + b] = (word >> (8 * b)) & 0xFF
        m.submodules.mem = mem = Memory(shape=8, depth=len(init), init=init)
        self.mem = mem  # for testbenches, which may preset a counter
        wr = mem.write_port()
        rd = mem.read_port(transparent_for=())

        req = self.req.payload
        op = Signal(RegOp)
        addr = Signal(6)
        wdata = Signal(32)
        delta = Signal(max(8, *self.pending_widths.values()))  # added a byte at a time
        silent = Signal()  # a pending count's pass: no rvalid
        # 0: idle; 1..5: the byte pass (read byte s - 1, write byte s - 2);
        # DECODE: a request taken the clock before; LIVE: a live register's read.
        step = Signal(range(8))
        DECODE, LIVE_READ = 6, 7
        carry = Signal()
        turn = Signal()  # 1: a pending count's pass goes before the next request

        # -- pending counts ---------------------------------------------------------
        widths, counts = self.pending_widths, self.counts()
        pend = [Signal(w, name=f"pend_{n.lower()}") for n, w in widths.items()]
        take = Signal(len(widths))
        for i, n in enumerate(widths):
            # The counts of the take's clock stay pending: none is lost.
            m.d.sync += pend[i].eq(Mux(take[i], counts[n], pend[i] + counts[n]))
        # nonzero[i]: pend[i] != 0, kept as a flag (no wide OR).
        nonzero = Signal(len(widths))
        for i, n in enumerate(widths):
            m.d.sync += nonzero[i].eq((nonzero[i] & ~take[i]) | (counts[n] != 0))
        m.d.comb += self.busy.eq(nonzero.any() | (step != 0))
        # The pending count whose turn it is, one-hot (rotates on every turn).
        ptr = Signal(len(widths), init=1)

        m.d.sync += self.rvalid.eq(0)
        # A pending count's pass, or the request's turn: decided from this block's
        # flip-flops only (``waiting``: a request was there the clock before), so
        # no path runs from a requester through here.
        waiting = Signal()
        m.d.sync += waiting.eq(self.req.valid & ~self.req.ready)
        flush = Signal()
        m.d.comb += flush.eq(nonzero.any() & (turn | ~waiting))
        with m.If(step == 0):
            m.d.comb += self.req.ready.eq(~flush)
            with m.If(flush):
                # A pending count's pass is an INC of its counter, decoded like a request.
                m.d.sync += ptr.eq(ptr.rotate_left(1))
                with m.If((nonzero & ptr).any()):
                    async_addr = or_all(Mux(ptr[i], addr_of[n], 0) for i, n in enumerate(widths))
                    m.d.sync += [op.eq(RegOp.INC), addr.eq(async_addr), silent.eq(1)]
                    m.d.sync += [step.eq(DECODE), turn.eq(0)]
            with m.Elif(self.req.valid):
                m.d.sync += [op.eq(req.op), addr.eq(req.addr), wdata.eq(req.data), silent.eq(0)]
                m.d.sync += [turn.eq(1), step.eq(DECODE)]
        with m.If(step == DECODE):
            self.decode(m, op, addr, wdata, live, addr_of, pend, take, delta, step, LIVE_READ)
            m.d.sync += carry.eq(0)
        with m.If(step == LIVE_READ):
            m.d.sync += [self.rdata.eq(self.live_value), self.rvalid.eq(1), step.eq(0)]

        # -- the byte pass: one shared 8-bit adder -----------------------------------
        m.d.comb += rd.addr.eq(Cat((step - 1)[:2], addr))
        with m.If((step >= 1) & (step <= 5)):
            m.d.sync += step.eq(Mux(step == 5, 0, step + 1))
        with m.If((step >= 2) & (step <= 5)):
            b = Signal(2)
            m.d.comb += b.eq(step - 2)
            total = Signal(9)
            m.d.comb += total.eq(rd.data + delta[:8] + carry)
            m.d.sync += delta.eq(delta >> 8)
            new = Signal(8)
            with m.Switch(op):
                with m.Case(RegOp.WRITE):
                    with m.Switch(b):
                        for i in range(4):
                            with m.Case(i):
                                m.d.comb += new.eq(wdata[8 * i : 8 * i + 8])
                with m.Case(RegOp.CLEAR):
                    m.d.comb += new.eq(0)
                with m.Default():
                    m.d.comb += new.eq(total[:8])
            m.d.sync += carry.eq(total[8])
            m.d.comb += [wr.addr.eq(Cat(b, addr)), wr.data.eq(new), wr.en.eq(1)]
            with m.Switch(b):
                for i in range(4):
                    with m.Case(i):
                        with m.If(~silent):  # held for the response while counts pass
                            m.d.sync += self.rdata[8 * i : 8 * i + 8].eq(new)
            with m.If(step == 5):
                m.d.sync += self.rvalid.eq((op == RegOp.READ) & ~silent)
        return m

    def decode(self, m, op, addr, wdata, live, addr_of, pend, take, delta, step, live_read):
        """The clock after a request is taken: a live register's read, or a byte pass.

        READ and INC add (the pending count, or 1), WRITE writes, CLEAR writes 0.
        A live read selects its value with a registered one-hot select, so the
        next clock's read is an AND-OR of flip-flops.
        """
        sel = Signal(len(live))
        is_live = Signal()
        for i, name in enumerate(live):
            with m.If(addr == addr_of[name]):
                m.d.comb += [is_live.eq(1), sel[i].eq(1)]
        m.d.sync += self.live_sel.eq(sel)
        # A pending count goes with its counter's pass: INC (a pending count's
        # pass) and READ add it, CLEAR drops it; other INCs add 1.
        # (The counter's one-hot selects its pending count: an AND-OR, no priority chain.)
        mine = Cat(addr == addr_of[name] for name in self.pending_widths)
        m.d.comb += take.eq(mine)
        pending = or_all(Mux(mine[i], p, 0) for i, p in enumerate(pend))
        with m.If(is_live):
            m.d.sync += step.eq(Mux(op == RegOp.READ, live_read, 0))
        with m.Else():
            m.d.sync += [step.eq(1), delta.eq(Mux(mine.any(), pending, op == RegOp.INC))]
        # Write-through: the flip-flops of the registers that drive something.
        with m.If(op == RegOp.WRITE):
            shadows = {"PERIOD": self.period}
            shadows.update({n: getattr(self.learn, f) for n, f in P.LEARN_REGISTERS.items()})
            for name, sig in shadows.items():
                with m.If(addr == addr_of[name]):
                    m.d.sync += sig.eq(wdata)
                    if name == "EPISODE":
                        m.d.comb += self.episode_restart.eq(1)
