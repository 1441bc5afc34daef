"""The cross-checks have teeth: mutated RTL must fail them.

``MUTANTS`` is the whole gate, one row per mutant: the gateware file, the
exact source text changed, its replacement, the kind of bug (a result rule,
a stall term, a cycle counter, a drop counter, a ready term, a credit
count) and the test job that must catch it. Every gateware block has at
least one. A mutant is the real source with that one change, loaded as a
module in ``spikeloom.hdl`` and put in place of the real block while its
design is built (``installed``); the job then runs as in the suite and
passes only if it fails for the mutant. A hang is a miss: every wait of
the testbenches is bounded (``tests/support/tb.py``), so a deadlocking
mutant fails its job with a watchdog message instead. A mutant whose
source text is not found (the code changed) fails loudly: retarget it.

Jobs: ``units`` runs the fabric unit checks (``spikeloom.testing.fabric``,
run by ``tests/test_fabric_units.py``) in Amaranth's simulator (every
check; one must fail); ``chip``, ``core``, ``learning`` and ``uart`` run
a short cocotb cross-check of the same kind as
``tests/test_chip_crosscheck.py``, ``tests/test_core_crosscheck.py``,
``tests/test_learning.py`` and ``tests/test_uart.py``. A bug of a block
that two checks see (a stall term in the chip and through the link) has a
mutant for each check, so each check is shown to fail.
"""

import contextlib
import dataclasses

import pytest

from spikeloom.testing import fabric, mutants
from spikeloom.testing.crosscheck import (
    UART_GEOMETRY,
    UART_LINK,
    run_chip_job,
    run_core_job,
    run_learning_job,
    uart_design,
)

from conftest import ROOT, SIMULATORS

