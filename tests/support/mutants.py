"""Mutants: a gateware module's real source with one change, loaded as a module.

Used by the mutation gate (``tests/test_mutation.py``) and the learning
rule's mutants (``tests/test_learning.py``). A mutant whose source text is
not found exactly once fails loudly: the code changed, retarget it.
"""

import importlib
from pathlib import Path

import pytest

HDL = Path(__file__).resolve().parents[2] / "hdl"


def mutant_module(file: str, text: str, new: str, label: str):
    """``hdl/<file>`` with ``text`` replaced by ``new``, as a module in ``spikeloom.hdl``."""
    source = (HDL / file).read_text()
    if source.count(text) != 1:
        pytest.fail(
            f"stale mutant {label!r}: {source.count(text)} matches of {text!r} in hdl/{file} "
            "(the code changed: retarget the mutant)"
        )
    name = "spikeloom.hdl._mutant_" + "".join(c if c.isalnum() else "_" for c in label)
    module = type(importlib)(name)
    module.__package__ = "spikeloom.hdl"
    exec(compile(source.replace(text, new), f"<mutant {label}>", "exec"), module.__dict__)
    return module
