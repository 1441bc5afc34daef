"""The UART block in RTL against its golden model: fuzzing on the real pins.

``tests/cocotb_uart.py`` sends malformed frames (10,000 on Verilator in two
seeds of 5,000; 200 on Icarus) interleaved with valid requests, line breaks
and idle gaps in mid-frame, and checks every response byte for byte against
``sim/uart.py``, that nothing hangs, and that memories hold exactly what the
valid writes put there; a directed sequence first checks the learning
registers, PHASE, SEED and their strobes to the chip.
Replay a failure with ``SPIKELOOM_SEED=<seed> pytest tests/test_uart.py``;
``SPIKELOOM_VOLUME`` multiplies the items.
"""

import dataclasses
import os

import pytest

from spikeloom.protocol import LinkConfig
from spikeloom.testing.crosscheck import UART_GEOMETRY as G
from spikeloom.testing.crosscheck import UART_LINK as LINK
from spikeloom.testing.crosscheck import uart_design

from conftest import SIMULATORS, VOLUME

#: Malformed items per simulator (valid requests come on top, about 3 in 10).
ITEMS = {"verilator": 10_000, "icarus": 200}


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("part", [0, 1])
def test_uart_fuzz(design, simulator, part):
    # Two seeds of half the items each, so parallel workers share the work.
    seed = int(os.environ.get("SPIKELOOM_SEED", 7100 + part))
    items = ITEMS[simulator] // 2 * VOLUME  # SPIKELOOM_VOLUME=10: a deep nightly run
    if "SPIKELOOM_ITEMS" in os.environ:
        items = int(os.environ["SPIKELOOM_ITEMS"])
    # -O2: millions of clocks with little Python per clock (5x faster than -O0).
    built = uart_design(design, simulator, opt="-O2")
    job = {
        "geometry": G.as_dict(),
        "link": dataclasses.asdict(LINK),
        "seed": seed,
        "items": items,
    }
    verdict = built.run("cocotb_uart", job, f"fuzz{seed}")
    assert verdict["ok"], f"seed {seed}: {verdict['message']}"
    assert verdict["cocotb_failed"] == 0 and verdict["cocotb_tests"] == 1
    assert verdict["malformed"] >= items and verdict["items"] > verdict["malformed"]
    # The directed learning sequence's SEEDs and EPISODE writes at least.
    assert verdict["seeds"] >= 2 and verdict["restarts"] >= 4
    if simulator != "verilator":
        return  # a short run: agreement with the golden model is the whole check
    kinds = verdict["kinds"]
    # Every kind of malformed input was actually sent, and the errors came back.
    for kind in (
        "bad-request",
        "bad-crc",
        "truncated",
        "short",
        "escape-abort",
        "junk",
        "break",
        "idle",
    ):
        assert kinds.get(kind, 0) > 0, (kind, kinds)
    for status in (
        "OK",
        "BAD_CRC",
        "BAD_FRAME",
        "BAD_COMMAND",
        "BAD_LENGTH",
        "BAD_ADDRESS",
        "TOO_LONG",
    ):
        assert verdict["statuses"].get(status, 0) > 0, (status, verdict["statuses"])
    assert verdict["timeouts"] > 0 and verdict["framing_errors"] > 0
    assert verdict["events"] > 0


@pytest.mark.parametrize("clock_mhz", [4, 36, 48, 100, 250])
def test_line_at_fast_clocks(clock_mhz):
    """The line PHY at 1 Mbaud for core clocks up to 250 MHz, with the far end 2 % off."""
    from amaranth.hdl import Module
    from amaranth.sim import Simulator

    from spikeloom.hdl.uart_phy import UartRx, UartTx

    cpb = LinkConfig.for_baud(clock_mhz * 1e6, 1_000_000).clocks_per_bit
    assert cpb == clock_mhz
    m = Module()
    m.submodules.tx = tx = UartTx(max(4, round(cpb * 1.02)))
    m.submodules.rx = rx = UartRx(cpb)
    m.d.comb += rx.rx.eq(tx.tx)
    sent = [0x00, 0xFF, 0x7E, 0x7D, 0x55, 0xA3]
    got = []

    async def bench(ctx):
        for byte in sent:
            ctx.set(tx.data.payload, byte)
            ctx.set(tx.data.valid, 1)
            await ctx.tick().until(tx.data.ready)
            ctx.set(tx.data.valid, 0)
            await ctx.tick()
        await ctx.tick().repeat(12 * cpb)

    async def watch(ctx):
        async for _, _, valid, data, err in ctx.tick().sample(rx.valid, rx.data, rx.framing_error):
            assert not err
            if valid:
                got.append(data)

    sim = Simulator(m)
    sim.add_clock(1e-6 / clock_mhz)
    sim.add_testbench(bench)
    sim.add_process(watch)
    sim.run_until(12 * 10 * cpb * len(sent) * 1e-6 / clock_mhz * 2)
    assert got == sent
