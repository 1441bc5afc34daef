"""Framing of the UART block: request frames in, response frames out, CRC.

Protocol: ``spikeloom/protocol.py`` (FLAG, ESC, ESC_XOR, CRC-16/CCITT-FALSE
from ``amaranth.lib.crc``'s catalogue, initial value ``protocol.CRC_INIT``).

:class:`Deframer` takes one line byte per clock from the receive FIFO
(a byte, or a framing-error mark in bit 8), unstuffs it, runs the CRC,
stores the body in the frame buffer and its first ``REQUEST_HEADER +
MAX_ARGS`` bytes in registers (``header``). The FLAG that closes a
non-empty frame raises ``frame_valid``; the deframer then holds (takes no
bytes, no timeout) until ``release``, one clock that clears the frame for
the next. A frame cut short by an idle line (``timeout_bits`` bit times
with no character) is dropped (``timeout`` for one clock).

:class:`Framer` sends a response: FLAG, the stuffed bytes and CRC, FLAG;
one line byte per clock when ``out`` is ready, an escaped byte takes two;
it takes each response byte into a register first (``inp.ready`` the clock
after the byte before went out).

The two share one CRC processor (``share_crc``): the deframer holds a
request until its response is out, so they never need it at once.
"""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import crc, data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikeloom import protocol as P

__all__ = ["Deframer", "Framer", "resp_layout", "NHEADER", "crc_processor", "share_crc"]

#: Header bytes kept in registers: cmd, tag and the longest argument record.
NHEADER = P.REQUEST_HEADER + P.MAX_ARGS
#: A response byte for the framer: the byte and whether it ends the frame.
resp_layout = data.StructLayout({"data": unsigned(8), "last": unsigned(1)})

_CRC = crc.catalog.CRC16_CCITT_FALSE
assert (_CRC.polynomial, _CRC.initial_crc) == (P.CRC_POLY, P.CRC_INIT)


def crc_processor() -> crc.Processor:
    """The protocol's CRC, one byte per clock (``amaranth.lib.crc``)."""
    return _CRC(data_width=8).create()


#: A user's port to the one CRC processor the deframer and the framer share
#: (``share_crc``): start, one byte per clock, the CRC and its residue match.
CRC_PORT = wiring.Signature(
    {"start": Out(1), "valid": Out(1), "data": Out(8), "crc": In(16), "match": In(1)}
)


def share_crc(m, deframer, framer):
    """One CRC processor for both directions.

    They never use it at once: a response goes out while the deframer holds
    its request (the executor releases the request once the framer is idle),
    and the request's CRC is checked before its response starts.
    """
    m.submodules.crc = proc = crc_processor()
    users = (deframer.crc, framer.crc)
    m.d.comb += [
        proc.start.eq(users[0].start | users[1].start),
        proc.valid.eq(users[0].valid | users[1].valid),
        proc.data.eq(Mux(users[1].valid, users[1].data, users[0].data)),
        *(u.crc.eq(proc.crc) for u in users),
        *(u.match.eq(proc.match_detected) for u in users),
    ]


