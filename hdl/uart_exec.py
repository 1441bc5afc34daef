"""Executor of the UART block: one checked request at a time, on the chip.

Protocol: ``spikeloom/protocol.py``; golden model of the whole link:
``sim/uart.py``. The executor takes a frame from the deframer, has its
header checked (``hdl/uart_request.py``), runs the command, has the
response sent (``hdl/uart_response.py``), counts its status and releases
the frame.

Timing: the header checks take at most 6 clocks from the closing FLAG.
WRITE_REG, WRITE_MEM and INJECT make a checking pass over the payload
before the executing one, so a bad value changes nothing: 2 clocks per
byte and one per unit each pass (a unit that writes a register waits up to
6 clocks for the register file; a memory word waits for the chip to be
idle; an event for the chip to take it). RUN's argument is PERIOD's new
value: it goes through the passes like WRITE_REG's payload. Memory access
and SEED wait for the chip to be idle; STEP answers after its last tick,
STOP after the tick in progress. Free-running ticks (RUN) start at least
``PERIOD`` clocks apart (or back to back), only while no request executes.
``tick_start`` is a flip-flop: a tick starts the clock after it is decided.
The response (``hdl/uart_response.py``) goes out at line rate; its status
is counted once the framer is idle (a pass of the register file), then the
frame is released. While a request executes, line bytes queue in the
receive FIFO.
"""

from amaranth.hdl import Array, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from spikeloom import protocol as P
from spikeloom.defs import REGION_BITS, Geometry, Region

from .uart_framing import NHEADER
from .uart_regs import RegOp, req_layout
from .uart_request import header_args, onehot

__all__ = ["Executor"]

C, S = P.Command, P.Status
_STATUS_COUNTERS = [n for n, _ in P.LINK_COUNTERS[: len(S)]]
assert _STATUS_COUNTERS == ["FRAMES_OK", *(s.name for s in S if s != S.OK)] and len(S) <= 8


