"""NIR import: quantisation worked out by hand, placement, refusals, behaviour."""

import copy
import subprocess
import sys
from pathlib import Path

import nir
import numpy as np
import pytest

from spikeloom.defs import Geometry
from spikeloom.host.netfile import load_network_with_meta
from spikeloom.host.nir_import import NIRImportError, import_nir
from spikeloom.network import NetworkError
from spikeloom.sim.top import ChipModel

SPIKELOOM = str(Path(sys.executable).parent / "spikeloom")
DT = 1e-3


def lif(n, tau=2e-3, r=1.0, v_threshold=1.0, v_leak=0.0, v_reset=None):
    full = lambda x: np.broadcast_to(np.asarray(x, dtype=float), (n,)).copy()  # noqa: E731
    return nir.LIF(
        tau=full(tau),
        r=full(r),
        v_leak=full(v_leak),
        v_threshold=full(v_threshold),
        v_reset=full(v_leak if v_reset is None else v_reset),
    )


def if_(n, r=1.0 / DT, v_threshold=1.0):
    return nir.IF(r=np.full(n, float(r)), v_threshold=np.full(n, float(v_threshold)))


def chain(*layers, n_in, type_check=True):
    """Input(n_in) -> layers... -> Output, the nodes named by the caller."""
    nodes = {"in": nir.Input(input_type=np.array([n_in]))}
    edges, prev = [], "in"
    for name, node in layers:
        nodes[name] = node
        edges.append((prev, name))
        prev = name
    size = np.size(layers[-1][1].v_threshold)
    nodes["out"] = nir.Output(output_type=np.array([size]))
    edges.append((prev, "out"))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=type_check)


# A hand-made matrix (out 3, in 2). With r = 1, tau = 2 dt the per-tick weight
# is W / 2, so scale = max|W/2| / 7 = 1/14 and W_eff / scale = 7 W:
#   7 W = [[7, -3.5], [1.75, 0.35], [3.5, -5.25]]
#   counts (halves away from zero) [[7, 4], [2, 0], [4, 5]], signs [[0, 1], [0, 0], [0, 1]]
#   errors q - x = [[0, -0.5], [0.25, -0.35], [0.5, 0.25]]
W_HAND = np.array([[1.0, -0.5], [0.25, 0.05], [0.5, -0.75]])
COUNT_HAND = np.array([[7, 4], [2, 0], [4, 5]])
SIGN_HAND = np.array([[0, 1], [0, 0], [0, 1]])
ERR_HAND = np.array([[0, -0.5], [0.25, -0.35], [0.5, 0.25]])
X_HAND = 7 * W_HAND


def hand_graph():
    return chain(
        ("fc", nir.Linear(weight=W_HAND)), ("lif", lif(3, v_threshold=[0.5, 1.0, 0.15])), n_in=2
    )


def test_hand_quantisation_counts_signs_thresholds_leaks():
    net, report = import_nir(hand_graph(), dt=DT)
    g = net.geometry
    assert (g.levels, g.neurons, g.axons, g.count_bits) == ((1,), 4, 2, 3)
    # Axon a (row N + a) onto neuron j holds W[j, a].
    np.testing.assert_array_equal(net.count[0, 4:6, 0:3], COUNT_HAND.T)
    np.testing.assert_array_equal(net.sign[0, 4:6, 0:3], SIGN_HAND.T)
    assert not net.count[0, :4].any() and not net.count[0, 4:, 3].any()
    # theta / scale = 14 * v_threshold = 7, 14, 2.1; leak = that * dt / tau = 3.5, 7, 1.05.
    np.testing.assert_array_equal(net.params["threshold"][0], [7, 14, 2, g.v_max])
    np.testing.assert_array_equal(net.params["leak"][0], [4, 7, 1, 0])
    np.testing.assert_array_equal(net.params["output"][0], [1, 1, 1, 0])
    np.testing.assert_array_equal(net.params["model"][0], [0, 0, 0, 0])
    (pop,) = report.populations
    assert pop.scale == pytest.approx(1 / 14)
    assert (pop.first_neuron, pop.size, pop.output, pop.threshold) == (0, 3, True, (2, 14))


