"""Every command line of README.md, docs/host.md and docs/learning.md runs as written.

The commands come from the fenced ``sh``/``console`` blocks (``$ `` lines in
console blocks), and the README's ``python`` blocks run too. Each block runs
in a fresh directory holding a copy of ``examples/``, on ``--port golden``
(a board's ``/dev/ttyUSB1`` becomes ``golden``; ``spikeloom serve``'s port
7777 a free one). Not run: installing, the test suite and linters, and
``build``/``program`` (a board and minutes of place and route). The one
``--port sim`` command runs once, on the RTL simulator (slow: it may build).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "docs" / "host.md", ROOT / "docs" / "learning.md"]
BIN = Path(sys.executable).parent
SKIP = re.compile(r"^(pip |ruff |pytest|\.ci/|spikeloom (build|program)\b)")
FENCE = re.compile(r"^```(\w*)\s*$")


def blocks(path: Path):
    """(language, [lines]) of each fenced block of a markdown file."""
    lang, lines = None, []
    for line in path.read_text().splitlines():
        m = FENCE.match(line)
        if m and lang is None:
            lang, lines = m.group(1), []
        elif line.startswith("```") and lang is not None:
            yield lang, lines
            lang = None
        elif lang is not None:
            lines.append(line)


def commands(lang: str, lines: list[str]) -> list[str]:
    if lang == "console":
        lines = [ln[2:] for ln in lines if ln.startswith("$ ")]
    elif lang not in ("sh", "bash"):
        return []
    out = []
    for ln in lines:
        ln = re.sub(r"\s+#\s.*$", "", ln).strip()
        if ln and not ln.startswith("#"):
            out.append(ln)
    return out


def shell_blocks():
    """Blocks of runnable commands, each a test: (id, [commands])."""
    found = []
    for path in DOCS:
        for i, (lang, lines) in enumerate(blocks(path)):
            cmds = [c for c in commands(lang, lines) if not SKIP.match(c)]
            if cmds:
                found.append((f"{path.name}-{i}", cmds))
    return found


BLOCKS = shell_blocks()
SIM = [(name, c) for name, cmds in BLOCKS for c in cmds if "--port sim" in c]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def workdir(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("*.py"))
    return tmp_path


def run_block(cmds: list[str], cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SPIKELOOM_PORT"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    port = str(free_port())
    background = []
    try:
        for cmd in cmds:
            cmd = cmd.replace("/dev/ttyUSB1", "golden").replace(":7777", f":{port}")
            if cmd.startswith("export "):
                name, _, value = cmd[len("export ") :].partition("=")
                env[name] = value
                continue
            bg = cmd.endswith("&")
            argv = shlex.split(cmd.rstrip("&"))
            if bg:
                proc = subprocess.Popen(
                    argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
                )
                background.append(proc)
                line = proc.stdout.readline().decode()
                assert "serving" in line, (cmd, line, proc.stderr.read().decode())
                continue
            r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
            assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"
            assert "Traceback" not in r.stderr, f"{cmd}\n{r.stderr}"
    finally:
        for proc in background:
            proc.terminate()
            proc.wait(10)


@pytest.mark.parametrize(
    "cmds",
    [
        pytest.param([c for c in cmds if "--port sim" not in c], id=name)
        for name, cmds in BLOCKS
        if any("--port sim" not in c for c in cmds)
    ],
)
def test_commands_run_as_written(cmds, workdir):
    run_block(cmds, workdir)


@pytest.mark.slow
@pytest.mark.parametrize("cmd", [pytest.param(c, id=n) for n, c in SIM])
def test_the_sim_command_runs_as_written(cmd, workdir):
    start = time.monotonic()
    run_block([cmd], workdir)
    assert (workdir / "raster.png").stat().st_size > 0, time.monotonic() - start


def test_every_doc_has_commands_and_the_readme_one_is_there():
    # The extraction must find what it is meant to test (or it tests nothing).
    names = [n for n, _ in BLOCKS]
    assert any(n.startswith("README") for n in names) and any(n.startswith("host") for n in names)
    assert [c for _, c in SIM] == [
        "spikeloom run --network examples/net.toml --ticks 100 --port sim --out raster.csv "
        "--plot raster.png"
    ]


def python_blocks():
    return [
        pytest.param("\n".join(lines), id=f"README-python-{i}")
        for i, (lang, lines) in enumerate(blocks(ROOT / "README.md"))
        if lang == "python"
    ]


@pytest.mark.parametrize("code", python_blocks())
def test_readme_python_runs(code, workdir):
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert "spikes; per neuron" in r.stdout


def test_the_tick_formula_in_the_docs_is_the_gateware_s():
    """The tick-cost numbers written in the docs come from hdl/core.py's constants."""
    from spikeloom.hdl.core import ROW_STAGES, START_CYCLES, UPDATE_STAGES

    root = Path(__file__).resolve().parent.parent
    semantics = (root / "docs" / "semantics.md").read_text()
    readme = (root / "README.md").read_text()
    fixed = UPDATE_STAGES + START_CYCLES
    assert f"r = L + {ROW_STAGES} if L > 0" in semantics
    assert semantics.count(f"lanes + {fixed}") >= 2, f"docs/semantics.md: lanes + {fixed}"
    assert f"max(L + {ROW_STAGES}, lanes)" in readme


def test_the_board_clocks_in_docs_boards_md_are_the_board_table_s():
    """docs/boards.md's "oscillator → design clock" column is boards/__init__.py's clock_hz."""
    from spikeloom.boards import TARGETS

    root = Path(__file__).resolve().parent.parent
    rows = re.findall(
        r"^\| `([\w-]+)` \|.*\| \d+ → (\d+) MHz", (root / "docs/boards.md").read_text(), re.M
    )
    assert {name for name, _ in rows} == set(TARGETS), rows
    for name, mhz in rows:
        assert int(mhz) * 1e6 == TARGETS[name].clock_hz, f"docs/boards.md: {name} at {mhz} MHz"
