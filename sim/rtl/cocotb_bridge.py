"""cocotb side of the simulation bridge (``sim/rtl/bridge.py``): a TCP socket on the UART pins.

Runs inside the simulator. Listens on 127.0.0.1 (an ephemeral port, written
to ``SPIKELOOM_BRIDGE_PORTFILE``), accepts one connection, and moves its
bytes through cocotbext-uart models onto ``rx`` and from ``tx`` back, so the
host's bytes cross the real UART block. The simulation advances while the
design has work (``active``) or bytes are on the line; otherwise it waits
for the host in real time, and every 50 ms of host silence counts as an
idle line of ``timeout_bits`` (so a frame left unfinished is timed out as
on a board). The test ends when the host closes the connection, or, as a
watchdog, when the design stays ``active`` for ``stuck_clocks`` with no
byte on either line and no tick completed (a hang: the bridge closes the
connection, so the host fails with an error instead of waiting).
"""

import json
import logging
import os
import select
import socket
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Timer
from cocotb.utils import get_sim_time
from cocotbext.uart import UartSink, UartSource

from spikeloom.defs import Geometry
from spikeloom.protocol import LinkConfig

CLOCK_NS = 10


def stuck_clocks(g: Geometry, link: LinkConfig) -> int:
    """Clocks the system may be ``active`` with nothing to show (a watchdog bound).

    The slowest tick (every row active, every neuron spiking, learning:
    ``hdl/core.tick_cycles`` and ``hdl/learning.learn_cycles``), every event
    of it over every bus hop, and two maximal frames on the line, generously.
    """
    from spikeloom.hdl.core import tick_cycles
    from spikeloom.hdl.learning import learn_cycles
    from spikeloom.protocol import MAX_PAYLOAD

    tick = tick_cycles(g, g.rows, [1] * g.neurons) + learn_cycles(g, g.neurons, g.rows)
    events = g.cores * (g.neurons * (g.fanout + 1) + g.axons)
    frames = 2 * 10 * link.clocks_per_bit * (2 * MAX_PAYLOAD + 64)
    return 4 * (tick + events * (2 * len(g.levels) + 1) + frames) + 10_000


#: The watchdog's bound when the bridge is not told the geometry, clocks.
STUCK_DEFAULT = 4_000_000


def chip_tick(dut):
    """The chip's tick counter inside ``System``, or None where it is not visible."""
    try:
        return dut.chip.tick.value.to_unsigned()
    except (AttributeError, ValueError):
        return None


def system_job(job: dict) -> tuple[Geometry, LinkConfig]:
    """The geometry and link of a job description (JSON of ``as_dict`` / ``asdict``)."""
    g = dict(job["geometry"])
    g["levels"] = tuple(g["levels"])
    return Geometry(**g), LinkConfig(**job["link"])


async def start_system(dut, link: LinkConfig) -> tuple[UartSource, UartSink]:
    """Clock and reset ``hdl/system.System``; returns quiet UART models on its pins.

    Shared by this bridge, the UART fuzz (``tests/cocotb_uart.py``) and the
    UART benchmark (``bench/cocotb_bench_uart.py``).
    """
    baud = 1e9 / (link.clocks_per_bit * CLOCK_NS)
    dut.rx.value = 1
    dut.rst.value = 1
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)
    source = UartSource(dut.rx, baud=baud, bits=8)
    sink = UartSink(dut.tx, baud=baud, bits=8)
    for uart in (source, sink):
        uart.log.setLevel(logging.WARNING)  # a log line per byte costs more than the byte
    return source, sink


@cocotb.test()
async def bridge(dut):
    cfg = json.loads(os.environ["SPIKELOOM_BRIDGE"])
    link = LinkConfig(**{k: cfg[k] for k in LinkConfig.__dataclass_fields__})
    cpb, timeout_bits = link.clocks_per_bit, link.timeout_bits
    source, sink = await start_system(dut, link)

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    portfile = Path(os.environ["SPIKELOOM_BRIDGE_PORTFILE"])
    tmp = portfile.with_suffix(".tmp")
    tmp.write_text(str(server.getsockname()[1]))
    tmp.rename(portfile)  # atomically: the launcher never reads half a number
    server.settimeout(cfg.get("accept_timeout", 120))
    try:
        conn, _ = server.accept()
    except TimeoutError:
        dut._log.error("no host connected")
        return
    conn.setblocking(False)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if "geometry" in cfg:
        g = Geometry(**{**cfg["geometry"], "levels": tuple(cfg["geometry"]["levels"])})
        bound = stuck_clocks(g, link) * CLOCK_NS
    else:  # the launcher did not say: a bound for any chip that fits an FPGA
        bound = STUCK_DEFAULT * CLOCK_NS
    progress = (get_sim_time("ns"), chip_tick(dut))

    while True:
        now, tick = get_sim_time("ns"), chip_tick(dut)
        if not source.empty() or not source.idle() or not sink.empty() or tick != progress[1]:
            progress = (now, tick)
        elif dut.active.value and now - progress[0] > bound:
            dut._log.error(
                f"watchdog: active for {bound // CLOCK_NS} clocks with no byte and no tick "
                f"(tick {tick}): the design hangs"
            )
            break
        readable, _, _ = select.select([conn], [], [], 0)
        if readable:
            data = conn.recv(1 << 16)
            if not data:
                break  # the host hung up
            source.write_nowait(data)
        if not sink.empty():
            conn.setblocking(True)
            conn.sendall(bytes(sink.read_nowait(sink.count())))
            conn.setblocking(False)
        if not source.empty() or not source.idle():
            await Timer(10 * cpb * CLOCK_NS * max(1, min(source.count(), 64)), unit="ns")
        elif dut.active.value or not sink.idle():
            await Timer(256 * CLOCK_NS, unit="ns")  # ClockCycles wakes Python per edge
        else:
            readable, _, _ = select.select([conn], [], [], 0.05)
            if not readable:
                # 50 ms of silence: the line has been idle for a timeout.
                await Timer((timeout_bits + 16) * cpb * CLOCK_NS, unit="ns")
    conn.close()
    server.close()
