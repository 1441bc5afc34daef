"""CLI commands that talk to a device: info, load, save, run, learn, read, write, status,
reset, serve.

Registered on the ``spikeloom`` group at the end of ``host/cli/__init__.py``; this
module does not import ``cli``. Every command takes ``--port``: a serial
port (``/dev/ttyUSB1``), a pyserial URL (``socket://HOST:PORT``), ``sim``
(the RTL in a simulator) or ``golden`` (the golden model). ``sim`` and
``golden`` start a fresh device for each command; ``spikeloom serve``
keeps one alive behind a socket.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import click
from click.core import ParameterSource

from spikeloom import protocol as P
from spikeloom.boards import TARGETS
from spikeloom.defs import LEARN_MAX, LearnConfig, Region, pack, unpack
from spikeloom.host.board import Board, BoardError, probability_text
from spikeloom.host.eventfile import EventFileError
from spikeloom.network import NetworkError

from .options import board_option, default_baud, describe, geometry_mismatch

__all__ = ["COMMANDS"]

log = logging.getLogger("spikeloom")

FRESH = ("golden", "sim")
#: --baud's range: what a UART can run at, give or take.
MIN_BAUD, MAX_BAUD = 50, 50_000_000

PORT_HELP = (
    "the device: a serial port (/dev/ttyUSB1), socket://HOST:PORT, "
    "sim (the RTL in a simulator) or golden (the golden model) "
    "[env SPIKELOOM_PORT; default: golden]"
)


def _check_port(ctx, param, value):
    """Note where the port came from; refuse a near-miss of golden or sim by name."""
    from_env = ctx.get_parameter_source(param.name) == ParameterSource.ENVIRONMENT
    ctx.meta["spikeloom.port_from_env"] = from_env
    if value in FRESH or "://" in value or Path(value).exists():
        return value
    close = difflib.get_close_matches(value.lower(), FRESH, n=1, cutoff=0.6)
    if close:
        origin = " (from $SPIKELOOM_PORT)" if from_env else ""
        raise click.BadParameter(f"no device {value!r}{origin}: did you mean {close[0]}?")
    return value


def board_options(f):
    """--port, --board, --baud and --timeout, shared by every command that talks to a device."""
    f = click.option(
        "--timeout",
        type=click.FloatRange(min=0.01, max=3600),
        default=None,
        help="seconds to wait for an answer beyond its line time [default: 1; sim 10]",
    )(f)
    f = click.option(
        "--baud",
        type=click.IntRange(min=MIN_BAUD, max=MAX_BAUD),
        default=None,
        help=f"serial line rate [default: the board's; without --board {default_baud()}]",
    )(f)
    f = board_option(
        dest="target",
        help=f"the board ({', '.join(TARGETS)}): its baud rate, and its geometry for "
        "golden/sim and for checks",
    )(f)
    f = click.option(
        "--port",
        "-p",
        envvar="SPIKELOOM_PORT",
        default="golden",
        callback=_check_port,
        help=PORT_HELP,
    )(f)
    return f


@contextmanager
def human_errors():
    """Turn the errors a user can cause into one-line messages and exit status 1."""
    try:
        yield
    except (BoardError, NetworkError, EventFileError) as e:
        raise click.ClickException(str(e) + _env_note()) from None
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        raise click.ClickException(f"{where}{e.strerror or e}") from None


def _env_note() -> str:
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get("spikeloom.port_from_env"):
        return f" (the port {ctx.params.get('port')!r} came from $SPIKELOOM_PORT)"
    return ""


def _fresh_link(board):
    from spikeloom.host.transport import SIM_LINK

    if board is None:
        return SIM_LINK
    return dataclasses.replace(SIM_LINK, event_fifo=board.event_fifo)


@contextmanager
def open_board(port: str, baud, timeout: float | None, geometry=None, board=None):
    """A Board on ``port``; for golden/sim a fresh device of ``geometry`` (or the board's).

    ``board``: a ``Target``; its baud rate is the default, and a real device
    of another geometry is refused naming the board.
    """
    from spikeloom.host.transport import open_transport

    if geometry is None and board is not None:
        geometry = board.geometry
    baud = baud or default_baud(board)
    if port == "sim":
        log.info("starting the RTL simulation")
    log.info("opening %s%s", port, f" as a {board.name}" if board else "")
    with human_errors():
        link = _fresh_link(board) if _fresh(port) else None
        dev = Board(open_transport(port, geometry, baud, link=link, progress=say), timeout)
        try:
            if board is not None and not _fresh(port):
                message = geometry_mismatch(
                    f"the device on {port}", dev.identify().geometry, board,
                    f"drop --board, or program a {board.name} build "
                    f"(spikeloom build --board {board.name}; spikeloom program --board "
                    f"{board.name})",
                )  # fmt: skip
                if message:
                    raise BoardError(message)
            yield dev
        finally:
            dev.close()


def say(text: str) -> None:
    """A progress line on stderr (none with -q)."""
    if not _quiet():
        click.echo(text, err=True)


def _quiet() -> bool:
    return log.getEffectiveLevel() > logging.WARNING


@contextmanager
def progress_bar(description: str):
    """A rich progress bar on stderr, as a ``progress(done, total)`` callback (none with -q)."""
    from rich.console import Console

    console = Console(stderr=True)
    if _quiet() or not console.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _load_network(path):
    from spikeloom.host.netfile import load_network

    net = load_network(path)
    log.info("read %s: %s", path, describe(net.geometry))
    return net


def _fresh(port: str) -> bool:
    return port in FRESH


# -- info, status, reset -------------------------------------------------------


@click.command("info")
@board_options
def info_cmd(port, target, baud, timeout):
    """Identify the device: protocol, geometry, link parameters."""
    with open_board(port, baud, timeout, board=target) as board:
        ident = board.identify()
        g, link = ident.geometry, ident.link
        click.echo(f"device:   {board.description}")
        click.echo(f"protocol: 0x{ident.id:08X} (this host speaks 0x{P.PROTOCOL_ID:08X})")
        click.echo(f"geometry: {describe(g, sep=', ')}")
        cores = "1 core" if g.cores == 1 else f"{g.cores} cores"
        click.echo(f"          {cores} of {g.neurons} neurons and {g.axons} axons each")
        click.echo(
            f"link:     {link.clocks_per_bit} clocks per bit, receive FIFO {link.rx_fifo} bytes, "
            f"event FIFO {link.event_fifo} events, idle timeout {link.timeout_bits} bit times, "
            f"payloads up to {ident.max_payload} bytes"
        )
        if not _fresh(port) and "://" not in port:
            baud = baud or default_baud(target)
            mhz = link.clocks_per_bit * baud / 1e6
            click.echo(f"clock:    {mhz:.2f} MHz (at {baud} baud)")


@click.command("status")
@board_options
def status_cmd(port, target, baud, timeout):
    """Show every register (identity, tick, link and chip counters)."""
    from rich.console import Console
    from rich.table import Table

    with open_board(port, baud, timeout, board=target) as board:
        values = board.registers()
        regs = P.registers(board.geometry)
    table = Table(title=f"registers of {board.description}")
    table.add_column("address", justify="right")
    table.add_column("register")
    table.add_column("value", justify="right")
    table.add_column("meaning")
    for addr, r in enumerate(regs):
        v = values[r.name]
        shown = f"0x{v:08X}" if r.name == "ID" else str(v)
        table.add_row(str(addr), r.name, shown, r.doc)
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # a pipe or file: do not squeeze the table into 80 columns
    console.print(table)


@click.command("reset")
@board_options
def reset_cmd(port, target, baud, timeout):
    """Soft reset: tick 0, event FIFO and counters cleared, memories kept."""
    with open_board(port, baud, timeout, board=target) as board:
        board.reset()
        click.echo(f"reset {board.description}")


# -- networks and runs ---------------------------------------------------------


@click.command("load")
@click.argument("network", type=click.Path(dir_okay=False, path_type=Path))
@board_options
def load_cmd(network, port, target, baud, timeout):
    """Load a network file (NAME.toml) into the device: RESET, then every memory."""
    with human_errors():
        net = _load_network(network)
    _fits(network, net, target)
    if _fresh(port):
        log.warning("the %s device lives only as long as this command: see spikeloom serve", port)
    with open_board(port, baud, timeout, net.geometry, target) as board:
        start = time.monotonic()
        with progress_bar(f"loading {network.name}") as progress:
            board.load(net, progress)
        click.echo(f"loaded {network} into {board.description} ({time.monotonic() - start:.1f} s)")


def _fits(path, net, target) -> None:
    """Refuse a network of another geometry than the board's, naming the fix."""
    from .net import refit_hint

    if target is not None:
        message = geometry_mismatch(str(path), net.geometry, target, refit_hint(target))
        if message:
            raise click.ClickException(message)


def _probes(ctx, param, value):
    """``--probe 0:3,0:5`` -> [(0, 3), (0, 5)]."""
    if not value:
        return []
    out = []
    for part in value.split(","):
        core, sep, neuron = part.strip().partition(":")
        try:
            if not sep:
                raise ValueError
            out.append((int(core), int(neuron)))
        except ValueError:
            raise click.BadParameter(f"{part!r} is not CORE:NEURON") from None
    return out


#: The longest run accepted without --long (seconds, at the fastest the link allows).
LONG_RUN = 3600.0


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _check_ticks(board, first: int, ticks: int, long_ok: bool) -> None:
    """Refuse a run past the 32-bit TICK register, or one that takes hours (without --long)."""
    limit = 1 << 32
    if first + ticks > limit:
        raise click.ClickException(
            f"--ticks {ticks}: the device is at tick {first} and its TICK register counts to "
            f"{limit - 1} (32 bits): run at most {limit - first} ticks (or reset it first)"
        )
    per_tick = board.tick_seconds()
    if ticks * per_tick > LONG_RUN and not long_ok:
        raise click.ClickException(
            f"--ticks {ticks}: would take at least {_duration(ticks * per_tick)} on "
            f"{board.description} ({per_tick * 1e3:.3g} ms a tick at best); run fewer ticks "
            f"or pass --long"
        )


@click.command("run")
@click.option("--ticks", "-n", type=click.IntRange(min=0), required=True, help="ticks to run")
@click.option(
    "--network",
    type=click.Path(dir_okay=False, path_type=Path),
    help="load this network file first (needed for sim and golden)",
)
@click.option(
    "--input",
    "-i",
    "input_",
    type=click.Path(dir_okay=False, path_type=Path),
    help="host input events: CSV (tick,core,axon) or NPZ; ticks count from the run's start",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="output events: .csv (tick,core,neuron) or .npz, written as they arrive",
)
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="raster plot (PNG)")
@click.option(
    "--probe",
    callback=_probes,
    metavar="CORE:NEURON,...",
    help="record these neurons' state (v, s, timer, active) after every tick, into "
    "OUT's name with .probes.csv, and the plot (one READ_MEM per neuron and tick)",
)
@click.option("--long", "long_ok", is_flag=True, help="run even if it takes more than an hour")
@click.option(
    "--learn",
    is_flag=True,
    help="learn during the run: LEARN 1 with the [learning] parameters and seeds of --network "
    "(without --network, the device's parameters)",
)
@click.option(
    "--save",
    type=click.Path(dir_okay=False, path_type=Path),
    help="after the run, read the network back (crossbar, parameters, routes, learning "
    "registers) into this network file (NAME.toml + NAME.npz)",
)
@board_options
def run_cmd(
    ticks, network, input_, out, plot, probe, long_ok, learn, save, port, target, baud, timeout
):
    """Run ticks one by one with host input; write the output events (and a raster)."""
    from spikeloom.host import eventfile

    probe_path = out.with_name(out.stem + ".probes.csv") if probe else None
    with human_errors():
        # Refuse bad file names before anything runs.
        for path in (out, plot, probe_path, save):
            if path is not None:
                eventfile.check_writable(path)
        if save is not None and save.suffix != ".toml":
            raise click.BadParameter("a network file name must end in .toml", param_hint="--save")
        eventfile.check_format(out)
        if plot is not None:
            eventfile.check_plot_format(plot)
        if input_ is not None:
            eventfile.check_format(input_)
        net = _load_network(network) if network is not None else None
    if learn and net is not None and net.learning is None:
        raise click.ClickException(
            f"{network}: no [learning] section to learn with (docs/network-format.md): add "
            "one, or set the parameters with spikeloom learn and run --learn without --network"
        )
    if net is not None:
        _fits(network, net, target)
    if net is None and _fresh(port):
        log.warning("the %s device starts empty: pass --network to load one", port)
    with open_board(port, baud, timeout, net.geometry if net else None, target) as board:
        g = board.geometry
        inputs = eventfile.read_inputs(input_, g) if input_ is not None else {}
        late = sum(len(ev) for t, ev in inputs.items() if t >= ticks)
        if late:
            log.warning("%d input events at tick %d or later are not used", late, ticks)
        for c, n in probe:
            if not (0 <= c < g.cores and 0 <= n < g.neurons):
                raise click.BadParameter(
                    f"{c}:{n}: the device has cores 0..{g.cores - 1}, neurons 0..{g.neurons - 1}",
                    param_hint="--probe",
                )
        first = board.read_regs("TICK")[0]
        _check_ticks(board, first, ticks, long_ok)
        if net is not None:
            loading = time.monotonic()
            with progress_bar(f"loading {network.name}") as progress:
                board.load(net, progress)
            log.info("loaded %s in %.1f s", network, time.monotonic() - loading)
            first = board.read_regs("TICK")[0]
        if learn:
            with human_errors():
                cfg = board.start_learning(net.learning if net is not None else None)
            log.info("learning on: %s", ", ".join(f"{k}={v}" for k, v in cfg.as_dict().items()))
        log.info(
            "running ticks %d..%d on %s (at least %.2g s a tick)",
            first, first + ticks - 1, board.description, board.tick_seconds(),
        )  # fmt: skip
        started = time.monotonic()
        writer = eventfile.EventWriter(out)
        probes = eventfile.ProbeWriter(probe_path, probe) if probe else None
        try:
            with progress_bar("running") as progress:
                if probes is None:
                    board.run_ticks(ticks, inputs, progress, on_events=lambda ev, _: writer.add(ev))
                else:
                    _run_probed(board, ticks, inputs, progress, writer, probes)
        except (KeyboardInterrupt, BoardError) as e:
            writer.close()
            if probes is not None:
                probes.close()
            done = board.completed_tick
            upto = f"complete up to tick {done - 1}" if done and done > first else "none complete"
            why = "interrupted" if isinstance(e, KeyboardInterrupt) else str(e)
            raise click.ClickException(
                f"{why}: {writer.count} output events received were written to {out} ({upto})"
            ) from None
        writer.close()
        if probes is not None:
            probes.close()
        took = time.monotonic() - started
        log.info("ran %d ticks in %.1f s (%.3g ms a tick)", ticks, took, 1e3 * took / max(ticks, 1))
        if plot is not None:
            events = eventfile.read_events(out)
            trace = eventfile.read_probes(probe_path) if probe else None
            eventfile.plot_raster(plot, events, g, first, ticks, probes=trace)
        if save is not None:
            what = f"after {ticks} ticks{' of learning' if learn else ''}"
            _save_network(board, save, f"read back from {board.description} {what}")
    click.echo(
        f"ran ticks {first}..{first + ticks - 1} on {board.description}: "
        f"{writer.count} output events written to {out}"
        + (f", probes in {probe_path}" if probe else "")
        + (f", raster in {plot}" if plot is not None else "")
        + (f"; network saved to {save}" if save is not None else "")
    )