def test_hand_quantisation_error_figures():
    _, report = import_nir(hand_graph(), dt=DT)
    (layer,) = report.layers
    assert (layer.name, layer.kind, layer.source, layer.target) == ("fc", "Linear", "in", "lif")
    assert layer.shape == (3, 2)
    assert layer.synapses == 5 and layer.pruned == 1  # 0.35 rounds to nothing
    assert layer.max_abs == pytest.approx(0.5)
    expected = np.sqrt(np.sum(ERR_HAND**2) / np.sum(X_HAND**2))
    assert layer.rel_rms == pytest.approx(expected)
    assert layer.rel_rms == pytest.approx(np.sqrt(0.7475 / 104.2475))
    text = str(report)
    assert "fc" in text and "in -> lif" in text and "0.500" in text
    assert f"{expected:.2%}" in text
    assert "linear leak" in text


def test_two_layer_graph_from_file(tmp_path):
    rng = np.random.default_rng(5)
    w1 = rng.normal(size=(4, 3))
    w2 = rng.normal(size=(2, 4))
    graph = chain(
        ("fc1", nir.Affine(weight=w1, bias=np.zeros(4))),
        ("hidden", lif(4, tau=2e-3, r=2.0, v_threshold=1.0)),
        ("fc2", nir.Linear(weight=w2)),
        ("top", if_(2, r=2000.0, v_threshold=3.0)),
        n_in=3,
    )
    path = tmp_path / "two.nir"
    nir.write(path, graph)
    net, report = import_nir(path, dt=DT)
    g = net.geometry
    assert (g.neurons, g.axons) == (8, 4)
    assert report.source == "two.nir"
    assert [(p.name, p.first_neuron, p.size) for p in report.populations] == [
        ("hidden", 0, 4),
        ("top", 4, 2),
    ]
    # Layer 1: axons 0..2 onto neurons 0..3, per-tick weight W * r * dt / tau = W.
    # An absent synapse (count 0) has sign 0.
    s1 = np.abs(w1).max() / 7
    c1 = np.floor(np.abs(w1.T) / s1 + 0.5)
    np.testing.assert_array_equal(net.count[0, 8:11, 0:4], c1)
    np.testing.assert_array_equal(net.sign[0, 8:11, 0:4], (w1.T < 0) & (c1 > 0))
    # Layer 2: recurrent rows of the hidden neurons onto 4..5, weight W * r * dt = 2 W.
    s2 = np.abs(2 * w2).max() / 7
    c2 = np.floor(np.abs(2 * w2.T) / s2 + 0.5)
    np.testing.assert_array_equal(net.count[0, 0:4, 4:6], c2)
    np.testing.assert_array_equal(net.sign[0, 0:4, 4:6], (w2.T < 0) & (c2 > 0))
    assert (c2 == 0).any() and (w2 != 0).all()  # this seed prunes a weight
    assert not net.count[0, 0:4, 0:4].any() and not net.count[0, 8:, 4:].any()
    np.testing.assert_array_equal(net.params["threshold"][0, 4:6], np.floor(3.0 / s2 + 0.5))
    np.testing.assert_array_equal(net.params["leak"][0, 4:6], [0, 0])  # IF: no leak
    np.testing.assert_array_equal(net.params["output"][0], [0, 0, 0, 0, 1, 1, 0, 0])


def test_recurrent_layer_shares_the_population_scale():
    """lif -> rec -> lif becomes recurrent rows; one scale for both weight nodes."""
    graph = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type=np.array([2])),
            "fc": nir.Linear(weight=np.ones((3, 2))),
            "lif": lif(3, tau=2e-3, r=2.0),  # per-tick weight = W
            "rec": nir.Linear(weight=-2 * np.eye(3)),
            "out": nir.Output(output_type=np.array([3])),
        },
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "out")],
    )
    net, report = import_nir(graph, dt=DT)
    # scale = 2 / 7: the self-inhibition is a full count, an input weight of 1 is 3.5 -> 4.
    assert [y.scale for y in report.layers] == pytest.approx([2 / 7, 2 / 7])
    np.testing.assert_array_equal(net.count[0, 0:3, 0:3], 7 * np.eye(3))
    np.testing.assert_array_equal(net.sign[0, 0:3, 0:3], np.eye(3))
    np.testing.assert_array_equal(net.count[0, 4:6, 0:3], np.full((2, 3), 4))
    np.testing.assert_array_equal(net.params["threshold"][0, :3], [4, 4, 4])  # 3.5 -> 4


