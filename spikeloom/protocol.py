"""The host link protocol: framing, commands, status codes, registers.

Defined once here and imported by the UART block (``hdl/uart.py``), its
golden model (``sim/uart.py``), the host library (``host/board.py``), the
tests and the generated protocol page (``docs/protocol.md``, written by
``python -m spikeloom.protocol``).

Framing (HDLC-like, RFC 1662 byte stuffing) on an 8N1 UART line::

    FLAG | stuffed( cmd tag args... payload... crc_hi crc_lo ) | FLAG

A frame is everything between two FLAG bytes; empty frames (FLAG FLAG)
are ignored, so FLAGs may be shared or repeated. Inside a frame, FLAG and
ESC are sent as ESC, byte ^ 0x20 (every byte after ESC is taken ^ 0x20).
The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF,
no reflection, no final XOR) over the unstuffed bytes before it, sent most
significant byte first, so the CRC over a whole good frame is 0. Multi-byte
fields are little-endian.

A request is ``cmd tag args payload``; ``args`` is the command's fixed
argument record (``ARGS``), ``payload`` a whole number of the command's
units. The response is ``cmd | 0x80, tag, status, data``: exactly one per
non-empty frame, in order. Frames cut short by an idle line (no byte for
``timeout_bits`` bit times inside a frame) are discarded without a
response and counted. Flow control: the host keeps at most ``rx_fifo``
line bytes of requests unanswered (the UART block's receive FIFO); a byte
arriving to a full FIFO is dropped and counted (``OVERRUNS``).

Checks, in this order; the first that fails is the status, and a request
that fails any check changes nothing:

1. BAD_FRAME: the frame was aborted (ESC before FLAG, a character with a
   bad stop bit or a break inside it) or is shorter than 4 bytes;
2. TOO_LONG: longer than ``MAX_FRAME`` bytes; 3. BAD_CRC; 4. BAD_COMMAND;
5. BAD_LENGTH: arguments cut short; a payload on a command without one;
   an empty payload, one over ``MAX_PAYLOAD`` bytes, or not whole 4-byte
   units (WRITE_REG, INJECT);
6. per command: READ_REG count 0 or over 64 (BAD_LENGTH), registers past
   the end (BAD_ADDRESS); WRITE_REG registers past the end or read-only
   (BAD_ADDRESS), then a value above its register's maximum (BAD_ADDRESS,
   as for WRITE_MEM padding bits: the learning registers have the ranges
   of ``REGISTER_MAX``, listed with the registers; no register of the
   request is written); READ_MEM / WRITE_MEM core or region that does
   not exist (BAD_ADDRESS), then READ_MEM count 0 or over ``MAX_PAYLOAD``
   bytes and WRITE_MEM payload not whole words (BAD_LENGTH), then words
   past the end of the region (BAD_ADDRESS), then WRITE_MEM words with
   padding bits set (BAD_ADDRESS); INJECT events for a core or axon that
   does not exist (BAD_ADDRESS); STEP while running free (BAD_STATE);
   READ_EVENTS max 0 (BAD_LENGTH); SEED core that does not exist
   (BAD_ADDRESS).

The status counters count a request once its response is out (a
READ_REG of FRAMES_OK does not count itself). RESET restarts the chip's
logic (tick 0, no pending events, chip counters 0, episode phase 0, every
learning generator at ``PRNG_RESET``), empties the event FIFO and clears
TICK, RUNNING and EVENTS_DROPPED; memories (neuron states too), PERIOD,
the learning registers, SCRATCH and the link counters are kept.

Learning (docs/semantics.md section 6): the registers LEARN, P_PLUS,
P_MINUS, P_GROW and EPISODE (``LEARN_LAYOUT``) are taken by the chip when a
tick starts, so a write changes the ticks that start after its response.
A WRITE_REG that writes EPISODE (any value, even the one it holds) restarts
the episode: the next tick to start has phase 0 (PHASE reads the phase of
the next tick). SEED sets one core's learning generator to
``defs.prng_seed(seed)`` (a seed of 0 becomes ``PRNG_RESET``); like memory
access, it waits until the tick in progress is over.
"""

from __future__ import annotations

import binascii
import enum
import json
from dataclasses import dataclass

from amaranth.hdl import unsigned
from amaranth.lib import data