def _save_network(board, path: Path, description: str) -> None:
    """Read the device's network (with its learning section) into a network file."""
    from spikeloom.host.netfile import save_network

    with human_errors():
        with progress_bar(f"reading the network into {path.name}") as progress:
            net = board.read_network(progress, learning=True)
        save_network(net, path, meta={"name": path.stem, "description": description})


@click.command("save")
@click.argument("network", type=click.Path(dir_okay=False, path_type=Path))
@board_options
def save_cmd(network, port, target, baud, timeout):
    """Read the device's network back into a network file (NAME.toml + NAME.npz).

    Every core's crossbar, neuron parameters and routing table, and the
    learning registers (with the seeds, which only the host that set them
    knows: none here). Neuron states are not saved: a network starts from rest.
    """
    from spikeloom.host import eventfile

    with human_errors():
        eventfile.check_writable(network)
    if network.suffix != ".toml":
        raise click.BadParameter("a network file name must end in .toml", param_hint="NETWORK")
    if _fresh(port):
        log.warning("the %s device starts empty: see spikeloom serve, or run --save", port)
    with open_board(port, baud, timeout, board=target) as board:
        _save_network(board, network, f"read back from {board.description}")
    click.echo(f"saved the network of {board.description} to {network}")


def _run_probed(board, ticks, inputs, progress, writer, probes) -> None:
    """One tick at a time; after each, every probed neuron's state (READ_MEM of STATE)."""
    from spikeloom.defs import unpack as unpack_word

    layout = board.geometry.state_layout
    for t in range(ticks):
        tick = None

        def got(ev, now):
            nonlocal tick
            writer.add(ev)
            tick = now

        board.run_ticks(1, {0: inputs.get(t, [])}, on_events=got)
        for c, n in probes.neurons:
            (word,) = board.read_mem(c, Region.STATE, n, 1)
            probes.add(tick - 1, c, n, unpack_word(layout, word))
        if progress is not None:
            progress(t + 1, ticks)