def test_golden_model_fires_on_strong_input_and_not_without_weights():
    def run(weight):
        graph = chain(("fc", nir.Linear(weight=weight)), ("lif", lif(2, tau=4e-3)), n_in=3)
        net, report = import_nir(graph, dt=DT)
        chip = ChipModel(net)
        events = []
        for _ in range(10):
            events += chip.tick([(0, a) for a in range(3)])[1]
        return events, report

    events, _ = run(np.full((2, 3), 0.5))
    assert {n for _, _, n in events} == {0, 1}  # both output neurons, nothing else
    events, report = run(np.zeros((2, 3)))
    assert events == []
    assert any("all its weights are zero" in n for n in report.notes)


def test_if_network_matches_a_float_euler_reference():
    """Two IF layers whose weights are exact multiples of the scale: the chip's
    raster equals the NIR Euler dynamics with one tick per layer."""
    rng = np.random.default_rng(7)
    q = 0.25  # the scale: max |W| = 1.75 = 7 q
    w1 = rng.integers(-7, 8, (5, 4)) * q
    w2 = rng.integers(-7, 8, (3, 5)) * q
    w1[0, 0], w2[0, 0] = 1.75, -1.75
    # Thresholds half a step between representable potentials, so NIR's ">"
    # and spikeloom's ">=" agree.
    th1, th2 = 1.125, 0.875
    graph = chain(
        ("fc1", nir.Linear(weight=w1)),
        ("l1", if_(5, v_threshold=th1)),
        ("fc2", nir.Linear(weight=w2)),
        ("l2", if_(3, v_threshold=th2)),
        n_in=4,
    )
    net, report = import_nir(graph, dt=DT)
    assert all(y.max_abs == 0 for y in report.layers)
    chip = ChipModel(net)
    x = rng.random((40, 4)) < 0.4
    v1, v2, s1_prev = np.zeros(5), np.zeros(3), np.zeros(5, dtype=bool)
    for t in range(40):
        v1 = v1 + w1 @ x[t]
        v2 = v2 + w2 @ s1_prev  # layer-1 spikes of the previous tick
        s1, s2 = v1 > th1, v2 > th2
        v1[s1], v2[s2] = 0, 0
        spikes, events = chip.tick([(0, a) for a in np.flatnonzero(x[t])])
        np.testing.assert_array_equal(spikes[0, :5], s1, err_msg=f"tick {t}")
        np.testing.assert_array_equal(spikes[0, 5:8], s2, err_msg=f"tick {t}")
        assert [n for _, _, n in events] == [5 + j for j in np.flatnonzero(s2)]
        s1_prev = s1
    assert chip.counters["output_events"] > 0


# -- refusals --------------------------------------------------------------------------


def test_unsupported_node_is_refused_by_name():
    conv = nir.Conv2d(
        input_shape=(4, 4),
        weight=np.ones((1, 1, 3, 3)),
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=np.zeros(1),
    )
    graph = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([1, 4, 4])), "conv1": conv},
        edges=[("in", "conv1")],
        type_check=False,
    )
    with pytest.raises(NIRImportError) as info:
        import_nir(graph)
    assert str(info.value) == (
        "NIR node 'conv1' of type Conv2d is not supported "
        "(supported: Input, Output, Affine, Linear, Scale, Flatten, LIF, IF)"
    )


def test_graph_too_large_for_the_geometry_names_the_sizes():
    graph = chain(("fc", nir.Linear(weight=np.ones((5, 3)))), ("lif", lif(5)), n_in=3)
    small = Geometry(neurons=4, axons=4, lanes=4)
    with pytest.raises(
        NetworkError, match=r"needs 5 neurons and 3 axons .* N = 4 neurons and A = 4"
    ):
        import_nir(graph, small)
    net, _ = import_nir(graph, Geometry(neurons=8, axons=4, lanes=4))
    assert net.count[0, 8:11, 0:5].all()


def _graph_with(**kw):
    """The hand graph with one thing changed."""
    weight = kw.pop("weight", W_HAND)
    return chain(("fc", nir.Linear(weight=weight)), ("lif", lif(3, **kw)), n_in=weight.shape[1])


