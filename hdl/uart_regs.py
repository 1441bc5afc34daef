"""Register and counter file of the UART block (``protocol.registers``).

Two kinds of register:

- stored, in one byte-wide block RAM at ``4 * address + byte``: the
  identity block (a ROM part: its initial contents, never changed),
  SCRATCH and the link counters (``protocol.LINK_COUNTERS``);
- live, read from where they are kept: PERIOD and the learning registers
  (flip-flops here, as wide as their fields; they drive the link and the
  chip), and the values of the executor and the chip (RUNNING, TICK,
  PHASE, LAST_TICK_CYCLES, EVENTS_PENDING, chip counters, CARRIED,
  STALLED).

Requests (``req``: READ, WRITE, INC, CLEAR of one register) are taken one
at a time. A live register answers a READ on ``rdata`` with ``rvalid`` the
clock after it is taken; a WRITE takes one clock (a write of EPISODE pulses
``episode_restart`` then). A stored register is read, changed and written
back byte by byte through one shared 8-bit adder: 6 clocks, ``rvalid`` on
the last. INC adds 1 (the status counters, once a response is out), CLEAR
writes 0 (RESET's EVENTS_DROPPED).

Counters that count events outside the request flow (TIMEOUTS,
FRAMING_ERRORS, OVERRUNS, EVENTS_DROPPED; up to one per clock) first count
in 8-bit pending registers; a READ or CLEAR of the counter adds or drops
its pending count in the same pass, so a read is exact, and otherwise they
are added in turn, one pass between two requests at least. A pending count
is added at most 4 * 2 passes (< 64 clocks) after its first event, so it
cannot overflow.
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
#: Link counters counted as they happen (pending registers), not per response.
ASYNC_COUNTERS = ("TIMEOUTS", "FRAMING_ERRORS", "OVERRUNS", "EVENTS_DROPPED")
#: Registers kept in the block RAM (besides the identity block and the link counters).
STORED = ("SCRATCH",)


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
                "tick": In(32),
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
        values = {name: getattr(self.learn, f) for name, f in P.LEARN_REGISTERS.items()}
        values.update(
            PERIOD=self.period,
            RUNNING=self.running,
            TICK=self.tick,
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
        stored = [n for n, _ in P.IDENTITY] + list(STORED) + [n for n, _ in P.LINK_COUNTERS]
        assert set(live) | set(stored) == set(addr_of) and not set(live) & set(stored)
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
        step = Signal(range(6))  # 0: idle; 1..4 read byte step - 1; 2..5 write byte step - 2
        carry = Signal()
        turn = Signal()  # 1: a pending count's pass goes before the next request

        # -- pending counts ---------------------------------------------------------
        pend = {n: Signal(8, name=f"pend_{n.lower()}") for n in ASYNC_COUNTERS}
        take = {n: Signal(name=f"take_{n.lower()}") for n in ASYNC_COUNTERS}
        for n in ASYNC_COUNTERS:
            inc = getattr(self, f"count_{n.lower()}")
            m.d.sync += pend[n].eq(Mux(take[n], 0, pend[n]) + inc)
        ptr = Signal(range(len(ASYNC_COUNTERS)))
        flushing = Cat(*[p != 0 for p in pend.values()]).any()
        m.d.comb += self.busy.eq(flushing | (step != 0))

        def start_pass(o, a, d, quiet):
            m.d.sync += [op.eq(o), addr.eq(a), wdata.eq(d), silent.eq(quiet), step.eq(1)]
            m.d.sync += [carry.eq(0), delta.eq(d)]

        m.d.sync += self.rvalid.eq(0)
        with m.If(step == 0):
            with m.If(flushing & (turn | ~self.req.valid)):
                m.d.sync += ptr.eq(ptr + 1)
                with m.Switch(ptr):
                    for i, n in enumerate(ASYNC_COUNTERS):
                        with m.Case(i):
                            with m.If(pend[n] != 0):
                                m.d.comb += take[n].eq(1)
                                m.d.sync += turn.eq(0)
                                start_pass(RegOp.INC, addr_of[n], pend[n], 1)
            with m.Else():
                m.d.comb += self.req.ready.eq(1)
                with m.If(self.req.valid):
                    m.d.sync += turn.eq(1)
                    self.take_request(m, req, live, addr_of, stored, pend, take, start_pass)

        # -- the byte pass: one shared 8-bit adder -----------------------------------
        m.d.comb += rd.addr.eq(Cat((step - 1)[:2], addr))
        with m.If(step != 0):
            m.d.sync += step.eq(Mux(step == 5, 0, step + 1))
        with m.If(step >= 2):
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
                        m.d.sync += self.rdata[8 * i : 8 * i + 8].eq(new)
            with m.If(step == 5):
                m.d.sync += self.rvalid.eq((op == RegOp.READ) & ~silent)
        return m

    def take_request(self, m, req, live, addr_of, stored, pend, take, start_pass):
        """A request taken: a live register at once, a stored one through a byte pass.

        READ and INC add (the pending count, or 1), WRITE writes, CLEAR writes 0.
        """
        is_stored = Signal()
        pending = Signal(8)
        with m.Switch(req.addr):
            for name in stored:
                with m.Case(addr_of[name]):
                    m.d.comb += is_stored.eq(1)
                    if name in pend:
                        m.d.comb += pending.eq(pend[name])
                        with m.If((req.op == RegOp.READ) | (req.op == RegOp.CLEAR)):
                            m.d.comb += take[name].eq(1)
        with m.If(is_stored):
            with m.Switch(req.op):
                with m.Case(RegOp.READ):
                    start_pass(RegOp.READ, req.addr, pending, 0)
                with m.Case(RegOp.INC):
                    start_pass(RegOp.INC, req.addr, 1, 0)
                with m.Default():
                    start_pass(req.op, req.addr, req.data, 0)
        with m.Elif(req.op == RegOp.READ):
            m.d.sync += [self.rdata.eq(0), self.rvalid.eq(1)]
            with m.Switch(req.addr):
                for name, value in live.items():
                    with m.Case(addr_of[name]):
                        m.d.sync += self.rdata.eq(value)
        with m.Elif(req.op == RegOp.WRITE):
            writable = {"PERIOD": self.period}
            writable.update({n: getattr(self.learn, f) for n, f in P.LEARN_REGISTERS.items()})
            with m.Switch(req.addr):
                for name, sig in writable.items():
                    with m.Case(addr_of[name]):
                        m.d.sync += sig.eq(req.data)
                        if name == "EPISODE":
                            m.d.comb += self.episode_restart.eq(1)
