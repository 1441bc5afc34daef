"""Encoders: numbers to host input events ``{tick: [(core, axon), ...]}``.

What :meth:`Board.run_ticks` and ``spikeloom run --input`` take. Value ``i``
of the (flattened) array drives axon ``first_axon + i`` of ``core``.

* :func:`rate`: rate code. ``bernoulli``: value = spike probability per
  tick (0..1); ``poisson``: value = expected spikes per tick (>= 0), an axon
  carrying at most one event per tick, so it fires with probability
  ``1 - exp(-value)``. Seeded: the same seed gives the same events.
* :func:`latency`: time to first spike, one spike per value: the largest
  value fires at tick 0, the value ``lo`` at tick ``window - 1``, values at or
  below ``lo`` never. This is the code COUNTER neurons read (docs/semantics.md
  §4.2: an earlier input is added on more ticks of the window).
"""

from __future__ import annotations

import numpy as np

__all__ = ["EncodeError", "rate", "latency", "to_array"]

Inputs = dict[int, list[tuple[int, int]]]
#: The most random draws one rate encoding makes (ticks x values): some 800 MB.
MAX_DRAWS = 10**8


class EncodeError(ValueError):
    """Values an encoder cannot take; the message names the value."""


def _values(values, what: str) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise EncodeError(f"{what}: not an array of numbers") from None
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise EncodeError(f"{what}: value {bad[0]} is {x[bad[0]]}, not a finite number")
    return x


def _events(spikes: np.ndarray, core: int, first_axon: int) -> Inputs:
    """(ticks, n) booleans to ``{tick: [(core, axon)]}``."""
    out: Inputs = {}
    for t, i in zip(*np.nonzero(spikes)):
        out.setdefault(int(t), []).append((int(core), int(first_axon + i)))
    return out


def _check_ticks(ticks: int) -> None:
    if int(ticks) != ticks or ticks < 0:
        raise EncodeError(f"ticks = {ticks!r}: a whole number >= 0")


def rate(
    values,
    ticks: int,
    *,
    seed: int = 0,
    kind: str = "bernoulli",
    core: int = 0,
    first_axon: int = 0,
) -> Inputs:
    """Rate-coded events for ``ticks`` ticks (seeded with ``numpy.random.default_rng(seed)``)."""
    x = _values(values, "rate")
    _check_ticks(ticks)
    if kind == "bernoulli":
        bad = np.flatnonzero((x < 0) | (x > 1))
        if bad.size:
            raise EncodeError(
                f"rate: value {bad[0]} is {x[bad[0]]:g}; Bernoulli probabilities lie in 0..1"
            )
        p = x
    elif kind == "poisson":
        bad = np.flatnonzero(x < 0)
        if bad.size:
            raise EncodeError(f"rate: value {bad[0]} is {x[bad[0]]:g}; Poisson rates are >= 0")
        p = -np.expm1(-x)
    else:
        raise EncodeError(f"rate: kind {kind!r}: bernoulli or poisson")
    if ticks * x.size > MAX_DRAWS:
        raise EncodeError(
            f"rate: {ticks} ticks x {x.size} values is more than {MAX_DRAWS:.0e} draws: "
            f"encode fewer ticks at a time"
        )
    rng = np.random.default_rng(seed)
    return _events(rng.random((int(ticks), x.size)) < p, core, first_axon)


def latency(
    values,
    window: int,
    *,
    lo: float = 0.0,
    hi: float | None = None,
    core: int = 0,
    first_axon: int = 0,
) -> Inputs:
    """Time-to-first-spike events within ``window`` ticks.

    A value v in (lo, hi] fires once, at tick ``round((hi - v) / (hi - lo) *
    (window - 1))``; ``hi`` defaults to the largest value.
    """
    x = _values(values, "latency")
    _check_ticks(window)
    if window < 1:
        raise EncodeError("latency: window = 0: at least one tick")
    hi = float(np.max(x, initial=lo)) if hi is None else float(hi)
    if hi <= lo:
        return {}
    frac = np.clip((hi - x) / (hi - lo), 0.0, 1.0)
    when = np.floor(frac * (window - 1) + 0.5).astype(np.int64)
    out: Inputs = {}
    for i in np.flatnonzero(x > lo):
        out.setdefault(int(when[i]), []).append((int(core), int(first_axon + i)))
    return dict(sorted(out.items()))


def to_array(inputs: Inputs) -> np.ndarray:
    """``{tick: [(core, axon)]}`` as an (n, 3) array of (tick, core, axon) rows, sorted."""
    rows = [(t, c, a) for t, ev in inputs.items() for c, a in ev]
    return np.array(sorted(rows), dtype=np.int64).reshape(-1, 3)
