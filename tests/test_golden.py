"""Hand-worked checks of the numpy golden model against docs/semantics.md.

Every expected value below was worked out by hand from the spec text (the
arithmetic is in the comments); none is computed by the model or by a
re-implementation of it. Geometry ``G`` has P = 6 (so sat() clamps to
[-32, 31] and the largest threshold is 31), T = 3 (timer 0 .. 7), k = 2
(count 0 .. 3), N = 4 neurons and A = 4 axons (8 crossbar rows).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from spikeloom.defs import CORE_REGIONS, Geometry, Model, Region, pack, unpack
from spikeloom.sim import neuron
from spikeloom.sim.core import CoreModel

G = Geometry(neurons=4, axons=4, lanes=2, count_bits=2, potential_bits=6, timer_bits=3)
AX = G.neurons  # crossbar row of axon a is AX + a

LIF, COUNTER = int(Model.LIF), int(Model.COUNTER)
F, T = False, True


# -- neuron-level helpers ------------------------------------------------------


def params(model=LIF, threshold=31, leak=0, refractory=0, window=0, direct=0, output=0, learn=0):
    """The same parameters for all N neurons."""
    vals = dict(
        model=model,
        threshold=threshold,
        leak=leak,
        refractory=refractory,
        window=window,
        direct=direct,
        output=output,
        learn=learn,
    )
    return {k: np.full(G.neurons, v, dtype=np.int64) for k, v in vals.items()}


def state(v=0, s=0, timer=0, active=0):
    vals = dict(v=v, s=s, timer=timer, active=active)
    return {k: np.full(G.neurons, x, dtype=np.int64) for k, x in vals.items()}


def trace(p, st, inputs):
    """Feed input ``inputs[t]`` to every neuron at tick t.

    Returns, per tick, neuron 0's ``(v, s, timer, active, spike)`` after the tick.
    """
    out = []
    for i in inputs:
        st, spk = neuron.update(G, p, st, np.full(G.neurons, i, dtype=np.int64))
        out.append(
            (
                int(st["v"][0]),
                int(st["s"][0]),
                int(st["timer"][0]),
                int(st["active"][0]),
                bool(spk[0]),
            )
        )
    return out


def test_geometry_derived_sizes():
    assert (G.v_min, G.v_max) == (-32, 31)  # -2**5, 2**5 - 1
    assert G.timer_max == 7  # 2**3 - 1
    assert G.max_count == 3  # 2**2 - 1
    assert G.rows == 8  # N + A = 4 + 4
    # rows * max_count = 24 -> 5 bits magnitude, + sign bit
    assert G.acc_bits == 6


# -- LIF -------------------------------------------------------------------


def test_lif_leak_from_positive_does_not_cross_zero():
    # v = 10, lambda = 3, I = 0: 10 -> 7 -> 4 -> 1 -> max(1 - 3, 0) = 0 -> 0
    got = trace(params(leak=3), state(v=10), [0] * 5)
    assert [r[0] for r in got] == [7, 4, 1, 0, 0]
    assert not any(r[4] for r in got)


def test_lif_leak_from_negative_does_not_cross_zero():
    # v = -10, lambda = 3: -10 -> -7 -> -4 -> -1 -> min(-1 + 3, 0) = 0 -> 0
    got = trace(params(leak=3), state(v=-10), [0] * 5)
    assert [r[0] for r in got] == [-7, -4, -1, 0, 0]


@pytest.mark.parametrize("v", [2, -2])
def test_lif_leak_larger_than_v_stops_at_zero(v):
    # |v| = 2 < lambda = 5: leak gives 0, not -3 / +3
    assert trace(params(leak=5), state(v=v), [0]) == [(0, 0, 0, 0, F)]


def test_lif_zero_leak_holds_v():
    assert [r[0] for r in trace(params(leak=0), state(v=9), [0, 0])] == [9, 9]
    assert [r[0] for r in trace(params(leak=0), state(v=-9), [0, 0])] == [-9, -9]


def test_lif_leak_is_applied_before_the_input():
    # v = 5, lambda = 3, I = 4: leak(5) = 2, 2 + 4 = 6
    assert trace(params(leak=3), state(v=5), [4])[0][0] == 6
    # v = 2, lambda = 5, I = 4: leak(2) = 0, 0 + 4 = 4 (input first would give 1)
    assert trace(params(leak=5), state(v=2), [4])[0][0] == 4
    # v = -2, lambda = 5, I = -4: leak(-2) = 0, 0 - 4 = -4 (input first would give -1)
    assert trace(params(leak=5), state(v=-2), [-4])[0][0] == -4


def test_lif_integrates():
    # lambda = 0: 0 +3 = 3, +4 = 7, -2 = 5, -9 = -4
    got = trace(params(leak=0), state(), [3, 4, -2, -9])
    assert got == [(3, 0, 0, 0, F), (7, 0, 0, 0, F), (5, 0, 0, 0, F), (-4, 0, 0, 0, F)]


def test_lif_inhibition_lowers_v_and_negative_v_persists():
    # v = 10, lambda = 0: 10 - 4 = 6; 6 - 10 = -4; stays -4 with no input; -4 + 6 = 2
    got = trace(params(leak=0), state(v=10), [-4, -10, 0, 6])
    assert [r[0] for r in got] == [6, -4, -4, 2]


def test_lif_threshold_is_greater_or_equal():
    # theta = 10: I = 10 -> v' = 10 >= 10 spikes, v <- 0
    assert trace(params(threshold=10), state(), [10]) == [(0, 0, 0, 0, T)]
    # I = 9 -> v' = 9 < 10, no spike, v = 9; then 9 + 1 = 10 spikes
    assert trace(params(threshold=10), state(), [9, 1]) == [(9, 0, 0, 0, F), (0, 0, 0, 0, T)]


def test_lif_threshold_uses_leaked_value():
    # v = 4, lambda = 1, I = 7: 3 + 7 = 10 >= 10 spikes (without leak it would be 11)
    assert trace(params(threshold=10, leak=1), state(v=4), [7]) == [(0, 0, 0, 0, T)]
    # v = 4, lambda = 2, I = 7: 2 + 7 = 9 < 10 (4 + 7 = 11 would have spiked)
    assert trace(params(threshold=10, leak=2), state(v=4), [7]) == [(9, 0, 0, 0, F)]


def test_lif_threshold_zero_spikes_on_nonnegative():
    # theta = 0: v' = 0 >= 0 spikes; v' = -1 does not
    assert trace(params(threshold=0), state(), [0]) == [(0, 0, 0, 0, T)]
    assert trace(params(threshold=0), state(v=-1), [0]) == [(-1, 0, 0, 0, F)]


def test_lif_refractory_exactly_r_ticks():
    # theta = 10, R = 2. Spike at t0 -> t1, t2 refractory (input discarded,
    # v = 0, timer 2 -> 1 -> 0) -> earliest next spike t3 = 0 + R + 1.
    got = trace(params(threshold=10, refractory=2), state(), [10, 20, -20, 10, 10])
    assert got == [
        (0, 0, 2, 0, T),  # u = 10 >= 10: spike, timer <- R = 2
        (0, 0, 1, 0, F),  # timer 2 > 0: +20 discarded, timer 1
        (0, 0, 0, 0, F),  # timer 1 > 0: -20 discarded (v stays 0, not -20), timer 0
        (0, 0, 2, 0, T),  # timer 0: u = 10 spikes again
        (0, 0, 1, 0, F),  # refractory again
    ]


def test_lif_refractory_forces_v_to_zero():
    # host-written v = 5 with timer = 1: refractory tick sets v <- 0, timer <- 0
    assert trace(params(threshold=10), state(v=5, timer=1), [3]) == [(0, 0, 0, 0, F)]


def test_lif_refractory_max_r():
    # R = 7 = timer_max, theta = 1, I = 1 every tick: spikes at t0 and t8 = 0 + 7 + 1
    got = trace(params(threshold=1, refractory=7), state(), [1] * 9)
    assert [r[4] for r in got] == [T, F, F, F, F, F, F, F, T]
    assert [r[2] for r in got] == [7, 6, 5, 4, 3, 2, 1, 0, 7]


def test_lif_refractory_zero():
    # R = 0, theta = 1, I = 1: spikes every tick, timer stays 0
    got = trace(params(threshold=1, refractory=0), state(), [1, 1, 1, 0])
    assert got == [(0, 0, 0, 0, T)] * 3 + [(0, 0, 0, 0, F)]  # last: u = 0 + 0 < 1


def test_lif_positive_saturation():
    # v = 20, I = 20: u = 40 -> sat = 31. theta = 32 is beyond the field and
    # "can never be met", so v stays at 31; another +1 keeps it at 31.
    got = trace(params(threshold=32), state(v=20), [20, 1])
    assert got == [(31, 0, 0, 0, F), (31, 0, 0, 0, F)]


def test_lif_negative_saturation():
    # v = -20, I = -20: u = -40 -> sat = -32; -32 - 1 = -33 -> -32; -32 + 5 = -27
    got = trace(params(threshold=31), state(v=-20), [-20, -1, 5])
    assert [r[0] for r in got] == [-32, -32, -27]


def test_lif_saturation_is_applied_once_to_the_sum():
    # I is exact: v = -20, I = 40: sat(-20 + 40) = 20 (saturating I first gives 11)
    assert trace(params(threshold=31), state(v=-20), [40])[0][0] == 20
    # v = 20, I = -45: sat(20 - 45) = -25 (saturating I first gives -12)
    assert trace(params(threshold=31), state(v=20), [-45])[0][0] == -25


def test_lif_max_threshold_is_reachable():
    # theta = 31 = 2**(P-1) - 1: I = 31 -> v' = 31 >= 31 spikes
    assert trace(params(threshold=31), state(), [31])[0][4] is True
    # I = 30 -> 30 < 31, no spike
    assert trace(params(threshold=31), state(), [30]) == [(30, 0, 0, 0, F)]
    # I = 100 -> sat = 31 >= 31 spikes
    assert trace(params(threshold=31), state(), [100]) == [(0, 0, 0, 0, T)]
    # v = 30, lambda = 5, I = 10: 25 + 10 = 35 -> 31 spikes
    assert trace(params(threshold=31, leak=5), state(v=30), [10])[0][4] is True


def test_lif_leaves_s_and_active_and_ignores_direct():
    # s = 7, active = 1 untouched by LIF; spike at u = 10 >= 10
    assert trace(params(threshold=10), state(s=7, active=1), [10]) == [(0, 7, 0, 1, T)]
    # direct = 1 ignored: v = 0 + 5 = 5 (not 10), no spike at theta = 10
    assert trace(params(threshold=10, direct=1), state(), [5]) == [(5, 0, 0, 0, F)]


# -- COUNTER ---------------------------------------------------------------


def cparams(**kw):
    kw.setdefault("threshold", 31)
    kw.setdefault("window", 7)
    return params(model=COUNTER, **kw)


def test_counter_idle_ticks_leave_state_untouched():
    # active = 0 and I = 0: host-written garbage stays as it is
    got = trace(cparams(), state(v=5, s=-3, timer=4, active=0), [0, 0])
    assert got == [(5, -3, 4, 0, F)] * 2


def test_counter_starts_on_first_input_and_ignores_leak_and_refractory():
    # garbage state cleared at start; s = 0 + 2 = 2, v = 0 + 2 = 2, timer 1.
    # Next tick (I = 0, still active): s = 2, v = 2 + 2 = 4, timer 2.
    # lambda = 5 and R = 3 must have no effect.
    p = cparams(leak=5, refractory=3)
    got = trace(p, state(v=5, s=-3, timer=4, active=0), [2, 0])
    assert got == [(2, 2, 1, 1, F), (4, 2, 2, 1, F)]


def test_counter_negative_first_input_starts_and_times_out():
    # W = 3: s = -2, v = -2 (age 1); v = -4 (age 2); v = -6, age 3 >= 3 -> cleared;
    # then idle.
    got = trace(cparams(window=3), state(), [-2, 0, 0, 0])
    assert got == [
        (-2, -2, 1, 1, F),
        (-4, -2, 2, 1, F),
        (0, 0, 0, 0, F),
        (0, 0, 0, 0, F),
    ]


def test_counter_negative_start_can_still_fire():
    # theta = 5: I = -2 -> s -2, v -2; I = +5 -> s 3, v 1; s 3, v 4; v 7 >= 5 spike
    got = trace(cparams(threshold=5), state(), [-2, 5, 0, 0])
    assert got == [(-2, -2, 1, 1, F), (1, 3, 2, 1, F), (4, 3, 3, 1, F), (0, 0, 0, 0, T)]


def test_counter_earlier_inputs_count_more():
    # theta = 12, W = 7. Both get 1 at t0 and 2 more later.
    # A (2 at t1): s 1,3,3,3,3 -> v 1,4,7,10,13 -> spike at t4 (13 >= 12)
    a = trace(cparams(threshold=12), state(), [1, 2, 0, 0, 0])
    assert a == [
        (1, 1, 1, 1, F),
        (4, 3, 2, 1, F),
        (7, 3, 3, 1, F),
        (10, 3, 4, 1, F),
        (0, 0, 0, 0, T),
    ]
    # B (2 at t3): s 1,1,1,3,3 -> v 1,2,3,6,9 -> no spike by t4
    b = trace(cparams(threshold=12), state(), [1, 0, 0, 2, 0])
    assert b == [
        (1, 1, 1, 1, F),
        (2, 1, 2, 1, F),
        (3, 1, 3, 1, F),
        (6, 3, 4, 1, F),
        (9, 3, 5, 1, F),
    ]


def test_counter_negative_input_reduces_slope():
    # I = 3 then -3: s 3 -> 0, v 3 -> 3 + 0 = 3 -> 3
    got = trace(cparams(), state(), [3, -3, 0])
    assert got == [(3, 3, 1, 1, F), (3, 0, 2, 1, F), (3, 0, 3, 1, F)]


def test_counter_direct_start_adds_twice():
    # direct = 1, theta = 10, I = 5: s = 5, v = 0 + 5 + 5 = 10 >= 10 fires at once
    assert trace(cparams(threshold=10, direct=1), state(), [5]) == [(0, 0, 0, 0, T)]
    # direct = 0: v = 0 + 5 = 5 < 10
    assert trace(cparams(threshold=10, direct=0), state(), [5]) == [(5, 5, 1, 1, F)]


def test_counter_direct_later_ticks():
    # direct = 1: I=3: s 3, v 0+3+3 = 6; I=2: s 5, v 6+5+2 = 13; I=0: s 5, v 13+5 = 18
    got = trace(cparams(direct=1), state(), [3, 2, 0])
    assert got == [(6, 3, 1, 1, F), (13, 5, 2, 1, F), (18, 5, 3, 1, F)]


def test_counter_threshold_is_greater_or_equal():
    # I = 3: v 3, 6, 9. theta = 6 fires at t1 (6 >= 6); theta = 7 waits until t2.
    got6 = trace(cparams(threshold=6), state(), [3, 0, 0])
    assert got6 == [(3, 3, 1, 1, F), (0, 0, 0, 0, T), (0, 0, 0, 0, F)]  # spike clears all
    got7 = trace(cparams(threshold=7), state(), [3, 0, 0])
    assert got7 == [(3, 3, 1, 1, F), (6, 3, 2, 1, F), (0, 0, 0, 0, T)]


def test_counter_spike_clears_host_state_and_next_input_restarts():
    # spike at t1 clears v, s, timer, active; t2 idle; t3 input 2 restarts from 0
    got = trace(cparams(threshold=6), state(), [3, 0, 0, 2])
    assert got[1:] == [(0, 0, 0, 0, T), (0, 0, 0, 0, F), (2, 2, 1, 1, F)]


def test_counter_timeout():
    # W = 3: v 1, 2, then age 3 >= 3 -> cleared without spike; then idle
    got = trace(cparams(window=3), state(), [1, 0, 0, 0])
    assert got == [(1, 1, 1, 1, F), (2, 1, 2, 1, F), (0, 0, 0, 0, F), (0, 0, 0, 0, F)]


def test_counter_timeout_with_input_on_last_tick_then_restart():
    # W = 2: t0 s 1 v 1 age 1; t1 s 5 v 6 age 2 >= 2 -> cleared; t2 I = 3 restarts
    got = trace(cparams(window=2), state(), [1, 4, 3])
    assert got == [(1, 1, 1, 1, F), (0, 0, 0, 0, F), (3, 3, 1, 1, F)]


@pytest.mark.parametrize("window", [0, 1])
def test_counter_window_zero_and_one_are_one_tick(window):
    # age after the start tick is 1 >= W: cleared at once (v 1 < theta 31)
    got = trace(cparams(window=window), state(), [1, 0])
    assert got == [(0, 0, 0, 0, F), (0, 0, 0, 0, F)]
    # but a start tick that reaches theta spikes (spike wins over timeout): v 5 >= 5
    assert trace(cparams(window=window, threshold=5), state(), [5]) == [(0, 0, 0, 0, T)]


def test_counter_negative_saturation_of_s_and_v():
    # I = -20: s -20, v -20; I = -20: s sat(-40) = -32, v sat(-20 - 32) = -32;
    # I = 0: s -32, v sat(-32 - 32) = -32
    got = trace(cparams(), state(), [-20, -20, 0])
    assert got == [(-20, -20, 1, 1, F), (-32, -32, 2, 1, F), (-32, -32, 3, 1, F)]


def test_counter_positive_saturation_of_s_before_v():
    # active, v = -32, s = 20, I = 20: s = sat(40) = 31; v = sat(-32 + 31) = -1
    # (an unsaturated s would give v = 8)
    got = trace(cparams(), state(v=-32, s=20, timer=1, active=1), [20])
    assert got == [(-1, 31, 2, 1, F)]


def test_counter_positive_saturation_of_v():
    st = state(v=25, s=10, timer=1, active=1)
    # v = sat(25 + 10) = 31 >= theta 31: spike (max threshold reachable)
    assert trace(cparams(threshold=31), st, [0]) == [(0, 0, 0, 0, T)]
    # theta = 32 (beyond the field, never met): v stays at the saturated 31
    assert trace(cparams(threshold=32), st, [0]) == [(31, 10, 2, 1, F)]


def test_counter_saturation_applied_once_to_v_sum():
    # direct, v = -30, s = -10, I = 5: s = -5; v = sat(-30 - 5 + 5) = -30
    # (saturating v + s first would give sat(-35) + 5 = -27)
    got = trace(cparams(direct=1), state(v=-30, s=-10, timer=1, active=1), [5])
    assert got == [(-30, -5, 2, 1, F)]


def test_mixed_models_update_independently():
    p = {
        "model": np.array([LIF, COUNTER, LIF, COUNTER]),
        "threshold": np.array([5, 5, 31, 31]),
        "leak": np.array([0, 0, 0, 0]),
        "refractory": np.array([2, 2, 0, 0]),
        "window": np.array([7, 7, 7, 7]),
        "direct": np.array([0, 0, 0, 0]),
        "output": np.zeros(4, dtype=np.int64),
        "learn": np.zeros(4, dtype=np.int64),
    }
    st, spk = neuron.update(G, p, state(), np.array([5, 5, 3, 3]))
    # n0 LIF 5 >= 5 spike, timer R = 2; n1 COUNTER s 5 v 5 >= 5 spike, cleared;
    # n2 LIF v 3; n3 COUNTER s 3 v 3 age 1 active
    assert spk.tolist() == [T, T, F, F]
    assert st["v"].tolist() == [0, 0, 3, 3]
    assert st["s"].tolist() == [0, 0, 0, 3]
    assert st["timer"].tolist() == [2, 0, 0, 1]
    assert st["active"].tolist() == [0, 0, 0, 1]


@pytest.mark.parametrize("model", [LIF, COUNTER])
def test_single_model_spikes_are_bool(model):
    """An all-LIF or all-COUNTER population takes one model's rules only:
    its spikes are still a bool array, with or without input."""
    p = params(model=model, threshold=3, window=7)
    for inp in ([0, 0, 0, 0], [3, 0, 2, 5]):
        st, spk = neuron.update(G, p, state(), np.array(inp))
        assert spk.dtype == bool
        # LIF and COUNTER (start tick, s = v = I) both spike iff I >= 3.
        assert spk.tolist() == [i >= 3 for i in inp]


# -- core ------------------------------------------------------------------


def make_core(entries=(), threshold=31, **kw):
    """entries: (row, column, count, sign). Default LIF, lambda 0, R 0."""
    core = CoreModel(G)
    count = np.zeros((G.rows, G.neurons), dtype=np.int64)
    sign = np.zeros((G.rows, G.neurons), dtype=np.int64)
    for r, c, n, sg in entries:
        count[r, c], sign[r, c] = n, sg
    core.set_crossbar(count, sign)
    core.set_params(threshold=threshold, **kw)
    return core


def test_core_recurrent_spike_arrives_next_tick():
    # axon 0 -> n0 (+1, theta 1); n0's recurrent row 0 -> n1 (+3, theta 3)
    core = make_core(
        [(AX + 0, 0, 1, 0), (0, 1, 3, 0)], threshold=[1, 3, 31, 31], leak=0, refractory=0
    )
    res = core.run([[0], [], []])
    # t0: only axon 0 active -> I = [1,0,0,0], n0 spikes; n1 does not see it yet
    # t1: row 0 active -> I = [0,3,0,0], n1 spikes (3 >= 3)
    # t2: row 1 active, it has no synapses -> I = 0
    assert res.inputs.tolist() == [[1, 0, 0, 0], [0, 3, 0, 0], [0, 0, 0, 0]]
    assert res.spikes.tolist() == [[T, F, F, F], [F, T, F, F], [F, F, F, F]]


def test_core_no_recurrent_rows_at_tick_zero():
    # every recurrent row full of +3 synapses, no axon events: I = 0 at tick 0
    entries = [(r, c, 3, 0) for r in range(G.neurons) for c in range(G.neurons)]
    core = make_core(entries)
    spikes, inp = core.tick([])
    assert inp.tolist() == [0, 0, 0, 0]
    assert spikes.tolist() == [F, F, F, F]


def test_core_self_connection_sustains():
    # axon 0 -> n0 +1 and n0 -> n0 +1, theta 1, R 0: spikes on every tick
    core = make_core([(AX + 0, 0, 1, 0), (0, 0, 1, 0)], threshold=[1, 31, 31, 31])
    res = core.run([[0], [], [], []])
    assert res.spikes[:, 0].tolist() == [T, T, T, T]
    assert res.inputs[:, 0].tolist() == [1, 1, 1, 1]


def test_core_recurrent_inhibition():
    # axon 0 -> n0 +1 (theta 1); n0 -> n1 count 2 sign 1 (weight -2)
    core = make_core([(AX + 0, 0, 1, 0), (0, 1, 2, 1)], threshold=[1, 31, 31, 31])
    res = core.run([[0], []])
    assert res.inputs[:, 1].tolist() == [0, -2]
    assert res.state["v"][:, 1].tolist() == [0, -2]  # 0 - 2 = -2


def test_core_axon_events():
    # axon 2 -> n3 +2, axon 3 -> n0 +1
    core = make_core([(AX + 2, 3, 2, 0), (AX + 3, 0, 1, 0)])
    assert core.tick([2])[1].tolist() == [0, 0, 0, 2]
    assert core.tick([])[1].tolist() == [0, 0, 0, 0]
    assert core.tick([2, 3])[1].tolist() == [1, 0, 0, 2]
    # lambda 0: n3 v = 2 + 0 + 2 = 4, n0 v = 1
    assert core.state["v"].tolist() == [1, 0, 0, 4]


def test_core_duplicate_axon_events_count_once():
    # axon 1 -> n2 +3; three events for axon 1 in one tick: I = 3, not 9
    core = make_core([(AX + 1, 2, 3, 0)])
    spikes, inp = core.tick([1, 1, 1])
    assert inp.tolist() == [0, 0, 3, 0]
    assert core.state["v"].tolist() == [0, 0, 3, 0]


@pytest.mark.parametrize("axons", [[4], [-1], [0, 4], [100]])
def test_core_axon_out_of_range(axons):
    core = make_core()
    with pytest.raises(ValueError):
        core.tick(axons)
    with pytest.raises(ValueError):
        core.run([axons])


def test_core_excitatory_inhibitory_and_zero_count():
    # into n0: axon 0 count 2 sign 0 (+2), axon 1 count 3 sign 1 (-3),
    # axon 2 count 0 sign 1 (no synapse), axon 3 count 0 sign 0 (no synapse)
    core = make_core([(AX + 0, 0, 2, 0), (AX + 1, 0, 3, 1), (AX + 2, 0, 0, 1), (AX + 3, 0, 0, 0)])
    assert core.tick([0])[1][0] == 2
    assert core.state["v"][0] == 2  # 0 + 2
    assert core.tick([1])[1][0] == -3
    assert core.state["v"][0] == -1  # 2 - 3, inhibition lowers v
    assert core.tick([0, 1])[1][0] == -1  # 2 - 3
    assert core.tick([2])[1][0] == 0  # count 0 with sign 1 is nothing
    assert core.tick([0, 2])[1][0] == 2  # 2 + 0
    assert core.tick([2, 3])[1][0] == 0
    assert core.state["v"][0] == 0  # -1 - 1 + 0 + 2 + 0


def test_layout_sizes():
    # entry: count 2 + sign 1; state: v 6 + s 6 + timer 3 + active 1
    # params: model 1 + theta 5 + lambda 5 + R 3 + W 3 + direct + output + learn
    assert G.entry_layout.size == 3
    assert G.state_layout.size == 16
    assert G.params_layout.size == 20


def test_config_roundtrip_crossbar():
    core = make_core()
    # entry (row 5 = axon 1, column 2): index 5 * 4 + 2 = 22; count 3 | sign 1 << 2 = 7
    word = pack(G.entry_layout, count=3, sign=1)
    assert word == 3 | 1 << 2 == 7
    core.write(Region.CROSSBAR, 22, word)
    assert core.read(Region.CROSSBAR, 22) == 7
    assert unpack(G.entry_layout, core.read(Region.CROSSBAR, 22)) == {"count": 3, "sign": 1}
    # the entry is live: axon 1 gives n2 weight -3
    assert core.tick([1])[1].tolist() == [0, 0, -3, 0]
    # a zero count keeps its sign: count 0 | sign 1 << 2 = 4 reads back as 4
    core.write(Region.CROSSBAR, 22, 4)
    assert core.read(Region.CROSSBAR, 22) == 4
    assert core.tick([1])[1].tolist() == [0, 0, 0, 0]


def test_config_roundtrip_params():
    core = make_core()
    fields = dict(
        model=1, threshold=17, leak=9, refractory=5, window=6, direct=1, output=1, learn=1
    )
    # bits: model [0], theta [1..5], lambda [6..10], R [11..13], W [14..16],
    # direct [17], output [18], learn [19]
    # 1 + 34 + 576 + 10240 + 98304 + 131072 + 262144 + 524288 = 1026659
    expected = 1 | 17 << 1 | 9 << 6 | 5 << 11 | 6 << 14 | 1 << 17 | 1 << 18 | 1 << 19
    assert expected == 1026659
    word = pack(G.params_layout, **fields)
    assert word == 1026659
    core.write(Region.PARAMS, 3, word)
    assert core.read(Region.PARAMS, 3) == 1026659
    assert unpack(G.params_layout, core.read(Region.PARAMS, 3)) == fields
    assert {k: int(v[3]) for k, v in core.params.items()} == fields
    # neuron 2 was set by make_core: threshold 31, everything else 0 -> 31 << 1
    assert core.read(Region.PARAMS, 2) == 62


def test_config_roundtrip_state_and_update():
    core = make_core()
    # v = -7 -> 6-bit two's complement 57; s 12 << 6 = 768; timer 4 << 12 = 16384;
    # active 1 << 15 = 32768; total 49977
    word = pack(G.state_layout, v=-7, s=12, timer=4, active=1)
    assert word == 49977
    core.write(Region.STATE, 1, word)
    assert core.read(Region.STATE, 1) == 49977
    assert unpack(G.state_layout, 49977) == {"v": -7, "s": 12, "timer": 4, "active": 1}
    assert core.state["v"][1] == -7
    # v = -32 -> 32; s 31 << 6 = 1984; timer 7 << 12 = 28672; active 0: 30688
    assert pack(G.state_layout, v=-32, s=31, timer=7, active=0) == 30688
    core.write(Region.STATE, 0, 30688)
    assert core.read(Region.STATE, 0) == 30688
    assert core.state["v"][0] == -32
    # n1 is LIF with timer 4 > 0: one tick is refractory: v <- 0, timer 3, s and
    # active untouched -> 0 + 768 + (3 << 12 = 12288) + 32768 = 45824
    core.tick([])
    assert core.read(Region.STATE, 1) == 45824


@pytest.mark.parametrize("region", CORE_REGIONS)
def test_config_roundtrip_every_region_all_ones(region):
    core = make_core()
    layout = G.region_layout(region)
    depth = G.region_depth(region)
    # depths: crossbar 8 rows * 4 = 32, params 4, state 4
    assert depth == {Region.CROSSBAR: 32, Region.PARAMS: 4, Region.STATE: 4}[region]
    ones = (1 << layout.size) - 1
    for index in (0, depth - 1):
        core.write(region, index, ones)
        assert core.read(region, index) == ones
        assert pack(layout, **unpack(layout, core.read(region, index))) == ones
    word = pack(layout, **unpack(layout, 0))
    core.write(region, 1, word)
    assert core.read(region, 1) == 0


def test_routes_region_is_not_a_core_region():
    core = make_core()
    with pytest.raises(ValueError, match="ROUTES"):
        core.write(Region.ROUTES, 0, 1)
    with pytest.raises(ValueError, match="ROUTES"):
        core.read(Region.ROUTES, 0)


def test_output_events_only_output_neurons():
    # axon a -> neuron a, +1; theta 1; output enabled on n0 and n2 only
    core = make_core(
        [(AX + a, a, 1, 0) for a in range(4)], threshold=1, output=[1, 0, 1, 0], refractory=0
    )
    res = core.run([[0, 1, 2, 3], [2], [], [1, 0]])
    assert res.spikes.tolist() == [
        [T, T, T, T],
        [F, F, T, F],
        [F, F, F, F],
        [T, T, F, F],
    ]
    # n1 and n3 spiked but are not output-enabled; increasing neuron order per tick
    assert res.output_events(core.params) == [(0, 0), (0, 2), (1, 2), (3, 0)]
    assert res.output_events(core.params, tick0=10) == [(10, 0), (10, 2), (11, 2), (13, 0)]


# -- geometry validation -----------------------------------------------------

BASE = dict(neurons=4, axons=4, lanes=2, count_bits=2, potential_bits=6, timer_bits=3)


@pytest.mark.parametrize(
    "field, overrides",
    [
        ("levels", {"levels": ()}),
        ("levels", {"levels": (2, 0)}),
        ("neurons", {"neurons": 3}),
        ("neurons", {"neurons": 0}),
        ("neurons", {"neurons": 1, "lanes": 1}),
        ("axons", {"axons": 6}),
        ("axons", {"axons": 0}),
        ("lanes", {"lanes": 3}),
        ("lanes", {"lanes": 8}),
        ("count_bits", {"count_bits": 0}),
        ("count_bits", {"count_bits": 9}),
        ("potential_bits", {"potential_bits": 3}),
        ("potential_bits", {"potential_bits": 33}),
        ("fanout", {"fanout": 0}),
        ("fanout", {"fanout": 65}),
        ("fanout", {"fanout": 3}),
        ("history", {"history": -1}),
        ("history", {"history": 33}),
        ("timer_bits", {"timer_bits": 0}),
        ("timer_bits", {"timer_bits": 17}),
        ("tick_bits", {"tick_bits": 7}),
        ("tick_bits", {"tick_bits": 33}),
    ],
)
def test_geometry_rejects_bad_field(field, overrides):
    with pytest.raises(ValueError, match=re.escape(f"Geometry.{field}")):
        Geometry(**{**BASE, **overrides})


@pytest.mark.parametrize(
    "overrides",
    [
        {"neurons": 2, "lanes": 2},
        {"lanes": 4},
        {"lanes": 1},
        {"axons": 1},
        {"count_bits": 1},
        {"count_bits": 8},
        {"potential_bits": 4},
        {"potential_bits": 32},
        {"timer_bits": 1},
        {"timer_bits": 16},
        {"tick_bits": 8},
        {"tick_bits": 32},
        {"fanout": 64},
        {"fanout": 1},
        {"history": 32},
        {"levels": (2, 3)},
    ],
)
def test_geometry_accepts_boundary_values(overrides):
    Geometry(**{**BASE, **overrides})


def test_protocol_page_is_generated():
    """docs/protocol.md is what spikeloom/protocol.py generates (one source of truth)."""
    from pathlib import Path

    from spikeloom.protocol import protocol_markdown

    page = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
    assert page.read_text() == protocol_markdown(), "run: python -m spikeloom.protocol"