from spikeloom.defs import (
    COUNTERS,
    GEOMETRY_FIELDS,
    LEARN_FIELDS,
    LEARN_MAX,
    PROB_ONE,
    Geometry,
    Region,
    pack,
)

__all__ = [
    "FLAG",
    "ESC",
    "Command",
    "Status",
    "ARGS",
    "UNIT",
    "Access",
    "Register",
    "registers",
    "register_map",
    "LEARN_REGISTERS",
    "REGISTER_MAX",
    "LinkConfig",
    "Identity",
    "PROTOCOL_ID",
    "COMMAND_TEXT",
    "STATUS_TEXT",
    "crc16",
    "stuff",
    "frame",
    "Deframer",
    "word_bytes",
    "event_bytes",
]

FLAG = 0x7E
ESC = 0x7D
ESC_XOR = 0x20
#: CRC-16/CCITT-FALSE polynomial and initial value.
CRC_POLY = 0x1021
CRC_INIT = 0xFFFF
#: Bytes of a request or response before its arguments / data.
REQUEST_HEADER = 2  # cmd, tag
RESPONSE_HEADER = 3  # cmd | 0x80, tag, status
RESPONSE_BIT = 0x80
CRC_BYTES = 2
#: Largest payload (request) or data (response) in bytes.
MAX_PAYLOAD = 256
#: Most bus-tree levels the identity block can describe (one byte each).
MAX_LEVELS = 4


class Command(enum.IntEnum):
    """Request codes. ``ARGS`` gives each one's fixed arguments, ``UNIT`` its payload unit."""

    IDENTIFY = 0x01
    READ_REG = 0x02
    WRITE_REG = 0x03
    READ_MEM = 0x04
    WRITE_MEM = 0x05
    INJECT = 0x06
    STEP = 0x07
    RUN = 0x08
    STOP = 0x09
    READ_EVENTS = 0x0A
    RESET = 0x0B
    SEED = 0x0C


class Status(enum.IntEnum):
    """Response status codes. Anything but OK means nothing changed."""

    OK = 0
    BAD_CRC = 1
    BAD_FRAME = 2
    TOO_LONG = 3
    BAD_COMMAND = 4
    BAD_LENGTH = 5
    BAD_ADDRESS = 6
    BAD_STATE = 7


#: What each command does (docs/protocol.md).
COMMAND_TEXT: dict[Command, str] = {
    Command.IDENTIFY: "data: the identity registers (``Identity``)",
    Command.READ_REG: "data: ``count`` registers from ``addr``, 4 bytes each",
    Command.WRITE_REG: "payload: values for registers ``addr``, ``addr + 1``, ...",
    Command.READ_MEM: "data: ``count`` words of ``region`` of ``core`` from ``index``",
    Command.WRITE_MEM: "payload: words for ``region`` of ``core`` from ``index``",
    Command.INJECT: "payload: host events (core u16, axon u16) for the next tick",
    Command.STEP: "run ``ticks`` ticks; answered when they are done; data: TICK (u32)",
    Command.RUN: "run free, one tick every ``period`` clocks (or back to back)",
    Command.STOP: "stop running free; answered once the tick in progress is over",
    Command.READ_EVENTS: "data: up to ``max`` output events from the event FIFO",
    Command.RESET: "soft reset of the chip's logic; memories and link counters are kept",
    Command.SEED: "set the learning generator of ``core`` to ``seed`` (0: its reset value)",
}
#: What each status means (docs/protocol.md, the host's error messages).
STATUS_TEXT: dict[Status, str] = {
    Status.OK: "",
    Status.BAD_CRC: "checksum mismatch",
    Status.BAD_FRAME: "shorter than cmd + tag + CRC, ESC before FLAG, or a UART framing error",
    Status.TOO_LONG: "a body longer than ``MAX_FRAME`` bytes",
    Status.BAD_COMMAND: "unknown command code",
    Status.BAD_LENGTH: "arguments cut short, payload empty, too long or not whole units, bad count",
    Status.BAD_ADDRESS: "register, core, region, index, event, word padding or value out of range",
    Status.BAD_STATE: "not allowed now (STEP while running free)",
}


def _u(bits):
    return unsigned(bits)