@pytest.mark.parametrize(
    "graph, fragments",
    [
        (
            lambda: chain(
                ("fc", nir.Affine(weight=W_HAND, bias=np.array([0, np.inf, 0]))),
                ("lif", lif(3)),
                n_in=2,
            ),
            ["'fc' (Affine): bias is not finite"],
        ),
        (lambda: _graph_with(v_reset=0.2), ["'lif' (LIF): v_reset must equal v_leak"]),
        (lambda: _graph_with(tau=5e-4), ["'lif' (LIF): tau = 0.0005 s is shorter than", "dt"]),
        (lambda: _graph_with(v_threshold=-1.0), ["'lif' (LIF): v_threshold must lie above"]),
        (lambda: _graph_with(v_threshold=1e-3), ["rounds to threshold 0"]),
        (lambda: _graph_with(weight=W_HAND * 1e-6), ["does not fit potential_bits = 16"]),
        (
            lambda: nir.NIRGraph(
                nodes={"in": nir.Input(input_type=np.array([3])), "lif": lif(3)},
                edges=[("in", "lif")],
            ),
            ["NIR edge 'in' -> 'lif'", "an Input must feed an Affine or Linear node"],
        ),
        (
            lambda: nir.NIRGraph(
                nodes={
                    "in": nir.Input(input_type=np.array([2])),
                    "fc": nir.Linear(weight=W_HAND),
                    "out": nir.Output(output_type=np.array([3])),
                },
                edges=[("in", "fc"), ("fc", "out")],
            ),
            ["NIR edge 'fc' -> 'out'", "must feed LIF/IF neurons"],
        ),
        (
            lambda: chain(
                ("fc", nir.Linear(weight=np.ones((3, 5)))),
                ("lif", lif(3)),
                n_in=2,
                type_check=False,
            ),
            ["'fc' (Linear): weight of shape (3, 5)", "expected (3, 2)"],
        ),
    ],
)
def test_refusals_name_the_node(graph, fragments):
    with pytest.raises(NIRImportError) as info:
        import_nir(graph(), dt=DT)
    for f in fragments:
        assert f in str(info.value)


def test_geometry_fields_and_auto_size():
    net, report = import_nir(hand_graph(), dt=DT, count_bits=5)
    assert net.geometry.count_bits == 5 and net.geometry.neurons == 4
    # count_bits 5: the largest per-tick weight (0.5) is now a full count of 31.
    assert net.count[0, 4, 0] == 31
    assert report.populations[0].scale == pytest.approx(0.5 / 31)


# -- the CLI ---------------------------------------------------------------------------------


def _cli(*args):
    return subprocess.run([SPIKELOOM, *args], capture_output=True, text=True, timeout=60)


def test_cli_import_nir_writes_a_loadable_network(tmp_path):
    nir.write(tmp_path / "hand.nir", hand_graph())
    r = _cli(
        "import-nir",
        str(tmp_path / "hand.nir"),
        "--out",
        str(tmp_path / "hand.toml"),
        "--dt",
        "1e-3",
    )
    assert r.returncode == 0, r.stderr
    assert "agreement with the float reference over 200 ticks" in r.stdout
    assert "rel RMS" in r.stdout and "approximations:" in r.stdout
    net, meta = load_network_with_meta(tmp_path / "hand.toml")
    expected, _ = import_nir(hand_graph(), dt=DT)
    np.testing.assert_array_equal(net.count, expected.count)
    np.testing.assert_array_equal(net.params["threshold"], expected.params["threshold"])
    assert meta["source"] == "hand.nir"
    assert "input in: core 0 axons 0..1" in meta["description"]
    assert "LIF lif: core 0 neurons 0..2 (output)" in meta["description"]


def test_cli_import_nir_refuses_an_unsupported_node(tmp_path):
    clif = nir.CubaLIF(
        tau_syn=np.ones(2),
        tau_mem=np.ones(2),
        r=np.ones(2),
        v_leak=np.zeros(2),
        v_threshold=np.ones(2),
    )
    graph = chain(("fc", nir.Linear(weight=np.ones((2, 2)))), ("syn", clif), n_in=2)
    nir.write(tmp_path / "cuba.nir", graph)
    r = _cli("import-nir", str(tmp_path / "cuba.nir"), "--out", str(tmp_path / "cuba.toml"))
    assert r.returncode == 1
    assert "NIR node 'syn' of type CubaLIF is not supported" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert not (tmp_path / "cuba.toml").exists()


# -- biases, Scale, Flatten, dt, the float reference ------------------------------------------


