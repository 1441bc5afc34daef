"""cocotb side of the simulation bridge (``sim/bridge.py``): a TCP socket on the UART pins.

Runs inside the simulator. Listens on 127.0.0.1 (an ephemeral port, written
to ``SPIKELOOM_BRIDGE_PORTFILE``), accepts one connection, and moves its
bytes through cocotbext-uart models onto ``rx`` and from ``tx`` back, so the
host's bytes cross the real UART block. The simulation advances while the
design has work (``active``) or bytes are on the line; otherwise it waits
for the host in real time, and every 50 ms of host silence counts as an
idle line of ``timeout_bits`` (so a frame left unfinished is timed out as
on a board). The test ends when the host closes the connection.
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
from cocotbext.uart import UartSink, UartSource

from spikeloom.defs import Geometry
from spikeloom.protocol import LinkConfig

CLOCK_NS = 10


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

    while True:
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
