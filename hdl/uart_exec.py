"""Executor of the UART block: one checked request at a time, on the chip.

Protocol: ``spikeloom/protocol.py``; golden model of the whole link:
``sim/uart.py``. The executor takes a frame from the deframer, has its
header checked (``hdl/uart_request.py``), runs the command, has the
response sent (``hdl/uart_response.py``), counts its status and releases
the frame.

Timing: the header checks take at most 7 clocks from the closing FLAG.
WRITE_REG, WRITE_MEM and INJECT make a checking pass over the payload
before the executing one, so a bad value changes nothing: 2 clocks per
byte and ``1 + word_bytes - unit`` per unit each pass (the bytes shift
into the unit's register from the top, then zeros align it; no shifter).
A unit that writes a register waits up to 6 clocks for the register file,
a memory word for the chip to be idle, an event for the chip to take it.
RUN's argument is PERIOD's new value: it goes through the passes like
WRITE_REG's payload. Memory access and SEED wait for the chip to be
idle; STEP answers after its last tick, STOP after the tick in progress;
RESET after clearing TICK, EVENTS_DROPPED and the chip counters (a CLEAR
of the register file each, up to 14 clocks).
Free-running ticks (RUN) start at least ``PERIOD`` clocks apart (or back
to back), only while no request executes. ``tick_start`` is a flip-flop:
a tick starts the clock after it is decided. The response
(``hdl/uart_response.py``) goes out at line rate, its words read at the
index register (``cur``, which the passes use too); its status is counted
once the framer is idle (a pass of the register file), then the frame is
released. While a request executes, line bytes queue in the receive FIFO.
"""

from amaranth.hdl import Array, Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from spikeloom import protocol as P
from spikeloom.defs import REGION_BITS, Geometry, Region

from .top import count_max
from .uart_framing import NHEADER
from .uart_regs import RegOp, or_all, req_layout
from .uart_request import header_args, onehot

__all__ = ["Executor"]

