"""Golden model of the UART block (``hdl/uart.py``): request bytes in, response bytes out.

It decodes frames exactly as the gateware does (``spikeloom/protocol.py``),
checks requests in the same order, and executes them on the golden chip
model (``sim/top.py``). Its responses are byte for byte those of the RTL,
with two exceptions that are timing, not results: registers named in
``protocol.TIMING_REGISTERS`` read as 0, and the order of output events
within one tick (the RTL interleaves cores; here they come sorted by core
and neuron). Free running (RUN) is modelled on a virtual clock that
advances ``10 * clocks_per_bit`` per line byte, one tick per ``period``
clocks (at least one): how many ticks run between two requests is timing.

The learning registers, EPISODE's restart and SEED act on the chip model
(``ChipModel.set_learning``, ``restart_episode``, ``seed``); PHASE reads its
``phase``.

Line events the byte stream cannot carry are method calls: ``idle()`` (the
line was quiet for ``timeout_bits``: a frame cut short is discarded) and
``line_break()`` (characters with a bad stop bit).
"""

from __future__ import annotations

import numpy as np

from spikeloom import protocol as P
from spikeloom.defs import (
    STATE_FIELDS,
    Geometry,
    LearnConfig,
    Region,
    pack_array,
    unpack,
    unpack_array,
)
from spikeloom.network import Network

from .top import ChipModel

__all__ = ["LinkModel"]

_U32 = (1 << 32) - 1


