"""Golden model of the neuron update unit (``hdl/neuron.py``).

Vectorised over neurons: one call updates every neuron of a core for one
tick from its summed input. The rules are those of ``docs/semantics.md``
section "Neuron update", in the same order.
"""

from __future__ import annotations

import numpy as np

from spikeloom.defs import PARAM_FIELDS, STATE_FIELDS, Geometry, Model

__all__ = ["PARAM_FIELDS", "STATE_FIELDS", "update", "zero_state"]


def zero_state(geometry: Geometry) -> dict[str, np.ndarray]:
    return {f: np.zeros(geometry.neurons, dtype=np.int64) for f in STATE_FIELDS}


def _sat(x: np.ndarray, geometry: Geometry) -> np.ndarray:
    return np.clip(x, geometry.v_min, geometry.v_max)


def update(geometry: Geometry, params: dict, state: dict, inp: np.ndarray):
    """One tick of every neuron.

    Returns ``(new_state, spikes)``; ``inp`` is the exact (unsaturated)
    summed input of each neuron. Inputs are not modified.
    """
    v, s, timer, active = (np.asarray(state[f], dtype=np.int64) for f in STATE_FIELDS)
    inp = np.asarray(inp, dtype=np.int64)
    theta = np.asarray(params["threshold"], dtype=np.int64)
    leak = np.asarray(params["leak"], dtype=np.int64)
    is_counter = np.asarray(params["model"]) == Model.COUNTER

    # Each model's rules are evaluated only if some neuron uses it: the
    # results are the same, an all-LIF core just skips the COUNTER algebra.
    any_counter, any_lif = bool(is_counter.any()), not bool(is_counter.all())
    zero = np.zeros_like(v)
    lif_new_v = lif_new_timer = lif_spike = zero
    cnt_v, cnt_s, cnt_timer, cnt_active, c_spike = v, s, timer, active, zero.astype(bool)
    if any_lif:
        # LIF: refractory ticks discard input and hold v at 0.
        refractory = timer > 0
        leaked = np.where(v > 0, np.maximum(v - leak, 0), np.minimum(v + leak, 0))
        lif_v = _sat(leaked + inp, geometry)
        lif_spike = ~refractory & (lif_v >= theta)
        lif_new_v = np.where(refractory | lif_spike, 0, lif_v)
        lif_new_timer = np.where(
            refractory, timer - 1, np.where(lif_spike, params["refractory"], 0)
        )
    if any_counter:
        # COUNTER: a tick with input starts an inactive counter from zero.
        start = (active == 0) & (inp != 0)
        run = (active != 0) | start
        s0 = np.where(start, 0, s)
        v0 = np.where(start, 0, v)
        age0 = np.where(start, 0, timer)
        c_s = _sat(s0 + inp, geometry)
        c_v = _sat(v0 + c_s + np.where(np.asarray(params["direct"]) != 0, inp, 0), geometry)
        c_age = np.minimum(age0 + 1, geometry.timer_max)
        c_spike = run & (c_v >= theta)
        c_clear = run & (c_spike | (c_age >= np.asarray(params["window"], dtype=np.int64)))
        cnt_v = np.where(c_clear, 0, np.where(run, c_v, v))
        cnt_s = np.where(c_clear, 0, np.where(run, c_s, s))
        cnt_timer = np.where(c_clear, 0, np.where(run, c_age, timer))
        cnt_active = np.where(c_clear, 0, np.where(run, 1, active))

    new_state = {
        "v": np.where(is_counter, cnt_v, lif_new_v),
        "s": np.where(is_counter, cnt_s, s),
        "timer": np.where(is_counter, cnt_timer, lif_new_timer),
        "active": np.where(is_counter, cnt_active, active),
    }
    spikes = np.where(is_counter, c_spike, lif_spike)
    return new_state, spikes
