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

__all__ = ["PARAM_FIELDS", "STATE_FIELDS", "update", "zero_state"]


def zero_state(geometry: Geometry) -> dict[str, np.ndarray]:
    return {f: np.zeros(geometry.neurons, dtype=np.int64) for f in STATE_FIELDS}


def _lif(g: Geometry, params: dict, v, timer, inp):
    """LIF rules (§4.1): ``(v, timer, spikes)``."""
    leak = np.asarray(params["leak"], dtype=np.int64)
    refractory = timer > 0
    # leak(v): toward zero by leak without crossing it.
    u = v - np.clip(v, -leak, leak)
    u += inp
    np.clip(u, g.v_min, g.v_max, out=u)
    spikes = u >= np.asarray(params["threshold"], dtype=np.int64)
    spikes &= ~refractory
    reset = spikes | refractory
    u[reset] = 0
    new_timer = np.where(refractory, timer - 1, np.where(spikes, params["refractory"], 0))
    return u, new_timer.astype(np.int64, copy=False), spikes


def _counter(g: Geometry, params: dict, v, s, timer, active, inp):
    """COUNTER rules (§4.2): ``(v, s, timer, active, spikes)``."""
    # A tick with input starts an inactive counter from zero; idle neurons
    # (inactive, no input) keep their state whatever it holds.
    idle = active == 0
    run = ~idle | (inp != 0)
    start = idle & run
    keep = ~run
    s0 = np.where(start, 0, s)
    c_s = np.clip(s0 + inp, g.v_min, g.v_max)
    c_v = np.where(start, 0, v) + c_s
    direct = np.asarray(params["direct"]) != 0
    if direct.any():
        c_v += np.where(direct, inp, 0)
    np.clip(c_v, g.v_min, g.v_max, out=c_v)
    c_age = np.minimum(np.where(start, 0, timer) + 1, g.timer_max)
    spikes = c_v >= np.asarray(params["threshold"], dtype=np.int64)
    spikes &= run
    clear = spikes | (c_age >= np.asarray(params["window"], dtype=np.int64))
    clear &= run
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
    g = geometry
    v, s, timer, active = (np.asarray(state[f], dtype=np.int64) for f in STATE_FIELDS)
    inp = np.asarray(inp, dtype=np.int64)
    is_counter = np.asarray(params["model"]) == Model.COUNTER
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