class LinkModel:
    """The chip behind its UART block, at the level of line bytes."""

    def __init__(self, geometry: Geometry, link: P.LinkConfig | None = None):
        self.g = g = geometry
        self.link = link or P.LinkConfig()
        self.identity = P.identity(g, self.link)
        self.regs = P.registers(g)
        self.addr = P.register_map(g)
        self.net = Network.empty(g)
        self.chip = ChipModel(self.net)
        self.deframer = P.Deframer()
        self.values = {r.name: 0 for r in self.regs}
        self.events: list[tuple[int, int, int]] = []
        self.host: list[tuple[int, int]] = []
        self._stale = False  # memories written since the chip model last took them
        self.clock = 0  # virtual clock of free running
        self.next_tick_at = 0

    # -- the line ------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Bytes from the host; returns the response bytes they complete."""
        out = bytearray()
        for b in bytes(data):
            self._advance(1)
            for body, aborted in self.deframer.feed(bytes((b,))):
                out += self._respond(body, aborted)
        return bytes(out)

    def idle(self):
        """The line was idle for ``timeout_bits``: drop a frame cut short."""
        d = self.deframer
        if d.in_frame and (d.buf or d.escaped or d.aborted):
            d.discard()
            self._count("TIMEOUTS")

    def line_break(self, chars: int = 1):
        """``chars`` characters with a bad stop bit (a break): the frame is bad."""
        self._count("FRAMING_ERRORS", chars)
        if self.deframer.in_frame:
            self.deframer.aborted = True

    # -- internals ----------------------------------------------------------

    def _count(self, name, n=1):
        self.values[name] = (self.values[name] + n) & _U32

    def _advance(self, nbytes):
        if not self.values["RUNNING"]:
            return
        self.clock += 10 * self.link.clocks_per_bit * nbytes
        period = max(1, self.values["PERIOD"])
        while self.next_tick_at <= self.clock:
            self._tick()
            self.next_tick_at += period

    def _tick(self):
        if self._stale:
            self.chip.reload()
            self._stale = False
        host, self.host = self.host, []
        _, events = self.chip.tick(host)
        for ev in events:
            if len(self.events) < self.link.event_fifo:
                self.events.append(ev)
            else:
                self._count("EVENTS_DROPPED")
        self._count("TICK")

    def _respond(self, body: bytes, aborted: bool) -> bytes:
        cmd = body[0] if len(body) > 0 else 0
        tag = body[1] if len(body) > 1 else 0
        status, data = self._execute(body, aborted)
        self._count("FRAMES_OK" if status == P.Status.OK else status.name)
        resp = bytes((cmd | P.RESPONSE_BIT, tag, status)) + data
        self._advance(len(resp) + 4)
        return P.frame(resp)

    def _execute(self, body: bytes, aborted: bool) -> tuple[P.Status, bytes]:
        S, C = P.Status, P.Command
        if aborted or len(body) < P.REQUEST_HEADER + P.CRC_BYTES:
            return S.BAD_FRAME, b""
        if len(body) > P.MAX_FRAME:
            return S.TOO_LONG, b""
        if P.crc16(body) != 0:
            return S.BAD_CRC, b""
        try:
            cmd = C(body[0])
        except ValueError:
            return S.BAD_COMMAND, b""
        content = body[P.REQUEST_HEADER : -P.CRC_BYTES]
        layout = P.ARGS[cmd]
        nargs = layout.size // 8
        if len(content) < nargs:
            return S.BAD_LENGTH, b""
        args = unpack(layout, int.from_bytes(content[:nargs], "little")) if nargs else {}
        payload = content[nargs:]
        unit = P.UNIT.get(cmd)
        if unit is None and payload:
            return S.BAD_LENGTH, b""
        if unit is not None:
            if not payload or len(payload) > P.MAX_PAYLOAD:
                return S.BAD_LENGTH, b""
            if unit != "mem" and len(payload) % unit:
                return S.BAD_LENGTH, b""
        return getattr(self, f"_cmd_{cmd.name.lower()}")(args, payload)

    def _cmd_identify(self, args, payload):
        return P.Status.OK, _u32s(self.identity.words())

    def _reg_value(self, name):
        if P.is_timing(name):
            return 0
        ident = dict(zip((n for n, _ in P.IDENTITY), self.identity.words()))
        if name in ident:
            return ident[name]
        if name == "EVENTS_PENDING":
            return len(self.events)
        if name == "PHASE":
            return self.chip.phase
        c = self.chip.counters
        # Injected events are on the bus (and counted) as soon as INJECT is
        # answered; ChipModel counts them with the tick they belong to.
        queued = len(self.host)
        for i in range(len(self.g.levels)):
            if name == f"CARRIED{i}":
                return (int(c["carried"][i]) + queued) & _U32
        if name in ("HOST_EVENTS", "DELIVERED"):
            return (int(c[name.lower()]) + queued) & _U32
        if name.lower() in c:
            return int(c[name.lower()]) & _U32
        if name == "HOST_DROPPED":
            return 0  # INJECT refuses events for missing cores
        return self.values[name]

    def _cmd_read_reg(self, args, payload):
        addr, count = args["addr"], args["count"]
        if count == 0 or 4 * count > P.MAX_PAYLOAD:
            return P.Status.BAD_LENGTH, b""
        if addr + count > len(self.regs):
            return P.Status.BAD_ADDRESS, b""
        return P.Status.OK, _u32s(self._reg_value(r.name) for r in self.regs[addr : addr + count])

    def _cmd_write_reg(self, args, payload):
        addr, n = args["addr"], len(payload) // 4
        if addr + n > len(self.regs) or any(
            r.access != P.Access.RW for r in self.regs[addr : addr + n]
        ):
            return P.Status.BAD_ADDRESS, b""
        new = {
            r.name: int.from_bytes(payload[4 * i : 4 * i + 4], "little")
            for i, r in enumerate(self.regs[addr : addr + n])
        }
        if any(v > P.REGISTER_MAX.get(name, _U32) for name, v in new.items()):
            return P.Status.BAD_ADDRESS, b""
        self.values.update(new)
        if new.keys() & P.LEARN_REGISTERS.keys():
            self.chip.set_learning(
                LearnConfig(**{f: self.values[name] for name, f in P.LEARN_REGISTERS.items()})
            )
        if "EPISODE" in new:
            self.chip.restart_episode()
        return P.Status.OK, b""

    def _mem_check(self, args):
        if args["core"] >= self.g.cores or args["region"] >= len(Region):
            return P.Status.BAD_ADDRESS
        return None

    def _cmd_read_mem(self, args, payload):
        bad = self._mem_check(args)
        if bad is not None:
            return bad, b""
        region, index, count = Region(args["region"]), args["index"], args["count"]
        wb = P.word_bytes(self.g, region)
        if count == 0 or count * wb > P.MAX_PAYLOAD:
            return P.Status.BAD_LENGTH, b""
        if index + count > self.g.region_depth(region):
            return P.Status.BAD_ADDRESS, b""
        words = self._read_words(args["core"], region)[index : index + count]
        return P.Status.OK, b"".join(w.to_bytes(wb, "little") for w in words)

    def _cmd_write_mem(self, args, payload):
        bad = self._mem_check(args)
        if bad is not None:
            return bad, b""
        region, index = Region(args["region"]), args["index"]
        wb = P.word_bytes(self.g, region)
        if len(payload) % wb:
            return P.Status.BAD_LENGTH, b""
        n = len(payload) // wb
        if index + n > self.g.region_depth(region):
            return P.Status.BAD_ADDRESS, b""
        size = self.g.region_layout(region).size
        words = [int.from_bytes(payload[i * wb : (i + 1) * wb], "little") for i in range(n)]
        if any(w >> size for w in words):
            return P.Status.BAD_ADDRESS, b""
        self._write_words(args["core"], region, index, words)
        return P.Status.OK, b""

    def _read_words(self, core, region) -> list[int]:
        if region == Region.STATE:
            st = self.chip.state
            return pack_array(self.g.state_layout, **{f: st[f][core] for f in STATE_FIELDS})
        return self.net.region_words(core, region)

    def _write_words(self, core, region, index, words):
        if region == Region.STATE:
            f = unpack_array(self.g.state_layout, words)
            for k in STATE_FIELDS:
                self.chip.state[k][core, index : index + len(words)] = f[k]
            return
        self.net.set_region_words(core, region, index, words)
        self._stale = True  # reloaded once before the next tick, not per frame

    def _cmd_inject(self, args, payload):
        size = P.INJECT_EVENT.size // 8
        events = []
        for i in range(0, len(payload), size):
            ev = unpack(P.INJECT_EVENT, int.from_bytes(payload[i : i + size], "little"))
            if ev["core"] >= self.g.cores or ev["axon"] >= self.g.axons:
                return P.Status.BAD_ADDRESS, b""
            events.append((ev["core"], ev["axon"]))
        self.host += events
        return P.Status.OK, b""

    def _cmd_step(self, args, payload):
        if self.values["RUNNING"]:
            return P.Status.BAD_STATE, b""
        for _ in range(args["ticks"]):
            self._tick()
        return P.Status.OK, _u32s([self.values["TICK"]])

    def _cmd_run(self, args, payload):
        self.values["PERIOD"] = args["period"]
        if not self.values["RUNNING"]:
            self.values["RUNNING"] = 1
            self.clock = self.next_tick_at = 0
        return P.Status.OK, b""

    def _cmd_stop(self, args, payload):
        self.values["RUNNING"] = 0
        return P.Status.OK, b""

    def _cmd_read_events(self, args, payload):
        eb = P.event_bytes(self.g)
        if args["max"] == 0:
            return P.Status.BAD_LENGTH, b""
        n = min(args["max"], len(self.events), P.MAX_PAYLOAD // eb)
        taken, self.events = self.events[:n], self.events[n:]
        words = pack_array(
            self.g.event_layout,
            tick=np.array([e[0] for e in taken], dtype=object),
            core=np.array([e[1] for e in taken], dtype=object),
            neuron=np.array([e[2] for e in taken], dtype=object),
        )
        return P.Status.OK, b"".join(w.to_bytes(eb, "little") for w in words)

    def _cmd_seed(self, args, payload):
        if args["core"] >= self.g.cores:
            return P.Status.BAD_ADDRESS, b""
        self.chip.seed(args["core"], args["seed"])
        return P.Status.OK, b""

    def _cmd_reset(self, args, payload):
        # The chip's logic restarts (tick 0, no pending events, counters 0,
        # episode phase 0, generators reset); its memories, the neuron
        # states among them, and the learning registers are kept.
        self.chip.soft_reset()
        self.host, self.events = [], []
        for name in ("TICK", "RUNNING", "EVENTS_DROPPED"):
            self.values[name] = 0
        return P.Status.OK, b""


def _u32s(values) -> bytes:
    return b"".join((int(v) & _U32).to_bytes(4, "little") for v in values)
