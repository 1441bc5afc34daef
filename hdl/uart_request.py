"""Request decode and check of the UART block: the header checks of a frame.

Protocol: ``spikeloom/protocol.py`` (its module docstring lists the checks
in order; the first that fails is the status). This block makes the checks
that need only the frame's length, CRC and header bytes; the checks of
payload values (register maximum, word padding, events) and of WRITE_MEM's
end are made by the executor's checking pass (``hdl/uart_exec.py``), which
reads the payload.

Timing: ``start`` for one clock, then up to six states, one clock each
(frame, payload length, its check, arguments, range sum, range check):
each state registers its checks' results and the next one decides, so the
first check that fails ends them (the frame checks after 2 clocks, the last
after 6). ``done`` is high from then with ``status``, ``op`` (the command,
one-hot), ``unit``, ``payload_start``, ``base`` and ``count`` (what the
executor and the response work on) until the next ``start``. Every path
is a compare of registered values or header bytes, or one short adder.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spikeloom import protocol as P
from spikeloom.defs import REGION_BITS, Geometry, Region

from .uart_framing import NHEADER

__all__ = ["RequestCheck", "header_args", "onehot"]

C, S = P.Command, P.Status


# READ_MEM and WRITE_MEM (and SEED's core) share the places of their fields.
for _f in ("core", "region", "index"):
    assert P.ARGS[C.READ_MEM][_f].offset == P.ARGS[C.WRITE_MEM][_f].offset
assert P.ARGS[C.SEED]["core"].offset == P.ARGS[C.READ_MEM]["core"].offset


def onehot(cmd: P.Command) -> str:
    """A ``Case`` pattern of ``cmd`` in a one-hot command (bit i: the i-th of ``Command``)."""
    i, n = list(C).index(cmd), len(C)
    return "".join("1" if j == i else "-" for j in reversed(range(n)))


def header_args(header) -> dict:
    """Per command, a view of its arguments in the header bytes (``P.ARGS``)."""
    args = header[8 * P.REQUEST_HEADER :]
    return {c: P.ARGS[c](args[: P.ARGS[c].size]) for c in C if P.ARGS[c].size}


def region_table(g: Geometry, fn, width: int) -> Array:
    """A per-region constant, indexed by the region's low bits (checked first)."""
    return Array(Const(fn(r), width) for r in Region)