#: (block file in hdl/, exact source text, replacement, kind, job)
MUTANTS = {
    # -- bus segment and tree (hdl/router.py) --
    "router stalled from eligible inputs": (
        "router.py",
        "self.stalled.eq((waiting & ~granted) != 0)",
        "self.stalled.eq((eligible & ~granted) != 0)",
        "stall term",
        "units",
    ),
    # The same bug in the chip job: its stalled against the segments' handshakes.
    "router stalled from eligible inputs (chip)": (
        "router.py",
        "self.stalled.eq((waiting & ~granted) != 0)",
        "self.stalled.eq((eligible & ~granted) != 0)",
        "stall term",
        "chip",
    ),
    "router ignores its output room": (
        "router.py",
        "self.inputs[i].valid & room.bit_select(targets[i], 1)",
        "self.inputs[i].valid",
        "ready term",
        "chip",
    ),
    "tree carried counts one segment per level": (
        "router.py",
        "self.carried[i].eq(sum(s.carried for s in segs))",
        "self.carried[i].eq(segs[0].carried)",
        "credit count",
        "chip",
    ),
    "tree stalled counts one segment per level": (
        "router.py",
        "self.stalled[i].eq(sum(s.stalled for s in segs))",
        "self.stalled[i].eq(segs[0].stalled)",
        "stall term",
        "units",
    ),
    # -- fan-out unit (hdl/fanout.py) --
    "fanout idle with spikes in its queue": (
        "fanout.py",
        "s_valid | (queue.level != 0) | (rem != 0)",
        "s_valid | (rem != 0)",
        "credit count",
        "chip",
    ),
    "fanout output taken without ready": (
        "fanout.py",
        "obuf.r_en.eq(self.packet_out.ready)",
        "obuf.r_en.eq(1)",
        "ready term",
        "chip",
    ),
    # -- the registered FIFO (hdl/fifo.py: the fan-out queue, the link's FIFOs) --
    "registered FIFO reads on with its output full": (
        "fifo.py",
        "bulk.r_en.eq(regs.w_rdy)",
        "bulk.r_en.eq(1)",
        "ready term",
        "uart",
    ),
    "pair FIFO takes a write when full": (
        "fifo.py",
        "self.w_rdy.eq(n != 2)",
        "self.w_rdy.eq(1)",
        "ready term",
        "chip",
    ),
    # -- the chip: tick barrier, host input, counters (hdl/top.py) --
    "barrier last_tick_cycles from 0": (
        "top.py",
        "m.d.sync += [pending.eq(0), cycles.eq(1)]",
        "m.d.sync += [pending.eq(0), cycles.eq(0)]",
        "cycle counter",
        "units",
    ),
    # The same bug read through the link: LAST_TICK_CYCLES against the UART
    # testbench's count.
    "barrier last_tick_cycles from 0 (link)": (
        "top.py",
        "m.d.sync += [pending.eq(0), cycles.eq(1)]",
        "m.d.sync += [pending.eq(0), cycles.eq(0)]",
        "cycle counter",
        "uart",
    ),
    "barrier cycles counted only while cores are busy": (
        "top.py",
        'with m.State("RUN"):\n                m.d.sync += cycles.eq(cycles + 1)',
        'with m.State("RUN"):\n                m.d.sync += cycles.eq(cycles + ~idle)',
        "cycle counter",
        "chip",
    ),
    "host_dropped counted while the input is closed": (
        "top.py",
        "host_drop = self.host_in.valid & ~host_ok & host_open",
        "host_drop = self.host_in.valid & ~host_ok",
        "drop counter",
        "units",
    ),
    "host input open while a start is pending": (
        "top.py",
        "host_open = ~self.tick_start & ~pending",
        "host_open = ~self.tick_start",
        "ready term",
        "units",
    ),
    "chip output taken without ready": (
        "top.py",
        "bus.out.ready.eq(self.out.ready)",
        "bus.out.ready.eq(1)",
        "ready term",
        "chip",
    ),
    "output events never return their credit": (
        "top.py",
        "leave_bits.eq(Cat(*delivered, out_take))",
        "leave_bits.eq(Cat(*delivered, 0))",
        "credit count",
        "chip",
    ),
    "the chip sends no stall counts": (
        "top.py",
        'f"stalled{i}": bus.stalled[i]',
        'f"stalled{i}": 0',
        "stall term",
        "units",
    ),
    # -- the core (hdl/core.py) --
    "core last_tick_cycles from 0": (
        "core.py",
        "m.d.sync += [cycles.eq(1), start_pend.eq(0)]",
        "m.d.sync += [cycles.eq(0), start_pend.eq(0)]",
        "cycle counter",
        "core",
    ),
    # (Taking axon events in the swap clock is no longer a catchable mutant:
    # no event can arrive then, the barrier starts a tick only when none is
    # in flight, and one taken then would still land in the next tick's list.)
    "core idle while its update pipeline drains": (
        "core.py",
        'self.busy.eq(~fsm.ongoing("IDLE")), ticking.eq(~idle)',
        'self.busy.eq(fsm.ongoing("ROWS")), ticking.eq(~idle)',
        "credit count",
        "core",
    ),
    # -- the neuron update (hdl/neuron.py) --
    "threshold >= becomes >": (
        "neuron.py",
        "lif_spike = ~refractory & (lif_v >= p2.threshold)",
        "lif_spike = ~refractory & (lif_v > p2.threshold)",
        "result rule",
        "core",
    ),
    "leak dropped": (
        "neuron.py",
        "lif_sum.eq(leaked + inp1)",
        "lif_sum.eq(st1.v + inp1)",
        "result rule",
        "core",
    ),
    "counter slope ignores input": (
        "neuron.py",
        "c_s_sum.eq(Mux(start1, 0, st1.s) + inp1)",
        "c_s_sum.eq(Mux(start1, 0, st1.s))",
        "result rule",
        "core",
    ),
    "counter direct add dropped": (
        "neuron.py",
        "c_vd.eq(Mux(start1, 0, st1.v) + Mux(p1.direct, inp1, 0))",
        "c_vd.eq(Mux(start1, 0, st1.v) + 0)",
        "result rule",
        "core",
    ),
    # -- the learning unit (hdl/learning.py; its rule mutants: tests/test_learning.py) --
    "learn phase visits one row too many": (
        "learning.py",
        'with m.If(r == g.rows - 1):\n                m.next = "DONE"',
        'with m.If(r == g.rows):\n                m.next = "DONE"',
        "cycle counter",
        "learning",
    ),
    # -- the UART block (hdl/uart.py composes hdl/uart_*.py) --
    "FRAMING_ERRORS not counted": (
        "uart.py",
        "regs.count_framing_errors.eq(dfr.framing_error)",
        "regs.count_framing_errors.eq(0)",
        "drop counter",
        "uart",
    ),
    # -- its register file (hdl/uart_regs.py) --
    "register carry leaks past a counter's wrap": (
        "uart_regs.py",
        "m.d.sync += carry.eq(0)",
        "m.d.sync += carry.eq(carry)",
        "drop counter",
        "uart",
    ),
    "link STALLED counts CARRIED": (
        "uart_regs.py",
        "counts[name.upper()] = self.chip_counts[name]",
        'counts[name.upper()] = self.chip_counts[name.replace("stalled", "carried")]',
        "stall term",
        "uart",
    ),
    # The chip counters' store: counts on the clock a pending count is taken,
    # a READ's pending count, a pending count's second byte.
    "link loses the counts of a pending count's take clock": (
        "uart_regs.py",
        "m.d.sync += pend[i].eq(Mux(take[i], counts[n], pend[i] + counts[n]))",
        "m.d.sync += pend[i].eq(Mux(take[i], 0, pend[i] + counts[n]))",
        "drop counter",
        "units",
    ),
    "link READ drops its counter's pending count": (
        "uart_regs.py",
        "delta.eq(Mux(mine.any(), pending, op == RegOp.INC))",
        "delta.eq(Mux(mine.any() & (op == RegOp.INC), pending, op == RegOp.INC))",
        "drop counter",
        "units",
    ),
    "link adds a pending count's low byte only": (
        "uart_regs.py",
        "m.d.sync += delta.eq(delta >> 8)",
        "m.d.sync += delta.eq(0)",
        "drop counter",
        "units",
    ),
}

