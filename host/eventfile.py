"""Event files of ``spikeloom run``: host input in, output events out, raster plots.

Two formats, chosen by the file name's extension:

* ``.csv``: a header line, then one event a line. Input: ``tick,core,axon``;
  output: ``tick,core,neuron``. Blank lines and lines starting with ``#``
  are skipped.
* ``.npz``: a NumPy archive with one integer array ``events`` of shape
  (n, 3), columns as in the CSV header.

Input ticks count from the first tick of the run (0); output ticks are the
board's full tick numbers.
"""

from __future__ import annotations

import csv
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spikeloom.defs import Geometry

__all__ = [
    "EventFileError",
    "INPUT_COLUMNS",
    "OUTPUT_COLUMNS",
    "check_format",
    "read_inputs",
    "write_inputs",
    "write_events",
    "EventWriter",
    "ProbeWriter",
    "read_probes",
    "check_writable",
    "read_events",
    "plot_raster",
]

INPUT_COLUMNS = ("tick", "core", "axon")
OUTPUT_COLUMNS = ("tick", "core", "neuron")
FORMATS = (".csv", ".npz")


class EventFileError(ValueError):
    """An event file is unreadable or wrong; the message names the file and the line or row."""


def check_format(path) -> str:
    """The format of ``path`` from its extension ("csv" or "npz")."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise EventFileError(f"{path}: unknown event file format: name it .csv or .npz")
    return suffix[1:]


def _table(path, columns: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """An (n, 3) int64 array of a file, and where each row came from (for messages)."""
    path = Path(path)
    if check_format(path) == "npz":
        return _npz_table(path, columns)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EventFileError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise EventFileError(f"{path}: not a CSV text file") from None
    except OSError as e:
        raise EventFileError(f"{path}: cannot read: {e.strerror or e}") from None
    rows, where = [], []
    header = None
    for number, fields in enumerate(csv.reader(text.splitlines()), start=1):
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in fields]
        if header is None:
            header = [f.lower() for f in fields]
            if header != list(columns):
                raise EventFileError(
                    f"{path} line {number}: header {','.join(fields)!r}, "
                    f"expected {','.join(columns)!r}"
                )
            continue
        if len(fields) != len(columns):
            raise EventFileError(
                f"{path} line {number}: {len(fields)} fields, expected {len(columns)} "
                f"({','.join(columns)})"
            )
        row = []
        for name, value in zip(columns, fields):
            try:
                v = int(value)
            except ValueError:
                raise EventFileError(
                    f"{path} line {number}: {name} {value!r} is not a whole number"
                ) from None
            if not -(1 << 62) <= v <= 1 << 62:
                raise EventFileError(f"{path} line {number}: {name} {value} is out of range")
            row.append(v)
        rows.append(row)
        where.append(f"{path} line {number}")
    if header is None:
        raise EventFileError(f"{path}: empty, expected a header line {','.join(columns)!r}")
    return np.array(rows, dtype=np.int64).reshape(-1, len(columns)), where


def _npz_table(path: Path, columns) -> tuple[np.ndarray, list[str]]:
    try:
        if not path.exists():
            raise FileNotFoundError
        if not zipfile.is_zipfile(path):
            raise EventFileError(f"{path}: not a NumPy .npz archive")
        archive = np.load(path, allow_pickle=False)
        with archive:
            if "events" not in archive.files:
                found = ", ".join(archive.files) or "nothing"
                raise EventFileError(f"{path}: no array 'events' (found {found})")
            arr = archive["events"]
    except FileNotFoundError:
        raise EventFileError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        if isinstance(e, EventFileError):
            raise
        raise EventFileError(f"{path}: not a NumPy .npz archive ({e})") from None
    if not np.issubdtype(arr.dtype, np.integer):
        raise EventFileError(f"{path}: events: {arr.dtype} values, expected integers")
    if arr.ndim != 2 or arr.shape[1] != len(columns):
        raise EventFileError(
            f"{path}: events: shape {arr.shape}, expected (n, {len(columns)}) "
            f"with columns {','.join(columns)}"
        )
    if arr.size and (arr.min() < -(1 << 62) or arr.max() > 1 << 62):
        raise EventFileError(f"{path}: events: values out of range")
    return arr.astype(np.int64), [f"{path} events[{i}]" for i in range(len(arr))]


def read_inputs(path, geometry: Geometry | None = None) -> dict[int, list[tuple[int, int]]]:
    """Host input events, tick -> [(core, axon)], from a ``tick,core,axon`` file.

    With ``geometry``, cores and axons are checked against it; the message
    names the line (CSV) or row (NPZ) at fault.
    """
    table, where = _table(path, INPUT_COLUMNS)
    limits = {"tick": None}
    if geometry is not None:
        limits.update(core=geometry.cores, axon=geometry.axons)
    for col, name in enumerate(INPUT_COLUMNS):
        values = table[:, col]
        bad = np.flatnonzero(values < 0)
        if bad.size:
            i = bad[0]
            raise EventFileError(f"{where[i]}: {name} {values[i]} is negative")
        hi = limits.get(name)
        if hi is not None:
            bad = np.flatnonzero(values >= hi)
            if bad.size:
                i = bad[0]
                raise EventFileError(
                    f"{where[i]}: {name} {values[i]} out of range: the device has "
                    f"{name}s 0..{hi - 1}"
                )
    inputs: dict[int, list[tuple[int, int]]] = {}
    for t, c, a in table.tolist():
        inputs.setdefault(t, []).append((c, a))
    return inputs


def read_events(path) -> list[tuple[int, int, int]]:
    """Output events (tick, core, neuron) from a file written by :func:`write_events`."""
    table, _ = _table(path, OUTPUT_COLUMNS)
    return [tuple(r) for r in table.tolist()]


def _write(path, rows, columns) -> None:
    path = Path(path)
    fmt = check_format(path)
    arr = np.array(list(rows), dtype=np.int64).reshape(-1, 3)
    if fmt == "npz":
        # Through a file object: np.savez would append ".npz" to a name lacking it.
        with open(path, "wb") as f:
            np.savez(f, events=arr)
        return
    with open(path, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(columns)
        out.writerows(arr.tolist())


def write_events(path, events: Sequence[tuple[int, int, int]]) -> None:
    """Write output events (tick, core, neuron) as CSV or NPZ (by extension)."""
    _write(path, events, OUTPUT_COLUMNS)


def write_inputs(path, inputs) -> None:
    """Write host input events ``{tick: [(core, axon)]}`` as CSV or NPZ (tick,core,axon)."""
    rows = sorted((t, c, a) for t, ev in dict(inputs).items() for c, a in ev)
    _write(path, rows, INPUT_COLUMNS)


def check_writable(path) -> None:
    """Refuse an output path that cannot be written (no directory, no permission), early."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise EventFileError(f"{path}: is a directory")
    if not parent.is_dir():
        raise EventFileError(f"{path}: cannot write: no directory {parent}")
    if not os.access(path if path.exists() else parent, os.W_OK):
        raise EventFileError(f"{path}: cannot write: permission denied")


