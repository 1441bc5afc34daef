"""CLI commands for network files: ``import-nir`` and ``check-network``.

Registered on the ``spikeloom`` group at the end of ``host/cli/__init__.py``. This
module does not import ``cli`` (which imports it), so there is no cycle.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from spikeloom.defs import Model
from spikeloom.network import Network, NetworkError

from .options import (
    board_option,
    describe,
    geometry_mismatch,
    geometry_options,
    pop_geometry_fields,
)

__all__ = ["import_nir_cmd", "check_cmd", "summary", "refit_hint"]

IMPORT_DEFAULTS = {
    "levels": "1, or the board's",
    "neurons": "the smallest power of two that fits, or the board's",
    "axons": "the smallest power of two that fits, or the board's",
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(net: Network, meta: dict | None = None) -> str:
    """A few lines describing a network: geometry, neurons, synapses, routes."""
    g = net.geometry
    n = g.neurons
    lines = []
    for key in ("name", "source", "description"):
        if meta and meta.get(key):
            lines.append(f"{key}: {meta[key]}")
    lines.append(f"geometry: {describe(g, sep=', ')}")
    lines.append(
        f"cores: {g.cores}, each {n} neurons, {g.axons} axons, {g.rows} x {n} crossbar, "
        f"{g.fanout} routing entries per neuron"
    )
    p = net.params
    model = np.asarray(p["model"])
    lines.append(
        f"neurons: {g.cores * n} ({int(np.sum(model == Model.LIF))} LIF, "
        f"{int(np.sum(model == Model.COUNTER))} COUNTER), "
        f"{int(np.count_nonzero(p['output']))} output-enabled, "
        f"{int(np.count_nonzero(p['learn']))} learning"
    )
    zero = (np.asarray(p["threshold"]) == 0) & (model == Model.LIF)
    zero_theta = int(np.count_nonzero(zero))
    if zero_theta:
        paced = int(np.count_nonzero(zero & (np.asarray(p["refractory"]) > 0)))
        lines.append(
            f"note: {_plural(zero_theta, 'LIF neuron')} with threshold 0: fires on every tick "
            f"it is not refractory ({paced} with a refractory period: pacemakers)"
        )
    present = net.count != 0
    inhib = present & (net.sign != 0)
    recurrent = int(np.count_nonzero(present[:, :n, :]))
    total = int(np.count_nonzero(present))
    lines.append(
        f"synapses: {total} non-zero crossbar entries ({total - int(inhib.sum())} excitatory, "
        f"{int(inhib.sum())} inhibitory; {recurrent} recurrent, {total - recurrent} from axons), "
        f"{int(net.count.sum())} parallel synapses"
    )
    valid = net.route_valid != 0
    own = np.arange(g.cores)[:, None, None] == net.route_core
    routes = int(valid.sum())
    local = int((valid & own).sum())
    lines.append(
        f"routes: {routes} valid routing entries ({routes - local} to other cores, "
        f"{local} to the own core)"
    )
    if g.cores > 1:
        per_core = present.reshape(g.cores, -1).sum(axis=1)
        lines.append("synapses per core: " + " ".join(str(int(x)) for x in per_core))
    return "\n".join(lines)


@click.command("import-nir")
@click.argument("graph", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="network file to write (NAME.toml; NAME.npz is written beside it)",
)
@click.option(
    "--dt",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-4,
    show_default=True,
    help="seconds per tick (1e-4 is what snnTorch's export assumes)",
)
@click.option(
    "--check-ticks",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="compare the network with a float reference of the graph over this many ticks "
    "of rate-coded input (0: skip)",
)
@click.option("--name", default=None, help="network name stored in the file [default: GRAPH's]")
@board_option(help="map onto this board's geometry (spikeloom boards); options below override it")
@geometry_options(defaults=False, help_default=IMPORT_DEFAULTS)
def import_nir_cmd(graph, out, dt, check_ticks, name, board, **kw):
    """Import a NIR graph (GRAPH.nir) and write it as a spikeloom network file.

    With --board, the network takes the board's geometry (geometry options
    override fields of it). Without, geometry fields not given take their
    defaults; neurons and axons not given are the smallest powers of two
    that fit the graph (on one core).
    """
    import dataclasses

    from spikeloom.host.netfile import save_network
    from spikeloom.host.nir_import import import_nir

    fields = pop_geometry_fields(kw)
    if out.suffix != ".toml":
        raise click.BadParameter("must end in .toml", param_hint="--out")
    try:
        if board is not None:
            try:
                geometry = dataclasses.replace(board.geometry, **fields)
            except ValueError as e:
                raise click.UsageError(str(e)) from None
            net, report = import_nir(graph, geometry, dt)
        else:
            net, report = import_nir(graph, None, dt, **fields)
    except NetworkError as e:
        raise click.ClickException(str(e)) from None
    if check_ticks:
        from spikeloom.host.nir_sim import agreement

        report.agreement = agreement(net, report, ticks=check_ticks)
    click.echo(str(report))

    mapping = [
        f"input {i.name}: core {i.core} axons {i.first_axon}..{i.first_axon + i.size - 1}"
        for i in report.inputs
    ] + [
        f"{p.kind} {p.name}: core {p.core} neurons {p.first_neuron}.."
        f"{p.first_neuron + p.size - 1}{' (output)' if p.output else ''}"
        for p in report.populations
    ]
    meta = {
        "name": name or graph.stem,
        "source": graph.name,
        "description": f"imported by spikeloom import-nir, dt = {dt:g} s; " + "; ".join(mapping),
    }
    try:
        path = save_network(net, out, meta=meta)
    except NetworkError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"cannot write {out}: {e.strerror or e}") from None
    click.echo(f"\nwrote {path} and {path.with_suffix('.npz').name}")


@click.command("check-network")
@click.argument("network", type=click.Path(dir_okay=False, path_type=Path))
@board_option(help="also check that the network fits this board's geometry")
def check_cmd(network, board):
    """Validate a network file (NET.toml + its .npz) and summarise it."""
    from spikeloom.host.netfile import load_network_with_meta

    try:
        net, meta = load_network_with_meta(network)
    except NetworkError as e:
        raise click.ClickException(str(e)) from None
    if board is not None:
        message = geometry_mismatch(str(network), net.geometry, board, refit_hint(board))
        if message:
            raise click.ClickException(message)
    click.echo(f"{network}: valid spikeloom network" + (f" for {board.name}" if board else ""))
    click.echo(summary(net, meta))


def refit_hint(board) -> str:
    """How to make a network of a board's geometry."""
    return (
        f"re-import it with `spikeloom import-nir GRAPH.nir --board {board.name} --out NET.toml`, "
        f"or build the board for the network's geometry (`spikeloom build --board {board.name} "
        f"--neurons ...`)"
    )