class Deframer(wiring.Component):
    """Line bytes in, one request body at a time out. See the module docstring.

    Timing: one FIFO byte per clock while not holding a frame; the frame
    buffer read port (``rd_addr`` -> ``rd_data``) has one clock of latency.
    """

    def __init__(self, clocks_per_bit: int, timeout_bits: int):
        self.limit = clocks_per_bit * timeout_bits
        self.depth = 1 << (P.MAX_FRAME - 1).bit_length()
        super().__init__(
            {
                "line": In(stream.Signature(9)),  # byte | framing-error mark << 8
                "line_busy": In(1),  # a character is on the line
                "frame_valid": Out(1),
                "release": In(1),
                "length": Out(range(P.MAX_FRAME + 2)),  # bytes (saturates past MAX_FRAME)
                "aborted": Out(1),  # ESC before FLAG, or a framing error inside
                "crc_ok": Out(1),
                "crc": Out(CRC_PORT),
                "header": Out(8 * NHEADER),
                "rd_addr": In(range(self.depth)),
                "rd_data": Out(8),
                "framing_error": Out(1),  # strobes, for the counters
                "timeout": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        crc16 = self.crc
        m.submodules.fbuf = fbuf = Memory(shape=8, depth=self.depth, init=[])
        fb_w = fbuf.write_port()
        fb_r = fbuf.read_port(transparent_for=())
        m.d.comb += [fb_r.addr.eq(self.rd_addr), self.rd_data.eq(fb_r.data)]

        hunt = Signal(init=1)  # outside a frame: waiting for a FLAG
        esc = Signal()
        aborted = Signal()
        held = Signal()
        cnt = self.length
        hdr = [self.header[8 * i : 8 * i + 8] for i in range(NHEADER)]
        open_frame = (cnt != 0) | esc | aborted
        m.d.comb += [
            self.frame_valid.eq(held),
            self.aborted.eq(aborted | esc),
            self.crc_ok.eq(crc16.match),
        ]

        def clear():
            # cmd and tag: a frame shorter than 2 bytes answers with 0 for them.
            m.d.sync += [cnt.eq(0), esc.eq(0), aborted.eq(0), hdr[0].eq(0), hdr[1].eq(0)]
            m.d.comb += crc16.start.eq(1)

        # Idle line timer: clocks since the last character.
        idle = Signal(range(self.limit + 1))
        with m.If(self.line_busy):
            m.d.sync += idle.eq(0)
        with m.Elif(idle != self.limit):
            m.d.sync += idle.eq(idle + 1)

        byte, mark = self.line.payload[:8], self.line.payload[8]
        store = Signal()
        stored = Signal(8)
        m.d.comb += self.line.ready.eq(~held)
        with m.If(held):
            with m.If(self.release):
                m.d.sync += held.eq(0)
                clear()
        with m.Elif(self.line.valid):
            with m.If(mark):
                m.d.comb += self.framing_error.eq(1)
                with m.If(~hunt):
                    m.d.sync += aborted.eq(1)
            with m.Elif(byte == P.FLAG):
                with m.If(hunt):
                    m.d.sync += hunt.eq(0)
                with m.Elif(open_frame):
                    m.d.sync += held.eq(1)
            with m.Elif(hunt):
                pass  # bytes outside a frame are ignored
            with m.Elif(esc):
                m.d.comb += [store.eq(1), stored.eq(byte ^ P.ESC_XOR)]
                m.d.sync += esc.eq(0)
            with m.Elif(byte == P.ESC):
                m.d.sync += esc.eq(1)
            with m.Else():
                m.d.comb += [store.eq(1), stored.eq(byte)]
        with m.Elif(~hunt & open_frame & (idle == self.limit) & ~self.line_busy):
            m.d.sync += hunt.eq(1)
            m.d.comb += self.timeout.eq(1)
            clear()

        m.d.comb += [crc16.data.eq(stored), crc16.valid.eq(store)]
        with m.If(store):
            with m.If(cnt <= P.MAX_FRAME):
                m.d.sync += cnt.eq(cnt + 1)
            m.d.comb += [
                fb_w.addr.eq(cnt),
                fb_w.data.eq(stored),
                fb_w.en.eq(cnt < P.MAX_FRAME),
            ]
            for i in range(NHEADER):
                with m.If(cnt == i):
                    m.d.sync += hdr[i].eq(stored)
        return m


class Framer(wiring.Component):
    """Frames response bytes: FLAG, stuffed bytes and CRC, FLAG (module docstring)."""

    def __init__(self):
        super().__init__(
            {
                "inp": In(stream.Signature(resp_layout)),
                "out": Out(stream.Signature(8)),
                "idle": Out(1),  # no frame going out
                "crc": Out(CRC_PORT),
            }
        )

    def elaborate(self, platform):
        m = Module()
        crc16 = self.crc
        escaped = Signal()  # the ESC of the current byte is out

        # One stuffing path for every byte (``emit`` selects the byte).
        byte = Signal(8)
        special = (byte == P.FLAG) | (byte == P.ESC)
        stuffed = Mux(special & ~escaped, P.ESC, byte ^ Mux(escaped, P.ESC_XOR, 0))

        def emit(value):
            """Send ``value`` stuffed; returns the 'byte done' condition."""
            m.d.comb += [byte.eq(value), self.out.valid.eq(1), self.out.payload.eq(stuffed)]
            done = Signal()
            with m.If(self.out.ready):
                with m.If(special & ~escaped):
                    m.d.sync += escaped.eq(1)
                with m.Else():
                    m.d.sync += escaped.eq(0)
                    m.d.comb += done.eq(1)
            return done

        def flag():
            m.d.comb += [self.out.valid.eq(1), self.out.payload.eq(P.FLAG)]
            return self.out.ready

        # The next response byte, held in a register: the stuffing logic and the
        # line see a flip-flop, and ``inp.ready`` is one too (short paths).
        held = Signal(resp_layout)
        full = Signal()
        m.d.comb += self.inp.ready.eq(~full)
        with m.If(self.inp.valid & ~full):
            m.d.sync += [held.eq(self.inp.payload), full.eq(1)]
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.idle.eq(~full)
                with m.If(full):
                    with m.If(flag()):
                        m.d.comb += crc16.start.eq(1)
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += crc16.data.eq(held.data)
                with m.If(full):
                    with m.If(emit(held.data)):
                        m.d.comb += crc16.valid.eq(1)
                        m.d.sync += full.eq(0)
                        with m.If(held.last):
                            m.next = "CRC_HI"
            with m.State("CRC_HI"):
                with m.If(emit(crc16.crc[8:])):
                    m.next = "CRC_LO"
            with m.State("CRC_LO"):
                with m.If(emit(crc16.crc[:8])):
                    m.next = "END"
            with m.State("END"):
                with m.If(flag()):
                    m.next = "IDLE"
        return m
