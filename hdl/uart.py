"""The UART block: the host's requests executed on the chip's ports.

Protocol: ``spikeloom/protocol.py`` (framing, commands, status codes,
registers); golden model: ``sim/uart.py``, byte for byte. The block is a
composition, one job per file::

    rx pin -> UartRx (uart_phy) -> receive FIFO (bytes + framing-error marks)
           -> Deframer (uart_framing: unstuff, CRC, frame buffer, header)
           -> RequestCheck (uart_request: header checks, several clocks)
           -> Executor (uart_exec: payload passes, commands, chip ports)
           -> Response (uart_response) -> Framer (uart_framing) -> UartTx -> tx pin
    RegisterFile (uart_regs): identity ROM, SCRATCH, link and chip counters in
           block RAM, read byte by byte through one adder; live registers.

Timing: see each block. The UART runs at ``clocks_per_bit`` clocks per
bit (at least 4; any clock rate: no path or timer assumes a slow one). The
deframer takes one byte per clock from the FIFO while no request
executes; while one executes, bytes queue in the receive FIFO (the host
keeps at most ``rx_fifo`` bytes unanswered); a byte that finds it full is
dropped and counted (OVERRUNS). Output events go to an event FIFO
(``event_fifo`` entries); an event that finds it full is dropped and
counted, so a host that does not read never stalls the chip. Errors never
change state: every check runs before anything is written.

``active`` is high while anything is left to do (a byte queued, a request
executing, a response going out, a count pending, free running, or the
chip busy): a simulation harness may pause when it is low.

``soft_reset`` (RESET) is a flip-flop, high on the clock after the
executor decides it, so the reset of the chip's logic starts from a
register and not from the executor's decode; the event FIFO is held empty
from the decision to the end of that clock, so no event of the chip's last
clock before the reset is kept.
"""

from amaranth.hdl import Cat, Module, Mux, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spikeloom import protocol as P
from spikeloom.defs import Geometry

from .fifo import RegisteredFIFO
from .top import Chip
from .uart_exec import Executor
from .uart_framing import Deframer, Framer, share_crc
from .uart_phy import UartRx, UartTx
from .uart_regs import RegisterFile, RegOp
from .uart_request import RequestCheck
from .uart_response import Response

__all__ = ["Link"]


