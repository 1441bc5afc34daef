"""cocotb part of ``bench/uart.py``: line efficiency and step round trip, in RTL time.

The host side is idealised: the bytes are on the line as soon as the
window of ``rx_fifo`` unanswered bytes allows (no USB or OS latency), so
the figures are what the UART block and the protocol allow.

1. Upload: every crossbar word of core 0 in WRITE_MEM frames of
   ``MAX_PAYLOAD`` bytes, pipelined; from the first start bit to the last
   response byte. Efficiency = payload bytes / (elapsed time x line bytes
   per second, baud / 10).
2. Step round trip: STEP 1 on the loaded random network, from the first
   start bit of the request to the last bit of the response, over
   ``steps`` steps (each followed by READ_EVENTS to keep the FIFO empty).
Every response is checked against the golden model (``sim/uart.py``).
"""

import cocotb
from cocotb.triggers import Timer
from cocotb.utils import get_sim_time

from spikeloom import protocol as P
from spikeloom.defs import Region
from spikeloom.host import wire
from spikeloom.sim.rtl.cocotb_bridge import CLOCK_NS, start_system, stuck_clocks, system_job
from spikeloom.sim.uart import LinkModel
from spikeloom.testing import jobs
from spikeloom.testing.stimulus import random_network


@cocotb.test()
async def bench(dut):
    job = jobs.read_job()
    result = jobs.result_path()
    g, link = system_job(job)
    cpb = link.clocks_per_bit
    baud = 1e9 / (cpb * CLOCK_NS)
    model = LinkModel(g, link)
    source, sink = await start_system(dut, link)
    deframer = P.Deframer()
    got = []
    # Watchdog: no response byte for this long is a hang, not a slow answer.
    bound = stuck_clocks(g, link) * CLOCK_NS
    last = [get_sim_time("ns"), 0]

    def poll():
        now = get_sim_time("ns")
        if not sink.empty():
            got.extend(b for b, _ in deframer.feed(bytes(sink.read_nowait())))
        if len(got) != last[1] or not source.empty() or not source.idle():
            last[:] = [now, len(got)]
        elif now - last[0] > bound:
            raise AssertionError(
                f"watchdog: no response for {bound // CLOCK_NS} clocks ({len(got)} responses)"
            )

    async def exchange(frames, window):
        """Send frames pipelined within ``window`` unanswered bytes; wait for all answers."""
        expected = []
        inflight = []  # line bytes of unanswered requests
        start = len(got)
        for f in frames:
            expected += [b for b, _ in P.Deframer().feed(model.feed(f))]
            while sum(inflight[len(got) - start :]) + len(f) > window:
                poll()
                await Timer(10 * cpb * CLOCK_NS, unit="ns")
            inflight.append(len(f))
            await source.write(f)
        while len(got) - start < len(frames):
            poll()
            await Timer(10 * cpb * CLOCK_NS, unit="ns")
        for k, want in enumerate(expected):
            if got[start + k][:-2] != want[:-2] and want[0] != (P.Command.READ_REG | 0x80):
                raise AssertionError(f"response {k}: {got[start + k].hex()} != {want.hex()}")
        return got[start:]

    # 1. Upload of core 0's crossbar.
    net = random_network(g, job["seed"])
    uploads = []
    regions = (Region.CROSSBAR, Region.PARAMS, Region.ROUTES)
    for k, (args, payload) in enumerate(wire.network_writes(net, regions=regions)):
        body = P.request(P.Command.WRITE_MEM, k % 256, args, payload)
        uploads.append((args["region"], P.frame(body), len(payload)))
    xbar = [(f, n) for reg, f, n in uploads if reg == Region.CROSSBAR]
    t0 = get_sim_time("ns")
    await exchange([f for f, _ in xbar], link.rx_fifo)
    await Timer(1, unit="ns")
    elapsed = (get_sim_time("ns") - t0) * 1e-9
    payload = sum(n for _, n in xbar)
    line = sum(len(f) for f, _ in xbar)
    efficiency = payload / (elapsed * baud / 10)
    await exchange([f for reg, f, _ in uploads if reg != Region.CROSSBAR], link.rx_fifo)

    # 2. STEP 1 round trips (with the READ_EVENTS a host sends after each).
    trips = []
    for t in range(job["steps"]):
        step = P.frame(P.request(P.Command.STEP, t, dict(ticks=1)))
        t0 = get_sim_time("ns")
        await exchange([step], link.rx_fifo)
        trips.append((get_sim_time("ns") - t0) * 1e-9)
        await exchange([P.frame(P.request(P.Command.READ_EVENTS, t, dict(max=64)))], link.rx_fifo)
    jobs.write_verdict(
        result,
        **{
            "upload_payload_bytes": payload,
            "upload_line_bytes": line,
            "upload_frames": len(xbar),
            "upload_seconds_sim": elapsed,
            "baud_sim": baud,
            "upload_efficiency": efficiency,
            "step_roundtrip_clocks": [t * 1e9 / CLOCK_NS for t in trips],
        },
    )
