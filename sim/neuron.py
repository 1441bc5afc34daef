"""Golden model of the neuron update unit (``hdl/neuron.py``).

Vectorised over neurons (of one core or of a stack of cores: any array
shape): one call updates every neuron for one tick from its summed input.
The rules are those of ``docs/semantics.md`` section "Neuron update", in the
same order. An all-LIF or all-COUNTER population takes only its model's
rules; a mixed one evaluates both and selects per neuron. The spikes are a
bool array on every path.
"""

from __future__ import annotations

import numpy as np

from spikeloom.defs import PARAM_FIELDS, STATE_FIELDS, Geometry, Model

__all__ = ["PARAM_FIELDS", "STATE_FIELDS", "limits", "step", "update", "zero_state"]


_COUNTER = int(Model.COUNTER)


def zero_state(geometry: Geometry) -> dict[str, np.ndarray]:
    return {f: np.zeros(geometry.neurons, dtype=np.int64) for f in STATE_FIELDS}


def _sat(x: np.ndarray, lim) -> np.ndarray:
    """sat() in place; ``lim`` is ``(v_min, v_max, timer_max)``."""
    np.minimum(x, lim[1], out=x)
    return np.maximum(x, lim[0], out=x)


def limits(g: Geometry) -> tuple[int, int, int]:
    """``(v_min, v_max, timer_max)``: what the rules need of the geometry."""
    return g.v_min, g.v_max, g.timer_max


def _lif(lim, params: dict, v, timer, inp):
    """LIF rules (§4.1): ``(v, timer, spikes)``."""
    refractory = timer > 0  # timer is unsigned: 0 unless refractory
    leak = params["leak"]
    # leak(v) = v - clip(v, -leak, leak): toward zero, without crossing it.
    u = np.minimum(v, leak)
    np.maximum(u, -leak, out=u)
    np.subtract(v, u, out=u)
    u += inp
    _sat(u, lim)
    spikes = (u >= params["threshold"]) > refractory  # and not refractory
    new_v = np.where(spikes | refractory, 0, u)
    new_timer = np.where(spikes, params["refractory"], timer - refractory)
    return new_v, new_timer, spikes


def _counter(lim, params: dict, v, s, timer, active, inp):
    """COUNTER rules (§4.2): ``(v, s, timer, active, spikes)``.

    v, s and timer are handled as one stacked (3, ...) array."""
    # A tick with input starts an inactive counter from zero; idle neurons
    # (inactive, no input) keep their state whatever it holds.
    act = active != 0
    run = (inp != 0) | act
    start = run > act
    x = np.stack((v, s, timer))
    x0 = np.where(start, 0, x)
    c = np.empty_like(x)  # the running values: v, s, age
    _sat(np.add(x0[1], inp, out=c[1]), lim)  # s uses I
    np.add(x0[0], c[1], out=c[0])  # v uses the new s
    c[0] += np.where(params["direct"] != 0, inp, 0)
    _sat(c[0], lim)
    np.minimum(np.add(x0[2], 1, out=c[2]), lim[2], out=c[2])
    spikes = (c[0] >= params["threshold"]) & run
    hold = run > (spikes | (c[2] >= params["window"]))  # running on, not cleared
    new = np.where(hold, c, np.where(run, 0, x))
    return new[0], new[1], new[2], np.where(run, hold, active), spikes


def update(geometry: Geometry, params: dict, state: dict, inp: np.ndarray):
    """One tick of every neuron.

    Returns ``(new_state, spikes)``; ``inp`` is the exact (unsaturated)
    summed input of each neuron; ``spikes`` is bool. Inputs are not modified
    (an unchanged field may be returned as the same array).
    """
    params = {k: np.asarray(params[k], dtype=np.int64) for k in PARAM_FIELDS if k in params}
    state = {f: np.asarray(state[f], dtype=np.int64) for f in STATE_FIELDS}
    return step(limits(geometry), params, state, np.asarray(inp, dtype=np.int64))


def step(lim, params: dict, state: dict, inp: np.ndarray):
    """:func:`update` on int64 arrays of one shape, ``lim`` = :func:`limits`
    (the engine's call: no conversions)."""
    v, s, timer, active = state["v"], state["s"], state["timer"], state["active"]
    is_counter = params["model"] == _COUNTER
    n_counter = int(np.count_nonzero(is_counter))
    if n_counter == 0:
        lv, lt, spikes = _lif(lim, params, v, timer, inp)
        return {"v": lv, "s": s, "timer": lt, "active": active}, spikes
    cv, cs, ct, ca, c_spikes = _counter(lim, params, v, s, timer, active, inp)
    if n_counter == is_counter.size:
        return {"v": cv, "s": cs, "timer": ct, "active": ca}, c_spikes
    lv, lt, l_spikes = _lif(lim, params, v, timer, inp)
    new_state = {
        "v": np.where(is_counter, cv, lv),
        "s": np.where(is_counter, cs, s),
        "timer": np.where(is_counter, ct, lt),
        "active": np.where(is_counter, ca, active),
    }
    return new_state, np.where(is_counter, c_spikes, l_spikes)
