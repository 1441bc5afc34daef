"""The cross-check has teeth: mutated RTL must fail it.

Each mutant is the real ``hdl/neuron.py`` source with one rule changed (the
way a mutation-testing tool would change it), elaborated into a core and run
through the same cocotb cross-check as the real design. The test passes
only if the cross-check reports a mismatch for the mutant.
"""

import importlib.util
import sys

import pytest

from spikeloom.hdl.core import Core

from conftest import ROOT, SIMULATORS
from test_core_crosscheck import run_job

MUTATIONS = {
    "threshold >= becomes >": ("lif_spike = ~refractory & (lif_v >= p2.threshold)", ">=", ">"),
    "leak dropped": ("lif_sum.eq(leaked + inp1)", "leaked + inp1", "st1.v + inp1"),
    "counter slope ignores input": (
        "c_s_sum.eq(Mux(start1, 0, st1.s) + inp1)",
        " + inp1",
        "",
    ),
    "counter direct add dropped": (
        "c_vd.eq(Mux(start1, 0, st1.v) + Mux(p1.direct, inp1, 0))",
        "Mux(p1.direct, inp1, 0)",
        "0",
    ),
}


def mutant_core(label):
    line, old, new = MUTATIONS[label]
    source = (ROOT / "hdl" / "neuron.py").read_text()
    assert source.count(line) == 1, f"mutation site not found: {line!r}"
    mutated = source.replace(line, line.replace(old, new))
    name = "spikeloom_mutant_" + "".join(c if c.isalnum() else "_" for c in label)
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    exec(compile(mutated, f"<mutant {label}>", "exec"), module.__dict__)
    return type(name, (Core,), {"neuron_cls": module.NeuronUpdate})


@pytest.mark.parametrize("label", list(MUTATIONS))
def test_mutant_is_caught(design, label):
    simulator = "icarus" if "icarus" in SIMULATORS else SIMULATORS[0]
    verdict = run_job(design, simulator, "n32a32", 1000, 20, 100, 0, "mut", mutant_core(label))
    assert not verdict["ok"], f"mutant '{label}' passed the cross-check"
    assert "expected" in verdict["message"] and "got" in verdict["message"]
    print(f"mutant '{label}' caught: {verdict['message']}")