# -- learning ----------------------------------------------------------------


def _probability(name):
    return click.option(
        f"--{name.replace('_', '-')}",
        name,
        type=click.FloatRange(0.0, 1.0),
        default=None,
        help=f"{name} as a probability, 0 .. 1 (kept if not given)",
    )


@click.command("learn")
@click.option(
    "--on/--off",
    "enable",
    default=None,
    help="learning on or off [default: on when a parameter is given, else unchanged]",
)
@_probability("p_plus")
@_probability("p_minus")
@_probability("p_grow")
@click.option(
    "--episode",
    type=click.IntRange(0, LEARN_MAX["episode"]),
    default=None,
    help="episode length in ticks, 0 = no episodes (kept if not given)",
)
@click.option("--restart", is_flag=True, help="restart the episode (the next tick has phase 0)")
@click.option(
    "--seed",
    type=click.IntRange(0, (1 << 32) - 1),
    default=None,
    help="seed the learning generators: core c gets SEED + c (or --core's only SEED)",
)
@click.option("--core", type=click.IntRange(min=0), default=None, help="seed only this core")
@board_options
def learn_cmd(
    enable, p_plus, p_minus, p_grow, episode, restart, seed, core, port, target, baud, timeout
):
    """Set, or show, the learning parameters; seed the learning generators.

    Parameters not given keep the device's values. Setting any of them
    writes all five learning registers, which restarts the episode. With
    no options, shows the parameters and the episode phase.
    """
    if core is not None and seed is None:
        raise click.UsageError("--core names the core to seed: give --seed too")
    probs = dict(p_plus=p_plus, p_minus=p_minus, p_grow=p_grow)
    probs = {k: v for k, v in probs.items() if v is not None}
    changing = probs or episode is not None or enable is not None or restart or seed is not None
    if changing and _fresh(port):
        log.warning("the %s device lives only as long as this command: see spikeloom serve", port)
    with open_board(port, baud, timeout, board=target) as board:
        cfg = board.learning()
        if probs or episode is not None or enable is not None:
            # Given probabilities in fixed point; the others keep the device's values.
            fixed = LearnConfig.from_probabilities(**probs)
            changes = {k: getattr(fixed, k) for k in probs}
            if episode is not None:
                changes["episode"] = episode
            changes["learn"] = int(enable if enable is not None else True)
            cfg = board.set_learning(dataclasses.replace(cfg, **changes))
        elif restart:
            board.restart_episode()
        seeded = []
        if seed is not None:
            if core is not None:
                board.seed(core, seed)
                seeded = [(core, seed)]
            else:
                seeded = list(enumerate(board.seed_cores(seed)))
        phase = board.phase()
    click.echo(f"{board.description}: learning {'on' if cfg.learn else 'off'}")
    for k in ("p_plus", "p_minus", "p_grow"):
        click.echo(f"  {k:<8} {probability_text(getattr(cfg, k))}")
    click.echo(f"  episode  {cfg.episode} ticks" + (" (no episodes)" if cfg.episode == 0 else ""))
    click.echo(f"  phase    {phase} (of the next tick)")
    for c, v in seeded:
        click.echo(f"seeded core {c} with {v}")


