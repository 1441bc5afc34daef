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

__all__ = ["PARAM_FIELDS", "STATE_FIELDS", "step", "update", "zero_state"]


def zero_state(geometry: Geometry) -> dict[str, np.ndarray]:
    return {f: np.zeros(geometry.neurons, dtype=np.int64) for f in STATE_FIELDS}


def _sat(x: np.ndarray, g: Geometry) -> np.ndarray:
    """sat() in place."""
    np.minimum(x, g.v_max, out=x)
    return np.maximum(x, g.v_min, out=x)


def _lif(g: Geometry, params: dict, v, timer, inp):
    """LIF rules (§4.1): ``(v, timer, spikes)``."""
    refractory = timer > 0  # timer is unsigned: 0 unless refractory
    leak = params["leak"]
    # leak(v) = v - clip(v, -leak, leak): toward zero, without crossing it.
    u = np.minimum(v, leak)
    np.maximum(u, -leak, out=u)
    np.subtract(v, u, out=u)
    u += inp
    _sat(u, g)
    spikes = (u >= params["threshold"]) > refractory  # and not refractory
    new_v = np.where(spikes | refractory, 0, u)
    new_timer = np.where(spikes, params["refractory"], timer - refractory)
    return new_v, new_timer, spikes


def _counter(g: Geometry, params: dict, v, s, timer, active, inp):
    """COUNTER rules (§4.2): ``(v, s, timer, active, spikes)``."""
    # A tick with input starts an inactive counter from zero; idle neurons
    # (inactive, no input) keep their state whatever it holds.
    idle = active == 0
    run = ~idle | (inp != 0)
    start = idle & run
    keep = ~run
    c_s = _sat(np.where(start, 0, s) + inp, g)
    c_v = np.where(start, 0, v) + c_s
    c_v += np.where(params["direct"] != 0, inp, 0)
    _sat(c_v, g)
    c_age = np.where(start, 0, timer) + 1
    np.minimum(c_age, g.timer_max, out=c_age)
    spikes = (c_v >= params["threshold"]) & run
    clear = (spikes | (c_age >= params["window"])) & run
    hold = run & ~clear  # running on: the new values
    new_v = np.where(hold, c_v, np.where(keep, v, 0))
    new_s = np.where(hold, c_s, np.where(keep, s, 0))
    new_timer = np.where(hold, c_age, np.where(keep, timer, 0))
    new_active = np.where(keep, active, hold.astype(np.int64))
    return new_v, new_s, new_timer, new_active, spikes


def update(geometry: Geometry, params: dict, state: dict, inp: np.ndarray):
    """One tick of every neuron.

    Returns ``(new_state, spikes)``; ``inp`` is the exact (unsaturated)
    summed input of each neuron; ``spikes`` is bool. Inputs are not modified
    (an unchanged field may be returned as the same array).
    """
    params = {k: np.asarray(params[k], dtype=np.int64) for k in PARAM_FIELDS if k in params}
    state = {f: np.asarray(state[f], dtype=np.int64) for f in STATE_FIELDS}
    return step(geometry, params, state, np.asarray(inp, dtype=np.int64))


def step(g: Geometry, params: dict, state: dict, inp: np.ndarray):
    """:func:`update` on int64 arrays of one shape (the engine's call: no conversions)."""
    v, s, timer, active = state["v"], state["s"], state["timer"], state["active"]
    is_counter = params["model"] == Model.COUNTER
    n_counter = int(np.count_nonzero(is_counter))
    if n_counter == 0:
        lv, lt, spikes = _lif(g, params, v, timer, inp)
        return {"v": lv, "s": s, "timer": lt, "active": active}, spikes
    cv, cs, ct, ca, c_spikes = _counter(g, params, v, s, timer, active, inp)
    if n_counter == is_counter.size:
        return {"v": cv, "s": cs, "timer": ct, "active": ca}, c_spikes
    lv, lt, l_spikes = _lif(g, params, v, timer, inp)
    new_state = {
        "v": np.where(is_counter, cv, lv),
        "s": np.where(is_counter, cs, s),
        "timer": np.where(is_counter, ct, lt),
        "active": np.where(is_counter, ca, active),
    }
    return new_state, np.where(is_counter, c_spikes, l_spikes)
