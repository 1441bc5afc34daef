"""Import NIR graphs (https://neuroir.org, ``nir`` on PyPI) as spikeloom networks.

Supported nodes: ``Input``, ``Output``, ``Affine`` (a bias becomes the row
of a neuron firing every tick), ``Linear``, ``Scale`` and ``Flatten`` (folded
into the weights), ``LIF`` and ``IF``. The default tick is snnTorch's dt =
1e-4 s. The whole graph goes onto core 0: every
LIF/IF population becomes a block of spikeloom LIF neurons, every Input a
block of axons, and every weight node a block of crossbar entries (axon rows
for a node fed by an Input, recurrent rows for one fed by a population).
Neurons feeding an Output get ``output = 1``; neuron slots left unused get
no synapses and the largest threshold, so they never fire.

Discretisation (forward Euler with step ``dt``, a spike being a unit value
for one step, the convention of snnTorch's NIR export):

* a spike through weight W into LIF neuron j adds ``W * r_j * dt / tau_j``
  to its potential, into IF neuron j ``W * r_j * dt``;
* the LIF potential decays by ``(v - v_leak) * dt / tau`` per tick, which
  spikeloom approximates with a linear leak ``lambda = round(theta * dt /
  tau)`` that matches the rheobase (the smallest constant per-tick input
  that eventually fires is ``theta * dt / tau`` in both);
* potentials are measured from ``v_leak`` (0 for IF), which must equal
  ``v_reset`` because spikeloom resets to rest.

Quantisation: one scale per population, ``scale = max |W_eff| / max_count``
over every weight node feeding it, so the largest effective weight becomes
a full-count synapse; ``count = round(|W_eff| / scale)`` (halves away from
zero), ``sign`` from the weight's sign, ``threshold = round((v_threshold -
v_leak) / scale)``. docs/network-format.md has the details and a worked
example.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import nir
import numpy as np

from spikeloom.defs import GEOMETRY_FIELDS, Geometry
from spikeloom.network import Network, NetworkError

__all__ = ["import_nir", "ImportReport", "LayerReport", "PopulationReport", "NIRImportError"]

SUPPORTED = ("Input", "Output", "Affine", "Linear", "Scale", "Flatten", "LIF", "IF")
#: snnTorch's NIR export writes its time constants for this step (``tau = dt / (1 - beta)``).
SNNTORCH_DT = 1e-4
#: Relative tolerance of the check tau >= dt (float32 time constants are not exact).
DT_RTOL = 1e-6
#: Name of the bias neuron's pseudo-source in the report.
BIAS = "(bias)"
#: Same bound as the network file loader: beyond it a geometry is absurd.
MAX_ENTRIES = 1 << 26


class NIRImportError(NetworkError):
    """A NIR graph cannot be imported; the message names the node or edge."""


@dataclass
class InputReport:
    name: str
    core: int
    first_axon: int
    size: int


@dataclass
class PopulationReport:
    name: str
    kind: str  #: "LIF" or "IF"
    core: int
    first_neuron: int
    size: int
    scale: float  #: potential units (of the NIR graph) per spikeloom unit
    threshold: tuple[int, int]  #: (min, max) over the population
    leak: tuple[int, int]
    output: bool


@dataclass
class LayerReport:
    name: str
    kind: str  #: "Affine" or "Linear"
    source: str
    target: str
    shape: tuple[int, int]  #: (out, in), as in NIR
    scale: float  #: the target population's scale
    synapses: int  #: non-zero crossbar entries
    pruned: int  #: non-zero weights that rounded to count 0
    rel_rms: float  #: ||q - w|| / ||w||, w = W_eff / scale, q = sign * count
    max_abs: float  #: max |q - w|, in counts (at most 0.5)


@dataclass
class FloatPopulation:
    """One population as the graph computes it per tick, in float (for ``nir_sim``).

    ``incoming``: (source, effective weights (in, out)); the source is an
    Input, a population, or ``BIAS`` (a constant 1).
    """

    name: str
    core: int
    first_neuron: int
    decay: np.ndarray
    rest: np.ndarray
    threshold: np.ndarray
    incoming: list


@dataclass
class ImportReport:
    """What :func:`import_nir` made of a graph, and what it approximated."""

    geometry: Geometry
    dt: float
    source: str = "graph"  #: the file name, or "graph" for an in-memory graph
    inputs: list[InputReport] = field(default_factory=list)
    populations: list[PopulationReport] = field(default_factory=list)
    layers: list[LayerReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The neuron that fires every tick to carry the biases on core 0 (None: none there).
    bias_neuron: int | None = None
    #: Every core's bias neuron, core -> neuron.
    bias_neurons: dict = field(default_factory=dict)
    #: The float reference's verdict (``nir_sim.Agreement``), if it was run.
    agreement: object = None
    #: The graph as per-tick float arithmetic (``nir_sim.simulate`` runs it).
    reference: list = field(default_factory=list, repr=False)

    def __str__(self) -> str:
        g = self.geometry
        lines = [
            f"source: {self.source}",
            f"geometry: levels {list(g.levels)}, {g.neurons} neurons, {g.axons} axons per "
            f"core, count_bits {g.count_bits} (counts 0..{g.max_count}), potential_bits "
            f"{g.potential_bits}; dt = {self.dt:g} s",
            "",
            f"{'input':<16} {'core':>4} {'axons':>12}",
        ]
        for i in self.inputs:
            lines.append(f"{i.name:<16} {i.core:>4} {_span(i.first_axon, i.size):>12}")
        lines += [
            "",
            f"{'population':<16} {'type':<4} {'core':>4} {'neurons':>12} {'scale':>10} "
            f"{'threshold':>12} {'leak':>12} output",
        ]
        for p in self.populations:
            lines.append(
                f"{p.name:<16} {p.kind:<4} {p.core:>4} {_span(p.first_neuron, p.size):>12} "
                f"{p.scale:>10.4g} {_span_incl(*p.threshold):>12} {_span_incl(*p.leak):>12} "
                f"{'yes' if p.output else 'no'}"
            )
        lines += [
            "",
            f"{'layer':<16} {'type':<6} {'source -> target':<28} {'out x in':>10} "
            f"{'synapses':>8} {'pruned':>6} {'rel RMS':>8} {'max err':>7}",
        ]
        for y in self.layers:
            st = f"{y.source} -> {y.target}"
            lines.append(
                f"{y.name:<16} {y.kind:<6} {st:<28} {f'{y.shape[0]}x{y.shape[1]}':>10} "
                f"{y.synapses:>8} {y.pruned:>6} {y.rel_rms:>8.2%} {y.max_abs:>7.3f}"
            )
        lines.append("(rel RMS: quantisation error relative to the weights; max err in counts)")
        lossy = [y for y in self.layers if y.rel_rms > 0.25 or y.pruned > 0.25 * y.synapses]
        for y in lossy:
            lines.append(
                f"warning: {y.name} loses much in quantisation ({y.rel_rms:.0%} RMS error, "
                f"{y.pruned} weights pruned to 0): try a larger --count-bits"
            )
        if self.notes:
            lines += ["", "approximations:"] + [f"  - {n}" for n in self.notes]
        if self.agreement is not None:
            lines += ["", str(self.agreement)]
        return "\n".join(lines)


def _span(first: int, size: int) -> str:
    return f"{first}..{first + size - 1}" if size else "-"


def _span_incl(lo: int, hi: int) -> str:
    return f"{lo}" if lo == hi else f"{lo}..{hi}"


def _round(x: np.ndarray) -> np.ndarray:
    """Round to nearest, halves away from zero (not numpy's halves-to-even)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _kind(node) -> str:
    return type(node).__name__


def _params(name: str, node, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The neuron parameters of ``node`` as flat float arrays of one size."""
    shape = np.shape(node.v_threshold)
    out = {}
    for f in fields:
        value = getattr(node, f)
        try:
            arr = np.broadcast_to(np.asarray(value, dtype=np.float64), shape).ravel()
        except (TypeError, ValueError):
            raise NIRImportError(
                f"NIR node {name!r} ({_kind(node)}): {f} of shape {np.shape(value)} does not "
                f"match v_threshold {shape}"
            ) from None
        if not np.all(np.isfinite(arr)):
            raise NIRImportError(f"NIR node {name!r} ({_kind(node)}): {f} is not finite")
        out[f] = arr
    return out


def _pow2_at_least(x: int) -> int:
    return 1 << max(0, int(x) - 1).bit_length()


def _read_graph(graph_or_path):
    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path, "graph"
    path = Path(graph_or_path)
    if not path.exists():
        raise NIRImportError(f"{path}: no such file")
    try:
        return nir.read(path), path.name
    except Exception as e:  # nir.read raises anything from h5py errors to KeyError
        raise NIRImportError(f"{path}: cannot read a NIR graph: {e}") from None


def _fold(nodes: dict, edges: list) -> tuple[dict, list]:
    """Remove ``Flatten`` nodes (spliced out) and ``Scale`` nodes (folded into a weight node).

    A Scale fed by a weight node scales its rows (and bias); one feeding a
    weight node scales its columns. Returns new nodes and edges.
    """
    nodes, edges = dict(nodes), list(edges)

    def splice(name):
        ins = [a for a, b in edges if b == name]
        outs = [b for a, b in edges if a == name]
        if len(ins) != 1:
            raise NIRImportError(
                f"NIR node {name!r} ({_kind(nodes[name])}) has {len(ins)} inputs; expected one"
            )
        edges[:] = [(a, b) for a, b in edges if name not in (a, b)] + [(ins[0], o) for o in outs]
        del nodes[name]
        return ins[0], outs

    def weighted(node, rows=None, cols=None):
        w = np.asarray(node.weight, dtype=np.float64)
        w = w * (1 if rows is None else rows[:, None]) * (1 if cols is None else cols[None, :])
        if isinstance(node, nir.Affine):
            b = np.asarray(node.bias, dtype=np.float64) * (1 if rows is None else rows)
            return nir.Affine(weight=w, bias=b)
        return nir.Linear(weight=w)

    for name in sorted(n for n in nodes if isinstance(nodes[n], nir.Flatten)):
        splice(name)
    for name in sorted(n for n in nodes if isinstance(nodes[n], nir.Scale)):
        factor = np.asarray(nodes[name].scale, dtype=np.float64).ravel()
        src, outs = splice(name)
        weights = (nir.Affine, nir.Linear)
        if isinstance(nodes[src], weights) and len(outs) >= 1:
            rows = np.broadcast_to(factor, (np.shape(nodes[src].weight)[0],))
            nodes[src] = weighted(nodes[src], rows=rows)
        elif outs and all(isinstance(nodes[o], weights) for o in outs):
            for o in outs:
                cols = np.broadcast_to(factor, (np.shape(nodes[o].weight)[1],))
                nodes[o] = weighted(nodes[o], cols=cols)
        else:
            raise NIRImportError(
                f"NIR node {name!r} (Scale) must follow or precede an Affine or Linear node, "
                f"into which it is folded"
            )
    return nodes, edges


@dataclass
class _Placement:
    core: dict  #: population -> core
    first: dict  #: population -> its first neuron on that core
    axon: dict  #: (Input or population, core) -> its first axon on that core
    bias: dict  #: core -> bias neuron


def _place(g: Geometry, inputs, in_size, pops, pop_size, sources, n_neurons, n_axons):
    """Populations onto cores (core 0 while it holds them all, else in order, greedily).

    A core's axons go to the Inputs and the other cores' populations that
    feed it; a population feeding k other cores needs k <= fanout routing
    entries per neuron. Refusals name the sizes and the core.
    """
    one_core = n_neurons <= g.neurons and n_axons <= g.axons
    if one_core or g.cores == 1:
        if not one_core:
            raise NIRImportError(
                f"the graph needs {n_neurons} neurons and {n_axons} axons (inputs) on one "
                f"core, but this geometry has N = {g.neurons} neurons and A = {g.axons} axons "
                f"per core (and one core: give --levels, or --board, for more)"
            )
        core = dict.fromkeys(pops, 0)
    else:
        core, used, biased = {}, {}, set()
        c = 0
        for p in pops:
            need = pop_size[p] + int(BIAS in sources[p] and c not in biased)
            while c < g.cores and used.get(c, 0) + need > g.neurons:
                c += 1
                need = pop_size[p] + int(BIAS in sources[p])
            if c == g.cores or pop_size[p] + int(BIAS in sources[p]) > g.neurons:
                raise NIRImportError(
                    f"population {p!r} ({pop_size[p]} neurons) does not fit: the graph needs "
                    f"{n_neurons} neurons, the geometry has {g.cores} cores of {g.neurons} "
                    f"(a population is not split over cores)"
                )
            core[p] = c
            used[c] = used.get(c, 0) + need
            if BIAS in sources[p]:
                biased.add(c)
    first, bias, nxt = {}, {}, {}
    for p in pops:
        first[p] = nxt.get(core[p], 0)
        nxt[core[p]] = first[p] + pop_size[p]
    for p in pops:
        if BIAS in sources[p] and core[p] not in bias:
            bias[core[p]] = None
    for c in bias:
        bias[c] = nxt.get(c, 0)
        nxt[c] = bias[c] + 1
    axon, top = {}, {}
    for n in inputs:  # every Input on core 0 with one core, else where it is used
        cores = [0] if one_core else sorted({core[p] for p in pops if n in sources[p]})
        for c in cores:
            axon[n, c] = top.get(c, 0)
            top[c] = axon[n, c] + in_size[n]
    for p in pops:
        for src in sources[p]:
            if src in pop_size and core[src] != core[p] and (src, core[p]) not in axon:
                axon[src, core[p]] = top.get(core[p], 0)
                top[core[p]] = axon[src, core[p]] + pop_size[src]
    for c, n in top.items():
        if n > g.axons:
            raise NIRImportError(
                f"core {c} needs {n} axons for its inputs and the populations of other cores "
                f"feeding it, but the geometry has A = {g.axons}"
            )
    for p in pops:
        targets = {c for (s, c) in axon if s == p}
        if len(targets) > g.fanout:
            raise NIRImportError(
                f"population {p!r} feeds {len(targets)} other cores, but a neuron has "
                f"fanout = {g.fanout} routing entries"
            )
    return _Placement(core, first, axon, bias)


def import_nir(
    graph_or_path, geometry: Geometry | None = None, dt: float = SNNTORCH_DT, **geometry_fields
) -> tuple[Network, ImportReport]:
    """Map a NIR graph (a ``nir.NIRGraph`` or a ``.nir`` file) onto core 0.

    ``geometry``: the chip to map onto; if None, the smallest power-of-two
    single-core geometry that fits, with any ``geometry_fields`` given
    (e.g. ``count_bits=5``; ``neurons``/``axons`` given are used as they
    are) and the other fields at their defaults. ``dt``: seconds per tick
    (default 1e-4 s, the step snnTorch's export assumes).

    Returns the validated network and an :class:`ImportReport`. Raises
    :class:`NIRImportError` (a :class:`NetworkError`) for an unsupported
    node, a structure spikeloom cannot express, or a graph that does not fit.
    """
    if geometry is not None and geometry_fields:
        raise TypeError("give either geometry or geometry fields, not both")
    for k in geometry_fields:
        if k not in GEOMETRY_FIELDS:
            raise TypeError(f"unknown geometry field {k!r}")
    dt = float(dt)
    if not (np.isfinite(dt) and dt > 0):
        raise NIRImportError(f"dt = {dt!r}: must be a positive number of seconds")

    graph, source_name = _read_graph(graph_or_path)
    nodes, edges = dict(graph.nodes), [(str(a), str(b)) for a, b in graph.edges]
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise NIRImportError(f"NIR edge {a!r} -> {b!r}: no node {end!r}")
    kinds = {_kind(n) for n in nodes.values()}
    if not kinds - set(SUPPORTED):
        nodes, edges = _fold(nodes, edges)

    # -- which nodes, and how they are connected ---------------------------------
    for name in sorted(nodes):
        kind = _kind(nodes[name])
        if kind not in SUPPORTED:
            raise NIRImportError(
                f"NIR node {name!r} of type {kind} is not supported "
                f"(supported: {', '.join(SUPPORTED)})"
            )
    preds = {n: [] for n in nodes}
    succs = {n: [] for n in nodes}
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise NIRImportError(f"NIR edge {a!r} -> {b!r}: no node {end!r}")
        preds[b].append(a)
        succs[a].append(b)

    def is_pop(n):
        return isinstance(nodes[n], (nir.LIF, nir.IF))

    def is_weight(n):
        return isinstance(nodes[n], (nir.Affine, nir.Linear))

    def what(n):
        return f"{n!r} ({_kind(nodes[n])})"

    for name in sorted(nodes):
        node = nodes[name]
        if is_weight(name):
            if len(preds[name]) != 1 or len(succs[name]) != 1:
                raise NIRImportError(
                    f"NIR node {what(name)} has {len(preds[name])} inputs and "
                    f"{len(succs[name])} outputs; a weight node must connect exactly one "
                    f"Input or LIF/IF node to exactly one LIF/IF node"
                )
            (src,), (dst,) = preds[name], succs[name]
            if is_weight(src) or isinstance(nodes[src], nir.Output):
                raise NIRImportError(
                    f"NIR edge {src!r} -> {name!r}: {what(name)} must be fed by an Input or "
                    f"LIF/IF node, not by {what(src)} (weight layers cannot be chained)"
                )
            if not is_pop(dst):
                raise NIRImportError(
                    f"NIR edge {name!r} -> {dst!r}: {what(name)} must feed LIF/IF neurons, "
                    f"not {what(dst)} (spikeloom carries spikes, not analog values)"
                )
            w = np.asarray(node.weight)
            if w.ndim != 2:
                raise NIRImportError(
                    f"NIR node {what(name)}: weight of shape {w.shape}, expected a matrix (out, in)"
                )
            if not np.all(np.isfinite(w)):
                raise NIRImportError(f"NIR node {what(name)}: weight is not finite")
            if isinstance(node, nir.Affine):
                b = np.asarray(node.bias, dtype=np.float64)
                if not np.all(np.isfinite(b)):
                    raise NIRImportError(f"NIR node {what(name)}: bias is not finite")
        elif is_pop(name):
            for p in preds[name]:
                if not is_weight(p):
                    raise NIRImportError(
                        f"NIR edge {p!r} -> {name!r}: {what(name)} must be fed through an "
                        f"Affine or Linear node, not directly by {what(p)}"
                    )
            for s in succs[name]:
                if not (is_weight(s) or isinstance(nodes[s], nir.Output)):
                    raise NIRImportError(
                        f"NIR edge {name!r} -> {s!r}: {what(name)} may feed only Affine, "
                        f"Linear or Output nodes, not {what(s)}"
                    )
        elif isinstance(node, nir.Output):
            for p in preds[name]:
                if not is_pop(p):
                    raise NIRImportError(
                        f"NIR edge {p!r} -> {name!r}: an Output must be fed by LIF/IF "
                        f"neurons, not by {what(p)}"
                    )
        else:  # Input
            for s in succs[name]:
                if not is_weight(s):
                    raise NIRImportError(
                        f"NIR edge {name!r} -> {s!r}: an Input must feed an Affine or Linear "
                        f"node, not {what(s)}"
                    )
    pairs = {}
    for name in nodes:
        if is_weight(name):
            key = (preds[name][0], succs[name][0])
            if key in pairs:
                raise NIRImportError(
                    f"NIR nodes {pairs[key]!r} and {name!r} both connect {key[0]!r} to "
                    f"{key[1]!r}; merge them into one weight node"
                )
            pairs[key] = name

    # -- placement: inputs by name, populations by distance from the inputs --------
    inputs = sorted(n for n in nodes if isinstance(nodes[n], nir.Input))
    depth = {n: 0 for n in inputs}
    queue = deque(inputs)
    while queue:
        n = queue.popleft()
        for s in succs[n]:
            if s not in depth:
                depth[s] = depth[n] + 1
                queue.append(s)
    pops = sorted((n for n in nodes if is_pop(n)), key=lambda n: (depth.get(n, 1 << 30), n))

    in_size = {n: int(np.prod(nodes[n].output_type["output"])) for n in inputs}
    pop_size = {n: int(np.size(nodes[n].v_threshold)) for n in pops}
    n_axons, n_neurons = sum(in_size.values()), sum(pop_size.values())

    def bias_of(wname) -> np.ndarray | None:
        node = nodes[wname]
        if isinstance(node, nir.Affine):
            b = np.asarray(node.bias, dtype=np.float64)
            if b.size and np.any(b != 0):
                return np.broadcast_to(b, (np.shape(node.weight)[0],))
        return None

    # Biases: one neuron that fires every tick (threshold 0), its row the biases.
    has_bias = any(bias_of(w) is not None for w in nodes if is_weight(w))
    n_neurons += int(has_bias)  # on one core; with several, one per core that needs it

    if geometry is None:
        fields = dict(geometry_fields)
        fields.setdefault("levels", (1,))
        fields.setdefault("neurons", max(2, _pow2_at_least(n_neurons)))
        fields.setdefault("axons", _pow2_at_least(max(1, n_axons)))
        fields.setdefault("lanes", min(Geometry().lanes, fields["neurons"]))
        if fields["neurons"] * (fields["neurons"] + fields["axons"]) > MAX_ENTRIES:
            raise NIRImportError(
                f"the graph needs {n_neurons} neurons and {n_axons} axons on one core: "
                f"more than the {MAX_ENTRIES} (2**26) crossbar entries spikeloom accepts"
            )
        try:
            geometry = Geometry(**fields)
        except ValueError as e:
            raise NIRImportError(f"geometry: {e}") from None
    g = geometry
    report = ImportReport(geometry=g, dt=dt, source=source_name)
    biased = {p for p in pops if any(bias_of(w) is not None for w in preds[p])}
    sources = {
        p: sorted({preds[w][0] for w in preds[p]} | ({BIAS} if p in biased else set()))
        for p in pops
    }
    place = _place(g, inputs, in_size, pops, pop_size, sources, n_neurons, n_axons)
    report.bias_neurons = dict(place.bias)
    report.bias_neuron = place.bias.get(0)
    for (n, core), base in sorted(place.axon.items(), key=lambda kv: (kv[0][1], kv[1])):
        if n in in_size:
            report.inputs.append(InputReport(n, core, base, in_size[n]))
    first_neuron = place.first

    def rows_of(src: str, core: int) -> np.ndarray:
        if src == BIAS:
            return np.array([place.bias[core]])
        if (src, core) in place.axon:
            return g.neurons + place.axon[src, core] + np.arange(size_of(src))
        return first_neuron[src] + np.arange(pop_size[src])

    def size_of(src: str) -> int:
        if src == BIAS:
            return 1
        return in_size[src] if src in in_size else pop_size[src]

    net = Network.empty(g)
    # Slots no population uses get no synapses and the largest threshold, so
    # they never fire (a zero threshold would fire on every tick).
    net.params["threshold"][:] = g.v_max
    lif_leak_zero = 0
    for (src, core), base in place.axon.items():
        if src in pop_size:  # a population feeding another core: routes to its axons
            for i in range(pop_size[src]):
                n = first_neuron[src] + i
                f = int(np.count_nonzero(net.route_valid[place.core[src], n]))
                net.route_valid[place.core[src], n, f] = 1
                net.route_core[place.core[src], n, f] = core
                net.route_axon[place.core[src], n, f] = base + i
    for p in pops:
        node = nodes[p]
        c = place.core[p]
        cols = first_neuron[p] + np.arange(pop_size[p])
        if isinstance(node, nir.LIF):
            par = _params(p, node, ("tau", "r", "v_leak", "v_threshold", "v_reset"))
            if np.any(par["tau"] <= 0):
                raise NIRImportError(f"NIR node {what(p)}: tau must be positive")
            decay = dt / par["tau"]  # Euler: the fraction of (v - v_leak) lost per tick
            if np.any(decay > 1 + DT_RTOL):
                raise NIRImportError(
                    f"NIR node {what(p)}: tau = {float(par['tau'].min()):g} s is shorter than "
                    f"the tick dt = {dt:g} s; choose a smaller --dt (snnTorch exports for "
                    f"dt = {SNNTORCH_DT:g} s)"
                )
            decay = np.minimum(decay, 1.0)
            rest = par["v_leak"]
            gain = par["r"] * decay
        else:
            par = _params(p, node, ("r", "v_threshold", "v_reset"))
            decay, rest = np.zeros(pop_size[p]), np.zeros(pop_size[p])
            gain = par["r"] * dt
        if not np.allclose(par["v_reset"], rest, rtol=1e-9, atol=1e-12):
            raise NIRImportError(
                f"NIR node {what(p)}: v_reset must equal "
                f"{'v_leak' if isinstance(node, nir.LIF) else '0'} (spikeloom resets the "
                f"potential to rest)"
            )
        theta_f = par["v_threshold"] - rest
        if np.any(theta_f <= 0):
            raise NIRImportError(
                f"NIR node {what(p)}: v_threshold must lie above the resting potential "
                f"({'v_leak' if isinstance(node, nir.LIF) else '0'})"
            )

        # Effective per-tick weights of every weight node feeding p: (in, out).
        incoming = []
        for wname in sorted(n for n in preds[p]):
            src = preds[wname][0]
            w = np.asarray(nodes[wname].weight, dtype=np.float64)
            if w.shape != (pop_size[p], size_of(src)):
                raise NIRImportError(
                    f"NIR node {what(wname)}: weight of shape {w.shape}, but {src!r} has "
                    f"{size_of(src)} values and {p!r} {pop_size[p]} neurons (expected "
                    f"({pop_size[p]}, {size_of(src)}))"
                )
            incoming.append((wname, src, w.T * gain[None, :]))
        biases = [b for b in map(bias_of, sorted(preds[p])) if b is not None]
        if biases:
            incoming.append((f"{p}{BIAS}", BIAS, (np.sum(biases, axis=0) * gain)[None, :]))
        peak = max((float(np.max(np.abs(e))) for _, _, e in incoming if e.size), default=0.0)
        if peak > 0:
            scale = peak / g.max_count
        else:
            # No input can ever arrive; any scale that fits the thresholds will do.
            scale = float(theta_f.max()) / g.v_max
            report.notes.append(
                f"{p}: all its weights are zero; scale chosen so its largest threshold is {g.v_max}"
            )

        theta = _round(theta_f / scale).astype(np.int64)
        if np.any(theta < 1):
            j = int(np.argmin(theta))
            raise NIRImportError(
                f"NIR node {what(p)}: v_threshold {float(par['v_threshold'][j]):g} rounds to "
                f"threshold 0 at scale {scale:g} (the largest weight is more than "
                f"{2 * g.max_count} times the threshold); spikeloom would fire on any input"
            )
        if np.any(theta > g.v_max):
            j = int(np.argmax(theta))
            raise NIRImportError(
                f"NIR node {what(p)}: threshold {int(theta[j])} (v_threshold "
                f"{float(par['v_threshold'][j]):g} at scale {scale:g}) does not fit "
                f"potential_bits = {g.potential_bits} (at most {g.v_max}); the weights are "
                f"too small for the threshold"
            )
        leak = _round(theta_f / scale * decay).astype(np.int64)
        if isinstance(node, nir.LIF):
            lif_leak_zero += int(np.count_nonzero(leak == 0))

        for wname, src, eff in incoming:
            x = eff / scale
            count = np.minimum(_round(np.abs(x)), g.max_count).astype(np.int64)
            sign = ((x < 0) & (count > 0)).astype(np.int64)
            q = np.where(sign == 1, -count, count)
            err = q - x
            norm = float(np.sqrt(np.sum(x * x)))
            rows = rows_of(src, c)
            net.count[c][np.ix_(rows, cols)] = count
            net.sign[c][np.ix_(rows, cols)] = sign
            report.layers.append(
                LayerReport(
                    name=wname,
                    kind="bias" if src == BIAS else _kind(nodes[wname]),
                    source=src,
                    target=p,
                    shape=(pop_size[p], size_of(src)),
                    scale=scale,
                    synapses=int(np.count_nonzero(count)),
                    pruned=int(np.count_nonzero((x != 0) & (count == 0))),
                    rel_rms=float(np.sqrt(np.sum(err * err))) / norm if norm else 0.0,
                    max_abs=float(np.max(np.abs(err))) if err.size else 0.0,
                )
            )

        report.reference.append(
            FloatPopulation(
                name=p,
                core=c,
                first_neuron=int(first_neuron[p]),
                decay=np.asarray(decay, dtype=np.float64),
                rest=np.asarray(rest, dtype=np.float64),
                threshold=np.asarray(par["v_threshold"], dtype=np.float64),
                incoming=[(src, eff) for _, src, eff in incoming],
            )
        )
        out = any(isinstance(nodes[s], nir.Output) for s in succs[p])
        net.params["model"][c, cols] = 0  # LIF
        net.params["threshold"][c, cols] = theta
        net.params["leak"][c, cols] = leak
        net.params["output"][c, cols] = int(out)
        report.populations.append(
            PopulationReport(
                name=p,
                kind=_kind(node),
                core=c,
                first_neuron=int(first_neuron[p]),
                size=pop_size[p],
                scale=scale,
                threshold=(int(theta.min()), int(theta.max())) if theta.size else (0, 0),
                leak=(int(leak.min()), int(leak.max())) if leak.size else (0, 0),
                output=out,
            )
        )

    for core, n in place.bias.items():
        net.params["threshold"][core, n] = 0  # fires on every tick, from tick 0
    if place.bias:
        where = ", ".join(f"core {c} neuron {n}" for c, n in sorted(place.bias.items()))
        report.notes.append(
            f"biases: a bias neuron ({where}) fires on every tick (threshold 0); its recurrent "
            f"row carries each Affine bias b as a weight b * r * dt / tau (LIF), quantised "
            f"like the weights, so the bias acts from tick 1 on (not on tick 0)"
        )
    if g.cores > 1 and len(set(place.core.values()) | {i.core for i in report.inputs}) > 1:
        report.notes.append(
            "several cores: a population feeding another core reaches it through its "
            "routing entries (one per destination core) and axons there, one tick later, "
            "like a recurrent row; an Input feeding populations on several cores has axons "
            "on each, and the host sends its events to each"
        )
    if any(isinstance(nodes[p], nir.LIF) for p in pops):
        report.notes.append(
            "LIF leak: the exponential decay (v - v_leak) * dt / tau per tick is replaced "
            "by a linear leak of round(threshold * dt / tau) per tick toward rest; both "
            "fire eventually under a constant input above threshold * dt / tau"
        )
        if lif_leak_zero:
            report.notes.append(
                f"LIF leak rounds to 0 for {lif_leak_zero} neuron(s) (tau / dt > 2 * "
                f"threshold): they integrate without leak"
            )
    report.notes += [
        "input per tick: a spike through weight W adds W * r * dt / tau (LIF) or "
        "W * r * dt (IF) to the potential (forward Euler, spikes one tick long)",
        "a neuron fires when its potential reaches the threshold (NIR: exceeds it); "
        "the potential resets to rest; no refractory period",
        "each weight layer adds one tick of latency (a spike at tick t reaches the next "
        "layer at t + 1); host input reaches the first layer in the same tick",
    ]
    return net.validate(), report
