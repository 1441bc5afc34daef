"""Response of the UART block: header and data bytes, to the framer.

Protocol: ``spikeloom/protocol.py``: ``cmd | RESPONSE_BIT, tag, status``,
then ``count`` words of ``wbytes`` bytes each, little-endian, from one
source: registers (the register file, ``hdl/uart_regs.py``), a memory
region of the chip (its configuration port) or the event FIFO.

Timing: ``start`` for one clock; ``idle`` is high again once the last byte
is taken by the framer. Bytes go out as fast as the framer takes them
(one per clock at most); each word is fetched before its first byte: a
register in 2 (live) or 6 (stored) clocks, a memory word as soon as the
chip is idle plus its read latency (the strobe ``mem_rvalid``, however many
clocks it takes), an event in one clock. Words advance an address
register by one (no adder), and the data word is shifted out a byte at a
time.
"""

import enum

from amaranth.hdl import Array, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from spikeloom import protocol as P
from spikeloom.defs import REGION_BITS, Geometry, Region

from .uart_framing import NHEADER, resp_layout
from .uart_regs import RegOp, req_layout
from .uart_request import onehot

C, S = P.Command, P.Status

__all__ = ["Response", "Source"]


class Source(enum.IntEnum):
    NONE = 0
    REG = 1
    MEM = 2
    EVENT = 3


class Response(wiring.Component):
    """One response at a time. See the module docstring for timing."""

    def __init__(self, geometry: Geometry, base_bits: int):
        g = self.geometry = geometry
        self.addr_bits = base_bits
        self.word_bits = max(32, g.cfg_data_bits, g.event_layout.size)
        super().__init__(
            {
                "start": In(1),
                "status": In(8),
                "header": In(8 * NHEADER),  # the request's
                "op": In(len(C)),  # its command, one-hot
                "unit": In(4),  # READ_MEM's word bytes
                "base": In(base_bits),  # the first register or memory index
                "count": In(range(P.MAX_PAYLOAD + 1)),  # words
                "idle": Out(1),
                "out": Out(stream.Signature(resp_layout)),
                # Register reads (the register file's request stream).
                "reg": Out(stream.Signature(req_layout)),
                "reg_rdata": In(32),
                "reg_rvalid": In(1),
                # Memory reads (the chip's configuration port).
                "chip_busy": In(1),
                "region": In(REGION_BITS),
                "mem_re": Out(1),
                "mem_addr": Out(g.cfg_addr_bits),
                "mem_rdata": In(g.cfg_data_bits),
                "mem_rvalid": In(1),
                # The event FIFO.
                "ev_data": In(g.event_layout.size),
                "ev_re": Out(1),
            }
        )

    def data_source(self, m, src, wbytes, cur, count):
        """What an OK response carries: source and word size from the command,
        first index and count from the header checks (``hdl/uart_request.py``)."""
        g = self.geometry
        sources = {
            C.IDENTIFY: (Source.REG, 4),
            C.READ_REG: (Source.REG, 4),
            C.READ_MEM: (Source.MEM, self.unit),
            C.STEP: (Source.REG, 4),
            C.READ_EVENTS: (Source.EVENT, P.event_bytes(g)),
        }
        with m.If(self.start):
            m.d.sync += [count.eq(0), cur.eq(self.base)]
            with m.Switch(Mux(self.status == S.OK, self.op, 0)):
                for c, (s, wb) in sources.items():
                    with m.Case(onehot(c)):
                        m.d.sync += [src.eq(s), count.eq(self.count), wbytes.eq(wb)]

    def elaborate(self, platform):
        g = self.geometry
        m = Module()
        status = Signal(8)
        cmd, tag = self.header[:8], self.header[8:16]  # held until the response is out
        src = Signal(Source)
        widx = Signal(range(P.MAX_PAYLOAD + 2))  # the word going out, from 1
        count = Signal(range(P.MAX_PAYLOAD + 1))  # words to send
        wbytes = Signal(4)
        cur = Signal(self.addr_bits)
        bidx = Signal(4)
        word = Signal(self.word_bits)
        mask_of = Array(Const((1 << g.region_layout(r).size) - 1, g.cfg_data_bits) for r in Region)
        out = self.out
        m.d.comb += [
            self.reg.payload.op.eq(RegOp.READ),
            self.reg.payload.addr.eq(cur),
            self.mem_addr.eq(cur),
        ]

        self.data_source(m, src, wbytes, cur, count)
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.idle.eq(1)
                with m.If(self.start):
                    m.d.sync += [status.eq(self.status), bidx.eq(0), widx.eq(1)]
                    m.next = "HEADER"
            with m.State("HEADER"):
                m.d.comb += [
                    out.valid.eq(1),
                    out.payload.data.eq(Array([cmd | P.RESPONSE_BIT, tag, status])[bidx[:2]]),
                    out.payload.last.eq((bidx == 2) & (count == 0)),
                ]
                with m.If(out.ready):
                    m.d.sync += bidx.eq(bidx + 1)
                    with m.If(bidx == 2):
                        m.d.sync += bidx.eq(0)
                        m.next = "FETCH"
                        with m.If(count == 0):
                            m.next = "IDLE"
            with m.State("FETCH"):
                with m.Switch(src):
                    with m.Case(Source.REG):
                        m.d.comb += self.reg.valid.eq(1)
                        with m.If(self.reg.ready):
                            m.next = "REG_WAIT"
                    with m.Case(Source.MEM):
                        with m.If(~self.chip_busy):
                            m.d.comb += self.mem_re.eq(1)
                            m.next = "MEM_WAIT"
                    with m.Default():  # Source.EVENT
                        m.d.comb += self.ev_re.eq(1)
                        m.d.sync += word.eq(self.ev_data)
                        m.next = "SEND"
            with m.State("REG_WAIT"):
                with m.If(self.reg_rvalid):
                    m.d.sync += word.eq(self.reg_rdata)
                    m.next = "SEND"
            with m.State("MEM_WAIT"):
                with m.If(self.mem_rvalid):
                    m.d.sync += word.eq(self.mem_rdata & mask_of[self.region])
                    m.next = "SEND"
            with m.State("SEND"):
                last_byte = bidx == wbytes - 1
                m.d.comb += [
                    out.valid.eq(1),
                    out.payload.data.eq(word[:8]),
                    out.payload.last.eq((widx == count) & last_byte),
                ]
                with m.If(out.ready):
                    m.d.sync += [word.eq(word[8:]), bidx.eq(bidx + 1)]
                    with m.If(last_byte):
                        m.d.sync += [bidx.eq(0), widx.eq(widx + 1), cur.eq(cur + 1)]
                        m.next = "FETCH"
                        with m.If(widx == count):
                            m.next = "IDLE"
        return m
