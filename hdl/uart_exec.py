"""Executor of the UART block: one checked request at a time, on the chip.

Protocol: ``spikeloom/protocol.py``; golden model of the whole link:
``sim/uart.py``. The executor takes a frame from the deframer, has its
header checked (``hdl/uart_request.py``), runs the command, has the
response sent (``hdl/uart_response.py``), counts its status and releases
the frame.

Timing: header checks 7 clocks. WRITE_REG, WRITE_MEM and INJECT make a
checking pass over the payload before the executing one, so a bad value
changes nothing: 2 clocks per byte and one per unit each pass (a unit that
writes SCRATCH waits 6 clocks for the register file; a memory word waits
for the chip to be idle; an event for the chip to take it). Memory access
and SEED wait for the chip to be idle; STEP answers after its last tick,
STOP after the tick in progress. Free-running ticks (RUN): a tick every
``PERIOD`` clocks (or back to back), started only while no request
executes. While a request executes, line bytes queue in the receive FIFO.
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from spikeloom import protocol as P
from spikeloom.defs import REGION_BITS, Geometry, Region

from .uart_framing import NHEADER
from .uart_regs import RegOp, req_layout
from .uart_request import header_args
from .uart_response import Source

__all__ = ["Executor"]

C, S = P.Command, P.Status


class Executor(wiring.Component):
    """The link's sequencer. See the module docstring for timing."""

    def __init__(self, geometry: Geometry, event_fifo_bits: int):
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
                "unit": In(4),
                "payload_start": In(range(NHEADER + 1)),
                # The response.
                "resp_start": Out(1),
                "resp_idle": In(1),
                "resp_status": Out(8),
                "resp_src": Out(Source),
                "resp_count": Out(range(P.MAX_PAYLOAD + 1)),
                "resp_wbytes": Out(4),
                "resp_base": Out(max(g.cfg_addr_bits, 8)),
                # The register file and the event FIFO.
                "reg": Out(stream.Signature(req_layout)),
                "period": In(32),
                "events_pending": In(event_fifo_bits),
                "running": Out(1),
                "ticks": Out(32),
                # The chip.
                "soft_reset": Out(1),
                "tick_start": Out(1),
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
        cmd = self.header[:8]
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
        tick_done = Signal()
        m.d.sync += tick_q.eq(self.tick)
        with m.If(self.soft_reset):
            m.d.sync += tick_q.eq(0)  # the chip's tick restarts at 0 too
        m.d.comb += tick_done.eq(self.tick != tick_q)
        with m.If(tick_done):
            m.d.sync += self.ticks.eq(self.ticks + 1)
        left = Signal(32)  # STEP ticks to go

        # -- the payload passes ------------------------------------------------------
        scan = Signal()  # checking pass (1) or executing pass (0)
        bad = Signal()  # the checking pass found a bad value, word or event
        end = Signal(range(P.MAX_FRAME + 2))
        pos = Signal(range(P.MAX_FRAME + 2))
        k = Signal(4)  # byte within unit
        acc = Signal(8 * self.word_bytes)
        cur = Signal(34)  # register or memory index of the unit
        first = Mux(cmd == C.WRITE_REG, a[C.WRITE_REG].addr, a[C.WRITE_MEM].index)

        def respond(status, src=Source.NONE, count=0, wbytes=0, base=0):
            m.d.sync += [
                self.resp_status.eq(status),
                self.resp_src.eq(src),
                self.resp_count.eq(count),
                self.resp_wbytes.eq(wbytes),
                self.resp_base.eq(base),
            ]
            m.next = "RESP"

        def start_pass(checking):
            m.d.sync += [pos.eq(self.payload_start), scan.eq(checking), k.eq(0), cur.eq(first)]
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
                        self.dispatch(m, a, respond, start_pass, left)
            with m.State("EVENTS"):
                mx = a[C.READ_EVENTS].max
                n = Signal(16)
                cap = P.MAX_PAYLOAD // P.event_bytes(g)
                m.d.comb += n.eq(Mux(mx < self.events_pending, mx, self.events_pending))
                respond(S.OK, Source.EVENT, Mux(n > cap, cap, n), P.event_bytes(g))
            with m.State("RUN"):
                self.reg_request(m, RegOp.WRITE, addr_of["PERIOD"], a[C.RUN].period)
                with m.If(self.reg.ready):
                    m.d.sync += self.running.eq(1)
                    respond(S.OK)
            with m.State("RESET"):
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
                depth_of = Array(Const(g.region_depth(r), 33) for r in Region)
                with m.If(~scan):
                    respond(S.OK)
                with m.Elif(k != 0):
                    respond(S.BAD_LENGTH)
                with m.Elif((cmd == C.WRITE_MEM) & (cur > depth_of[self.cfg_region])):
                    respond(S.BAD_ADDRESS)
                with m.Elif(bad):
                    respond(S.BAD_ADDRESS)
                with m.Else():
                    start_pass(0)

            # ---- STEP, STOP and SEED ------------------------------------------------
            with m.State("STEP"):
                with m.If(left == 0):
                    respond(S.OK, Source.TICK, 1, 4)
                with m.Elif(~self.busy):
                    m.d.comb += self.tick_start.eq(1)
                    m.d.sync += left.eq(left - 1)
                    m.next = "STEP_WAIT"
            with m.State("STEP_WAIT"):
                with m.If(tick_done):
                    m.next = "STEP"
            with m.State("QUIET"):  # STOP and SEED: OK once the chip is idle
                with m.If(~self.busy):
                    m.d.comb += self.seed_we.eq(cmd == C.SEED)
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
                counter = Signal(8)
                with m.Switch(self.resp_status):
                    for st in S:
                        with m.Case(st):
                            name = "FRAMES_OK" if st == S.OK else st.name
                            m.d.comb += counter.eq(addr_of[name])
                self.reg_request(m, RegOp.INC, counter)
                with m.If(self.reg.ready):
                    m.next = "RELEASE"
            with m.State("RELEASE"):
                m.d.comb += self.release.eq(1)
                m.next = "RECV"

        self.free_run(m, fsm.ongoing("RECV"))
        return m

    def reg_request(self, m, op, addr, data=0):
        m.d.comb += [
            self.reg.valid.eq(1),
            self.reg.payload.op.eq(op),
            self.reg.payload.addr.eq(addr),
            self.reg.payload.data.eq(data),
        ]

    def dispatch(self, m, a, respond, start_pass, left):
        """A request that passed the header checks: start its command."""
        cmd = self.header[:8]
        with m.Switch(cmd):
            with m.Case(C.IDENTIFY):
                respond(S.OK, Source.REG, len(P.IDENTITY), 4, 0)
            with m.Case(C.READ_REG):
                rr = a[C.READ_REG]
                respond(S.OK, Source.REG, rr.count, 4, rr.addr)
            with m.Case(C.READ_MEM):
                ar = a[C.READ_MEM]
                respond(S.OK, Source.MEM, ar.count, self.unit, ar.index)
            with m.Case(C.WRITE_REG, C.WRITE_MEM, C.INJECT):
                start_pass(1)
            with m.Case(C.STEP):
                m.d.sync += left.eq(a[C.STEP].ticks)
                m.next = "STEP"
            with m.Case(C.RUN):
                m.next = "RUN"
            with m.Case(C.STOP):
                m.d.sync += self.running.eq(0)
                m.next = "QUIET"
            with m.Case(C.READ_EVENTS):
                m.next = "EVENTS"
            with m.Case(C.SEED):
                m.next = "QUIET"  # strobes seed_we there
            with m.Case(C.RESET):
                m.d.comb += self.soft_reset.eq(1)
                m.d.sync += [self.ticks.eq(0), self.running.eq(0)]
                m.next = "RESET"

    def check_unit(self, m, acc, cur, bad):
        """The checking pass: is this unit's value, word or event allowed?"""
        g = self.geometry
        cmd = self.header[:8]
        addr_of = P.register_map(g)
        mask_of = Array(Const((1 << g.region_layout(r).size) - 1, len(acc)) for r in Region)
        limited: dict[int, list[int]] = {}
        for name, top in P.REGISTER_MAX.items():
            limited.setdefault(top, []).append(addr_of[name])
        with m.Switch(cmd):
            with m.Case(C.WRITE_REG):
                with m.Switch(cur[:8]):
                    for top, addrs in limited.items():
                        with m.Case(*addrs):
                            with m.If(acc[:32] > top):
                                m.d.sync += bad.eq(1)
            with m.Case(C.WRITE_MEM):
                with m.If((acc & ~mask_of[self.cfg_region]) != 0):
                    m.d.sync += bad.eq(1)
            with m.Case(C.INJECT):
                ev = P.INJECT_EVENT(acc[:32])
                with m.If((ev.core >= g.cores) | (ev.axon >= g.axons)):
                    m.d.sync += bad.eq(1)

    def execute_unit(self, m, acc, cur, done):
        """The executing pass: write the register or memory word, or send the event."""
        cmd = self.header[:8]
        with m.Switch(cmd):
            with m.Case(C.WRITE_REG):
                self.reg_request(m, RegOp.WRITE, cur[:8], acc[:32])
                m.d.comb += done.eq(self.reg.ready)
            with m.Case(C.WRITE_MEM):
                with m.If(~self.busy):
                    m.d.comb += [
                        done.eq(1),
                        self.cfg_we.eq(1),
                        self.cfg_addr.eq(cur),
                        self.cfg_wdata.eq(acc),
                    ]
            with m.Case(C.INJECT):
                ev = P.INJECT_EVENT(acc[:32])
                m.d.comb += [
                    self.host_in.valid.eq(1),
                    self.host_in.payload.core.eq(ev.core),
                    self.host_in.payload.axon.eq(ev.axon),
                    done.eq(self.host_in.ready),
                ]

    def free_run(self, m, between):
        """RUN: a tick every ``period`` clocks, started only between requests."""
        since = Signal(32)
        with m.If(since != 0xFFFF_FFFF):
            m.d.sync += since.eq(since + 1)
        with m.If(self.running & between & ~self.busy & (since >= self.period)):
            m.d.comb += self.tick_start.eq(1)
            m.d.sync += since.eq(1)
