"""The ``spikeloom`` command line.

The group and its gateware commands (``geometry``: sizes, packed layouts,
the per-core memory map; ``verilog``); the other commands are registered
from their modules at the end: ``net`` (network files, NIR import),
``encode``, ``board`` (the device: info, load, run, ...), ``build`` (boards,
build, program). Shared options (geometry, ``--board``) are in ``options``.
The commands call the host library (``spikeloom.host``); it never imports them.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from spikeloom.defs import Region

from .options import geometry_options, make_geometry

log = logging.getLogger("spikeloom")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="spikeloom", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, help="more log output (repeatable)")
@click.option("-q", "--quiet", count=True, help="less log output (repeatable)")
def cli(verbose, quiet):
    """spikeloom: an open neuromorphic processor for FPGAs."""
    level = logging.WARNING - 10 * verbose + 10 * quiet
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s")


@cli.command()
@geometry_options()
def geometry(**kw):
    """Show a geometry: derived sizes, packed layouts and the memory map."""
    g = make_geometry(kw)
    click.echo(f"cores {g.cores}, {g.neurons} neurons and {g.axons} axons per core")
    click.echo(f"crossbar: {g.rows} rows x {g.neurons} columns, {g.lanes} entries per clock")
    click.echo(f"accumulator: {g.acc_bits} bits signed")
    for title, layout in (
        ("crossbar entry", g.entry_layout),
        ("neuron parameters", g.params_layout),
        ("neuron state", g.state_layout),
        ("routing entry", g.route_layout),
        ("bus packet", g.packet_layout),
        ("output event", g.event_layout),
    ):
        fields = ", ".join(f"{n}[{f.offset}:{f.offset + f.width}]" for n, f in layout)
        click.echo(f"{title} ({layout.size} bits): {fields}")
    click.echo("configuration-port regions (per core):")
    for r in Region:
        click.echo(f"  {r.value} {r.name:<9} {g.region_depth(r):>8} elements")


@cli.command()
@geometry_options()
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--block",
    type=click.Choice(["chip", "core"]),
    default="chip",
    show_default=True,
    help="the whole chip (cores, fan-out units, bus tree) or one core",
)
@click.option("--name", default=None, help="Verilog module name [default: spikeloom_BLOCK]")
def verilog(out, block, name, **kw):
    """Write the Verilog of the chip (or of one core) for a geometry."""
    g = make_geometry(kw)
    from amaranth.back import verilog as backend  # building imports the gateware

    from spikeloom.hdl.core import Core
    from spikeloom.hdl.top import Chip

    name = name or f"spikeloom_{block}"
    text = backend.convert(Chip(g) if block == "chip" else Core(g), name=name, emit_src=False)
    try:
        out.write_text(text)
    except OSError as e:
        raise click.ClickException(f"cannot write {out}: {e.strerror}") from None
    click.echo(f"wrote {out} ({len(text.splitlines())} lines, module {name})")


from spikeloom.host.cli.net import check_cmd, import_nir_cmd  # noqa: E402

cli.add_command(import_nir_cmd)
cli.add_command(check_cmd)

from spikeloom.host.cli.encode import encode_cmd  # noqa: E402

cli.add_command(encode_cmd)

from spikeloom.host.cli.board import COMMANDS as BOARD_COMMANDS  # noqa: E402
from spikeloom.host.cli.build import COMMANDS as BUILD_COMMANDS  # noqa: E402

for _command in (*BOARD_COMMANDS, *BUILD_COMMANDS):
    cli.add_command(_command)


def main():
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
