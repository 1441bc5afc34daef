"""cocotb fuzz test of the UART block (``hdl/uart.py`` in ``hdl/system.System``).

``SPIKELOOM_JOB``: geometry, link parameters, seed, and how many malformed
items to send (about 30 % more items are valid requests among them). The
bytes go through cocotbext-uart models on the real ``rx``/``tx`` pins. The
reference is the link's golden model (``sim/uart.py``), fed the same bytes
and told about the same idle gaps and breaks.

Items, drawn from the seed: valid requests of every kind (but RUN), and
malformed ones: bad CRC, truncated frames, unknown commands, arguments cut
short, payloads of the wrong length, counts of 0 or too large, addresses,
cores, regions, registers and events out of range, read-only registers,
register values over their maximum, word padding bits set, frames too
long, frames of 1–3 bytes, ESC before FLAG, random bytes, breaks in
mid-frame and idle gaps in mid-frame. Up to six items go back to back in
one burst (the host's window allows it). Valid writes keep LEARN at 0:
learning would change the crossbar (that is tests/test_learning*.py's
business), while the probabilities, EPISODE and the PHASE counter are in
play.

Before the fuzz, a directed sequence checks the learning part of the link
on its own terms (not only against the model): the learning registers read
back, PHASE counts ticks modulo EPISODE and restarts on every write of
EPISODE, values over the maximum are refused with nothing written, SEED
refuses a core that does not exist, and RESET zeroes PHASE but keeps the
registers.

Every stored counter (TICK, the link counters and the chip counters but
the timing ones and HOST_DROPPED) starts 1 to 3 counts short of 2**32
(written into the register RAM and the model), so the run carries them
through the wrap.

Checked: every response of the RTL equals the golden model's, byte for
byte (output events compared as multisets, since the RTL interleaves
cores); the timing registers, which the model does not keep, against the
testbench's own counts instead: LAST_TICK_CYCLES against the clocks from
the chip's tick_start to the end of its busy (``TickReference``), each
STALLED against the stalls seen on the bus segments' input handshakes
(``spikeloom.testing.tb.StallReference``), both read after ticks in a directed step
and with every register at the end; every malformed item got an error status or
was discarded and counted (TIMEOUTS); no item hangs the block (every wait
is bounded: a burst by its line time and ``stuck_clocks`` per tick, a send
by twice its line time; a watchdog fails with the seed and what it waited
for); at the end every memory, read back through the
link, equals a shadow kept by this test from the valid writes alone; and
the UART block's strobes to the chip match the requests answered OK: one
one-clock ``seed_we`` per SEED, with its core and seed, and one
``episode_restart`` per WRITE_REG of EPISODE.
"""

import struct

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, SimTimeoutError, Timer, with_timeout
from cocotb.utils import get_sim_time

from spikeloom import protocol as P
from spikeloom.defs import Geometry, Region
from spikeloom.host import wire
from spikeloom.sim.rtl.cocotb_bridge import CLOCK_NS, start_system, stuck_clocks, system_job
from spikeloom.sim.uart import LinkModel
from spikeloom.testing import jobs
from spikeloom.testing.stimulus import random_network
from spikeloom.testing.tb import StallReference, fail

C, S = P.Command, P.Status
#: The regions loaded through the link and read back at the end.
LOADED = (Region.CROSSBAR, Region.PARAMS, Region.ROUTES)