class EventWriter:
    """Output events written as they arrive: CSV lines flushed per batch; NPZ on close.

    ``add(events)`` takes a batch (sorted within it; batches in tick order);
    ``close()`` finishes the file. ``count`` and ``last_tick`` say what it holds.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.format = check_format(self.path)
        self.count = 0
        self.last_tick: int | None = None
        self._rows: list = []
        try:
            self._file = open(self.path, "w", newline="") if self.format == "csv" else None
        except OSError as e:
            raise EventFileError(f"{self.path}: cannot write: {e.strerror or e}") from None
        if self._file is not None:
            self._csv = csv.writer(self._file, lineterminator="\n")
            self._csv.writerow(OUTPUT_COLUMNS)
            self._file.flush()

    def add(self, events) -> None:
        events = sorted(events)
        if not events:
            return
        self.count += len(events)
        self.last_tick = events[-1][0]
        if self._file is None:
            self._rows += events
            return
        self._csv.writerows(events)
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        elif self.format == "npz" and self._rows is not None:
            write_events(self.path, self._rows)
            self._rows = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


PROBE_COLUMNS = ("tick", "core", "neuron", "v", "s", "timer", "active")


class ProbeWriter:
    """Probed neuron states, one CSV line per neuron and tick, flushed as they come."""

    def __init__(self, path, neurons):
        self.path = Path(path)
        self.neurons = list(neurons)
        try:
            self._file = open(self.path, "w", newline="")
        except OSError as e:
            raise EventFileError(f"{self.path}: cannot write: {e.strerror or e}") from None
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._csv.writerow(PROBE_COLUMNS)

    def add(self, tick: int, core: int, neuron: int, state: dict) -> None:
        self._csv.writerow([tick, core, neuron, *(int(state[k]) for k in PROBE_COLUMNS[3:])])
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_probes(path) -> np.ndarray:
    """A probe file as an (n, 7) int64 array: tick, core, neuron, v, s, timer, active."""
    table, _ = _table(path, PROBE_COLUMNS)
    return table


def check_plot_format(path) -> None:
    """Refuse a plot file name matplotlib cannot write, before anything runs."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    suffix = Path(path).suffix.lower().lstrip(".")
    known = FigureCanvasAgg.get_supported_filetypes()
    if suffix not in known:
        raise EventFileError(f"{path}: cannot plot to a .{suffix} file: use .png, .pdf or .svg")


def plot_raster(
    path, events, geometry: Geometry, first_tick: int = 0, ticks: int | None = None, probes=None
):
    """A raster plot of output events: ticks on x, ``core * neurons + neuron`` on y.

    ``probes``: a :func:`read_probes` array; each probed neuron's potential v
    is drawn in a panel below the raster.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arr = np.array(list(events), dtype=np.int64).reshape(-1, 3)
    n = geometry.neurons
    if probes is not None and len(probes):
        fig, (ax, pax) = plt.subplots(
            2, 1, figsize=(8, 7), dpi=120, sharex=True, gridspec_kw={"height_ratios": [3, 2]}
        )
        for c, k in sorted({(int(c), int(k)) for c, k in probes[:, 1:3]}):
            rows = probes[(probes[:, 1] == c) & (probes[:, 2] == k)]
            pax.step(rows[:, 0], rows[:, 3], where="post", label=f"{c}:{k}", linewidth=1)
        pax.set_ylabel("potential v")
        pax.set_xlabel("tick")
        pax.legend(fontsize="small", ncols=4)
    else:
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    ax.scatter(arr[:, 0], arr[:, 1] * n + arr[:, 2], s=4, marker="|", color="black", linewidths=1)
    if ticks is None:
        ticks = int(arr[:, 0].max()) + 1 - first_tick if len(arr) else 1
    last = first_tick + max(ticks, 1)
    ax.set_xlim(first_tick - 0.5, last - 0.5)
    ax.set_ylim(-0.5, geometry.cores * n - 0.5)
    ax.set_xlabel("tick")
    ax.set_ylabel(f"neuron (core x {n} + neuron)")
    for c in range(1, geometry.cores):
        ax.axhline(c * n - 0.5, color="0.85", linewidth=0.5)
    ax.set_title(f"{len(arr)} output events, ticks {first_tick}..{last - 1}")
    fig.tight_layout()
    try:
        fig.savefig(path)
    finally:
        plt.close(fig)
