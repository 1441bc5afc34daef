"""Benchmark the host link: upload efficiency, step round trip, configuration time, sim speed.

    python bench/uart.py [--steps 20]

Writes ``bench/results/uart.json`` and ``docs/results-uart.md``.

- ``upload_efficiency``: payload bytes per second / line bytes per second
  (baud / 10) for an upload of a whole crossbar, measured on the RTL
  (``bench/cocotb_bench_uart.py``) with a host that keeps the receive
  FIFO's window full. The simulation runs 4 clocks per bit: 3 Mbaud on a
  12 MHz clock, as on the iCEBreaker.
- ``step_roundtrip_s``: a one-tick STEP on a random 64-neuron network, from
  the request's first bit to the response's last, at 3 Mbaud and 12 MHz
  (RTL clocks / 12 MHz); no USB latency included.
- ``full_config_s_3mbaud``: the line bytes of every frame that loads the
  largest board geometry (16 cores x 256 neurons x 512 rows: 4096 neurons,
  2 M crossbar entries) divided by the line rate and the line utilisation
  measured in the upload above. Computed from the measurement, not a
  simulated upload of 2 M entries.
- ``sim_info_s``, ``sim_load_run_s``: wall time of ``spikeloom info --port
  sim`` and of ``spikeloom run --network NET --ticks 100 --port sim`` for a
  64-neuron network (the simulator already built; both commands start the
  simulator, as a user's would).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spikeloom import protocol as P
from spikeloom.defs import Geometry, Region
from spikeloom.sim.rtl import runner
from spikeloom.testing.jobs import run_job

ROOT = Path(__file__).resolve().parent.parent

RESULTS = ROOT / "bench" / "results" / "uart.json"
TABLE = ROOT / "docs" / "results-uart.md"
CLOCK_HZ = 12e6
BAUD = 3e6
#: The host's default simulation device (host/transport.py: SIM_GEOMETRY, SIM_LINK).
LARGEST = Geometry(levels=(4, 4), neurons=256, axons=256)


def sim_defaults():
    from spikeloom.host.transport import SIM_GEOMETRY, SIM_LINK

    return SIM_GEOMETRY, SIM_LINK


def measure_rtl(steps: int, seed: int = 5):
    """The cocotb measurement on the ``--port sim`` device's own build (built once, cached)."""
    from cocotb_tools.runner import get_runner

    from spikeloom.sim.rtl import bridge

    g, link = sim_defaults()
    simulator = "verilator"
    build_dir = Path((bridge.build_system(g, link, simulator) / "built").read_text())
    runner.tool_env()
    job = {"geometry": g.as_dict(), "link": dataclasses.asdict(link), "seed": seed, "steps": steps}
    simr, module = get_runner(simulator), "cocotb_bench_uart"
    verdict = run_job(simr, bridge.NAME, build_dir, module, ROOT / "bench", job, "bench")
    if not verdict["ok"]:
        raise SystemExit(f"uart benchmark failed: {verdict['message']}")
    return verdict