class Executor(wiring.Component):
    """The link's sequencer. See the module docstring for timing."""

    def __init__(self, geometry: Geometry, base_bits: int):
        g = self.geometry = geometry
        self.word_bytes = max(4, *(P.word_bytes(g, r) for r in Region))
        super().__init__(
            {
                "idle": Out(1),  # waiting for a frame
                # The deframer's frame and frame buffer.
                "frame_valid": In(1),
                "release": Out(1),
                "length": In(range(P.MAX_FRAME + 2)),
                "header": In(8 * NHEADER),
                "rd_addr": Out(range(1 << (P.MAX_FRAME - 1).bit_length())),
                "rd_data": In(8),
                # The header checks.
                "check_start": Out(1),
                "check_done": In(1),
                "check_status": In(8),
                "op": In(len(C)),  # the command, one-hot (``onehot``)
                "unit": In(4),
                "payload_start": In(range(NHEADER + 1)),
                "base": In(base_bits),  # the first register or memory index
                "far": In(1),  # ... is past every region
                # The response.
                "resp_start": Out(1),
                "resp_idle": In(1),
                "resp_status": Out(8),  # the response's data follows from it and the command
                # The register file and the event FIFO.
                "reg": Out(stream.Signature(req_layout)),
                "period": In(32),
                "running": Out(1),
                "tick_done": Out(1),  # a tick is over (TICK counts it)
                # The chip.
                "soft_reset": Out(1),
                "tick_start": Out(1),  # a flip-flop (the chip's barrier starts from it)
                "busy": In(1),
                "tick": In(g.tick_bits),
                "host_in": Out(stream.Signature(g.axon_event_layout)),
                "cfg_core": Out(g.core_bits),
                "cfg_region": Out(REGION_BITS),
                "cfg_addr": Out(g.cfg_addr_bits),
                "cfg_wdata": Out(g.cfg_data_bits),
                "cfg_we": Out(1),
                "seed": Out(32),
                "seed_core": Out(g.core_bits),
                "seed_we": Out(1),
            }
        )

    def elaborate(self, platform):
        g = self.geometry
        m = Module()
        a = header_args(self.header)
        addr_of = P.register_map(g)
        ar = a[C.READ_MEM]
        m.d.comb += [
            self.cfg_core.eq(ar.core),
            self.cfg_region.eq(ar.region),
            self.seed_core.eq(a[C.SEED].core),
            self.seed.eq(a[C.SEED].seed),
        ]

        # -- ticks ----------------------------------------------------------------
        tick_q = Signal(g.tick_bits)
        m.d.sync += tick_q.eq(self.tick)
        with m.If(self.soft_reset):
            m.d.sync += tick_q.eq(0)  # the chip's tick restarts at 0 too
        m.d.comb += self.tick_done.eq(self.tick != tick_q)
        start = Signal()  # a tick starts: ``tick_start`` the next clock
        # STEP's ticks started, or RUN's clocks since the last tick started
        # (STEP is refused while running free).
        counted = Signal(32)

        # -- the payload passes ------------------------------------------------------
        scan = Signal()  # checking pass (1) or executing pass (0)
        bad = Signal()  # the checking pass found a bad value, word or event
        end = Signal(range(P.MAX_FRAME + 2))
        pos = Signal(range(P.MAX_FRAME + 2))
        k = Signal(4)  # byte within unit
        acc = Signal(8 * self.word_bytes)
        # The unit's register or memory index, on the low bits (``far``: the
        # first one is past every region already, for WRITE_MEM's end check).
        cur = Signal(len(self.base) + 1)
        is_run = self.op[list(C).index(C.RUN)]
        m.d.comb += [
            self.reg.payload.data.eq(acc[:32]),
            self.cfg_addr.eq(cur),
            self.cfg_wdata.eq(acc),
            self.host_in.payload.core.eq(P.INJECT_EVENT(acc[:32]).core),
            self.host_in.payload.axon.eq(P.INJECT_EVENT(acc[:32]).axon),
        ]

        def respond(status):
            m.d.sync += self.resp_status.eq(status)
            m.next = "RESP"

        def start_pass(checking):
            m.d.sync += [pos.eq(self.payload_start), scan.eq(checking), k.eq(0), cur.eq(self.base)]
            m.next = "PASS_RD"

        with m.FSM(name="exec") as fsm:
            with m.State("RECV"):
                m.d.comb += self.idle.eq(1)
                with m.If(self.frame_valid):
                    m.d.comb += self.check_start.eq(1)
                    m.next = "CHECK"
            with m.State("CHECK"):
                with m.If(self.check_done):
                    m.d.sync += [bad.eq(0), end.eq(self.length - P.CRC_BYTES)]
                    with m.If(self.check_status != S.OK):
                        respond(self.check_status)
                    with m.Else():
                        self.dispatch(m, a, respond, start_pass, counted)
            with m.State("RESET"):
                self.reg_request(m, RegOp.CLEAR, addr_of["TICK"])
                with m.If(self.reg.ready):
                    m.next = "RESET_DROPPED"
            with m.State("RESET_DROPPED"):
                self.reg_request(m, RegOp.CLEAR, addr_of["EVENTS_DROPPED"])
                with m.If(self.reg.ready):
                    respond(S.OK)

            # ---- payload passes: 2 clocks per byte -------------------------------
            with m.State("PASS_RD"):
                m.d.comb += self.rd_addr.eq(pos)
                with m.If(pos == end):
                    m.next = "PASS_END"
                with m.Else():
                    m.next = "PASS_BYTE"
            with m.State("PASS_BYTE"):
                for i in range(self.word_bytes):
                    lane = acc[8 * i : 8 * i + 8]
                    with m.If(k == i):
                        m.d.sync += lane.eq(self.rd_data)
                    with m.Elif(k == 0):
                        m.d.sync += lane.eq(0)
                m.d.sync += pos.eq(pos + 1)
                with m.If(k == self.unit - 1):
                    m.d.sync += k.eq(0)
                    m.next = "PASS_ACT"
                with m.Else():
                    m.d.sync += k.eq(k + 1)
                    m.next = "PASS_RD"
            with m.State("PASS_ACT"):
                done = Signal()
                with m.If(scan):
                    m.d.comb += done.eq(1)
                    self.check_unit(m, acc, cur, bad)
                with m.Else():
                    self.execute_unit(m, acc, cur, done)
                with m.If(done):
                    m.d.sync += cur.eq(cur + 1)
                    m.next = "PASS_RD"
            with m.State("PASS_END"):
                depth_of = Array(Const(g.region_depth(r), len(cur)) for r in Region)
                past_end = self.far | (cur > depth_of[self.cfg_region])
                is_wmem = self.op[list(C).index(C.WRITE_MEM)]
                with m.If(~scan):
                    with m.If(is_run):
                        m.d.sync += self.running.eq(1)
                    respond(S.OK)
                with m.Elif(k != 0):
                    respond(S.BAD_LENGTH)
                with m.Elif(is_wmem & past_end):
                    respond(S.BAD_ADDRESS)
                with m.Elif(bad):
                    respond(S.BAD_ADDRESS)
                with m.Else():
                    start_pass(0)

            # ---- STEP, STOP and SEED ------------------------------------------------
            with m.State("STEP"):
                with m.If(counted == a[C.STEP].ticks):
                    respond(S.OK)
                with m.Elif(~self.busy):
                    m.d.comb += start.eq(1)
                    m.d.sync += counted.eq(counted + 1)
                    m.next = "STEP_WAIT"
            with m.State("STEP_WAIT"):
                with m.If(self.tick_done):
                    m.next = "STEP"
            with m.State("QUIET"):  # STOP and SEED: OK once the chip is idle
                with m.If(~self.busy):
                    m.d.comb += self.seed_we.eq(self.op[list(C).index(C.SEED)])
                    respond(S.OK)

            # ---- response, status count, next frame --------------------------------
            with m.State("RESP"):
                m.d.comb += self.resp_start.eq(1)
                m.next = "RESP_WAIT"
            with m.State("RESP_WAIT"):
                with m.If(self.resp_idle):
                    m.next = "COUNT"
            with m.State("COUNT"):
                # Counted once answered: a READ_REG of the counters does not count itself.
                # The status counters are in Status order, from FRAMES_OK.
                self.reg_request(m, RegOp.INC, addr_of["FRAMES_OK"] + self.resp_status[:3])
                with m.If(self.reg.ready):
                    m.next = "RELEASE"
            with m.State("RELEASE"):
                m.d.comb += self.release.eq(1)
                m.next = "RECV"

        self.free_run(m, fsm.ongoing("RECV"), counted, start)
        m.d.sync += self.tick_start.eq(start)
        return m

    def reg_request(self, m, op, addr):
        """A register file request (a WRITE's data: the payload unit)."""
        m.d.comb += [
            self.reg.valid.eq(1),
            self.reg.payload.op.eq(op),
            self.reg.payload.addr.eq(addr),
        ]

    def dispatch(self, m, a, respond, start_pass, counted):
        """A request that passed the header checks: start its command."""
        with m.Switch(self.op):
            with m.Case(onehot(C.IDENTIFY), onehot(C.READ_REG), onehot(C.READ_MEM)):
                respond(S.OK)
            with m.Case(*(onehot(c) for c in (C.WRITE_REG, C.WRITE_MEM, C.INJECT, C.RUN))):
                start_pass(1)
            with m.Case(onehot(C.STEP)):
                m.d.sync += counted.eq(0)
                m.next = "STEP"
            with m.Case(onehot(C.STOP)):
                m.d.sync += self.running.eq(0)
                m.next = "QUIET"
            with m.Case(onehot(C.READ_EVENTS)):
                respond(S.OK)
            with m.Case(onehot(C.SEED)):
                m.next = "QUIET"  # strobes seed_we there
            with m.Case(onehot(C.RESET)):
                m.d.comb += self.soft_reset.eq(1)
                m.d.sync += self.running.eq(0)
                m.next = "RESET"

    def check_unit(self, m, acc, cur, bad):
        """The checking pass: is this unit's value, word or event allowed?"""
        g = self.geometry
        addr_of = P.register_map(g)
        mask_of = Array(Const((1 << g.region_layout(r).size) - 1, len(acc)) for r in Region)
        limited: dict[int, list[int]] = {}
        for name, top in P.REGISTER_MAX.items():
            limited.setdefault(top, []).append(addr_of[name])
        with m.Switch(self.op):
            with m.Case(onehot(C.WRITE_REG)):
                with m.Switch(cur[:8]):
                    for top, addrs in limited.items():
                        with m.Case(*addrs):
                            with m.If(acc[:32] > top):
                                m.d.sync += bad.eq(1)
            with m.Case(onehot(C.WRITE_MEM)):
                with m.If((acc & ~mask_of[self.cfg_region]) != 0):
                    m.d.sync += bad.eq(1)
            with m.Case(onehot(C.INJECT)):
                ev = P.INJECT_EVENT(acc[:32])
                with m.If((ev.core >= g.cores) | (ev.axon >= g.axons)):
                    m.d.sync += bad.eq(1)

    def execute_unit(self, m, acc, cur, done):
        """The executing pass: write the register or memory word, or send the event."""
        with m.Switch(self.op):
            with m.Case(onehot(C.WRITE_REG), onehot(C.RUN)):
                self.reg_request(m, RegOp.WRITE, cur[:8])
                m.d.comb += done.eq(self.reg.ready)
            with m.Case(onehot(C.WRITE_MEM)):
                with m.If(~self.busy):
                    m.d.comb += [done.eq(1), self.cfg_we.eq(1)]
            with m.Case(onehot(C.INJECT)):
                m.d.comb += [self.host_in.valid.eq(1), done.eq(self.host_in.ready)]

    def free_run(self, m, between, since, start):
        """RUN: ticks at least ``period`` clocks apart, started only between requests.

        ``since`` counts the clocks since a tick started.
        """
        with m.If(self.running):
            # Not while the last start is on its way to the chip (not busy yet).
            with m.If(between & ~self.busy & ~self.tick_start & (since >= self.period)):
                m.d.comb += start.eq(1)
                m.d.sync += since.eq(1)
            with m.Else():
                m.d.sync += since.eq(since + 1)