def test_bias_is_a_neuron_firing_every_tick_with_the_bias_as_its_row():
    graph = chain(
        ("fc", nir.Affine(weight=W_HAND, bias=np.array([0, 0.5, -0.25]))),
        ("lif", lif(3, v_threshold=[0.5, 1.0, 0.15])),
        n_in=2,
    )
    net, report = import_nir(graph, dt=DT)
    plain, _ = import_nir(hand_graph(), dt=DT)
    assert report.bias_neuron == 3
    # Per tick the bias adds b * r * dt / tau = b / 2; at scale 1/14 that is 7 b counts:
    # 0, 3.5 -> 4, -1.75 -> 2 inhibitory. The weights are as without a bias.
    np.testing.assert_array_equal(net.count[0, 3, 0:3], [0, 4, 2])
    np.testing.assert_array_equal(net.sign[0, 3, 0:3], [0, 0, 1])
    np.testing.assert_array_equal(net.count[0, 4:, :3], plain.count[0, 4:, :3])
    assert net.params["threshold"][0, 3] == 0 and net.params["output"][0, 3] == 0
    assert not net.count[0, :, 3].any()  # nothing feeds the bias neuron
    chip = ChipModel(copy.deepcopy(net))
    fired = [chip.tick([])[0][0, 3] for _ in range(5)]
    assert all(fired)
    assert any("bias" in n for n in report.notes)


def test_scale_and_flatten_fold_into_the_weights():
    s = np.array([2.0, 0.5, 1.0])
    folded = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type=np.array([2])),
            "flat": nir.Flatten(input_type={"input": np.array([2])}),
            "fc": nir.Linear(weight=W_HAND / s[:, None]),
            "scale": nir.Scale(scale=s),
            "lif": lif(3, v_threshold=[0.5, 1.0, 0.15]),
            "out": nir.Output(output_type=np.array([3])),
        },
        edges=[("in", "flat"), ("flat", "fc"), ("fc", "scale"), ("scale", "lif"), ("lif", "out")],
        type_check=False,
    )
    net, _ = import_nir(folded, dt=DT)
    plain, _ = import_nir(hand_graph(), dt=DT)
    np.testing.assert_array_equal(net.count, plain.count)
    np.testing.assert_array_equal(net.sign, plain.sign)
    np.testing.assert_array_equal(net.params["threshold"], plain.params["threshold"])


def test_tau_equal_to_dt_in_float32_is_accepted():
    tau = float(np.float32(1e-4 / (1 - np.float32(0.9))))  # 0.99999997e-3, as snnTorch writes
    graph = _graph_with(tau=tau)
    net, report = import_nir(graph, dt=1e-3)
    assert report.populations[0].leak[0] > 0
    with pytest.raises(NIRImportError, match="shorter than the tick dt"):
        import_nir(_graph_with(tau=0.99e-3), dt=1e-3)


SNNTORCH = Path(__file__).resolve().parent.parent / "examples" / "snntorch_mlp.nir"


def test_the_snntorch_export_imports_with_defaults_and_agrees_with_the_reference():
    from spikeloom.host.nir_sim import agreement

    net, report = import_nir(SNNTORCH)
    assert report.dt == 1e-4
    assert report.bias_neuron is not None  # nn.Linear's default bias, mapped
    assert [y.kind for y in report.layers] == ["Affine", "bias", "Affine", "bias"]
    a = agreement(net, report, ticks=200, seed=0)
    # Measured: 79 % of the 28 neurons within max(2, 20 %) spikes, correlation 0.992.
    assert a.neurons == 28
    assert a.within >= 0.75 and a.correlation >= 0.98, str(a)
    assert abs(a.chip_spikes - a.reference_spikes) <= 0.05 * a.reference_spikes
    # More bits per synapse agree better: 5 bits puts every neuron within bounds.
    net5, report5 = import_nir(SNNTORCH, count_bits=5)
    assert agreement(net5, report5).within >= a.within


def test_the_reference_differs_from_a_wrong_network():
    # The agreement figure can fail: the same report against a network with
    # its weights' signs flipped disagrees.
    from spikeloom.host.nir_sim import agreement

    net, report = import_nir(SNNTORCH)
    bad = copy.deepcopy(net)
    bad.sign[0] = np.where(bad.count[0] > 0, 1 - bad.sign[0], 0)
    assert agreement(bad, report).within < 0.5


def _three_layers(seed=3):
    rng = np.random.default_rng(seed)
    sizes = [6, 12, 10, 4]
    nodes = {"in": nir.Input(input_type=np.array([6]))}
    edges, prev = [], "in"
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        w = rng.normal(0, 1.5, (n_out, n_in))
        fc = (
            nir.Affine(weight=w, bias=rng.uniform(0, 0.2, n_out)) if k < 2 else nir.Linear(weight=w)
        )
        nodes[f"fc{k}"], nodes[f"lif{k}"] = fc, lif(n_out, tau=1e-3, r=10.0)
        edges += [(prev, f"fc{k}"), (f"fc{k}", f"lif{k}")]
        prev = f"lif{k}"
    nodes["out"] = nir.Output(output_type=np.array([4]))
    edges.append((prev, "out"))
    return nir.NIRGraph(nodes=nodes, edges=edges)