#: Fixed arguments of each command (little-endian, in field order).
ARGS: dict[Command, data.StructLayout] = {
    Command.IDENTIFY: data.StructLayout({}),
    Command.READ_REG: data.StructLayout({"addr": _u(16), "count": _u(16)}),
    Command.WRITE_REG: data.StructLayout({"addr": _u(16)}),
    Command.READ_MEM: data.StructLayout(
        {"core": _u(16), "region": _u(8), "index": _u(32), "count": _u(16)}
    ),
    Command.WRITE_MEM: data.StructLayout({"core": _u(16), "region": _u(8), "index": _u(32)}),
    Command.INJECT: data.StructLayout({}),
    Command.STEP: data.StructLayout({"ticks": _u(32)}),
    Command.RUN: data.StructLayout({"period": _u(32)}),
    Command.STOP: data.StructLayout({}),
    Command.READ_EVENTS: data.StructLayout({"max": _u(16)}),
    Command.RESET: data.StructLayout({}),
    Command.SEED: data.StructLayout({"core": _u(16), "seed": _u(32)}),
}
#: A host event in an INJECT payload.
INJECT_EVENT = data.StructLayout({"core": _u(16), "axon": _u(16)})
#: Payload unit of commands that carry one ("mem": a word of the region).
UNIT = {Command.WRITE_REG: 4, Command.WRITE_MEM: "mem", Command.INJECT: INJECT_EVENT.size // 8}
#: Most argument bytes of any command (the UART block keeps them in registers).
MAX_ARGS = max(layout.size // 8 for layout in ARGS.values())
#: Longest request body (unstuffed, with its CRC); a longer frame is TOO_LONG.
MAX_FRAME = REQUEST_HEADER + MAX_ARGS + MAX_PAYLOAD + CRC_BYTES


def word_bytes(geometry: Geometry, region: Region) -> int:
    """Bytes per word of ``region`` on the wire (the layout, little-endian, zero-padded)."""
    return (geometry.region_layout(Region(region)).size + 7) // 8


def event_bytes(geometry: Geometry) -> int:
    """Bytes per output event on the wire (``event_layout``, little-endian)."""
    return (geometry.event_layout.size + 7) // 8


# -- registers -----------------------------------------------------------------


class Access(enum.Enum):
    RO = "ro"
    RW = "rw"


@dataclass(frozen=True)
class Register:
    name: str
    access: Access
    doc: str


#: Link status counters kept by the UART block, in register order.
LINK_COUNTERS = (
    ("FRAMES_OK", "requests answered with OK"),
    ("BAD_CRC", "frames answered BAD_CRC"),
    ("BAD_FRAME", "frames answered BAD_FRAME"),
    ("TOO_LONG", "frames answered TOO_LONG"),
    ("BAD_COMMAND", "frames answered BAD_COMMAND"),
    ("BAD_LENGTH", "frames answered BAD_LENGTH"),
    ("BAD_ADDRESS", "frames answered BAD_ADDRESS"),
    ("BAD_STATE", "frames answered BAD_STATE"),
    ("TIMEOUTS", "frames discarded after an idle line (no response)"),
    ("FRAMING_ERRORS", "UART characters with a bad stop bit (a break counts several)"),
    ("OVERRUNS", "bytes lost to a full receive FIFO"),
    ("EVENTS_DROPPED", "output events lost to a full event FIFO"),
)
#: Chip counters (``defs.COUNTERS``) as registers, in order.
CHIP_COUNTERS = tuple(name.upper() for name in COUNTERS)

#: The identity block: IDENTIFY returns these registers, in this order.
IDENTITY = (
    ("ID", "protocol ID (PROTOCOL_ID): CRC-32 of this protocol's definition"),
    ("LEVELS", "bus-tree branching factors, one byte each, leaves first, 0 = none"),
    *((f.upper(), f"Geometry.{f}") for f in GEOMETRY_FIELDS if f != "levels"),
    ("MAX_PAYLOAD", "largest request payload / response data, bytes"),
    ("RX_FIFO", "receive FIFO, bytes: the host's window of unanswered request bytes"),
    ("EVENT_FIFO", "output-event FIFO, events"),
    ("TIMEOUT_BITS", "idle bit times that end a frame cut short"),
    ("CLOCKS_PER_BIT", "UART divisor: system clocks per bit"),
)


#: What each learning parameter (``LEARN_FIELDS``) means, for its register's doc.
_LEARN_DOCS = {
    "learn": "1: learning on (a learn phase every tick, for learn-enabled neurons)",
    "p_plus": f"STDP potentiation probability p+, in 1/{PROB_ONE}",
    "p_minus": f"STDP depression probability p-, in 1/{PROB_ONE}",
    "p_grow": f"growth probability p_grow, in 1/{PROB_ONE}",
    "episode": "episode length E, ticks (0: no episodes); any write restarts the episode",
}
assert tuple(_LEARN_DOCS) == LEARN_FIELDS
#: The learning registers, in ``LEARN_LAYOUT`` order: register name -> field name.
LEARN_REGISTERS = {f.upper(): f for f in LEARN_FIELDS}
#: Largest value a WRITE_REG may put in a register (others: any 32-bit value).
REGISTER_MAX = {name: LEARN_MAX[f] for name, f in LEARN_REGISTERS.items()}


def registers(geometry: Geometry) -> tuple[Register, ...]:
    """The register map of a chip of ``geometry``; a register's address is its index."""
    regs = [Register(n, Access.RO, d) for n, d in IDENTITY]
    regs += [
        Register("SCRATCH", Access.RW, "free for the host (link tests)"),
        Register("PERIOD", Access.RW, "free-running tick period, clocks (set by RUN too)"),
        *(Register(n, Access.RW, _LEARN_DOCS[f]) for n, f in LEARN_REGISTERS.items()),
        Register("RUNNING", Access.RO, "1 while running free"),
        Register("TICK", Access.RO, "ticks completed since reset (32 bits)"),
        Register("PHASE", Access.RO, "episode phase of the next tick"),
        Register("LAST_TICK_CYCLES", Access.RO, "clocks of the last tick"),
        Register("EVENTS_PENDING", Access.RO, "output events waiting in the event FIFO"),
    ]
    regs += [Register(n, Access.RO, d) for n, d in LINK_COUNTERS]
    regs += [Register(n, Access.RO, f"chip counter {n.lower()}") for n in CHIP_COUNTERS]
    for i in range(len(geometry.levels)):
        regs.append(Register(f"CARRIED{i}", Access.RO, f"packets carried by level-{i} segments"))
    for i in range(len(geometry.levels)):
        regs.append(Register(f"STALLED{i}", Access.RO, f"stalled level-{i} segment clocks"))
    return tuple(regs)


#: Registers whose values are timing, not results: the golden model reads them as 0.
TIMING_REGISTERS = ("LAST_TICK_CYCLES", "STALLED")


def is_timing(name: str) -> bool:
    return name.rstrip("0123456789") in TIMING_REGISTERS


def register_map(geometry: Geometry) -> dict[str, int]:
    """Register name -> address."""
    return {r.name: i for i, r in enumerate(registers(geometry))}


# -- protocol ID ---------------------------------------------------------------


def _definition() -> str:
    """A canonical text of everything both ends must agree on."""
    regs = [(r.name, r.access.value) for r in registers(Geometry(levels=(1, 1)))]
    return json.dumps(
        {
            "framing": [FLAG, ESC, ESC_XOR, "crc16-ccitt-false", CRC_BYTES, MAX_PAYLOAD],
            "commands": {c.name: c.value for c in Command},
            "status": {s.name: s.value for s in Status},
            "args": {c.name: [(n, f.width) for n, f in ARGS[c]] for c in Command},
            "inject": [(n, f.width) for n, f in INJECT_EVENT],
            "units": {c.name: str(u) for c, u in UNIT.items()},
            "registers": regs,
            "register_max": REGISTER_MAX,
            "regions": {r.name: r.value for r in Region},
        },
        sort_keys=True,
    )


#: The ID word of this protocol: a bitstream reporting another ID speaks another protocol.
PROTOCOL_ID = binascii.crc32(_definition().encode())


@dataclass(frozen=True)
class LinkConfig:
    """Build-time parameters of the UART block, reported in the identity block."""

    clocks_per_bit: int = 104  # 12 MHz / 115200 baud
    rx_fifo: int = 1024
    event_fifo: int = 256
    timeout_bits: int = 1 << 16

    def __post_init__(self):
        if self.clocks_per_bit < 4:
            raise ValueError(f"LinkConfig.clocks_per_bit = {self.clocks_per_bit}: at least 4")
        for name in ("rx_fifo", "event_fifo"):
            v = getattr(self, name)
            if v < 4 or v & (v - 1):
                raise ValueError(f"LinkConfig.{name} = {v}: a power of two >= 4")
        if self.rx_fifo < 2 * (MAX_PAYLOAD + MAX_ARGS + 8):
            raise ValueError(f"LinkConfig.rx_fifo = {self.rx_fifo}: must hold a worst-case frame")
        if not 16 <= self.timeout_bits < 1 << 24:
            raise ValueError(f"LinkConfig.timeout_bits = {self.timeout_bits}: 16 .. 2**24 - 1")

    @classmethod
    def for_baud(cls, clock_hz: float, baud: int, **kw) -> LinkConfig:
        return cls(clocks_per_bit=round(clock_hz / baud), **kw)


@dataclass(frozen=True)
class Identity:
    """What IDENTIFY reports: protocol ID, geometry, link build parameters."""

    id: int
    geometry: Geometry
    max_payload: int
    link: LinkConfig

    def words(self) -> list[int]:
        g = self.geometry
        if len(g.levels) > MAX_LEVELS or max(g.levels) > 255:
            raise ValueError(f"levels {g.levels}: the link describes at most 4 levels of <= 255")
        levels = sum(b << (8 * i) for i, b in enumerate(g.levels))
        words = [self.id, levels]
        words += [getattr(g, f) for f in GEOMETRY_FIELDS if f != "levels"]
        link = self.link
        words += [self.max_payload, link.rx_fifo, link.event_fifo, link.timeout_bits]
        words += [link.clocks_per_bit]
        assert len(words) == len(IDENTITY)
        return words

    @classmethod
    def from_words(cls, words) -> Identity:
        """Decode an identity block; raises ValueError with a reason if it makes no sense."""
        if len(words) != len(IDENTITY):
            raise ValueError(f"identity block of {len(words)} words, expected {len(IDENTITY)}")
        w = dict(zip((n for n, _ in IDENTITY), words))
        levels = []
        for i in range(MAX_LEVELS):
            b = (w["LEVELS"] >> (8 * i)) & 0xFF
            if not b:
                break
            levels.append(b)
        fields = {f: w[f.upper()] for f in GEOMETRY_FIELDS if f != "levels"}
        g = Geometry(levels=tuple(levels), **fields)
        link = LinkConfig(
            clocks_per_bit=w["CLOCKS_PER_BIT"],
            rx_fifo=w["RX_FIFO"],
            event_fifo=w["EVENT_FIFO"],
            timeout_bits=w["TIMEOUT_BITS"],
        )
        return cls(id=w["ID"], geometry=g, max_payload=w["MAX_PAYLOAD"], link=link)


def identity(geometry: Geometry, link: LinkConfig) -> Identity:
    return Identity(id=PROTOCOL_ID, geometry=geometry, max_payload=MAX_PAYLOAD, link=link)


# -- framing -------------------------------------------------------------------


def crc16(data: bytes, crc: int = CRC_INIT) -> int:
    """CRC-16/CCITT-FALSE."""
    return binascii.crc_hqx(bytes(data), crc)


def stuff(body: bytes) -> bytes:
    """Byte-stuff a frame body (FLAG and ESC become ESC, byte ^ 0x20)."""
    out = bytearray()
    for b in body:
        if b in (FLAG, ESC):
            out += bytes((ESC, b ^ ESC_XOR))
        else:
            out.append(b)
    return bytes(out)


def frame(body: bytes) -> bytes:
    """A whole frame on the line: FLAG, stuffed body and CRC, FLAG."""
    body = bytes(body)
    return bytes((FLAG,)) + stuff(body + crc16(body).to_bytes(2, "big")) + bytes((FLAG,))


def request(cmd: Command, tag: int, args: dict | None = None, payload: bytes = b"") -> bytes:
    """The unstuffed body of a request (no CRC)."""
    layout = ARGS[Command(cmd)]
    raw = pack(layout, **(args or {})) if layout.size else 0
    return bytes((cmd, tag & 0xFF)) + raw.to_bytes(layout.size // 8, "little") + bytes(payload)


class Deframer:
    """Split a byte stream into frame bodies (unstuffed, CRC still attached).

    ``feed(data)`` returns a list of ``(body, escape_abort)`` for each frame
    completed by a FLAG; empty frames are skipped. Bytes before the first
    FLAG are ignored (``junk`` counts them).
    """

    def __init__(self):
        self.in_frame = False
        self.buf = bytearray()
        self.escaped = False
        self.aborted = False
        self.junk = 0

    def feed(self, chunk: bytes) -> list[tuple[bytes, bool]]:
        done = []
        for b in chunk:
            if b == FLAG:
                if self.in_frame and (self.buf or self.escaped or self.aborted):
                    done.append((bytes(self.buf), self.escaped or self.aborted))
                self.discard()
                self.in_frame = True
            elif not self.in_frame:
                self.junk += 1
            elif self.escaped:
                self.buf.append(b ^ ESC_XOR)
                self.escaped = False
            elif b == ESC:
                self.escaped = True
            else:
                self.buf.append(b)
        return done

    def discard(self):
        """Drop a partial frame (idle timeout): hunt for the next FLAG."""
        self.in_frame, self.buf, self.escaped, self.aborted = False, bytearray(), False, False


def protocol_markdown(geometry: Geometry | None = None) -> str:
    """The protocol page (docs/protocol.md), generated from this module."""
    g = geometry or Geometry(levels=(4, 4))
    lines = [
        "# The host link protocol",
        "",
        "Generated by `python -m spikeloom.protocol` from `spikeloom/protocol.py`;",
        "do not edit by hand.",
        "",
        __doc__.split("\n\n", 1)[1].strip(),
        "",
        f"Protocol ID: `0x{PROTOCOL_ID:08X}`. Largest payload: {MAX_PAYLOAD} bytes.",
        "",
        "## Commands",
        "",
        "| code | command | arguments (bytes) | payload unit | what it does |",
        "| ---: | --- | --- | --- | --- |",
    ]
    for c in Command:
        args = ", ".join(f"{n} ({f.width // 8})" for n, f in ARGS[c]) or "none"
        unit = UNIT.get(c, "")
        unit = "a word of the region" if unit == "mem" else (f"{unit} bytes" if unit else "none")
        doc = (Command.__doc__ and "") or ""
        lines.append(
            f"| 0x{c.value:02X} | {c.name} | {args} | {unit} | {_cell(COMMAND_TEXT[c])}{doc} |"
        )
    lines += ["", "INJECT events: core (2 bytes), axon (2 bytes).", "", "## Status codes", ""]
    lines += ["| code | status | meaning |", "| ---: | --- | --- |"]
    for s in Status:
        lines.append(f"| {s.value} | {s.name} | {_cell(STATUS_TEXT[s])} |")
    lines += ["", "## Memory regions (per core)", ""]
    lines += [
        "Words on the wire: the region's packed layout (`spikeloom/defs.py`),",
        "little-endian, zero-padded to whole bytes; the padding bits must be 0.",
        f"Sizes below for the example geometry levels={g.levels}, N={g.neurons},",
        f"A={g.axons}.",
        "",
        "| region | code | elements | bytes per word | layout |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for r in Region:
        lay = g.region_layout(r)
        fields = ", ".join(f"{n}[{f.offset}:{f.offset + f.width}]" for n, f in lay)
        lines.append(
            f"| {r.name} | {r.value} | {g.region_depth(r)} | {word_bytes(g, r)} | {fields} |"
        )
    lines += [
        "",
        f"Output events ({event_bytes(g)} bytes here): "
        + ", ".join(f"{n}[{f.offset}:{f.offset + f.width}]" for n, f in g.event_layout)
        + "; the tick stamp wraps at 2**tick_bits.",
        "",
        "## Registers (32 bits)",
        "",
        f"For levels={g.levels} (the CARRIED/STALLED block has one register per level).",
        "",
        "| address | name | access | values | meaning |",
        "| ---: | --- | --- | --- | --- |",
    ]
    for i, r in enumerate(registers(g)):
        top = REGISTER_MAX.get(r.name)
        values = f"0 .. {top}" if top is not None else ""
        lines.append(f"| {i} | {r.name} | {r.access.value} | {values} | {r.doc} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """``text`` in a Markdown table cell."""
    return text.replace("|", "\\|")


if __name__ == "__main__":  # pragma: no cover
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(description="Write the protocol page (docs/protocol.md).")
    ap.add_argument("out", nargs="?", type=Path, default=Path("docs/protocol.md"))
    out = ap.parse_args().out
    out.write_text(protocol_markdown())
    print(f"wrote {out}")