class RequestCheck(wiring.Component):
    """The header checks of one request. See the module docstring for timing."""

    def __init__(self, geometry: Geometry, event_fifo_bits: int):
        g = self.geometry = geometry
        #: Index bits of the range check: every region's depth fits below ``1 << low``.
        self.low = max(max(g.region_depth(r) for r in Region).bit_length(), 8)
        super().__init__(
            {
                "start": In(1),
                "length": In(range(P.MAX_FRAME + 2)),
                "aborted": In(1),
                "crc_ok": In(1),
                "header": In(8 * NHEADER),
                "running": In(1),
                "events_pending": In(event_fifo_bits),
                "done": Out(1),
                "status": Out(3),  # a ``Status`` (they fit 3 bits)
                "op": Out(len(C)),  # the command, one-hot (``onehot``); 0 if unknown
                #: Payload unit in bytes (a region word for the memory commands).
                "unit": Out(4),
                "payload_start": Out(range(NHEADER + 1)),
                # The request's first register or memory index (low bits) and count
                # of words or units, whatever the command; ``far``: the index is
                # past every region (``1 << low`` or more).
                "base": Out(self.low),
                "count": Out(range(P.MAX_PAYLOAD + 1)),
                "far": Out(1),
            }
        )

    def elaborate(self, platform):
        g = self.geometry
        m = Module()
        cmd = self.header[:8]
        a = header_args(self.header)
        regs = P.registers(g)
        rw = [i for i, r in enumerate(regs) if r.access == P.Access.RW]
        assert rw == list(range(rw[0], rw[-1] + 1)), "read-write registers must be contiguous"

        nargs = Signal(range(P.MAX_ARGS + 1))
        has_unit = Signal()
        unit4 = Signal()
        plen = Signal(range(-P.MAX_FRAME - 16, P.MAX_FRAME + 2))
        # The range check: base + count against one past the last index allowed,
        # on the low bits (counts beyond them fail their own checks first).
        limit = Signal(self.low + 1)
        ranged = Signal()
        ar = a[C.READ_MEM]
        region = ar.region[:REGION_BITS]  # same place in WRITE_MEM's arguments
        wb_of = region_table(g, lambda r: P.word_bytes(g, r), 4)
        depth_of = region_table(g, g.region_depth, self.low + 1)
        count_max_of = region_table(g, lambda r: P.MAX_PAYLOAD // P.word_bytes(g, r), 16)

        def finish(status):
            m.d.sync += self.status.eq(status)
            m.next = "DONE"

        # Check results, registered one state before they decide (short paths).
        frame_bad = Signal(4)  # BAD_FRAME, TOO_LONG, BAD_CRC, BAD_COMMAND, in order
        arg_bad = Signal(3)  # BAD_STATE, BAD_LENGTH, BAD_ADDRESS (one per command)
        too_many, total = Signal(), Signal(self.low + 1)
        is_rmem = self.op[list(C).index(C.READ_MEM)]
        with m.FSM():
            with m.State("DONE"):
                m.d.comb += self.done.eq(1)
                with m.If(self.start):
                    m.next = "FRAME"
            with m.State("FRAME"):
                known = Signal()
                m.d.sync += self.op.eq(0)
                with m.Switch(cmd):
                    for c in C:
                        with m.Case(c):
                            n = P.ARGS[c].size // 8
                            u = P.UNIT.get(c)
                            m.d.comb += known.eq(1)
                            m.d.sync += [
                                self.op.eq(1 << list(C).index(c)),
                                nargs.eq(n),
                                has_unit.eq(u is not None),
                                unit4.eq(u == 4),
                                # RUN's argument is PERIOD's new value: the
                                # executor's payload pass writes it (a unit of 4).
                                self.payload_start.eq(P.REQUEST_HEADER + (c != C.RUN) * n),
                                self.unit.eq(4 if u == 4 or c == C.RUN else 0),
                            ]
                m.d.sync += frame_bad.eq(
                    Cat(
                        self.aborted | (self.length < P.REQUEST_HEADER + P.CRC_BYTES),
                        self.length > P.MAX_FRAME,
                        ~self.crc_ok,
                        ~known,
                    )
                )
                m.next = "PLEN"
            with m.State("PLEN"):
                m.d.sync += plen.eq(self.length - (P.REQUEST_HEADER + P.CRC_BYTES) - nargs)
                m.next = "LENGTH"
                for i, st in enumerate((S.BAD_COMMAND, S.BAD_CRC, S.TOO_LONG, S.BAD_FRAME)):
                    with m.If(frame_bad[3 - i]):  # the first check that fails wins
                        finish(st)
            with m.State("LENGTH"):
                with m.If(plen < 0):
                    finish(S.BAD_LENGTH)
                with m.Elif(~has_unit & (plen != 0)):
                    finish(S.BAD_LENGTH)
                with m.Elif(has_unit & ((plen == 0) | (plen > P.MAX_PAYLOAD))):
                    finish(S.BAD_LENGTH)
                with m.Elif(unit4 & (plen[:2] != 0)):
                    finish(S.BAD_LENGTH)
                with m.Else():
                    m.next = "ARGS"
            with m.State("ARGS"):
                self.check_args(m, a, rw, plen, limit, ranged, arg_bad, wb_of, depth_of, region)
                m.next = "SUM"
            with m.State("SUM"):
                m.d.sync += [
                    total.eq(self.base + self.count),
                    too_many.eq((ar.count == 0) | (ar.count > count_max_of[region])),
                ]
                m.next = "RANGE"
                for i, st in reversed(list(enumerate((S.BAD_STATE, S.BAD_LENGTH, S.BAD_ADDRESS)))):
                    with m.If(arg_bad[i]):
                        finish(st)
            with m.State("RANGE"):
                with m.If(is_rmem & too_many):
                    finish(S.BAD_LENGTH)
                with m.Elif(ranged & (self.far | (total > limit))):
                    finish(S.BAD_ADDRESS)
                with m.Else():
                    finish(S.OK)
        return m

    def check_args(self, m, a, rw, plen, limit, ranged, arg_bad, wb_of, depth_of, region):
        """The ARGS state: per-command checks; the base, count and limit of RANGE's check."""
        g = self.geometry
        addr_of = P.register_map(g)
        nreg = len(addr_of)
        assert nreg < 1 << 7 and P.MAX_PAYLOAD // 4 < 1 << 7 and P.MAX_PAYLOAD < 1 << 9
        low = self.low
        m.d.sync += [self.base.eq(0), self.count.eq(0), ranged.eq(0), self.far.eq(0)]
        m.d.sync += arg_bad.eq(0)
        bad_state, bad_length, bad_address = arg_bad[0], arg_bad[1], arg_bad[2]
        rr, ar = a[C.READ_REG], a[C.READ_MEM]
        # Events to send: as many as asked for, are there, and fit in the payload.
        level, cap = self.events_pending, P.MAX_PAYLOAD // P.event_bytes(g)
        if cap < 2 ** len(level) - 1:
            level = Mux(level > cap, cap, level)
        mx = a[C.READ_EVENTS].max
        few = Mux((mx[len(level) :] == 0) & (mx[: len(level)] < level), mx, level)
        with m.Switch(self.op):  # registered in FRAME: no decode on this path
            with m.Case(onehot(C.IDENTIFY)):
                m.d.sync += self.count.eq(len(P.IDENTITY))
            with m.Case(onehot(C.READ_REG)):
                m.d.sync += [self.base.eq(rr.addr[:7]), self.count.eq(rr.count[:7])]
                m.d.sync += [limit.eq(nreg), ranged.eq(1), self.far.eq(rr.addr[7:] != 0)]
                with m.If((rr.count == 0) | (rr.count > P.MAX_PAYLOAD // 4)):
                    m.d.sync += bad_length.eq(1)
            with m.Case(onehot(C.WRITE_REG)):
                addr = a[C.WRITE_REG].addr
                m.d.sync += [self.base.eq(addr[:7]), self.count.eq(plen[2:])]
                m.d.sync += [limit.eq(rw[-1] + 1), ranged.eq(1), self.far.eq(addr[7:] != 0)]
                with m.If(addr < rw[0]):
                    m.d.sync += bad_address.eq(1)
            with m.Case(onehot(C.READ_MEM), onehot(C.WRITE_MEM)):
                m.d.sync += [self.unit.eq(wb_of[region]), self.base.eq(ar.index[:low])]
                m.d.sync += [self.far.eq(ar.index[low:] != 0), limit.eq(depth_of[region])]
                with m.If(self.op[list(C).index(C.READ_MEM)]):
                    m.d.sync += [self.count.eq(ar.count[:9]), ranged.eq(1)]
                with m.If((ar.core >= g.cores) | (ar.region >= len(Region))):
                    m.d.sync += bad_address.eq(1)
            with m.Case(onehot(C.STEP)):
                m.d.sync += [self.base.eq(addr_of["TICK"]), self.count.eq(1)]
                with m.If(self.running):
                    m.d.sync += bad_state.eq(1)
            with m.Case(onehot(C.RUN)):
                m.d.sync += self.base.eq(addr_of["PERIOD"])
            with m.Case(onehot(C.READ_EVENTS)):
                m.d.sync += self.count.eq(few)
                with m.If(mx == 0):
                    m.d.sync += bad_length.eq(1)
            with m.Case(onehot(C.SEED)):
                with m.If(a[C.SEED].core >= g.cores):
                    m.d.sync += bad_address.eq(1)