def test_a_graph_larger_than_a_core_is_placed_over_the_cores_and_routed():
    from spikeloom.host.nir_sim import chip_spikes

    graph = _three_layers()
    multi, rm = import_nir(graph, Geometry(levels=(4,), neurons=16, axons=16, lanes=4))
    single, rs = import_nir(graph, Geometry(levels=(1,), neurons=32, axons=16, lanes=4))
    assert [p.core for p in rm.populations] == [0, 1, 1]
    assert rm.bias_neurons == {0: 12, 1: 14}
    # lif0 on core 0 feeds lif1 on core 1 through one routing entry per neuron.
    assert multi.route_valid[0, :12, 0].all() and (multi.route_core[0, :12, 0] == 1).all()
    np.testing.assert_array_equal(multi.route_axon[0, :12, 0], np.arange(12))
    assert multi.count[1, 16:28, 0:10].any()  # its axon rows on core 1 carry fc1
    # The same network, bit for bit, whether on one core or over four.
    rng = np.random.default_rng(1)
    inputs = {"in": rng.random((120, 6)) < 0.4}
    a, b = chip_spikes(multi, rm, inputs), chip_spikes(single, rs, inputs)
    for name in ("lif0", "lif1", "lif2"):
        np.testing.assert_array_equal(a[name], b[name])
    assert a["lif2"].any()


def test_placement_refusals_name_the_limits():
    graph = _three_layers()
    with pytest.raises(NIRImportError, match=r"population 'lif0' \(12 neurons\) does not fit"):
        import_nir(graph, Geometry(levels=(4,), neurons=8, axons=16, lanes=4))
    with pytest.raises(NIRImportError, match="one core: give --levels, or --board"):
        import_nir(graph, Geometry(levels=(1,), neurons=16, axons=16, lanes=4))


def test_the_snntorch_network_still_classifies_on_the_chip():
    # The task it was trained on (examples/snntorch_export.py, loaded without torch):
    # which quadrant of a 4 x 4 rate-coded image is bright. Measured: 100 of 100.
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "export", SNNTORCH.with_name("snntorch_export.py")
    )
    export = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export)
    net, report = import_nir(SNNTORCH)
    out = next(p for p in report.populations if p.output)
    rng = np.random.default_rng(7)
    images, labels = export.quadrant_batch(rng, 100)
    hits = 0
    for image, label in zip(images, labels):
        chip = ChipModel(copy.deepcopy(net))
        counts = np.zeros(out.size)
        for spikes in rng.random((40, 16)) < image.ravel():
            s, _ = chip.tick([(0, int(a)) for a in np.flatnonzero(spikes)])
            counts += s[0, out.first_neuron : out.first_neuron + out.size]
        hits += int(counts.max() > 0 and counts.argmax() == label)
    assert hits >= 95


def test_an_rleaky_export_imports():
    # What snnTorch 1.0 writes for Linear -> RLeaky: the recurrent Affine (with bias)
    # inlined as '1.w_rec' beside '1.lif'.
    rng = np.random.default_rng(0)
    nodes = {
        "input": nir.Input(input_type=np.array([4])),
        "0": nir.Affine(weight=rng.normal(0, 1, (3, 4)), bias=np.full(3, 0.1)),
        "1.lif": lif(3, tau=1e-3, r=10.0),
        "1.w_rec": nir.Affine(weight=rng.normal(0, 0.5, (3, 3)), bias=np.full(3, 0.05)),
        "output": nir.Output(output_type=np.array([3])),
    }
    edges = [("input", "0"), ("0", "1.lif"), ("1.lif", "1.w_rec"), ("1.w_rec", "1.lif"),
             ("1.lif", "output")]  # fmt: skip
    net, report = import_nir(nir.NIRGraph(nodes=nodes, edges=edges))
    assert net.count[0, :3, :3].any()  # the recurrent weights, on the recurrent rows
    biases = [y for y in report.layers if y.kind == "bias"]
    assert len(biases) == 1 and biases[0].target == "1.lif"  # both biases, summed