#: Where each block's class is looked up while a design is built:
#: (module, attribute, the mutant module's attribute).
INSTALL = {
    "router.py": [
        ("top", "BusTree", "BusTree"),
        ("router", "BusTree", "BusTree"),
        ("router", "Segment", "Segment"),
    ],
    "fanout.py": [("top", "Fanout", "Fanout")],
    "fifo.py": [
        ("fanout", "RegisteredFIFO", "RegisteredFIFO"),
        ("uart", "RegisteredFIFO", "RegisteredFIFO"),
        ("fanout", "PairFIFO", "PairFIFO"),
        ("router", "PairFIFO", "PairFIFO"),
        ("top", "PairFIFO", "PairFIFO"),
    ],
    "top.py": [("top", "Chip", "Chip"), ("system", "Chip", "Chip")],
    "core.py": [("top", "Core", "Core")],
    "uart.py": [("uart", "Link", "Link"), ("system", "Link", "Link")],
    "uart_regs.py": [("uart", "RegisterFile", "RegisterFile")],
}


def mutant_module(label):
    """The block's module with the mutant's one change (fails if the text is gone)."""
    file, text, new, _, _ = MUTANTS[label]
    return mutants.mutant_module(file, text, new, label)


@contextlib.contextmanager
def installed(label):
    """The mutant in place of the real block (classes looked up at build time)."""
    from spikeloom.hdl import core, fanout, router, system, top, uart

    file = MUTANTS[label][0]
    mod = mutant_module(label)
    where = {"top": top, "router": router, "uart": uart, "system": system, "fanout": fanout}
    patches = [(where[m], attr, getattr(mod, name)) for m, attr, name in INSTALL.get(file, [])]
    if file == "neuron.py":
        patches.append((core.Core, "neuron_cls", mod.NeuronUpdate))
    if file == "learning.py":
        patches.append((core.Core, "learning_cls", mod.LearningUnit))
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in patches]
    try:
        for obj, attr, value in patches:
            setattr(obj, attr, value)
        yield mod
    finally:
        for obj, attr, value in saved:
            setattr(obj, attr, value)