# -- registers and memories ----------------------------------------------------


def _int(text: str, what: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number", param_hint=what) from None


@click.group("read")
def read_group():
    """Read registers or memory words."""


@read_group.command("reg")
@click.argument("register")
@click.option("--count", "-c", type=click.IntRange(min=1), default=1, show_default=True)
@board_options
def read_reg_cmd(register, count, port, target, baud, timeout):
    """Read registers from REGISTER (a name like TICK, or an address)."""
    with open_board(port, baud, timeout, board=target) as board:
        addr = board.address(register)
        values = board.read_regs(addr, count)
        names = board.register_names
    for a, v in enumerate(values, start=addr):
        name = names[a] if a < len(names) else "?"
        click.echo(f"{a:>4}  {name:<16} {v:>10}  0x{v:08X}")


def _fields_text(layout, word: int) -> str:
    return " ".join(f"{k}={v}" for k, v in unpack(layout, word).items())


@read_group.command("mem")
@click.argument("core", type=click.IntRange(min=0))
@click.argument("region")
@click.argument("index", type=click.IntRange(min=0))
@click.option("--count", "-c", type=click.IntRange(min=1), default=1, show_default=True)
@board_options
def read_mem_cmd(core, region, index, count, port, target, baud, timeout):
    """Read words of REGION (CROSSBAR, PARAMS, STATE, ROUTES) of CORE from INDEX, decoded."""
    with open_board(port, baud, timeout, board=target) as board:
        region = board.region(region)
        words = board.read_mem(core, region, index, count)
        g = board.geometry
    layout = g.region_layout(region)
    digits = 2 * P.word_bytes(g, region)
    for i, w in enumerate(words, start=index):
        where = f"row {i // g.neurons} col {i % g.neurons}" if region == Region.CROSSBAR else ""
        if region == Region.ROUTES:
            where = f"neuron {i // g.fanout} entry {i % g.fanout}"
        click.echo(f"{i:>6}  0x{w:0{digits}X}  {_fields_text(layout, w)}  {where}".rstrip())


@click.group("write")
def write_group():
    """Write registers or memory words."""


@write_group.command("reg")
@click.argument("register")
@click.argument("values", nargs=-1, required=True)
@board_options
def write_reg_cmd(register, values, port, target, baud, timeout):
    """Write VALUES to registers from REGISTER (a name like SCRATCH, or an address) on."""
    numbers = [_int(v, "VALUES") for v in values]
    with open_board(port, baud, timeout, board=target) as board:
        board.write_regs(register, numbers)
        click.echo(f"wrote {len(numbers)} register(s) from {register} on {board.description}")


_FIELD = re.compile(r"^\s*(\w+)\s*=\s*(-?(?:0x[0-9a-fA-F]+|\d+))\s*$")


def _word(text: str, layout, region: Region) -> int:
    """A memory word from a number, or from fields: "count=3,sign=1" (missing fields 0)."""
    if "=" not in text:
        return _int(text, "WORDS")
    widths = {name: f for name, f in layout}
    values = {}
    for part in text.split(","):
        m = _FIELD.match(part)
        if not m:
            raise click.BadParameter(f"{part!r} is not FIELD=VALUE", param_hint="WORDS")
        name, value = m.group(1), int(m.group(2), 0)
        if name not in widths:
            known = ", ".join(widths)
            raise click.BadParameter(
                f"{region.name} words have no field {name!r} (fields: {known})", param_hint="WORDS"
            )
        f = widths[name]
        if f.shape.signed:
            lo, hi = -(1 << (f.width - 1)), (1 << (f.width - 1)) - 1
        else:
            lo, hi = 0, (1 << f.width) - 1
        if not lo <= value <= hi:
            raise click.BadParameter(f"{name}={value}: out of range {lo}..{hi}", param_hint="WORDS")
        values[name] = value
    return pack(layout, **{name: values.get(name, 0) for name in widths})


@write_group.command("mem")
@click.argument("core", type=click.IntRange(min=0))
@click.argument("region")
@click.argument("index", type=click.IntRange(min=0))
@click.argument("words", nargs=-1, required=True)
@board_options
def write_mem_cmd(core, region, index, words, port, target, baud, timeout):
    """Write WORDS to REGION of CORE from INDEX on.

    A word is a number (0x1F) or its fields, FIELD=VALUE,... (missing fields are 0),
    e.g. count=3,sign=1 for a crossbar entry.
    """
    with open_board(port, baud, timeout, board=target) as board:
        region = board.region(region)
        layout = board.geometry.region_layout(region)
        numbers = [_word(w, layout, region) for w in words]
        board.write_mem(core, region, index, numbers)
        click.echo(f"wrote {len(numbers)} {region.name} word(s) of core {core} from {index} on")


# -- serve ---------------------------------------------------------------------


@click.command("serve")
@click.option(
    "--port",
    "-p",
    type=click.Choice(["golden", "sim"]),
    default="golden",
    show_default=True,
    help="the device to keep alive",
)
@click.option(
    "--listen",
    default=None,
    help="HOST:PORT to serve on (port 0 picks a free one) [default: 127.0.0.1:7777]",
)
@click.option(
    "--network",
    type=click.Path(dir_okay=False, path_type=Path),
    help="load this network first (the device takes its geometry)",
)
@board_option(dest="target", help="serve a device of this board's geometry and event FIFO")
def serve_cmd(port, listen, network, target):
    """Keep a golden (or simulated) device alive behind a TCP socket.

    Other commands reach it with --port socket://HOST:PORT, one at a time;
    it keeps its state between them. Ctrl-C stops it.
    """
    import threading

    from spikeloom.host.transport import (
        SIM_GEOMETRY,
        BridgeServer,
        GoldenServer,
        GoldenTransport,
        SerialTransport,
        SimTransport,
        launch_bridge,
    )

    host, _, number = (listen or "127.0.0.1:7777").rpartition(":")
    try:
        number = int(number)
        if not 0 <= number < 65536:
            raise ValueError
    except ValueError:
        raise click.BadParameter(
            f"{listen!r} is not HOST:PORT with a port 0..65535", param_hint="--listen"
        ) from None
    host = host or "127.0.0.1"
    with human_errors():
        net = _load_network(network) if network is not None else None
    if net is not None:
        _fits(network, net, target)
    with human_errors():
        g = net.geometry if net is not None else (target.geometry if target else SIM_GEOMETRY)
        link = _fresh_link(target)
        if port == "sim":
            server = BridgeServer(launch_bridge(g, link, progress=say), host, number)
        else:
            golden = GoldenTransport(g, link)
            if net is not None:
                Board(golden).load(net)
            server = GoldenServer(golden.model, host, number)

    failure = []

    def serve():
        try:
            server.serve_forever()
        except (BoardError, OSError) as e:
            if not server.closed:  # not just the socket closed under it by Ctrl-C
                failure.append(e)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with human_errors():
            if net is not None and port == "sim":
                # Through the server, like any client, at a simulator's pace.
                link = SerialTransport(server.url)
                link.seconds_per_clock = SimTransport.seconds_per_clock
                with Board(link, SimTransport.default_timeout) as board:
                    board.load(net)
        what = "the RTL simulation" if port == "sim" else "the golden model"
        click.echo(f"serving {what} on {server.url} (Ctrl-C stops)")
        sys.stdout.flush()
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.close()
    if failure:
        raise click.ClickException(f"serve: {failure[0]}")


COMMANDS = (
    info_cmd,
    status_cmd,
    reset_cmd,
    load_cmd,
    save_cmd,
    run_cmd,
    learn_cmd,
    read_group,
    write_group,
    serve_cmd,
)
