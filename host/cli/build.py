"""``spikeloom boards``, ``build`` and ``program``: bitstreams for the board targets.

The targets are defined once in ``spikeloom.boards``; ``build`` imports the
gateware (the only host command that does) and runs the YoWASP flow of
``spikeloom.boards.build``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import click

from spikeloom.boards import TARGETS

from .options import BOARDS_DEFAULT, board_option, describe, geometry_options, make_geometry

__all__ = ["COMMANDS"]


@click.command("boards")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def boards_cmd(as_json):
    """List the board targets with their default geometries."""
    rows = []
    for t in TARGETS.values():
        g = t.geometry
        rows.append(
            {
                "board": t.name,
                "title": t.title,
                "device": t.device,
                "cores": g.cores,
                "neurons": g.cores * g.neurons,
                "synapses": g.cores * g.rows * g.neurons,
                "baud": t.baud,
                "geometry": g.as_dict(),
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r, t in zip(rows, TARGETS.values()):
        click.echo(f"{r['board']:12} {r['title']}")
        click.echo(
            f"{'':12} {r['cores']} cores, {r['neurons']} neurons, {r['synapses']} synapses; "
            f"{r['baud']} baud"
        )
        click.echo(f"{'':12} {describe(t.geometry)}")


@click.command("build")
@board_option(required=True, help=f"board target: {', '.join(TARGETS)}")
@geometry_options(defaults=False, help_default=BOARDS_DEFAULT)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="build directory [default: build/BOARD]",
)
@click.option("--seed", type=int, default=1, show_default=True, help="nextpnr placer seed")
def build_cmd(board, out, seed, **fields):
    """Synthesize, place and route the design for a board (YoWASP tools from PyPI).

    Writes the bitstream, report.json and a summary. Geometry options override the
    board's default geometry (see `spikeloom boards`).
    """
    from spikeloom.boards.build import BuildError, build, summary

    geometry = make_geometry(fields, base=board.geometry)
    out = out or Path("build") / board.name
    click.echo(f"building {board.name}: {describe(geometry)} -> {out}", err=True)

    stage = {"text": "starting", "t0": time.monotonic(), "lines": []}
    done = threading.Event()

    def ticker():
        from rich.console import Console

        console = Console(stderr=True)
        with console.status("") as status:
            while not done.wait(0.5):
                while stage["lines"]:
                    console.print(stage["lines"].pop(0), markup=False, highlight=False)
                status.update(f"{stage['text']} ({time.monotonic() - stage['t0']:.0f} s)")
            for line in stage["lines"]:
                console.print(line, markup=False, highlight=False)

    def progress(text):
        # Each stage on a line of its own (elapsed time of the whole build first).
        stage["lines"].append(f"[{time.monotonic() - stage['t0']:4.0f} s] {text}")
        stage["text"] = text.rpartition("; ")[2]

    thread = threading.Thread(target=ticker, daemon=True)
    thread.start()
    try:
        report = build(board, geometry, out, seed=seed, progress=progress)
    except BuildError as e:
        done.set()
        thread.join()
        raise click.ClickException(str(e)) from None
    finally:
        done.set()
        thread.join()
    click.echo(summary(report))
    click.echo(f"report: {out / 'report.json'}")
    if not report["meets_clock"]:
        raise click.ClickException(
            f"Fmax {report['fmax_mhz']} MHz misses the board clock of {report['clock_mhz']} MHz"
        )


@click.command("program")
@board_option(required=True, help=f"board target: {', '.join(TARGETS)}")
@click.option(
    "--bitstream",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="bitstream file [default: the one in build/BOARD]",
)
def program_cmd(board, bitstream):
    """Load a bitstream onto a board with openFPGALoader or iceprog."""
    if bitstream is None:
        report = Path("build") / board.name / "report.json"
        if not report.exists():
            raise click.ClickException(
                f"no build found ({report} is missing): run `spikeloom build --board "
                f"{board.name}` first, or pass --bitstream"
            )
        bitstream = report.parent / json.loads(report.read_text())["bitstream"]
    for tool, args in board.programmers:
        path = shutil.which(tool)
        if path:
            click.echo(f"{tool} {' '.join(args)} {bitstream}", err=True)
            result = subprocess.run([path, *args, str(bitstream)])
            if result.returncode:
                raise click.ClickException(f"{tool} failed (exit {result.returncode})")
            return
    names = " or ".join(tool for tool, _ in board.programmers)
    raise click.ClickException(
        f"no programmer found for {board.name}: install {names} (not on PATH); "
        f"the bitstream is {bitstream}"
    )


COMMANDS = (boards_cmd, build_cmd, program_cmd)