C, S = P.Command, P.Status
_STATUS_COUNTERS = [n for n, _ in P.LINK_COUNTERS[: len(S)]]
assert _STATUS_COUNTERS == ["FRAMES_OK", *(s.name for s in S if s != S.OK)]
assert max(S) < 8, "a status fits 3 bits"


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
                "check_status": In(3),  # a ``Status``
                "op": In(len(C)),  # the command, one-hot (``onehot``)
                "unit": In(4),
                "payload_start": In(range(NHEADER + 1)),
                "base": In(base_bits),  # the first register or memory index
                "far": In(1),  # ... is past every region
                # The response.
                "resp_start": Out(1),
                "resp_idle": In(1),
                "resp_status": Out(3),  # the response's data follows from it and the command
                "resp_next": In(1),  # a response word is out: the next index
                # The register file and the event FIFO.
                "reg": Out(stream.Signature(req_layout)),
                "period": In(32),
                "running": Out(1),
                "tick_done": Out(1),  # a tick is over (TICK counts it)
                # The chip.
                # RESET: a flip-flop, high the clock after it is decided (the
                # chip's logic restarts from it); ``resetting`` covers both clocks.
                "soft_reset": Out(1),
                "resetting": Out(1),
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
        # RESET clears TICK, then the last registers: EVENTS_DROPPED and the chip counters.
        cleared = ["EVENTS_DROPPED", *(n.upper() for n in count_max(g))]
        assert list(addr_of)[addr_of["EVENTS_DROPPED"] :] == cleared
        ar = a[C.READ_MEM]
        m.d.comb += [
            self.cfg_core.eq(ar.core),
            self.cfg_region.eq(ar.region),
            self.seed_core.eq(a[C.SEED].core),
            self.seed.eq(a[C.SEED].seed),
        ]

        # -- ticks ----------------------------------------------------------------
        # The chip's tick counts up by one per tick: its low bit toggles.
        # The chip restarts the clock after RESET is decided (soft_reset is a
        # flip-flop), so its tick is ignored for both clocks.
        tick_q = Signal()
        self._reset_now = reset_now = Signal()  # RESET decided (dispatch)
        m.d.sync += [tick_q.eq(self.tick[0]), self.soft_reset.eq(reset_now)]
        m.d.comb += self.resetting.eq(reset_now | self.soft_reset)
        resetting = self.resetting
        with m.If(resetting):
            m.d.sync += tick_q.eq(0)  # the chip's tick restarts at 0 too
        # A clock late: a short path.
        m.d.sync += self.tick_done.eq((self.tick[0] != tick_q) & ~resetting)
        start = Signal()  # a tick starts: ``tick_start`` the next clock
        # STEP's ticks started, or RUN's clocks since the last tick started
        # (STEP is refused while running free).
        counted = Signal(32)
        # Its comparisons, registered (short paths): STEP's ticks all started,
        # RUN's period over.
        all_started, due = Signal(), Signal()
        m.d.sync += [all_started.eq(counted == a[C.STEP].ticks), due.eq(counted >= self.period)]

        # -- the payload passes ------------------------------------------------------
        scan = Signal()  # checking pass (1) or executing pass (0)
        bad = Signal()  # the checking pass found a bad value, word or event
        checked = Signal()  # a unit checked the clock before: take its verdict
        end = Signal(range(P.MAX_FRAME + 2))
        pos = Signal(range(P.MAX_FRAME + 2))
        k = Signal(range(self.word_bytes + 1))  # byte within unit
        acc = Signal(8 * self.word_bytes)
        # The unit's register or memory index, on the low bits (``far``: the
        # first one is past every region already, for WRITE_MEM's end check).
        cur = Signal(len(self.base) + 1)
        is_run = self.op[list(C).index(C.RUN)]
        m.d.comb += [
            # The index register's: the passes' and the response's (module docstring).
            self.reg.payload.addr.eq(cur),
            self.reg.payload.data.eq(acc[:32]),
            self.cfg_addr.eq(cur),
            self.cfg_wdata.eq(acc),
        ]

        # INJECT's events wait in a register for the chip (so no path runs from
        # the chip's ``ready`` into this block's state); ``past_end``, WRITE_MEM's
        # end check, is registered too (``cur`` is steady the clock before).
        ev_full = Signal()
        m.d.comb += self.host_in.valid.eq(ev_full)
        with m.If(self.host_in.ready):
            m.d.sync += ev_full.eq(0)
        depth_of = Array(Const(g.region_depth(r), len(cur)) for r in Region)
        past_end = Signal()
        m.d.sync += past_end.eq(self.far | (cur > depth_of[self.cfg_region]))

        verdict = Signal()
        m.d.sync += [verdict.eq(self.unit_bad(m, acc, cur)), checked.eq(0)]
        with m.If(checked & verdict):
            m.d.sync += bad.eq(1)

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
                    m.d.sync += cur.eq(addr_of["EVENTS_DROPPED"])
                    m.next = "RESET_COUNTERS"
            with m.State("RESET_COUNTERS"):
                # EVENTS_DROPPED, then every chip counter (the chip's logic
                # restarted, so no count arrives meanwhile), one CLEAR each.
                self.reg_request(m, RegOp.CLEAR, cur)
                with m.If(self.reg.ready):
                    m.d.sync += cur.eq(cur + 1)
                    with m.If(cur == len(addr_of) - 1):
                        respond(S.OK)

            # ---- payload passes: 2 clocks per byte -------------------------------
            with m.State("PASS_RD"):
                m.d.comb += self.rd_addr.eq(pos)
                with m.If(pos == end):
                    m.next = "PASS_END"
                with m.Else():
                    m.next = "PASS_BYTE"
            with m.State("PASS_BYTE"):
                # Little-endian bytes shift in from the top; the pad state shifts
                # zeros in after a short unit, so a unit ends aligned at bit 0.
                m.d.sync += [acc.eq(Cat(acc[8:], self.rd_data)), pos.eq(pos + 1), k.eq(k + 1)]
                with m.If(k == self.unit - 1):
                    m.next = "PASS_PAD"
                    with m.If(self.unit == self.word_bytes):
                        m.d.sync += k.eq(0)
                        m.next = "PASS_ACT"
                with m.Else():
                    m.next = "PASS_RD"
            with m.State("PASS_PAD"):
                m.d.sync += [acc.eq(acc[8:]), k.eq(k + 1)]
                with m.If(k == self.word_bytes - 1):
                    m.d.sync += k.eq(0)
                    m.next = "PASS_ACT"
            with m.State("PASS_ACT"):
                done = Signal()
                with m.If(scan):
                    m.d.comb += done.eq(1)
                    m.d.sync += checked.eq(1)
                with m.Else():
                    self.execute_unit(m, acc, cur, done, ev_full)
                with m.If(done):
                    m.d.sync += cur.eq(cur + 1)
                    m.next = "PASS_RD"
            with m.State("PASS_END"):
                is_wmem = self.op[list(C).index(C.WRITE_MEM)]
                with m.If(~scan & ev_full):
                    pass  # the last event is not taken yet
                with m.Elif(~scan):
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
                with m.If(all_started):
                    respond(S.OK)
                with m.Elif(~self.busy):
                    m.d.comb += start.eq(1)
                    m.d.sync += counted.eq(counted + 1)
                    m.next = "STEP_WAIT"
            with m.State("STEP_ARM"):  # all_started follows counted = 0
                m.next = "STEP"
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
                m.d.sync += cur.eq(self.base)  # the response's first word
                m.next = "RESP_WAIT"
            with m.State("RESP_WAIT"):
                with m.If(self.resp_next):
                    m.d.sync += cur.eq(cur + 1)
                with m.If(self.resp_idle):
                    m.next = "COUNT"
            with m.State("COUNT"):
                # Counted once answered: a READ_REG of the counters does not count itself.
                # The status counters are in Status order, from FRAMES_OK.
                self.reg_request(m, RegOp.INC, addr_of["FRAMES_OK"] + self.resp_status)
                with m.If(self.reg.ready):
                    m.next = "RELEASE"
            with m.State("RELEASE"):
                m.d.comb += self.release.eq(1)
                m.next = "RECV"

        self.free_run(m, fsm.ongoing("RECV"), counted, due, start)
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
                m.next = "STEP_ARM"
            with m.Case(onehot(C.STOP)):
                m.d.sync += self.running.eq(0)
                m.next = "QUIET"
            with m.Case(onehot(C.READ_EVENTS)):
                respond(S.OK)
            with m.Case(onehot(C.SEED)):
                m.next = "QUIET"  # strobes seed_we there
            with m.Case(onehot(C.RESET)):
                m.d.comb += self._reset_now.eq(1)
                m.d.sync += self.running.eq(0)
                m.next = "RESET"

    def unit_bad(self, m, acc, cur):
        """Is the unit in ``acc`` a value, word or event the checking pass refuses?

        Balanced logic of ``acc``, registered by the caller (a short path).
        """
        g = self.geometry
        addr_of = P.register_map(g)
        is_ = {c: self.op[list(C).index(c)] for c in (C.WRITE_REG, C.WRITE_MEM, C.INJECT)}
        # WRITE_REG: a value over its register's maximum.
        over = Signal()
        for name, top in P.REGISTER_MAX.items():
            with m.If(cur[:8] == addr_of[name]):
                m.d.comb += over.eq(acc[:32] > top)
        # WRITE_MEM: padding bits set (the bits of the region's word bytes past its layout).
        pad = []
        for i in range(len(acc)):
            regions = [r for r in Region if g.region_layout(r).size <= i]
            if regions:
                pad.append(acc[i] & Cat(*[self.cfg_region == r for r in regions]).any())
        padded = or_all(pad) if pad else Const(0)
        # INJECT: an event for a core or axon that does not exist.
        ev = P.INJECT_EVENT(acc[:32])
        missing = (ev.core >= g.cores) | (ev.axon >= g.axons)
        return (is_[C.WRITE_REG] & over) | (is_[C.WRITE_MEM] & padded) | (is_[C.INJECT] & missing)

    def execute_unit(self, m, acc, cur, done, ev_full):
        """The executing pass: write the register or memory word, or send the event."""
        with m.Switch(self.op):
            with m.Case(onehot(C.WRITE_REG), onehot(C.RUN)):
                self.reg_request(m, RegOp.WRITE, cur[:8])
                m.d.comb += done.eq(self.reg.ready)
            with m.Case(onehot(C.WRITE_MEM)):
                with m.If(~self.busy):
                    m.d.comb += [done.eq(1), self.cfg_we.eq(1)]
            with m.Case(onehot(C.INJECT)):
                ev = P.INJECT_EVENT(acc[:32])
                m.d.comb += done.eq(~ev_full)
                with m.If(~ev_full):
                    m.d.sync += [
                        ev_full.eq(1),
                        self.host_in.payload.core.eq(ev.core),
                        self.host_in.payload.axon.eq(ev.axon),
                    ]

    def free_run(self, m, between, since, due, start):
        """RUN: ticks at least ``period`` clocks apart, started only between requests.

        ``since`` counts the clocks since a tick started; ``due``: it was at least
        ``period`` the clock before.
        """
        with m.If(self.running):
            # Not while the last start is on its way to the chip (not busy yet).
            with m.If(between & ~self.busy & ~self.tick_start & due):
                m.d.comb += start.eq(1)
                m.d.sync += since.eq(1)
            with m.Else():
                m.d.sync += since.eq(since + 1)
