"""The UART block: 8N1 line, frame decoder, command executor, response encoder.

Protocol: ``spikeloom/protocol.py`` (framing, commands, status codes,
registers); golden model: ``sim/uart.py``, byte for byte.

Data path::

    rx pin -> UartRx -> receive FIFO (rx_fifo bytes, + framing-error marks)
           -> receiver (unstuff, CRC, frame buffer) -> executor -> Framer
           -> UartTx -> tx pin

Timing. The UART runs at ``clocks_per_bit`` clocks per bit (at least 4),
sampling mid-bit. The receiver takes one byte per clock from the FIFO while
no request executes; the executor runs one request at a time after its
closing FLAG: checks take 1 clock, a payload pass 2 clocks per byte
(WRITE_REG, WRITE_MEM and INJECT make a checking pass before the executing
one, so a bad frame changes nothing), and responses go out as fast as the
line takes them. While a request executes, bytes queue in the receive FIFO
(the host keeps at most ``rx_fifo`` bytes unanswered). Memory access and
SEED wait for the chip to be idle; free-running ticks (RUN) start only
between requests. STEP answers after its last tick; STOP after the tick in
progress.

Learning: the registers LEARN .. EPISODE are kept only as wide as their
fields and drive ``chip.learn_cfg``; a WRITE_REG of EPISODE pulses
``chip.episode_restart``; SEED strobes ``chip.seed_we`` with the core and
seed straight from the request's arguments.

Errors never change state: every check runs before anything is written.
Output events go to an event FIFO (``event_fifo`` entries); an event that
finds it full is dropped and counted, so a host that does not read never
stalls the chip.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, ResetInserter, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikeloom import protocol as P
from spikeloom.defs import COUNTERS, LEARN_LAYOUT, Geometry, Region

from .top import Chip

__all__ = ["UartRx", "UartTx", "Framer", "Link", "crc16_byte"]


class UartRx(wiring.Component):
    """8N1 receiver: one byte on ``data`` with ``valid`` for one clock, per character.

    A character whose stop bit is 0 raises ``framing_error`` for one clock
    instead, and the receiver then waits for the line to go high, so a
    break counts once. ``busy`` is high while a character is on the line.
    """

    def __init__(self, clocks_per_bit: int):
        self.cpb = clocks_per_bit
        super().__init__(
            {
                "rx": In(1, init=1),
                "data": Out(8),
                "valid": Out(1),
                "framing_error": Out(1),
                "busy": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.cpb + 1))
        bit = Signal(range(10))
        shreg = Signal(8)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(self.cpb // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                m.d.comb += self.busy.eq(1)
                with m.If(timer == 0):
                    with m.If(rx):  # a glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [timer.eq(self.cpb - 1), bit.eq(0)]
                        m.next = "DATA"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("DATA"):
                m.d.comb += self.busy.eq(1)
                with m.If(timer == 0):
                    m.d.sync += timer.eq(self.cpb - 1)
                    with m.If(bit == 8):
                        with m.If(rx):
                            m.d.comb += self.valid.eq(1)
                            m.next = "IDLE"
                        with m.Else():
                            m.d.comb += self.framing_error.eq(1)
                            m.next = "BREAK"
                    with m.Else():
                        m.d.sync += [shreg.eq(Cat(shreg[1:], rx)), bit.eq(bit + 1)]
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("BREAK"):
                m.d.comb += self.busy.eq(1)
                with m.If(rx):
                    m.next = "IDLE"
        m.d.comb += self.data.eq(shreg)
        return m


class UartTx(wiring.Component):
    """8N1 transmitter: takes a byte from ``data`` when idle; 10 bit times per byte."""

    def __init__(self, clocks_per_bit: int):
        self.cpb = clocks_per_bit
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.cpb))
        bits = Signal(range(11))
        shreg = Signal(10, init=0x3FF)
        m.d.comb += self.tx.eq(shreg[0])
        m.d.comb += self.data.ready.eq(bits == 0)
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [
                shreg.eq(Cat(Const(0, 1), self.data.payload, Const(1, 1))),
                bits.eq(10),
                timer.eq(self.cpb - 1),
            ]
        with m.Elif(bits != 0):
            with m.If(timer == 0):
                m.d.sync += [
                    shreg.eq(Cat(shreg[1:], Const(1, 1))),
                    bits.eq(bits - 1),
                    timer.eq(self.cpb - 1),
                ]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


def crc16_byte(crc, byte):
    """CRC-16/CCITT-FALSE of ``crc`` after one more byte (combinational)."""
    for i in reversed(range(8)):
        fb = crc[15] ^ byte[i]
        crc = Cat(Const(0, 1), crc[:15]) ^ Mux(fb, P.CRC_POLY, 0)
    return crc[:16]


#: A response byte for the framer: the byte and whether it ends the frame.
resp_layout = data.StructLayout({"data": unsigned(8), "last": unsigned(1)})


class Framer(wiring.Component):
    """Frames response bytes: FLAG, stuffed bytes and CRC, FLAG.

    One line byte per clock when ``out`` is ready; an escaped byte takes two.
    """

    def __init__(self):
        super().__init__(
            {"inp": In(stream.Signature(resp_layout)), "out": Out(stream.Signature(8))}
        )

    def elaborate(self, platform):
        m = Module()
        crc = Signal(16, init=0xFFFF)
        escaped = Signal()  # the ESC of the current byte is out

        def emit(byte, then=None):
            """Send ``byte`` stuffed; returns the 'byte done' condition."""
            special = (byte == P.FLAG) | (byte == P.ESC)
            m.d.comb += [
                self.out.valid.eq(1),
                self.out.payload.eq(Mux(special & ~escaped, P.ESC, byte ^ Mux(escaped, 0x20, 0))),
            ]
            done = Signal()
            with m.If(self.out.ready):
                with m.If(special & ~escaped):
                    m.d.sync += escaped.eq(1)
                with m.Else():
                    m.d.sync += escaped.eq(0)
                    m.d.comb += done.eq(1)
            return done

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.inp.valid):
                    m.d.comb += [self.out.valid.eq(1), self.out.payload.eq(P.FLAG)]
                    with m.If(self.out.ready):
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(self.inp.valid):
                    byte = self.inp.payload.data
                    with m.If(emit(byte)):
                        m.d.comb += self.inp.ready.eq(1)
                        m.d.sync += crc.eq(crc16_byte(crc, byte))
                        with m.If(self.inp.payload.last):
                            m.next = "CRC_HI"
            with m.State("CRC_HI"):
                with m.If(emit(crc[8:])):
                    m.next = "CRC_LO"
            with m.State("CRC_LO"):
                with m.If(emit(crc[:8])):
                    m.next = "END"
            with m.State("END"):
                m.d.comb += [self.out.valid.eq(1), self.out.payload.eq(P.FLAG)]
                with m.If(self.out.ready):
                    m.d.sync += crc.eq(0xFFFF)
                    m.next = "IDLE"
        return m


class Link(wiring.Component):
    """The UART block: the host's requests executed on the chip's ports.

    See the module docstring for timing; ``active`` is high while anything
    is left to do (a byte queued, a request executing, a response going out,
    free running, or the chip busy): a simulation harness may pause when
    it is low.
    """

    def __init__(self, geometry: Geometry, link: P.LinkConfig):
        self.geometry = geometry
        self.link = link
        self.identity = P.identity(geometry, link)
        super().__init__(
            {
                "rx": In(1, init=1),
                "tx": Out(1, init=1),
                "active": Out(1),
                "soft_reset": Out(1),
                # The chip's own ports (hdl/top.Chip), seen from the other side.
                "chip": In(Chip.signature_of(geometry)),
            }
        )

    def elaborate(self, platform):
        g, link = self.geometry, self.link
        m = Module()
        C, S = P.Command, P.Status
        regs = P.registers(g)
        addr_of = P.register_map(g)

        # -- line ------------------------------------------------------------
        m.submodules.urx = urx = UartRx(link.clocks_per_bit)
        m.submodules.utx = utx = UartTx(link.clocks_per_bit)
        m.submodules.framer = framer = Framer()
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        wiring.connect(m, framer.out, utx.data)

        # Framing errors travel through the FIFO as marks (bit 8), so they
        # hit the frame the line was in, however far behind the receiver is.
        m.submodules.rxq = rxq = SyncFIFOBuffered(width=9, depth=link.rx_fifo)
        m.d.comb += [
            rxq.w_data.eq(Cat(urx.data, urx.framing_error)),
            rxq.w_en.eq(urx.valid | urx.framing_error),
        ]

        counters = {name: Signal(32, name=f"cnt_{name.lower()}") for name, _ in P.LINK_COUNTERS}

        def count(name, cond=1):
            with m.If(cond):
                m.d.sync += counters[name].eq(counters[name] + 1)

        count("OVERRUNS", rxq.w_en & ~rxq.w_rdy)

        # Idle line timer: clocks since the last character started or ended.
        limit = link.timeout_bits * link.clocks_per_bit
        idle = Signal(range(limit + 1))
        with m.If(urx.busy | urx.valid | urx.framing_error):
            m.d.sync += idle.eq(0)
        with m.Elif(idle != limit):
            m.d.sync += idle.eq(idle + 1)

        # -- event FIFO (soft reset empties it) ---------------------------------
        evq = SyncFIFOBuffered(width=g.event_layout.size, depth=link.event_fifo)
        m.submodules.evq = ResetInserter(self.soft_reset)(evq)
        m.d.comb += [
            evq.w_data.eq(self.chip.out.payload.as_value()),
            evq.w_en.eq(self.chip.out.valid),
            self.chip.out.ready.eq(1),
        ]
        count("EVENTS_DROPPED", self.chip.out.valid & ~evq.w_rdy)

        # -- registers -------------------------------------------------------
        scratch = Signal(32)
        period = Signal(32)
        learn = Signal(LEARN_LAYOUT)  # the learning registers, as wide as their fields
        m.d.comb += self.chip.learn_cfg.eq(learn)
        running = Signal()
        ticks = Signal(32)
        tick_q = Signal(g.tick_bits)
        tick_done = Signal()
        m.d.sync += tick_q.eq(self.chip.tick)
        with m.If(self.soft_reset):
            m.d.sync += tick_q.eq(0)  # the chip's tick restarts at 0 too
        m.d.comb += tick_done.eq(self.chip.tick != tick_q)
        with m.If(tick_done):
            m.d.sync += ticks.eq(ticks + 1)
        ident = dict(zip((n for n, _ in P.IDENTITY), self.identity.words()))
        values = {name: Const(v, 32) for name, v in ident.items()}
        learn_regs = {name: getattr(learn, f) for name, f in P.LEARN_REGISTERS.items()}
        values.update(
            **learn_regs,
            SCRATCH=scratch,
            PERIOD=period,
            RUNNING=running,
            TICK=ticks,
            PHASE=self.chip.phase,
            LAST_TICK_CYCLES=self.chip.last_tick_cycles,
            EVENTS_PENDING=evq.level,
            **counters,
            **{name.upper(): getattr(self.chip, name) for name in COUNTERS},
        )
        for i in range(len(g.levels)):
            values[f"CARRIED{i}"] = self.chip.carried[i]
            values[f"STALLED{i}"] = self.chip.stalled[i]
        reg_file = Array(values[r.name] for r in regs)
        rw = [i for i, r in enumerate(regs) if r.access == P.Access.RW]
        assert rw == list(range(rw[0], rw[-1] + 1)), "read-write registers must be contiguous"
        writable = {addr_of["SCRATCH"]: scratch, addr_of["PERIOD"]: period}
        writable.update({addr_of[name]: sig for name, sig in learn_regs.items()})
        assert set(writable) == set(rw)
        # A WRITE_REG pass stays within the read-write registers (checked
        # first), so the low bits of the address tell them apart.
        rw_bits = max(1, (len(rw) - 1).bit_length())

        def rw_case(addr):
            return addr % (1 << rw_bits)

        # Registers with a range (checked in WRITE_REG's checking pass), by maximum.
        limited: dict[int, list[int]] = {}
        for name, top in P.REGISTER_MAX.items():
            limited.setdefault(top, []).append(rw_case(addr_of[name]))

        # -- receiver state ------------------------------------------------------
        fbuf = Memory(shape=8, depth=1 << (P.MAX_FRAME - 1).bit_length(), init=[])
        m.submodules.fbuf = fbuf
        fb_w = fbuf.write_port()
        fb_r = fbuf.read_port(transparent_for=())
        hunt = Signal(init=1)
        esc = Signal()
        aborted = Signal()
        cnt = Signal(range(P.MAX_FRAME + 2))
        crc = Signal(16, init=0xFFFF)
        nhdr = P.REQUEST_HEADER + P.MAX_ARGS
        hdr = Array(Signal(8, name=f"hdr{i}") for i in range(nhdr))
        cmd, tag = hdr[0], hdr[1]
        args = Cat(*[hdr[i] for i in range(P.REQUEST_HEADER, nhdr)])

        def clear_frame():
            m.d.sync += [cnt.eq(0), esc.eq(0), aborted.eq(0), crc.eq(0xFFFF)]
            m.d.sync += [h.eq(0) for h in hdr]

        # -- executor state --------------------------------------------------------
        status = Signal(8)
        src = Signal(range(5))  # response data source
        SRC_NONE, SRC_REG, SRC_MEM, SRC_EVT, SRC_TICK = range(5)
        nwords = Signal(16)
        wbytes = Signal(range(8))
        base = Signal(33)  # first register or memory index
        widx = Signal(16)  # word index
        bidx = Signal(range(8))  # byte within word / header byte
        word = Signal(max(32, g.cfg_data_bits, g.event_layout.size))
        pos = Signal(range(P.MAX_FRAME + 2))  # payload pass position
        scan = Signal()  # checking pass (1) or executing pass (0)
        bad = Signal()  # the checking pass found a bad word or event
        unit = Signal(range(8))
        k = Signal(range(8))  # byte within unit
        acc = Signal(32 if g.cfg_data_bits <= 32 else ((g.cfg_data_bits + 7) // 8) * 8)
        nunits = Signal(16)
        left = Signal(32)  # STEP ticks to go

        plen = Signal(range(-P.MAX_FRAME - 16, P.MAX_FRAME + 2))
        nargs = Signal(range(P.MAX_ARGS + 1))
        known = Signal()
        with m.Switch(cmd):
            for c in C:
                with m.Case(c):
                    m.d.comb += [known.eq(1), nargs.eq(P.ARGS[c].size // 8)]
        m.d.comb += plen.eq(cnt - P.REQUEST_HEADER - P.CRC_BYTES - nargs)
        a = {c: P.ARGS[c](args[: P.ARGS[c].size]) for c in C if P.ARGS[c].size}

        nreg = len(regs)
        region = Signal(8)
        core = Signal(16)
        wb_of = Array(Const(P.word_bytes(g, r), 4) for r in Region)
        depth_of = Array(Const(g.region_depth(r), 32) for r in Region)
        size_of = Array(Const(g.region_layout(r).size, 8) for r in Region)
        eb = P.event_bytes(g)

        # -- response byte source ----------------------------------------------
        resp = framer.inp
        hdr_byte = Array([cmd | P.RESPONSE_BIT, tag, status])[bidx]

        with m.FSM(name="exec") as fsm:
            # ---- receive: one FIFO byte per clock ----------------------------
            with m.State("RECV"):
                byte = rxq.r_data[:8]
                mark = rxq.r_data[8]
                m.d.comb += rxq.r_en.eq(1)
                store = Signal()
                stored = Signal(8)
                with m.If(rxq.r_rdy):
                    with m.If(mark):
                        # Counted here, in line order with the frames around it.
                        count("FRAMING_ERRORS")
                        with m.If(~hunt):
                            m.d.sync += aborted.eq(1)
                    with m.Elif(byte == P.FLAG):
                        with m.If(hunt):
                            m.d.sync += hunt.eq(0)
                        with m.Elif((cnt != 0) | esc | aborted):
                            m.next = "CHECK"
                    with m.Elif(hunt):
                        pass  # bytes outside a frame are ignored
                    with m.Elif(esc):
                        m.d.comb += [store.eq(1), stored.eq(byte ^ P.ESC_XOR)]
                        m.d.sync += esc.eq(0)
                    with m.Elif(byte == P.ESC):
                        m.d.sync += esc.eq(1)
                    with m.Else():
                        m.d.comb += [store.eq(1), stored.eq(byte)]
                with m.Elif(~hunt & ((cnt != 0) | esc | aborted) & (idle == limit) & ~urx.busy):
                    m.d.sync += hunt.eq(1)
                    clear_frame()
                    count("TIMEOUTS")
                with m.If(store):
                    m.d.sync += [crc.eq(crc16_byte(crc, stored))]
                    with m.If(cnt <= P.MAX_FRAME):
                        m.d.sync += cnt.eq(cnt + 1)
                    m.d.comb += [fb_w.addr.eq(cnt), fb_w.data.eq(stored)]
                    m.d.comb += fb_w.en.eq(cnt < P.MAX_FRAME)
                    for i in range(nhdr):
                        with m.If(cnt == i):
                            m.d.sync += hdr[i].eq(stored)

            # ---- checks on the header (one clock) -----------------------------
            with m.State("CHECK"):

                def respond(st, source=SRC_NONE, n=0, wb=0, start=0):
                    m.d.sync += [
                        status.eq(st),
                        src.eq(source),
                        nwords.eq(n),
                        wbytes.eq(wb),
                        base.eq(start),
                        widx.eq(0),
                        bidx.eq(0),
                    ]
                    m.next = "RESP"

                def payload_pass(u):
                    m.d.sync += [
                        pos.eq(P.REQUEST_HEADER + nargs),
                        scan.eq(1),
                        bad.eq(0),
                        unit.eq(u),
                        k.eq(0),
                        nunits.eq(0),
                    ]
                    m.next = "PASS_RD"

                unit_cmds = [c for c in C if c in P.UNIT]
                has_unit = Cat(*[cmd == c for c in unit_cmds]).any()
                unit4 = Cat(*[cmd == c for c in unit_cmds if P.UNIT[c] == 4]).any()
                with m.If(aborted | esc | (cnt < P.REQUEST_HEADER + P.CRC_BYTES)):
                    respond(S.BAD_FRAME)
                with m.Elif(cnt > P.MAX_FRAME):
                    respond(S.TOO_LONG)
                with m.Elif(crc != 0):
                    respond(S.BAD_CRC)
                with m.Elif(~known):
                    respond(S.BAD_COMMAND)
                with m.Elif(plen < 0):
                    respond(S.BAD_LENGTH)
                with m.Elif(~has_unit & (plen != 0)):
                    respond(S.BAD_LENGTH)
                with m.Elif(has_unit & ((plen == 0) | (plen > P.MAX_PAYLOAD))):
                    respond(S.BAD_LENGTH)
                with m.Elif(unit4 & (plen[:2] != 0)):
                    respond(S.BAD_LENGTH)
                with m.Else():
                    with m.Switch(cmd):
                        with m.Case(C.IDENTIFY):
                            respond(S.OK, SRC_REG, len(P.IDENTITY), 4, 0)
                        with m.Case(C.READ_REG):
                            ar = a[C.READ_REG]
                            with m.If((ar.count == 0) | (ar.count > P.MAX_PAYLOAD // 4)):
                                respond(S.BAD_LENGTH)
                            with m.Elif(ar.addr + ar.count > nreg):
                                respond(S.BAD_ADDRESS)
                            with m.Else():
                                respond(S.OK, SRC_REG, ar.count, 4, ar.addr)
                        with m.Case(C.WRITE_REG):
                            aw = a[C.WRITE_REG]
                            with m.If((aw.addr < rw[0]) | (aw.addr + plen[2:] > rw[-1] + 1)):
                                respond(S.BAD_ADDRESS)
                            with m.Else():
                                m.d.sync += base.eq(aw.addr)
                                payload_pass(4)
                        with m.Case(C.READ_MEM):
                            ar = a[C.READ_MEM]
                            wb = wb_of[ar.region[:2]]
                            m.d.sync += [core.eq(ar.core), region.eq(ar.region)]
                            with m.If((ar.core >= g.cores) | (ar.region >= len(Region))):
                                respond(S.BAD_ADDRESS)
                            with m.Elif((ar.count == 0) | (ar.count * wb > P.MAX_PAYLOAD)):
                                respond(S.BAD_LENGTH)
                            with m.Elif(ar.index + ar.count > depth_of[ar.region[:2]]):
                                respond(S.BAD_ADDRESS)
                            with m.Else():
                                respond(S.OK, SRC_MEM, ar.count, wb, ar.index)
                        with m.Case(C.WRITE_MEM):
                            aw = a[C.WRITE_MEM]
                            m.d.sync += [core.eq(aw.core), region.eq(aw.region), base.eq(aw.index)]
                            with m.If((aw.core >= g.cores) | (aw.region >= len(Region))):
                                respond(S.BAD_ADDRESS)
                            with m.Else():
                                payload_pass(wb_of[aw.region[:2]])
                        with m.Case(C.INJECT):
                            payload_pass(P.INJECT_EVENT.size // 8)
                        with m.Case(C.STEP):
                            with m.If(running):
                                respond(S.BAD_STATE)
                            with m.Else():
                                m.d.sync += left.eq(a[C.STEP].ticks)
                                m.next = "STEP"
                        with m.Case(C.RUN):
                            m.d.sync += [period.eq(a[C.RUN].period), running.eq(1)]
                            respond(S.OK)
                        with m.Case(C.STOP):
                            m.d.sync += running.eq(0)
                            m.next = "QUIET"
                        with m.Case(C.READ_EVENTS):
                            mx = a[C.READ_EVENTS].max
                            n = Signal(16)
                            m.d.comb += n.eq(Mux(mx < evq.level, mx, evq.level))
                            with m.If(mx == 0):
                                respond(S.BAD_LENGTH)
                            with m.Else():
                                respond(
                                    S.OK,
                                    SRC_EVT,
                                    Mux(n > P.MAX_PAYLOAD // eb, P.MAX_PAYLOAD // eb, n),
                                    eb,
                                )
                        with m.Case(C.SEED):
                            with m.If(a[C.SEED].core >= g.cores):
                                respond(S.BAD_ADDRESS)
                            with m.Else():
                                m.next = "QUIET"  # strobes seed_we there
                        with m.Case(C.RESET):
                            m.d.comb += self.soft_reset.eq(1)
                            m.d.sync += [
                                ticks.eq(0),
                                running.eq(0),
                                counters["EVENTS_DROPPED"].eq(0),
                            ]
                            respond(S.OK)

            # ---- payload passes: 2 clocks per byte ----------------------------------
            with m.State("PASS_RD"):
                m.d.comb += fb_r.addr.eq(pos)
                with m.If(pos == cnt - P.CRC_BYTES):
                    m.next = "PASS_END"
                with m.Else():
                    m.next = "PASS_BYTE"
            with m.State("PASS_BYTE"):
                with m.Switch(k):
                    for i in range(len(acc) // 8):
                        with m.Case(i):
                            m.d.sync += acc.eq((fb_r.data << (8 * i)) | (acc if i else 0))
                m.d.sync += pos.eq(pos + 1)
                with m.If(k == unit - 1):
                    m.d.sync += k.eq(0)
                    m.next = "PASS_ACT"
                with m.Else():
                    m.d.sync += k.eq(k + 1)
                    m.next = "PASS_RD"
            with m.State("PASS_ACT"):
                done = Signal()
                reg_at = Signal(rw_bits)  # WRITE_REG: the register, as told apart by rw_case
                m.d.comb += reg_at.eq(base[:rw_bits] + nunits[:rw_bits])
                with m.If(scan):
                    m.d.comb += done.eq(1)
                    with m.Switch(cmd):
                        with m.Case(C.WRITE_REG):
                            with m.Switch(reg_at):
                                for top, addrs in limited.items():
                                    with m.Case(*addrs):
                                        with m.If(acc[:32] > top):
                                            m.d.sync += bad.eq(1)
                        with m.Case(C.WRITE_MEM):
                            size = size_of[region[:2]]
                            with m.If((acc >> size) != 0):
                                m.d.sync += bad.eq(1)
                        with m.Case(C.INJECT):
                            ev = P.INJECT_EVENT(acc[:32])
                            with m.If((ev.core >= g.cores) | (ev.axon >= g.axons)):
                                m.d.sync += bad.eq(1)
                with m.Else():
                    with m.Switch(cmd):
                        with m.Case(C.WRITE_REG):
                            m.d.comb += done.eq(1)
                            with m.Switch(reg_at):
                                for addr, sig in writable.items():
                                    with m.Case(rw_case(addr)):
                                        m.d.sync += sig.eq(acc[:32])
                                        if addr == addr_of["EPISODE"]:
                                            m.d.comb += self.chip.episode_restart.eq(1)
                        with m.Case(C.WRITE_MEM):
                            with m.If(~self.chip.busy):
                                m.d.comb += [
                                    done.eq(1),
                                    self.chip.cfg_we.eq(1),
                                    self.chip.cfg_addr.eq(base + nunits),
                                    self.chip.cfg_wdata.eq(acc),
                                ]
                        with m.Case(C.INJECT):
                            ev = P.INJECT_EVENT(acc[:32])
                            m.d.comb += [
                                self.chip.host_in.valid.eq(1),
                                self.chip.host_in.payload.core.eq(ev.core),
                                self.chip.host_in.payload.axon.eq(ev.axon),
                                done.eq(self.chip.host_in.ready),
                            ]
                with m.If(done):
                    m.d.sync += nunits.eq(nunits + 1)
                    m.next = "PASS_RD"
            with m.State("PASS_END"):
                with m.If(scan):
                    with m.If(k != 0):
                        respond_state = S.BAD_LENGTH
                        m.d.sync += [status.eq(respond_state)]
                        m.next = "RESP_ERR"
                    with m.Elif((cmd == C.WRITE_MEM) & (base + nunits > depth_of[region[:2]])):
                        m.d.sync += status.eq(S.BAD_ADDRESS)
                        m.next = "RESP_ERR"
                    with m.Elif(bad):
                        m.d.sync += status.eq(S.BAD_ADDRESS)
                        m.next = "RESP_ERR"
                    with m.Else():
                        m.d.sync += [
                            pos.eq(P.REQUEST_HEADER + nargs),
                            scan.eq(0),
                            nunits.eq(0),
                        ]
                        m.next = "PASS_RD"
                with m.Else():
                    m.d.sync += status.eq(S.OK)
                    m.next = "RESP_ERR"
            with m.State("RESP_ERR"):  # status set, no data
                m.d.sync += [src.eq(SRC_NONE), nwords.eq(0), bidx.eq(0), widx.eq(0)]
                m.next = "RESP"

            # ---- STEP and STOP ------------------------------------------------------
            with m.State("STEP"):
                with m.If(left == 0):
                    m.d.sync += [
                        status.eq(S.OK),
                        src.eq(SRC_TICK),
                        nwords.eq(1),
                        wbytes.eq(4),
                        bidx.eq(0),
                        widx.eq(0),
                    ]
                    m.next = "RESP"
                with m.Elif(~self.chip.busy):
                    m.d.comb += self.chip.tick_start.eq(1)
                    m.d.sync += left.eq(left - 1)
                    m.next = "STEP_WAIT"
            with m.State("STEP_WAIT"):
                with m.If(tick_done):
                    m.next = "STEP"
            with m.State("QUIET"):  # STOP and SEED: OK once the chip is idle
                with m.If(~self.chip.busy):
                    m.d.comb += self.chip.seed_we.eq(cmd == C.SEED)
                    m.d.sync += [status.eq(S.OK), src.eq(SRC_NONE), nwords.eq(0), bidx.eq(0)]
                    m.next = "RESP"

            # ---- response --------------------------------------------------------
            with m.State("RESP"):  # header: cmd | 0x80, tag, status
                m.d.comb += [
                    resp.valid.eq(1),
                    resp.payload.data.eq(hdr_byte),
                    resp.payload.last.eq((bidx == 2) & (nwords == 0)),
                ]
                with m.If(resp.ready):
                    m.d.sync += bidx.eq(bidx + 1)
                    with m.If(bidx == 2):
                        m.d.sync += bidx.eq(0)
                        with m.If(nwords == 0):
                            m.next = "DONE"
                        with m.Else():
                            m.next = "FETCH"
            with m.State("FETCH"):
                with m.Switch(src):
                    with m.Case(SRC_REG):
                        m.d.sync += word.eq(reg_file[(base + widx)[:8]])
                        m.next = "SEND"
                    with m.Case(SRC_TICK):
                        m.d.sync += word.eq(ticks)
                        m.next = "SEND"
                    with m.Case(SRC_EVT):
                        m.d.comb += evq.r_en.eq(1)
                        m.d.sync += word.eq(evq.r_data)
                        m.next = "SEND"
                    with m.Case(SRC_MEM):
                        with m.If(~self.chip.busy):
                            m.d.comb += [self.chip.cfg_re.eq(1), self.chip.cfg_addr.eq(base + widx)]
                            m.next = "MEMWAIT"
            with m.State("MEMWAIT"):
                mask = (Const(1, 64) << size_of[region[:2]]) - 1
                with m.If(self.chip.cfg_rvalid):
                    m.d.sync += word.eq(self.chip.cfg_rdata & mask)
                    m.next = "SEND"
            with m.State("SEND"):
                last_word = widx == nwords - 1
                m.d.comb += [
                    resp.valid.eq(1),
                    resp.payload.data.eq(word[:8]),
                    resp.payload.last.eq(last_word & (bidx == wbytes - 1)),
                ]
                with m.If(resp.ready):
                    m.d.sync += [word.eq(word >> 8), bidx.eq(bidx + 1)]
                    with m.If(bidx == wbytes - 1):
                        m.d.sync += [bidx.eq(0), widx.eq(widx + 1)]
                        with m.If(last_word):
                            m.next = "DONE"
                        with m.Else():
                            m.next = "FETCH"
            with m.State("DONE"):
                # Counted once answered: a READ_REG of the counters does not count itself.
                with m.Switch(status):
                    for st in S:
                        with m.Case(st):
                            count("FRAMES_OK" if st == S.OK else st.name)
                clear_frame()
                m.next = "RECV"

        m.d.comb += [self.chip.cfg_core.eq(core), self.chip.cfg_region.eq(region)]
        m.d.comb += [
            self.chip.seed_core.eq(a[C.SEED].core),
            self.chip.seed.eq(a[C.SEED].seed),
        ]

        # -- free running: a tick every `period` clocks, between requests --------
        since = Signal(32)
        with m.If(since != 0xFFFF_FFFF):
            m.d.sync += since.eq(since + 1)
        with m.If(running & fsm.ongoing("RECV") & ~self.chip.busy & (since >= period)):
            m.d.comb += self.chip.tick_start.eq(1)
            m.d.sync += since.eq(1)

        m.d.comb += self.active.eq(
            ~fsm.ongoing("RECV")
            | rxq.r_rdy
            | framer.inp.valid
            | framer.out.valid
            | ~utx.data.ready
            | running
            | self.chip.busy
        )
        return m