class Recording(LinkModel):
    """The golden model, remembering the request body behind each response."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.requests = []

    def _respond(self, body, aborted):
        self.requests.append(body)
        return super()._respond(body, aborted)


def framed(body: bytes) -> bytes:
    return P.frame(body)


class Fuzzer:
    """Draws items: (kind, parts). ``parts`` is a list of bytes and markers
    ("break", "idle") sent in order."""

    def __init__(self, g: Geometry, rng, model: Recording):
        self.g, self.rng, self.model = g, rng, model
        self.regs = P.registers(g)
        self.rw = [i for i, r in enumerate(self.regs) if r.access == P.Access.RW]
        self.ro = [i for i, r in enumerate(self.regs) if r.access == P.Access.RO]
        #: Largest value of each read-write register a valid write may put there.
        self.top = [P.REGISTER_MAX.get(r.name, (1 << 32) - 1) for r in self.regs]
        self.top[P.register_map(g)["LEARN"]] = 0  # learning stays off (module docstring)
        self.limited = [i for i in self.rw if self.regs[i].name in P.REGISTER_MAX]

    def r(self, lo, hi):
        """An integer in lo..hi inclusive."""
        return int(self.rng.integers(lo, hi + 1))

    def tag(self):
        return self.r(0, 255)

    def region(self):
        return Region(self.r(0, len(Region) - 1))

    def mem_words(self, region, n):
        size = self.g.region_layout(region).size
        return [int(self.rng.integers(0, 1 << min(size, 62))) for _ in range(n)]

    def body(self, cmd, args=None, payload=b""):
        return P.request(cmd, self.tag(), args, payload)

    # -- valid requests ---------------------------------------------------

    def small(self, hi):
        """A count: mostly 1..8 (line time is the fuzz's cost), sometimes up to ``hi``."""
        return self.r(1, hi if self.r(0, 9) == 0 else min(8, hi))

    def valid(self):
        g, r = self.g, self.r
        k = r(0, 99)
        if k < 5:
            return self.body(C.IDENTIFY)
        if k < 15:
            addr = r(0, len(self.regs) - 1)
            return self.body(
                C.READ_REG, dict(addr=addr, count=self.small(min(64, len(self.regs) - addr)))
            )
        if k < 22:
            addr = self.rw[r(0, len(self.rw) - 1)]
            n = r(1, self.rw[-1] - addr + 1)
            vals = self.reg_values(addr, n)
            return self.body(C.WRITE_REG, dict(addr=addr), _u32s(vals))
        if k < 40:
            reg = self.region()
            wb, depth = P.word_bytes(g, reg), g.region_depth(reg)
            count = self.small(min(P.MAX_PAYLOAD // wb, depth))
            args = dict(core=r(0, g.cores - 1), region=reg, index=r(0, depth - count), count=count)
            return self.body(C.READ_MEM, args)
        if k < 55:
            reg = Region(self.r(0, len(Region) - 1))
            wb, depth = P.word_bytes(g, reg), g.region_depth(reg)
            n = self.small(min(P.MAX_PAYLOAD // wb, depth))
            words = self.mem_words(reg, n)
            args = dict(core=r(0, g.cores - 1), region=reg, index=r(0, depth - n))
            return self.body(C.WRITE_MEM, args, b"".join(w.to_bytes(wb, "little") for w in words))
        if k < 70:
            n = self.small(P.MAX_PAYLOAD // 4)
            ev = b"".join(
                r(0, g.cores - 1).to_bytes(2, "little") + r(0, g.axons - 1).to_bytes(2, "little")
                for _ in range(n)
            )
            return self.body(C.INJECT, None, ev)
        if k < 82:
            return self.body(C.STEP, dict(ticks=r(0, 3)))
        if k < 96:
            return self.body(C.READ_EVENTS, dict(max=r(1, 80)))
        if k < 98:
            seed = 0 if r(0, 3) == 0 else int(self.rng.integers(0, 1 << 32))
            return self.body(C.SEED, dict(core=r(0, g.cores - 1), seed=seed))
        if k < 99:
            return self.body(C.STOP)
        return self.body(C.RESET)

    def reg_values(self, addr, n):
        """Valid values for registers ``addr`` .. ``addr + n - 1``, edges likely."""
        out = []
        for i in range(addr, addr + n):
            top = self.top[i]
            v = int(self.rng.integers(0, top + 1))
            out.append([v, 0, top][self.r(0, 2)] if top < 1 << 20 else v)
        return out

    def over_max(self):
        """A WRITE_REG with one value over its register's maximum (and LEARN maybe 1)."""
        i = self.limited[self.r(0, len(self.limited) - 1)]
        addr = self.r(self.rw[0], i)
        n = self.r(i - addr + 1, self.rw[-1] - addr + 1)
        vals = self.reg_values(addr, n)
        learn = P.register_map(self.g)["LEARN"]
        if addr <= learn < addr + n:
            vals[learn - addr] = self.r(0, 1)
        top = P.REGISTER_MAX[self.regs[i].name]
        vals[i - addr] = [top + 1, 0xFFFF_FFFF, self.r(top + 1, 0xFFFF_FFFF)][self.r(0, 2)]
        return self.body(C.WRITE_REG, dict(addr=addr), _u32s(vals))

    # -- malformed requests -----------------------------------------------------

    def bad_body(self):
        """A frame body with a good CRC but a bad request in it."""
        g, r = self.g, self.r
        nregs = len(self.regs)
        choices = [
            lambda: (
                bytes((self.unknown_cmd(), self.tag()))
                + bytes(self.rng.integers(0, 256, r(0, 12), dtype=np.uint8))
            ),
            lambda: self.cut_args(),
            lambda: self.body(self.no_unit_cmd(), self.no_unit_args()) + b"\x00" * r(1, 5),
            lambda: self.body(C.WRITE_REG, dict(addr=self.rw[0]), b"\x00" * r(1, 3)),
            lambda: self.body(C.INJECT, None, b"\x00" * (4 * r(0, 3) + r(1, 3))),
            lambda: self.body(C.READ_REG, dict(addr=r(0, nregs - 1), count=0)),
            lambda: self.body(C.READ_REG, dict(addr=0, count=r(65, 0xFFFF))),
            lambda: self.body(C.READ_REG, dict(addr=r(nregs - 3, 0xFFFF), count=r(4, 64))),
            lambda: self.body(
                C.WRITE_REG, dict(addr=self.ro[r(0, len(self.ro) - 1)]), b"\x01\x00\x00\x00"
            ),
            lambda: self.body(C.WRITE_REG, dict(addr=self.rw[-1]), b"\x00" * 8),
            lambda: self.body(C.WRITE_REG, dict(addr=r(nregs, 0xFFFF)), b"\x00" * 4),
            lambda: self.over_max(),
            lambda: self.body(
                C.SEED, dict(core=r(g.cores, 0xFFFF), seed=int(self.rng.integers(0, 1 << 32)))
            ),
            lambda: self.mem_bad(),
            lambda: self.body(C.READ_EVENTS, dict(max=0)),
            lambda: self.body(
                C.INJECT,
                None,
                r(g.cores, 0xFFFF).to_bytes(2, "little") + r(0, g.axons - 1).to_bytes(2, "little"),
            ),
            lambda: self.body(
                C.INJECT,
                None,
                b"\x00\x00\x00\x00"
                + r(0, g.cores - 1).to_bytes(2, "little")
                + r(g.axons, 0xFFFF).to_bytes(2, "little"),
            ),
            lambda: self.body(
                C.WRITE_MEM, dict(core=0, region=0, index=0), b"\x00" * r(P.MAX_PAYLOAD + 1, 262)
            ),
            lambda: bytes(
                self.rng.integers(0, 256, r(P.MAX_FRAME - 1, P.MAX_FRAME + 40), np.uint8)
            ),
        ]
        return choices[r(0, len(choices) - 1)]()

    def unknown_cmd(self):
        while True:
            c = self.r(0, 255)
            if c not in set(C):
                return c

    def no_unit_cmd(self):
        cmds = [c for c in C if c not in P.UNIT and c != C.RUN]
        return cmds[self.r(0, len(cmds) - 1)]

    def no_unit_args(self):
        return {}

    def cut_args(self):
        cmds = [c for c in C if P.ARGS[c].size]
        c = cmds[self.r(0, len(cmds) - 1)]
        full = self.body(c, {})
        return full[: self.r(2, len(full) - 1)]

    def mem_bad(self):
        g, r = self.g, self.r
        reg = self.region()
        wb, depth, size = P.word_bytes(g, reg), g.region_depth(reg), g.region_layout(reg).size
        k = r(0, 6)
        core = r(0, g.cores - 1)
        if k == 0:
            return self.body(
                C.READ_MEM, dict(core=r(g.cores, 0xFFFF), region=reg, index=0, count=1)
            )
        if k == 1:
            return self.body(C.READ_MEM, dict(core=core, region=r(4, 255), index=0, count=1))
        if k == 2:
            return self.body(C.READ_MEM, dict(core=core, region=reg, index=0, count=0))
        if k == 3:
            count = P.MAX_PAYLOAD // wb + r(1, 5)
            return self.body(C.READ_MEM, dict(core=core, region=reg, index=0, count=count))
        if k == 4:
            count = r(1, min(8, depth))
            idx = r(depth - count + 1, depth + 5)
            return self.body(C.READ_MEM, dict(core=core, region=reg, index=idx, count=count))
        if k == 5:
            n = r(1, 4)
            idx = r(depth - n + 1, depth + 5)
            return self.body(
                C.WRITE_MEM, dict(core=core, region=reg, index=idx), b"\x00" * (n * wb)
            )
        # padding bits set (or, if the layout fills its bytes, a ragged payload)
        n = r(1, 4)
        words = self.mem_words(reg, n)
        if size % 8:
            words[r(0, n - 1)] |= 1 << r(size, 8 * wb - 1)
            payload = b"".join(w.to_bytes(wb, "little") for w in words)
        else:
            payload = b"".join(w.to_bytes(wb, "little") for w in words) + b"\x00"
        return self.body(C.WRITE_MEM, dict(core=core, region=reg, index=0), payload)

    def item(self):
        """One item: (kind, parts)."""
        r = self.r
        k = r(0, 99)
        if k < 30:
            return "valid", [framed(self.valid())]
        if k < 45:
            return "bad-request", [framed(self.bad_body())]
        body = self.valid()
        raw = framed(body)
        if k < 67:  # bad CRC: a bit flipped in the body or the CRC
            crc = P.crc16(body).to_bytes(2, "big")
            whole = bytearray(body + crc)
            i = r(0, len(whole) - 1)
            whole[i] ^= 1 << r(0, 7)
            return "bad-crc", [bytes((P.FLAG,)) + P.stuff(bytes(whole)) + bytes((P.FLAG,))]
        if k < 74:  # truncated: no closing FLAG; the next frame's FLAG ends it
            return "truncated", [raw[: r(2, len(raw) - 1)]]
        if k < 78:
            return "short", [
                bytes((P.FLAG,)) + bytes(self.rng.integers(0, 0x7D, r(1, 3), np.uint8))
            ]
        if k < 82:  # ESC right before FLAG: an aborted frame
            return "escape-abort", [raw[: r(2, len(raw) - 1)] + bytes((P.ESC, P.FLAG))]
        if k < 90:
            return "junk", [self.junk()]
        if k < 95:
            cut = r(2, len(raw) - 2)
            return "break", [raw[:cut], "break", raw[cut:]]
        cut = r(2, len(raw) - 2)
        return "idle", [raw[:cut], "idle"]

    def junk(self):
        """Random bytes (FLAG and ESC likely) without any frame of a good CRC."""
        while True:
            data = bytes(
                self.rng.choice([P.FLAG, P.ESC, 0x00, 0x5E, 0x5D, 0xFF, 0x01, 0x42], 8).astype(
                    np.uint8
                )
            )
            data += bytes(self.rng.integers(0, 256, self.r(1, 40), np.uint8))
            if all(P.crc16(b) or len(b) < 4 for b, _ in P.Deframer().feed(b"\x7e" + data)):
                return data


class TickReference:
    """LAST_TICK_CYCLES as the chip should hold it, counted by the testbench.

    A tick lasts from the rising edge that samples the chip's ``tick_start``
    to the one after which its ``busy`` falls. Exact when the chip was idle
    with no event on the bus at the pulse (the tick starts on it: the cores
    see their start on the next clock); otherwise
    the start waited for host events in flight and the register reads less.
    0 after a soft reset. ``between(t0, t1)``: the (clocks, exact) entries
    in force at some time in ``t0`` .. ``t1`` (ns).
    """

    def __init__(self, dut):
        self.dut = dut
        self.history = [(0.0, 0, True)]
        cocotb.start_soon(self._ticks())
        cocotb.start_soon(self._resets())

    def between(self, t0, t1):
        before = [h for h in self.history if h[0] <= t0]
        return [before[-1][1:]] + [h[1:] for h in self.history if t0 < h[0] <= t1]

    async def _ticks(self):
        d = self.dut
        while True:
            await RisingEdge(d.chip__tick_start)
            sampled = get_sim_time("ns") + CLOCK_NS  # the edge that samples it
            # Exact if the tick starts on that edge: the cores see the start
            # on the clock after it (docs/semantics.md §8).
            await RisingEdge(d.clk)
            await ReadOnly()
            exact = bool(d.chip.core0.tick_start.value)
            await FallingEdge(d.chip__busy)
            now = get_sim_time("ns")
            self.history.append((now, round((now - sampled) / CLOCK_NS), exact))

    async def _resets(self):
        while True:
            await RisingEdge(self.dut.soft_reset)
            self.history.append((get_sim_time("ns") + CLOCK_NS / 2, 0, True))


class UartTB:
    def __init__(self, dut, g, link, result, seed):
        self.dut, self.g, self.link, self.result = dut, g, link, result
        self.cpb = link.clocks_per_bit
        self.seed = seed
        self.deframer = P.Deframer()
        self.got = []  # RTL response bodies
        #: Clocks a tick may take, or the system stay busy with nothing on the line.
        self.tick_bound = stuck_clocks(g, link)

    async def start(self):
        self.source, self.sink = await start_system(self.dut, self.link)
        d = self.dut
        self.stalls = StallReference(d.clk, d.chip.bus, self.g, [d.rst, d.soft_reset])
        self.ticks = TickReference(d)

    def hang(self, what):
        fail(self.result, f"seed {self.seed}: watchdog: {what}")

    async def send(self, data: bytes):
        """Bytes onto ``rx``; the line model must be done within twice their line time."""
        bound = 2 * (10 * len(data) + 20) * self.cpb * CLOCK_NS
        await self.source.write(data)
        try:
            await with_timeout(self.source.wait(), bound, "ns")
        except SimTimeoutError:
            self.hang(f"{len(data)} bytes not sent within {bound // CLOCK_NS} clocks")

    async def line_break(self, chars=2):
        self.dut.rx.value = 0
        await Timer(chars * 10 * self.cpb * CLOCK_NS, unit="ns")
        self.dut.rx.value = 1
        await Timer(2 * self.cpb * CLOCK_NS, unit="ns")

    async def idle(self):
        await Timer((self.link.timeout_bits + 16) * self.cpb * CLOCK_NS, unit="ns")

    async def collect(self, n, budget, what):
        """Wait until ``n`` responses have come in, or fail after ``budget`` clocks."""
        waited = 0
        while True:
            if not self.sink.empty():
                for body, aborted in self.deframer.feed(bytes(self.sink.read_nowait())):
                    self.got.append((body, aborted))
            if len(self.got) >= n and self.sink.idle() and not self.dut.active.value:
                break
            if waited > budget:
                self.hang(
                    f"{what}: hung: {len(self.got)} responses after {waited} clocks, expected {n}"
                )
            await Timer(64 * CLOCK_NS, unit="ns")  # one callback, not 64
            waited += 64
        if len(self.got) > n:
            fail(self.result, f"seed {self.seed}: {what}: {len(self.got)} responses, expected {n}")


def _u32s(values) -> bytes:
    return b"".join(int(v).to_bytes(4, "little") for v in values)


async def watch_strobes(dut, seeds: list, restarts: list):
    """Record the UART block's learning strobes to the chip (module docstring).

    ``seeds`` gets (core, seed, width_ok) per ``seed_we`` pulse, ``restarts``
    width_ok per ``episode_restart`` pulse; width_ok: low again one clock later.
    """
    link = dut.link

    async def watch(strobe, record, sample):
        while True:
            await RisingEdge(strobe)
            await ReadOnly()
            got = sample()
            await RisingEdge(dut.clk)
            await ReadOnly()
            record.append((*got, not strobe.value))

    cocotb.start_soon(
        watch(
            link.chip__seed_we,
            seeds,
            lambda: (int(link.chip__seed_core.value), int(link.chip__seed.value)),
        )
    )
    cocotb.start_soon(watch(link.chip__episode_restart, restarts, lambda: ()))


async def wrap_counters(dut, g, model, rng):
    """Start every stored counter 1 to 3 counts short of 2**32, in the RTL and the model.

    Written into the register file's byte RAM directly (``4 * address +
    byte``, ``hdl/uart_regs.py``) while the link is idle, so the run carries
    the counters through their wrap; the model wraps at 32 bits
    (docs/semantics.md §5) and every read of them is compared with it.
    """
    addr = P.register_map(g)
    mem = dut.link.regs.mem
    await FallingEdge(dut.clk)
    for name in [n for n, _ in P.LINK_COUNTERS] + ["TICK"]:
        value = (1 << 32) - int(rng.integers(1, 4))
        model.values[name] = value
        for b in range(4):
            mem[4 * addr[name] + b].value = (value >> (8 * b)) & 0xFF
    # The chip counters the model keeps (not HOST_DROPPED, which holds 0, nor
    # the timing counters): in the model's chip.
    chip = [n for n in P.CHIP_COUNTERS if n != "HOST_DROPPED"]
    chip += [f"CARRIED{i}" for i in range(len(g.levels))]
    for name in chip:
        value = (1 << 32) - int(rng.integers(1, 4))
        if name.startswith("CARRIED"):
            model.chip.counters["carried"][int(name[len("CARRIED") :])] = value
        else:
            model.chip.counters[name.lower()] = value
        for b in range(4):
            mem[4 * addr[name] + b].value = (value >> (8 * b)) & 0xFF


def mask_timing(regs, addr, data):
    """Zero the timing registers in READ_REG data from ``addr``."""
    words = [data[i : i + 4] for i in range(0, len(data), 4)]
    for i in range(len(words)):
        if addr + i < len(regs) and P.is_timing(regs[addr + i].name):
            words[i] = b"\x00\x00\x00\x00"
    return b"".join(words)


@cocotb.test()
async def fuzz(dut):
    job = jobs.read_job()
    result = jobs.result_path()
    g, link = system_job(job)
    seed, items = job["seed"], job["items"]
    rng = np.random.default_rng(seed)
    model = Recording(g, link)
    regs = P.registers(g)
    tb = UartTB(dut, g, link, result, seed)
    await tb.start()
    seeds, restarts = [], []
    await watch_strobes(dut, seeds, restarts)
    await wrap_counters(dut, g, model, np.random.default_rng([seed, 3]))
    fz = Fuzzer(g, rng, model)
    expected = []  # (request body, model response body)
    shadow = {}  # (core, region, index) -> word, from valid writes only
    events = {"rtl": [], "model": []}
    stats = {}

    def check_timing(addr, data, t0, what):
        """The timing registers in READ_REG data against the testbench's references."""
        t1 = get_sim_time("ns")
        for i in range(len(data) // 4):
            name = regs[addr + i].name if addr + i < len(regs) else ""
            got = int.from_bytes(data[4 * i : 4 * i + 4], "little")
            if name == "LAST_TICK_CYCLES":
                held = tb.ticks.between(t0, t1)
                ok = any(got == c if exact else 0 < got <= c for c, exact in held)
            elif P.is_timing(name):
                held = [c[int(name[len("STALLED") :])] for c in tb.stalls.between(t0, t1)]
                ok = got in held
            else:
                continue
            if not ok:
                fail(
                    result,
                    f"{what}: {name} read {got}, but the testbench counted {held} "
                    "(clocks, exact) from the tick's start pulse to the end of busy"
                    if name == "LAST_TICK_CYCLES"
                    else f"{what}: {name} read {got}, but the testbench counted {held} "
                    "from the segments' input handshakes (valid and not ready)",
                )

    def check_new(what, t0=0.0):
        """Compare the responses that came in with the model's (sent from time ``t0``)."""
        for k in range(check_new.done, len(tb.got)):
            req, want = expected[k]
            got, aborted = tb.got[k]
            if aborted or P.crc16(got) != 0:
                fail(result, f"{what}: response {k} is not a good frame: {got.hex()}")
            got, want = got[:-2], want[:-2]
            st = want[2] if len(want) > 2 else None
            cmd = req[0] if req else None
            if st == S.OK and cmd == C.READ_REG and len(got) == len(want):
                addr = int.from_bytes(req[2:4], "little")
                check_timing(addr, got[3:], t0, what)
                got = got[:3] + mask_timing(regs, addr, got[3:])
                want = want[:3] + mask_timing(regs, addr, want[3:])
            if st == S.OK and cmd == C.READ_EVENTS and len(got) == len(want):
                eb = P.event_bytes(g)
                events["rtl"] += [got[i : i + eb] for i in range(3, len(got), eb)]
                events["model"] += [want[i : i + eb] for i in range(3, len(want), eb)]
                got, want = got[:3], want[:3]
            if got != want:
                fail(
                    result,
                    f"{what}: response {k} differs from the golden model\n"
                    f"  request  {req.hex()}\n  expected {want.hex()}\n  got      {got.hex()}",
                )
        check_new.done = len(tb.got)

    check_new.done = 0

    async def run_parts(parts, what):
        t0 = get_sim_time("ns")
        data = bytearray()
        n0 = len(model.requests)
        out = bytearray()
        for p in parts:
            if p == "break":
                out += model.feed(bytes(data))
                await tb.send(bytes(data))
                data = bytearray()
                model.line_break(1)
                await tb.line_break()
            elif p == "idle":
                out += model.feed(bytes(data))
                await tb.send(bytes(data))
                data = bytearray()
                model.idle()
                await tb.idle()
            else:
                data += p
        out += model.feed(bytes(data))
        d = model.deframer
        if d.in_frame and (d.buf or d.escaped or d.aborted):
            # Never leave a frame open while waiting: the line would time it out.
            data += bytes((P.FLAG,))
            out += model.feed(bytes((P.FLAG,)))
        await tb.send(bytes(data))
        bodies = [b for b, _ in P.Deframer().feed(bytes(out))]
        new_reqs = model.requests[n0:]
        assert len(bodies) == len(new_reqs)
        expected.extend(zip(new_reqs, bodies))
        ticks = sum(
            int.from_bytes(q[2:6], "little")
            for q, b in zip(new_reqs, bodies)
            if q and q[0] == C.STEP and b[2] == S.OK
        )
        # Line time both ways (4x), the ticks and the system's own latency (stuck_clocks).
        line = 40 * len(data) * tb.cpb + 12 * tb.cpb * len(out)
        budget = line + (ticks + 1) * tb.tick_bound
        pending = "; ".join(f"{q.hex()} -> {b.hex()}" for q, b in expected[len(tb.got) :][:4])
        await tb.collect(len(expected), budget, f"{what} [waiting for: {pending}]")
        check_new(what, t0)
        return bodies

    async def request(cmd, args=None, payload=b""):
        """One request (checked against the model too); returns (status, data)."""
        body = P.request(cmd, 5, args, payload)
        (resp,) = await run_parts([framed(body)], f"seed {seed}: directed {cmd.name}")
        return resp[2], resp[3:-2]

    addr = P.register_map(g)

    async def read(name, n=1):
        st, data = await request(C.READ_REG, dict(addr=addr[name], count=n))
        return [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data), 4)]

    async def write(name, values):
        return (await request(C.WRITE_REG, dict(addr=addr[name]), _u32s(values)))[0]

    def expect(cond, what):
        if not cond:
            fail(result, f"seed {seed}: directed learning sequence: {what}")

    async def learning_link():
        """The directed sequence of the module docstring."""
        tops = list(P.REGISTER_MAX.values())
        cfg = [1, tops[1], 12345, 1, 3]  # LEARN 1 is harmless while no tick runs
        expect(await write("LEARN", cfg) == S.OK, "write LEARN..EPISODE")
        expect(await read("LEARN", len(cfg)) == cfg, "LEARN..EPISODE read back")
        cfg[0] = 0
        expect(await write("LEARN", [0]) == S.OK, "LEARN 0")
        expect(await read("PHASE") == [0], "PHASE 0 after writing EPISODE")
        for want in (1, 2, 0, 1):  # ticks modulo EPISODE = 3
            expect((await request(C.STEP, dict(ticks=1)))[0] == S.OK, "STEP")
            expect(await read("PHASE") == [want], f"PHASE {want} after a tick")
        expect(await write("EPISODE", [3]) == S.OK, "EPISODE unchanged")
        expect(await read("PHASE") == [0], "PHASE restarted by writing EPISODE (unchanged)")
        await request(C.STEP, dict(ticks=2))
        expect(await read("PHASE") == [2], "PHASE 2 two ticks after the restart")
        before = [0xC0FFEE, 77] + cfg
        expect(await write("SCRATCH", before) == S.OK, "write SCRATCH..EPISODE")
        await request(C.STEP, dict(ticks=1))
        for i, name in enumerate(P.REGISTER_MAX):
            vals = [1, 2] + cfg
            vals[2 + i] = P.REGISTER_MAX[name] + 1
            st = await write("SCRATCH", vals)
            expect(st == S.BAD_ADDRESS, f"{name} over its maximum: status {st}")
            st = await write(name, [0xFFFF_FFFF])
            expect(st == S.BAD_ADDRESS, f"{name} = 0xFFFFFFFF: status {st}")
        expect(await read("SCRATCH", len(before)) == before, "refused writes changed registers")
        expect(await read("PHASE") == [1], "refused writes restarted the episode")
        expect(await write("LEARN", [0, *tops[1:]]) == S.OK, "the maxima are accepted")
        expect(await read("LEARN", len(tops)) == [0, *tops[1:]], "maxima read back")
        cases = [(0, 0, S.OK), (g.cores - 1, 0xDEADBEEF, S.OK)]
        cases += [(g.cores, 1, S.BAD_ADDRESS), (0xFFFF, 1, S.BAD_ADDRESS)]
        for core, seed, want in cases:
            st = (await request(C.SEED, dict(core=core, seed=seed)))[0]
            expect(st == want, f"SEED core {core}: status {st}, expected {want}")
        await request(C.STEP, dict(ticks=2))
        expect(await read("PHASE") == [2], "PHASE 2 with EPISODE 65535")
        expect((await request(C.RESET))[0] == S.OK, "RESET")
        expect(await read("PHASE") == [0], "PHASE 0 after RESET")
        expect(await read("LEARN", len(tops)) == [0, *tops[1:]], "RESET kept the registers")

    # Load a random network through the link, so there is state to protect.
    net = random_network(g, seed)
    for args, payload in wire.network_writes(net, regions=LOADED):
        c, reg, i = args["core"], args["region"], args["index"]
        body = P.request(C.WRITE_MEM, 0, args, payload)
        await run_parts([framed(body)], f"seed {seed}: load core {c} {reg.name}")
        for j, w in enumerate(wire.words_of(g, reg, payload)):
            shadow[c, int(reg), i + j] = w

    await learning_link()
    # Host events and ticks, then the timing registers (check_timing compares them).
    ev = [(c, a) for c in range(g.cores) for a in range(0, g.axons, 2)]
    await request(C.INJECT, None, b"".join(struct.pack("<HH", c, a) for c, a in ev))
    await request(C.STEP, dict(ticks=3))
    await read("LAST_TICK_CYCLES")
    await read("STALLED0", len(g.levels))

    timeouts_expected = 0
    done = malformed = 0
    while malformed < items:
        burst = []
        for _ in range(int(rng.integers(1, 7))):
            kind, parts = fz.item()
            burst.append((kind, parts))
            if any(p in ("break", "idle") for p in parts):
                break
        parts = [p for _, p2 in burst for p in p2]
        kinds = [k for k, _ in burst]
        n0 = len(expected)
        t0 = model.values["TIMEOUTS"]
        what = f"seed {seed}, items {done}..{done + len(burst) - 1} ({', '.join(kinds)})"
        bodies = await run_parts(parts, what)
        timeouts_expected += model.values["TIMEOUTS"] - t0
        # Independent of the model: the valid items' writes go to the shadow,
        # and a burst whose only frames were bad must have been refused.
        for req, resp in expected[n0:]:
            if resp[2] == S.OK and req[0] == C.WRITE_MEM:
                wb = P.word_bytes(g, req[4])
                core, reg, idx = (
                    int.from_bytes(req[2:4], "little"),
                    req[4],
                    int.from_bytes(req[5:9], "little"),
                )
                payload = req[9:-2]
                for j in range(len(payload) // wb):
                    shadow[core, reg, idx + j] = int.from_bytes(
                        payload[j * wb : (j + 1) * wb], "little"
                    )
            if resp[2] == S.OK and req[0] == C.RESET:
                pass
        if all(k != "valid" for k in kinds):
            oks = [b for b in bodies if b[2] == S.OK]
            if oks and "truncated" not in kinds:
                fail(
                    result, f"seed {seed}: {what}: a malformed item was answered OK: {oks[0].hex()}"
                )
        for k in kinds:
            stats[k] = stats.get(k, 0) + 1
        done += len(burst)
        malformed += sum(k != "valid" for k in kinds)

    # Every register once more: the counters after their wrap, the timing registers.
    await run_parts(
        [framed(P.request(C.READ_REG, 3, dict(addr=0, count=len(regs))))],
        f"seed {seed}: every register",
    )
    # Drain the events, then compare them as multisets.
    while True:
        body = P.request(C.READ_EVENTS, 1, dict(max=64))
        bodies = await run_parts([framed(body)], f"seed {seed}: drain events")
        if len(bodies[0]) <= 5:
            break
    if sorted(events["rtl"]) != sorted(events["model"]):
        fail(
            result,
            f"seed {seed}: output events differ: {len(events['rtl'])} vs {len(events['model'])}",
        )
    # Every memory read back through the link equals the shadow of valid writes.
    mismatches = 0
    for c in range(g.cores):
        for reg in LOADED:
            for args in wire.mem_reads(g, c, reg, 0, g.region_depth(reg), P.MAX_PAYLOAD):
                i = args["index"]
                body = P.request(C.READ_MEM, 2, args)
                what = f"seed {seed}: readback core {c} {reg.name}"
                (resp,) = await run_parts([framed(body)], what)
                words = wire.words_of(g, reg, resp[3:-2])
                if len(words) != args["count"]:
                    fail(result, f"{what}: {len(words)} words for {args['count']}")
                for j, w in enumerate(words):
                    if w != shadow.get((c, int(reg), i + j), 0):
                        mismatches += 1
                        if mismatches == 1:
                            first = (c, reg.name, i + j, w, shadow.get((c, int(reg), i + j), 0))
    if mismatches:
        fail(
            result,
            f"seed {seed}: {mismatches} memory words differ from the valid writes; first {first}",
        )
    # The strobes to the chip: one per request answered OK, one clock wide.
    want_seeds, want_restarts = [], 0
    episode = addr["EPISODE"]
    for req, resp in expected:
        if resp[2] != S.OK:
            continue
        if req[0] == C.SEED:
            a = int.from_bytes(req[2:8], "little")
            want_seeds.append(((a & 0xFFFF) % (1 << g.core_bits), a >> 16))
        if req[0] == C.WRITE_REG:
            first = int.from_bytes(req[2:4], "little")
            want_restarts += first <= episode < first + (len(req) - 6) // 4
    if [s[:2] for s in seeds] != want_seeds or not all(s[2] for s in seeds):
        fail(
            result,
            f"seed {seed}: seed strobes {seeds[:8]}... differ from the SEEDs {want_seeds[:8]}...",
        )
    if len(restarts) != want_restarts or not all(w for (w,) in restarts):
        fail(
            result,
            f"seed {seed}: {len(restarts)} episode restarts for {want_restarts} writes of EPISODE",
        )
    statuses = {}
    for _, resp in expected:
        name = S(resp[2]).name
        statuses[name] = statuses.get(name, 0) + 1
    jobs.write_verdict(
        result,
        **{
            "items": done,
            "malformed": malformed,
            "kinds": stats,
            "responses": len(expected),
            "statuses": statuses,
            "timeouts": int(model.values["TIMEOUTS"]),
            "timeouts_expected": timeouts_expected,
            "events": len(events["rtl"]),
            "framing_errors": int(model.values["FRAMING_ERRORS"]),
            "seeds": len(seeds),
            "restarts": len(restarts),
        },
    )