def full_config_line_bytes(g: Geometry) -> tuple[int, int]:
    """(payload bytes, line bytes) of the frames that load every region of ``g``.

    Words are all-zero here except that the count is what matters: stuffing
    depends on the data, so random words are used for the crossbar.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    payload = line = 0
    for region in (Region.CROSSBAR, Region.PARAMS, Region.ROUTES, Region.STATE):
        wb = P.word_bytes(g, region)
        per = P.MAX_PAYLOAD // wb
        depth = g.region_depth(region)
        size = g.region_layout(region).size
        for i in range(0, depth, per):
            n = min(per, depth - i)
            words = rng.integers(0, 1 << min(size, 62), n)
            data = b"".join(int(w).to_bytes(wb, "little") for w in words)
            args = dict(core=0, region=region, index=i)
            line += len(P.frame(P.request(P.Command.WRITE_MEM, 0, args, data)))
            payload += len(data)
    return payload * g.cores, line * g.cores


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - t


def measure_cli(seed: int = 5):
    from spikeloom.host.netfile import save_network
    from spikeloom.sim.rtl.bridge import build_system, default_simulator
    from spikeloom.testing.stimulus import random_network

    g, link = sim_defaults()
    build_system(g, link, default_simulator())  # a user's second run: built already
    exe = [sys.executable, "-c", "from spikeloom.host.cli import main; main()"]
    with tempfile.TemporaryDirectory() as tmp:
        net = Path(tmp) / "net.toml"
        save_network(random_network(g, seed), net)
        info = wall(exe + ["info", "--port", "sim"])
        run = wall(
            exe
            + ["-q", "run", "--network", str(net), "--ticks", "100", "--port", "sim"]
            + ["--out", str(Path(tmp) / "out.csv")]
        )
    return info, run


def write_table(res: dict):
    lines = [
        "# Host link (UART) results",
        "",
        "Generated by `python bench/uart.py` from `bench/results/uart.json`.",
        "",
        "| figure | value | how |",
        "| --- | ---: | --- |",
        f"| upload efficiency (payload / line rate) | {res['upload_efficiency']:.3f} | "
        f"RTL, {res['upload_frames']} WRITE_MEM frames of {P.MAX_PAYLOAD} bytes, pipelined |",
        f"| line utilisation during the upload | {res['line_utilisation']:.3f} | "
        "line bytes / line rate |",
        f"| STEP 1 round trip at 3 Mbaud, 12 MHz | {res['step_roundtrip_s'] * 1e6:.1f} µs | "
        "RTL, request's first bit to response's last, no USB latency |",
        f"| full configuration of {LARGEST.cores} x {LARGEST.neurons} neurons "
        f"({LARGEST.cores * LARGEST.rows * LARGEST.neurons / 1e6:.1f} M entries) at 3 Mbaud | "
        f"{res['full_config_s_3mbaud']:.1f} s | {res['full_config_line_bytes'] / 1e6:.2f} MB "
        "on the line / (line rate x utilisation) |",
        f"| `spikeloom info --port sim` | {res['sim_info_s']:.2f} s | wall time, built |",
        f"| load + run 100 ticks, 64 neurons, `--port sim` | {res['sim_load_run_s']:.2f} s | "
        "wall time, built |",
        "",
        f"Measured on {res['machine']}.",
        "",
    ]
    TABLE.write_text("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out", type=Path, help="write the JSON and the table here instead")
    args = ap.parse_args(argv)
    if args.out:  # the suite's quick run leaves the committed results alone
        global RESULTS, TABLE
        args.out.mkdir(parents=True, exist_ok=True)
        RESULTS, TABLE = args.out / RESULTS.name, args.out / TABLE.name
    rtl = measure_rtl(args.steps)
    utilisation = rtl["upload_line_bytes"] / (rtl["upload_seconds_sim"] * rtl["baud_sim"] / 10)
    trips = rtl["step_roundtrip_clocks"]
    payload, line = full_config_line_bytes(LARGEST)
    info, run = measure_cli()
    res = {
        "upload_efficiency": rtl["upload_efficiency"],
        "line_utilisation": utilisation,
        "upload_frames": rtl["upload_frames"],
        "upload_payload_bytes": rtl["upload_payload_bytes"],
        "step_roundtrip_s": sum(trips) / len(trips) / CLOCK_HZ,
        "step_roundtrip_clocks": trips,
        "full_config_s_3mbaud": line / (BAUD / 10) / utilisation,
        "full_config_payload_bytes": payload,
        "full_config_line_bytes": line,
        "largest_geometry": LARGEST.as_dict(),
        "sim_info_s": info,
        "sim_load_run_s": run,
        "clock_hz": CLOCK_HZ,
        "baud": BAUD,
        "machine": f"{platform.machine()} {platform.python_implementation()} "
        f"{platform.python_version()}",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2) + "\n")
    write_table(res)
    print(json.dumps({k: v for k, v in res.items() if not isinstance(v, list)}, indent=2))


if __name__ == "__main__":
    main()