def key_of(label):
    return "mut_" + "".join(c if c.isalnum() else "_" for c in label)


def run_units(label):
    """Every fabric unit test against the mutant; the failures' messages."""
    failures = []
    with installed(label):
        for check in fabric.CHECKS:
            try:
                check()
            except AssertionError as e:
                name = check.__name__
                failures.append(f"{name}: {str(e).splitlines()[0] if str(e) else 'failed'}")
    return {"ok": not failures, "message": "; ".join(failures)}


def run_cocotb(design, simulator, label, job):
    """The mutant's design built under its own key, one short cross-check job."""
    file = MUTANTS[label][0]
    with installed(label) as mod:
        if job == "chip":
            # Random backpressure per network (some networks refused nearly always).
            return run_chip_job(
                design, simulator, "l22", 12000, 6, 40, None, 1, variant=key_of(label)
            )
        core_cls = getattr(mod, "Core", None) if file == "core.py" else None
        if core_cls is None:
            from spikeloom.hdl.core import Core

            core_cls = type(key_of(label), (Core,), {})
        else:
            core_cls = type(key_of(label), (core_cls,), {})
        if job == "core":
            return run_core_job(design, simulator, "n32a32", 1000, 20, 100, 0, "mut", core_cls)
        if job == "learning":
            return run_learning_job(design, simulator, "l8a8", 10000, 6, 100, core_cls)
        if job == "uart":
            return run_uart(design, simulator, label)
    raise ValueError(f"unknown job {job!r}")


def run_uart(design, simulator, label):
    g, link = UART_GEOMETRY, UART_LINK
    built = uart_design(design, simulator, key_of(label))
    job = {"geometry": g.as_dict(), "link": dataclasses.asdict(link), "seed": 7100, "items": 400}
    return built.run("cocotb_uart", job, "mut")


#: Files that are parts of another block's mutant-tested whole, or hold no logic.
PARTS = {
    # The UART block: its composition (uart.py) carries the block's mutant.
    **dict.fromkeys(
        ["uart_phy.py", "uart_framing.py", "uart_request.py", "uart_regs.py", "uart_exec.py"]
        + ["uart_response.py"],
        "uart.py",
    ),
    "system.py": "uart.py",  # chip + link wiring, run by the UART job
    "config.py": None,  # a port signature, no logic
}


def test_every_block_has_a_mutant():
    files = {f.name for f in (ROOT / "hdl").glob("*.py") if f.name != "__init__.py"}
    blocks = {PARTS.get(f, f) for f in files} - {None}
    assert blocks <= {m[0] for m in MUTANTS.values()}, blocks - {m[0] for m in MUTANTS.values()}
    kinds = {m[3] for m in MUTANTS.values()}
    assert {"stall term", "cycle counter", "drop counter", "ready term", "credit count"} <= kinds


@pytest.mark.parametrize("label", list(MUTANTS))
def test_mutant_is_caught(design, label):
    kind, job = MUTANTS[label][3:]
    if job == "units":
        verdict = run_units(label)
    else:
        simulator = SIMULATORS[0]
        verdict = run_cocotb(design, simulator, label, job)
    assert not verdict["ok"], f"mutant {label!r} ({kind}) passed the {job} job"
    # Caught by a check (naming the seed: the UART job's is fixed), not by a crash.
    assert "without a verdict" not in verdict["message"], verdict["message"]
    assert job in ("units", "uart") or "seed" in verdict["message"], verdict["message"]
    print(f"mutant {label!r} ({kind}) caught by the {job} job: {verdict['message'][:300]}")
