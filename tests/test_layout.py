"""The layout of docs/architecture.md holds: imports go down the layers, never in a cycle.

Every Python file of the repository is parsed (``ast``, nothing is
imported) and each of its imports of a spikeloom module (at the top or
inside a function) is checked against the layers, bottom first:

- ``spikeloom`` (``defs``, ``protocol``, ``network``): imports nothing of the project;
- ``hdl``: ``spikeloom``;
- ``sim``: ``hdl`` and ``spikeloom``; the golden model not ``sim.rtl`` (its tooling);
- ``boards``: ``hdl`` and ``spikeloom``;
- ``host``: all of the above; the library not ``host.cli`` (its commands);
- ``tests`` (with ``spikeloom.testing``), ``bench``, ``examples``: anything,
  but no module imports a test module (``test_*.py``).

And the imports between the project's modules have no cycle.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Folder -> the package its files are in (None: top-level modules, as pytest and cocotb load them).
PACKAGES = {
    "spikeloom": "spikeloom",
    "hdl": "spikeloom.hdl",
    "sim": "spikeloom.sim",
    "host": "spikeloom.host",
    "boards": "spikeloom.boards",
    "tests/support": "spikeloom.testing",
    "examples": "spikeloom.examples",
    "tests": None,
    "bench": None,
}
#: Package prefix -> layer; the longest prefix wins.
LAYERS = {
    "spikeloom": "spikeloom",
    "spikeloom.hdl": "hdl",
    "spikeloom.sim": "sim",
    "spikeloom.sim.rtl": "sim.rtl",
    "spikeloom.boards": "boards",
    "spikeloom.host": "host",
    "spikeloom.host.cli": "host.cli",
    "spikeloom.testing": "tests",
    "spikeloom.examples": "examples",
}
#: Layer -> the layers it may import (itself always).
MAY_IMPORT = {
    "spikeloom": set(),
    "hdl": {"spikeloom"},
    "sim": {"spikeloom", "hdl"},
    "sim.rtl": {"spikeloom", "hdl", "sim"},
    "boards": {"spikeloom", "hdl"},
    "host": {"spikeloom", "hdl", "sim", "sim.rtl", "boards"},
    "host.cli": {"spikeloom", "hdl", "sim", "sim.rtl", "boards", "host"},
}


#: Imports of a test module not moved yet, with the reason: tests/test_core_crosscheck.py is
#: being reworked (virtual cores) in parallel; its ``run_job`` moves to spikeloom.testing after.
PENDING: set = set()


def modules() -> dict[str, Path]:
    """Module name -> file, for every Python file of the project."""
    out = {}
    for folder, package in PACKAGES.items():
        base = ROOT / folder
        files = base.rglob("*.py") if package else base.glob("*.py")
        for path in files:
            parts = path.relative_to(base).with_suffix("").parts
            if package is None:
                out[parts[-1]] = path
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def layer(name: str) -> str | None:
    """The layer of module ``name`` (None: tests, bench or examples)."""
    if not name.startswith("spikeloom"):
        return None
    best = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return LAYERS[best]


def imports(name: str, path: Path, known: dict) -> set[str]:
    """The project modules ``name`` imports (relative imports resolved)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_imports_go_down_the_layers():
    bad = []
    for name, deps in graph().items():
        mine = layer(name)
        for dep in sorted(deps):
            theirs = layer(dep)
            if (name, dep) in PENDING:
                continue
            if dep.rpartition(".")[2].startswith("test_"):
                bad.append(f"{name} imports the test module {dep}")
            elif mine in (None, "tests", "examples") or theirs == mine:
                continue
            elif theirs is None or theirs not in MAY_IMPORT[mine]:
                bad.append(f"{name} ({mine}) imports {dep} ({theirs})")
    assert not bad, "imports against docs/architecture.md:\n" + "\n".join(bad)


def test_no_import_cycles():
    g = graph()
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []
    cycles = []

    def visit(n):
        state[n] = 1
        path.append(n)
        for d in sorted(g.get(n, ())):
            if state.get(d) == 1:
                cycles.append(path[path.index(d) :] + [d])
            elif d not in state:
                visit(d)
        path.pop()
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_layout_sees_every_package():
    """The checks above read the packages pyproject.toml installs, and more."""
    known = modules()
    text = (ROOT / "pyproject.toml").read_text()
    packages = text.split("packages = [", 1)[1].split("]", 1)[0]
    for package in (p.strip().strip('"') for p in packages.split(",") if p.strip()):
        assert package in known, package
