"""``spikeloom encode``: numbers to a host input file (rate or latency code).

Registered on the ``spikeloom`` group at the end of ``host/cli/__init__.py``.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

__all__ = ["encode_cmd"]


def _numbers(text: str, hint: str) -> np.ndarray:
    try:
        return np.array([float(x) for x in text.split(",")])
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a list of numbers", param_hint=hint) from None


def _load_values(path: Path) -> np.ndarray:
    """Numbers from a .npy array or a text file (commas, spaces or lines)."""
    if not path.exists():
        raise click.ClickException(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False)
        return np.array(path.read_text().replace(",", " ").split(), dtype=np.float64)
    except (OSError, ValueError) as e:
        raise click.ClickException(f"{path}: not an array of numbers ({e})") from None


@click.command("encode")
@click.option("--rate", "rates", default=None, help="rate code of these values: P,P,...")
@click.option("--latency", "latencies", default=None, help="latency code of these values")
@click.option(
    "--values",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="the values from a file (.npy, or numbers separated by commas, spaces or lines); "
    "rate code unless --code latency",
)
@click.option("--code", type=click.Choice(["rate", "latency"]), default="rate", show_default=True)
@click.option(
    "--kind",
    type=click.Choice(["bernoulli", "poisson"]),
    default="bernoulli",
    show_default=True,
    help="rate code: values are probabilities per tick (bernoulli) or rates per tick (poisson)",
)
@click.option(
    "--ticks",
    "-n",
    type=click.IntRange(min=1),
    required=True,
    help="ticks (rate) or window (latency)",
)
@click.option("--seed", type=int, default=0, show_default=True, help="rate code's seed")
@click.option("--core", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--first-axon", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="input file: .csv (tick,core,axon) or .npz",
)
def encode_cmd(rates, latencies, values, code, kind, ticks, seed, core, first_axon, out):
    """Encode numbers as host input events for `spikeloom run --input`.

    Value i drives axon FIRST_AXON + i of CORE. Rate: each tick a spike with
    the value's probability (seeded). Latency: one spike per value, the
    largest at tick 0, values near 0 late, 0 never.
    """
    from spikeloom.host import encode, eventfile

    given = [x is not None for x in (rates, latencies, values)]
    if sum(given) != 1:
        raise click.UsageError("give exactly one of --rate, --latency and --values")
    if rates is not None:
        x = _numbers(rates, "--rate")
    elif latencies is not None:
        x, code = _numbers(latencies, "--latency"), "latency"
    else:
        x = _load_values(values)
    try:
        eventfile.check_format(out)
        eventfile.check_writable(out)
        if code == "rate":
            inputs = encode.rate(x, ticks, seed=seed, kind=kind, core=core, first_axon=first_axon)
        else:
            inputs = encode.latency(x, ticks, core=core, first_axon=first_axon)
        eventfile.write_inputs(out, inputs)
    except (encode.EncodeError, eventfile.EventFileError) as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"{out}: cannot write: {e.strerror or e}") from None
    n = sum(len(v) for v in inputs.values())
    click.echo(
        f"wrote {out}: {n} events on core {core} axons {first_axon}..{first_axon + x.size - 1} "
        f"({code} code, {ticks} ticks)"
    )