class Link(wiring.Component):
    """The UART block. See the module docstring."""

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
        g, link, chip = self.geometry, self.link, self.chip
        m = Module()
        ev_bits = link.event_fifo.bit_length()

        # -- line, framing, FIFOs ------------------------------------------------
        m.submodules.urx = urx = UartRx(link.clocks_per_bit)
        m.submodules.utx = utx = UartTx(link.clocks_per_bit)
        m.submodules.framer = framer = Framer()
        m.submodules.deframer = dfr = Deframer(link.clocks_per_bit, link.timeout_bits)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        wiring.connect(m, framer.out, utx.data)
        share_crc(m, dfr, framer)
        # Framing errors travel through the FIFO as marks (bit 8), so they
        # hit the frame the line was in, however far behind the deframer is.
        m.submodules.rxq = rxq = RegisteredFIFO(width=9, depth=link.rx_fifo)
        m.d.comb += [
            rxq.w_data.eq(Cat(urx.data, urx.framing_error)),
            rxq.w_en.eq(urx.valid | urx.framing_error),
            dfr.line.payload.eq(rxq.r_data),
            dfr.line.valid.eq(rxq.r_rdy),
            rxq.r_en.eq(dfr.line.ready),
            dfr.line_busy.eq(urx.busy),
        ]
        evq = RegisteredFIFO(width=g.event_layout.size, depth=link.event_fifo)
        resetting = Signal()  # RESET decided or restarting the chip: empty the FIFO
        m.submodules.evq = ResetInserter(resetting)(evq)
        m.d.comb += [
            evq.w_data.eq(chip.out.payload.as_value()),
            evq.w_en.eq(chip.out.valid),
            chip.out.ready.eq(1),
        ]

        # -- registers, checks, executor, response --------------------------------
        m.submodules.regs = regs = RegisterFile(g, link, ev_bits)
        m.submodules.check = check = RequestCheck(g, ev_bits)
        m.submodules.exec = ex = Executor(g, check.low)
        m.submodules.resp = resp = Response(g)
        m.d.comb += [
            regs.count_timeouts.eq(dfr.timeout),
            regs.count_framing_errors.eq(dfr.framing_error),
            regs.count_overruns.eq(rxq.w_en & ~rxq.w_rdy),
            regs.count_events_dropped.eq(chip.out.valid & ~evq.w_rdy),
            regs.count_tick.eq(ex.tick_done),
            regs.running.eq(ex.running),
            regs.events_pending.eq(evq.level),
            regs.phase.eq(chip.phase),
            regs.last_tick_cycles.eq(chip.last_tick_cycles),
            regs.chip_counts.eq(chip.counts),
            chip.learn_cfg.eq(regs.learn),
            chip.episode_restart.eq(regs.episode_restart),
        ]
        m.d.comb += [
            check.length.eq(dfr.length),
            check.aborted.eq(dfr.aborted),
            check.crc_ok.eq(dfr.crc_ok),
            check.header.eq(dfr.header),
            check.running.eq(ex.running),
            check.events_pending.eq(evq.level),
            check.start.eq(ex.check_start),
        ]
        m.d.comb += [
            ex.frame_valid.eq(dfr.frame_valid),
            dfr.release.eq(ex.release),
            ex.length.eq(dfr.length),
            ex.header.eq(dfr.header),
            dfr.rd_addr.eq(ex.rd_addr),
            ex.rd_data.eq(dfr.rd_data),
            ex.check_done.eq(check.done),
            ex.check_status.eq(check.status),
            ex.op.eq(check.op),
            ex.unit.eq(check.unit),
            ex.payload_start.eq(check.payload_start),
            ex.base.eq(check.base),
            ex.far.eq(check.far),
            ex.period.eq(regs.period),
            ex.busy.eq(chip.busy),
            ex.tick.eq(chip.tick),
        ]
        m.d.comb += [
            resp.start.eq(ex.resp_start),
            resp.status.eq(ex.resp_status),
            resp.header.eq(dfr.header),
            resp.op.eq(check.op),
            resp.unit.eq(check.unit),
            resp.count.eq(check.count),
            ex.resp_idle.eq(resp.idle & framer.idle),  # the shared CRC is free then
            ex.resp_next.eq(resp.next),
            resp.reg_rdata.eq(regs.rdata),
            resp.reg_rvalid.eq(regs.rvalid),
            resp.chip_busy.eq(chip.busy),
            resp.region.eq(ex.cfg_region),
            resp.mem_rdata.eq(chip.cfg_rdata),
            resp.mem_rvalid.eq(chip.cfg_rvalid),
            resp.ev_data.eq(evq.r_data),
            evq.r_en.eq(resp.ev_re),
        ]
        wiring.connect(m, resp.out, framer.inp)
        # The executor and the response take turns on the register file and
        # on the configuration port (the executor waits while a response goes
        # out), at the executor's index (the response reads, the executor writes).
        m.d.comb += [
            regs.req.valid.eq(ex.reg.valid | resp.reg_re),
            regs.req.payload.op.eq(Mux(resp.reg_re, RegOp.READ, ex.reg.payload.op)),
            regs.req.payload.addr.eq(ex.reg.payload.addr),
            regs.req.payload.data.eq(ex.reg.payload.data),
            ex.reg.ready.eq(regs.req.ready),
            resp.reg_ready.eq(regs.req.ready),
        ]

        # -- the chip's ports -------------------------------------------------------
        m.d.comb += [
            self.soft_reset.eq(ex.soft_reset),
            resetting.eq(ex.resetting),
            chip.host_in.valid.eq(ex.host_in.valid),
            chip.host_in.payload.eq(ex.host_in.payload),
            ex.host_in.ready.eq(chip.host_in.ready),
            chip.tick_start.eq(ex.tick_start),
            chip.cfg_core.eq(ex.cfg_core),
            chip.cfg_region.eq(ex.cfg_region),
            chip.cfg_addr.eq(ex.cfg_addr),
            chip.cfg_wdata.eq(ex.cfg_wdata),
            chip.cfg_we.eq(ex.cfg_we),
            chip.cfg_re.eq(resp.mem_re),
            chip.seed.eq(ex.seed),
            chip.seed_core.eq(ex.seed_core),
            chip.seed_we.eq(ex.seed_we),
        ]
        m.d.comb += self.active.eq(
            ~ex.idle
            | rxq.r_rdy
            | framer.inp.valid
            | framer.out.valid
            | ~utx.data.ready
            | regs.busy
            | ex.running
            | chip.busy
        )
        return m
