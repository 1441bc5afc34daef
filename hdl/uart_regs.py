"""Register and counter file of the UART block (``protocol.registers``).

Two kinds of register:

- stored, in one byte-wide block RAM at ``4 * address + byte``: the
  identity block (a ROM part: its initial contents, never written), the
  read-write registers (SCRATCH, PERIOD and the learning registers, whose
  writes also go to flip-flops that drive the link and the chip, as wide
  as their fields), TICK and the link counters (``protocol.LINK_COUNTERS``);
- live, read from where they are kept: RUNNING, PHASE, LAST_TICK_CYCLES,
  EVENTS_PENDING, the chip counters, CARRIED and STALLED.

Requests (``req``: READ, WRITE, INC or CLEAR of one register) are taken
one at a time, in one clock (``ready`` depends on this block's flip-flops
only), and decoded the next. A live register's READ then selects it with a
registered one-hot select: ``rvalid`` 3 clocks after the request is taken.
A stored register is read, changed and written back byte by byte through
one shared 8-bit adder: a pass of 5 more clocks, ``rvalid`` (READ) on the
last. INC adds 1 (the status counters, once a response is out), CLEAR
writes 0 (RESET's TICK and EVENTS_DROPPED); a WRITE of EPISODE pulses
``episode_restart`` the clock after it is taken. ``rdata`` holds a READ's
value until the next request (the response sends its bytes from there).

Counters of events outside the request flow (TICK, TIMEOUTS,
FRAMING_ERRORS, OVERRUNS, EVENTS_DROPPED; up to one per clock) first count
in pending registers. A READ or CLEAR of such a counter adds or drops its
pending count in its own pass, so a read is exact; otherwise pending counts
are added in turn, each an INC of its counter decoded like a request (a
pass of 7 clocks) with at most one request (7 clocks) between two of them,
so each is taken within 5 * 14 clocks of its first event and cannot
overflow (the widths of ``ASYNC_COUNTERS`` hold the most events of 80
clocks).
"""

import enum

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikeloom import protocol as P
from spikeloom.defs import COUNTERS, EPISODE_BITS, LEARN_LAYOUT, Geometry

__all__ = ["RegisterFile", "RegOp", "req_layout", "ASYNC_COUNTERS"]


class RegOp(enum.IntEnum):
    READ = 0
    WRITE = 1
    INC = 2
    CLEAR = 3


req_layout = data.StructLayout({"op": unsigned(2), "addr": unsigned(8), "data": unsigned(32)})
#: Stored counters counted as events happen, not per response, and the width
#: of their pending counts: events up to one per clock (EVENTS_DROPPED), one
#: per tick (2 clocks at least), one per line character (at least 40 clocks).
ASYNC_COUNTERS = {"TICK": 6, "TIMEOUTS": 2, "FRAMING_ERRORS": 2, "OVERRUNS": 2, "EVENTS_DROPPED": 8}
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
        nlev = len(g.levels)
        super().__init__(
            {
                "req": In(stream.Signature(req_layout)),
                "rdata": Out(32),
                "rvalid": Out(1),
                "busy": Out(1),  # a pass or a pending count is left
                **{f"count_{n.lower()}": In(1) for n in ASYNC_COUNTERS},
                "period": Out(32),
                "learn": Out(LEARN_LAYOUT),
                "episode_restart": Out(1),
                # Live values (module docstring).
                "running": In(1),
                "events_pending": In(event_fifo_bits),
                "phase": In(EPISODE_BITS),
                "last_tick_cycles": In(32),
                **{name: In(32) for name in COUNTERS},
                "carried": In(32).array(nlev),
                "stalled": In(32).array(nlev),
            }
        )

    def live_values(self) -> dict:
        """Register name -> value, for the registers not kept in the block RAM."""
        g = self.geometry
        values = dict(
            RUNNING=self.running,
            PHASE=self.phase,
            LAST_TICK_CYCLES=self.last_tick_cycles,
            EVENTS_PENDING=self.events_pending,
            **{name.upper(): getattr(self, name) for name in COUNTERS},
        )
        for i in range(len(g.levels)):
            values[f"CARRIED{i}"] = self.carried[i]
            values[f"STALLED{i}"] = self.stalled[i]
        return values

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
        wr = mem.write_port()
        rd = mem.read_port(transparent_for=())

        req = self.req.payload
        op = Signal(RegOp)
        addr = Signal(6)
        wdata = Signal(32)
        delta = Signal(8)
        silent = Signal()  # a pending count's pass: no rvalid
        # 0: idle; 1..5: the byte pass (read byte s - 1, write byte s - 2);
        # DECODE: a request taken the clock before; LIVE: a live register's read.
        step = Signal(range(8))
        DECODE, LIVE_READ = 6, 7
        carry = Signal()
        turn = Signal()  # 1: a pending count's pass goes before the next request

        # -- pending counts ---------------------------------------------------------
        pend = [Signal(w, name=f"pend_{n.lower()}") for n, w in ASYNC_COUNTERS.items()]
        take = Signal(len(ASYNC_COUNTERS))
        for i, n in enumerate(ASYNC_COUNTERS):
            inc = getattr(self, f"count_{n.lower()}")
            m.d.sync += pend[i].eq(Mux(take[i], 0, pend[i]) + inc)
        nonzero = Signal(len(ASYNC_COUNTERS))
        m.d.comb += nonzero.eq(Cat(*[p != 0 for p in pend]))
        m.d.comb += self.busy.eq(nonzero.any() | (step != 0))
        # The pending count whose turn it is, one-hot (rotates on every turn).
        ptr = Signal(len(ASYNC_COUNTERS), init=1)

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
                    async_addr = or_all(
                        Mux(ptr[i], addr_of[n], 0) for i, n in enumerate(ASYNC_COUNTERS)
                    )
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
            m.d.comb += total.eq(rd.data + Mux(b == 0, delta, 0) + carry)
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
        pending = Signal(8)
        is_async = Signal()
        for i, name in enumerate(ASYNC_COUNTERS):
            with m.If(addr == addr_of[name]):
                m.d.comb += [pending.eq(pend[i]), is_async.eq(1), take[i].eq(1)]
        with m.If(is_live):
            m.d.sync += step.eq(Mux(op == RegOp.READ, live_read, 0))
        with m.Else():
            m.d.sync += [step.eq(1), delta.eq(Mux(is_async, pending, op == RegOp.INC))]
        # Write-through: the flip-flops of the registers that drive something.
        with m.If(op == RegOp.WRITE):
            shadows = {"PERIOD": self.period}
            shadows.update({n: getattr(self.learn, f) for n, f in P.LEARN_REGISTERS.items()})
            for name, sig in shadows.items():
                with m.If(addr == addr_of[name]):
                    m.d.sync += sig.eq(wdata)
                    if name == "EPISODE":
                        m.d.comb += self.episode_restart.eq(1)
