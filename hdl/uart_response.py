"""Response of the UART block: header and data bytes, to the framer.

Protocol: ``spikeloom/protocol.py``: ``cmd | RESPONSE_BIT, tag, status``,
then ``count`` words of ``wbytes`` bytes each, little-endian, from one
source: registers (the register file, ``hdl/uart_regs.py``), a memory
region of the chip (its configuration port) or the event FIFO.

The words are read at the executor's index (``hdl/uart_exec.py``: it
points it at the first one before ``start`` and advances it on ``next``),
so the index register and its incrementer are the executor's. Every byte
is selected where its word is held (no shifter): the register file's
``rdata``, the event FIFO's output (popped after its last byte) or a memory
word captured from the configuration port.

Timing: ``start`` for one clock; ``idle`` is high again once the last byte
is taken by the framer. Bytes go out as fast as the framer takes them
(one per clock at most); each word is fetched before its first byte: a
register in 2 (live) or 6 (stored) clocks, a memory word as soon as the
chip is idle plus its read latency (the strobe ``mem_rvalid``, however many
clocks it takes), an event at once.
"""

import enum

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from spikeloom import protocol as P
from spikeloom.defs import REGION_BITS, Geometry, Region

from .uart_framing import NHEADER, resp_layout
from .uart_regs import or_all
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

    def __init__(self, geometry: Geometry):
        g = self.geometry = geometry
        #: Bytes of the longest memory word.
        self.mem_bytes = max(P.word_bytes(g, r) for r in Region)
        super().__init__(
            {
                "start": In(1),
                "status": In(3),  # held by the executor until the response is out
                "header": In(8 * NHEADER),  # the request's
                "op": In(len(C)),  # its command, one-hot
                "unit": In(4),  # READ_MEM's word bytes
                "count": In(range(P.MAX_PAYLOAD + 1)),  # words
                "idle": Out(1),
                "next": Out(1),  # a word is out: the executor advances its index
                "out": Out(stream.Signature(resp_layout)),
                # Register reads at the executor's index (``rdata`` held until the next).
                "reg_re": Out(1),
                "reg_ready": In(1),
                "reg_rdata": In(32),
                "reg_rvalid": In(1),
                # Memory reads (the chip's configuration port).
                "chip_busy": In(1),
                "region": In(REGION_BITS),
                "mem_re": Out(1),
                "mem_rdata": In(g.cfg_data_bits),
                "mem_rvalid": In(1),
                # The event FIFO (its output is held until ``ev_re``).
                "ev_data": In(g.event_layout.size),
                "ev_re": Out(1),
            }
        )

    def data_source(self, m, src):
        """What an OK response carries, from the command (the header checks,
        ``hdl/uart_request.py``, give the count and READ_MEM's word bytes)."""
        sources = {
            C.IDENTIFY: Source.REG,
            C.READ_REG: Source.REG,
            C.READ_MEM: Source.MEM,
            C.STEP: Source.REG,
            C.READ_EVENTS: Source.EVENT,
        }
        with m.If(self.start):
            m.d.sync += src.eq(Source.NONE)
            with m.Switch(Mux(self.status == S.OK, self.op, 0)):
                for c, s in sources.items():
                    with m.Case(onehot(c)):
                        m.d.sync += src.eq(s)

    def lanes(self, word):
        """The byte lanes of each source's word, in the order of ``sel``'s groups."""
        g = self.geometry

        def split(value, n):
            value = Cat(value, Const(0, 8 * n))
            return [value[8 * i : 8 * i + 8] for i in range(n)]

        # Padding bits of a memory word read as 0: a lane's bits past its region's layout.
        is_region = [self.region == r for r in Region]
        mem = []
        for i, lane in enumerate(split(word, self.mem_bytes)):
            bits = []
            for b in range(8):
                pad = [r for r in Region if g.region_layout(r).size <= 8 * i + b]
                bits.append(lane[b] & ~Cat(*[is_region[r] for r in pad]).any() if pad else lane[b])
            mem.append(Cat(*bits))
        return {
            Source.REG: split(self.reg_rdata, 4),
            Source.EVENT: split(self.ev_data, P.event_bytes(g)),
            Source.MEM: mem,
        }

    def elaborate(self, platform):
        g = self.geometry
        m = Module()
        cmd, tag = self.header[:8], self.header[8:16]  # held until the response is out
        src = Signal(Source)
        widx = Signal(range(P.MAX_PAYLOAD + 2))  # the word going out, from 1
        word = Signal(g.cfg_data_bits)  # a memory word
        out = self.out
        count = self.count
        empty = (src == Source.NONE) | (count == 0)  # the header is all

        # The byte going out, one-hot over every lane of every source: the
        # header's three, then each source's word (``lanes``).
        lanes = {"head": [cmd | P.RESPONSE_BIT, tag, self.status], **self.lanes(word)}
        first, n = {}, 0
        for key, values in lanes.items():
            first[key], n = n, n + len(values)
        sel = Signal(n)
        values = [v for vs in lanes.values() for v in vs]
        m.d.comb += out.payload.data.eq(or_all(Mux(sel[i], v, 0) for i, v in enumerate(values)))
        mem_sel = sel[first[Source.MEM] :]
        last_byte = (
            sel[first[Source.REG] + 3]
            | sel[first[Source.EVENT] + P.event_bytes(g) - 1]
            | mem_sel.bit_select((self.unit - 1)[:4], 1)
        )

        def send(key):
            m.d.sync += sel.eq(1 << first[key])
            m.next = "SEND"

        self.data_source(m, src)
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.idle.eq(1)
                with m.If(self.start):
                    m.d.sync += [sel.eq(1 << first["head"]), widx.eq(1)]
                    m.next = "HEADER"
            with m.State("HEADER"):
                m.d.comb += [out.valid.eq(1), out.payload.last.eq(sel[2] & empty)]
                with m.If(out.ready):
                    m.d.sync += sel.eq(sel << 1)
                    with m.If(sel[2]):
                        m.next = "FETCH"
                        with m.If(empty):
                            m.next = "IDLE"
            with m.State("FETCH"):
                with m.Switch(src):
                    with m.Case(Source.REG):
                        m.d.comb += self.reg_re.eq(1)
                        with m.If(self.reg_ready):
                            m.next = "REG_WAIT"
                    with m.Case(Source.MEM):
                        with m.If(~self.chip_busy):
                            m.d.comb += self.mem_re.eq(1)
                            m.next = "MEM_WAIT"
                    with m.Default():  # Source.EVENT: the FIFO's output is the word
                        send(Source.EVENT)
            with m.State("REG_WAIT"):
                with m.If(self.reg_rvalid):
                    send(Source.REG)
            with m.State("MEM_WAIT"):
                with m.If(self.mem_rvalid):
                    m.d.sync += word.eq(self.mem_rdata)
                    send(Source.MEM)
            with m.State("SEND"):
                m.d.comb += [out.valid.eq(1), out.payload.last.eq((widx == count) & last_byte)]
                with m.If(out.ready):
                    m.d.sync += sel.eq(sel << 1)
                    with m.If(last_byte):
                        m.d.comb += [self.next.eq(1), self.ev_re.eq(src == Source.EVENT)]
                        m.d.sync += widx.eq(widx + 1)
                        m.next = "FETCH"
                        with m.If(widx == count):
                            m.next = "IDLE"
        return m
