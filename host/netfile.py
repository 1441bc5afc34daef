"""The spikeloom network file: ``NAME.toml`` (what it is) + ``NAME.npz`` (its arrays).

The TOML file is small and human-readable::

    format = "spikeloom-network"
    version = 1
    arrays = "NAME.npz"          # relative to the TOML file's directory

    [geometry]                   # every Geometry field, levels as a list
    levels = [1]
    neurons = 256
    ...

    [meta]                       # optional, free strings
    name = "..."
    description = "..."
    source = "..."

    [learning]                   # optional: the learning registers, fixed point
    learn = 1                    # LEARN_LAYOUT's fields (spikeloom.defs), all required
    p_plus = 0                   # probabilities p / 65536
    p_minus = 6554
    p_grow = 1311
    episode = 0
    seed = [12345]               # optional: one generator seed per core

The NPZ archive (``numpy.savez_compressed``) holds the arrays of
:class:`~spikeloom.network.Network`: ``count`` and ``sign`` (cores, rows,
neurons), ``params_<field>`` (cores, neurons) for each of ``PARAM_FIELDS``,
and ``route_valid``, ``route_core``, ``route_axon`` (cores, neurons, fanout).
``docs/network-format.md`` describes every key and array.

:func:`load_network` trusts nothing in either file: every problem raises
:class:`~spikeloom.network.NetworkError` with a message naming the file and
the offending key or array. Array shapes and dtypes are checked from the
``.npy`` headers inside the archive before any array is read, so a file
that claims more than its geometry needs is refused without being loaded.
"""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import tomli_w

from spikeloom.defs import GEOMETRY_FIELDS, LEARN_FIELDS, LEARN_MAX, Geometry, LearnConfig
from spikeloom.network import (
    LEARNING_KEYS,
    PARAM_FIELDS,
    SEED_KEY,
    Learning,
    Network,
    NetworkError,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (python 3.10)
    import tomli as tomllib

__all__ = [
    "FORMAT",
    "VERSION",
    "META_KEYS",
    "MAX_ENTRIES",
    "array_names",
    "save_network",
    "load_network",
    "load_network_with_meta",
]

FORMAT = "spikeloom-network"
VERSION = 1
META_KEYS = ("name", "description", "source")
#: Refuse geometries with more crossbar (or routing) entries than this in
#: total: far beyond any FPGA's block RAM, and 512 MiB per int64 array.
MAX_ENTRIES = 1 << 26
#: A network description is a few hundred bytes; refuse to parse more.
MAX_TOML_BYTES = 1 << 20

_TOP_KEYS = ("format", "version", "arrays", "geometry", "meta", "learning")


def array_names() -> tuple[str, ...]:
    """The names of the arrays in a network's NPZ archive, in file order."""
    return (
        "count",
        "sign",
        *(f"params_{k}" for k in PARAM_FIELDS),
        "route_valid",
        "route_core",
        "route_axon",
    )


def _expected(g: Geometry) -> dict[str, tuple[tuple[int, ...], int]]:
    """Array name -> (shape, largest legal value) for geometry ``g``."""
    c, n, r, f = g.cores, g.neurons, g.rows, g.fanout
    widths = {name: fl.width for name, fl in g.params_layout}
    out = {"count": ((c, r, n), g.max_count), "sign": ((c, r, n), 1)}
    for k in PARAM_FIELDS:
        out[f"params_{k}"] = ((c, n), (1 << widths[k]) - 1)
    out["route_valid"] = ((c, n, f), 1)
    out["route_core"] = ((c, n, f), c - 1)
    out["route_axon"] = ((c, n, f), g.axons - 1)
    return out


def _arrays_of(net: Network) -> dict[str, np.ndarray]:
    arrays = {"count": net.count, "sign": net.sign}
    arrays.update({f"params_{k}": net.params[k] for k in PARAM_FIELDS})
    arrays.update(route_valid=net.route_valid, route_core=net.route_core, route_axon=net.route_axon)
    return arrays


def _check_meta(meta, where: str) -> dict[str, str]:
    if not isinstance(meta, dict):
        raise NetworkError(f"{where}meta: expected a table of strings, got {meta!r}")
    for key, value in meta.items():
        if key not in META_KEYS:
            raise NetworkError(f"{where}meta.{key}: unknown key (known: {', '.join(META_KEYS)})")
        if not isinstance(value, str):
            raise NetworkError(f"{where}meta.{key}: expected a string, got {value!r}")
    return dict(meta)


def _write_atomic(path: Path, write) -> None:
    """Write ``path`` through a temporary file in its directory, then rename,
    so an interrupted save never leaves half a file under the real name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- saving ----------------------------------------------------------------------


def save_network(net: Network, path, meta: dict | None = None) -> Path:
    """Write ``net`` as ``path`` (``NAME.toml``) and ``NAME.npz`` beside it.

    ``meta``: optional strings ``name``, ``description``, ``source``. The
    network's learning section, if any, is written as ``[learning]``. The
    network is validated first. Each array is stored as the smallest
    unsigned integer dtype that holds its field's range. Returns the TOML
    path.
    """
    path = Path(path)
    if path.suffix != ".toml":
        raise NetworkError(f"{path}: a network file name must end in .toml")
    net.validate()
    meta = _check_meta(meta or {}, "")
    npz_path = path.with_suffix(".npz")

    arrays = {}
    for name, (_, hi) in _expected(net.geometry).items():
        arr = np.asarray(_arrays_of(net)[name])
        arrays[name] = arr.astype(np.min_scalar_type(max(hi, 1)))

    doc = {
        "format": FORMAT,
        "version": VERSION,
        "arrays": npz_path.name,
        "geometry": net.geometry.as_dict(),
    }
    if meta:
        doc["meta"] = meta
    if net.learning is not None:
        doc["learning"] = net.learning.as_dict()
    text = "# spikeloom network, see docs/network-format.md\n" + tomli_w.dumps(doc)

    _write_atomic(npz_path, lambda f: np.savez_compressed(f, **arrays))
    _write_atomic(path, lambda f: f.write(text.encode()))
    return path


# -- loading ----------------------------------------------------------------------


def _describe(value) -> str:
    return repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"


def _read_toml(path: Path) -> dict:
    try:
        size = path.stat().st_size
        if size > MAX_TOML_BYTES:
            raise NetworkError(
                f"{path}: {size} bytes, too large for a network description "
                f"(at most {MAX_TOML_BYTES}); is it the right file?"
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NetworkError(f"{path}: no such file") from None
    except OSError as e:
        raise NetworkError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NetworkError(f"{path}: not a TOML file (not UTF-8 text at byte {e.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # The message carries "(at line L, column C)".
        raise NetworkError(f"{path}: not valid TOML: {e}") from None


#: Geometry fields a file may leave out (their ``Geometry`` default): added
#: after files were written, and changing only how the chip is built.
OPTIONAL_GEOMETRY = ("virtual",)


def _geometry_from(table, where: str) -> Geometry:
    if not isinstance(table, dict):
        raise NetworkError(f"{where}geometry: expected a table, got {_describe(table)}")
    for key in table:
        if key not in GEOMETRY_FIELDS:
            raise NetworkError(
                f"{where}geometry.{key}: unknown key (known: {', '.join(GEOMETRY_FIELDS)})"
            )
    fields = {}
    for key in GEOMETRY_FIELDS:
        if key not in table and key in OPTIONAL_GEOMETRY:
            continue  # the Geometry default
        if key not in table:
            raise NetworkError(f"{where}geometry.{key}: missing")
        value = table[key]
        if key == "levels":
            if not isinstance(value, list) or not all(
                isinstance(x, int) and not isinstance(x, bool) for x in value
            ):
                raise NetworkError(
                    f"{where}geometry.levels: expected a list of integers, got {_describe(value)}"
                )
            fields[key] = tuple(value)
        else:
            # TOML booleans are a separate type, but Python's bool is an int.
            if not isinstance(value, int) or isinstance(value, bool):
                raise NetworkError(
                    f"{where}geometry.{key}: expected an integer, got {_describe(value)}"
                )
            fields[key] = value
    # Geometry checks each field; its message names it ("Geometry.neurons = 12: ...").
    # Absurd sizes are refused before Geometry computes anything from them.
    for key in ("neurons", "axons"):
        if fields[key] > MAX_ENTRIES:
            raise NetworkError(f"{where}geometry.{key} = {fields[key]}: absurdly large")
    try:
        g = Geometry(**fields)
    except ValueError as e:
        raise NetworkError(f"{where}geometry: {e}") from None
    c, r, n, f = g.cores, g.rows, g.neurons, g.fanout
    if c * r * n > MAX_ENTRIES or c * n * f > MAX_ENTRIES:
        raise NetworkError(
            f"{where}geometry: {c} cores x {r} rows x {n} neurons = {c * r * n} crossbar "
            f"entries and {c * n * f} routing entries; this loader accepts at most "
            f"{MAX_ENTRIES} (2**26) of each"
        )
    return g


def _int_value(value, name: str, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise NetworkError(f"{name}: expected an integer, got {_describe(value)}")
    if not lo <= value <= hi:
        raise NetworkError(f"{name} = {value}: out of range {lo}..{hi}")
    return value


def _learning_from(table, where: str, g: Geometry) -> Learning:
    """The ``[learning]`` table: every ``LEARN_LAYOUT`` field, optional seeds."""
    if not isinstance(table, dict):
        raise NetworkError(f"{where}learning: expected a table, got {_describe(table)}")
    for key in table:
        if key not in LEARNING_KEYS:
            raise NetworkError(
                f"{where}learning.{key}: unknown key (known: {', '.join(LEARNING_KEYS)})"
            )
    values = {}
    for key in LEARN_FIELDS:
        if key not in table:
            raise NetworkError(f"{where}learning.{key}: missing")
        values[key] = _int_value(table[key], f"{where}learning.{key}", 0, LEARN_MAX[key])
    seeds = table.get(SEED_KEY)
    if seeds is not None:
        name = f"{where}learning.{SEED_KEY}"
        if not isinstance(seeds, list):
            raise NetworkError(
                f"{name}: expected a list of integers (one per core), got {_describe(seeds)}"
            )
        if len(seeds) != g.cores:
            raise NetworkError(f"{name}: {len(seeds)} seeds, expected one per core ({g.cores})")
        seeds = tuple(_int_value(v, f"{name}[{c}]", 0, (1 << 32) - 1) for c, v in enumerate(seeds))
    return Learning(LearnConfig(**values), seeds)


def _read_header(zf: zipfile.ZipFile, member: str, key: str, where: str):
    """(shape, dtype) of one ``.npy`` member, read from its header only."""
    try:
        with zf.open(member) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise NetworkError(f"{where}{key}: corrupt array ({e})") from None
    return shape, dtype


def load_network_with_meta(path) -> tuple[Network, dict[str, str]]:
    """Load and validate a network file; return the network and its ``[meta]``."""
    path = Path(path)
    doc = _read_toml(path)
    where = f"{path.name}: "

    fmt = doc.get("format")
    if fmt is None:
        raise NetworkError(f"{where}format: missing (not a spikeloom network file?)")
    if fmt != FORMAT:
        raise NetworkError(f"{where}format: expected {FORMAT!r}, got {_describe(fmt)}")
    for key in doc:
        if key not in _TOP_KEYS:
            raise NetworkError(f"{where}{key}: unknown key (known: {', '.join(_TOP_KEYS)})")
    for key in ("version", "arrays", "geometry"):
        if key not in doc:
            raise NetworkError(f"{where}{key}: missing")
    version = doc["version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise NetworkError(f"{where}version: expected an integer, got {_describe(version)}")
    if version != VERSION:
        raise NetworkError(
            f"{where}version: {version} is not supported (this spikeloom reads version {VERSION})"
        )
    if not isinstance(doc["arrays"], str) or not doc["arrays"]:
        raise NetworkError(
            f"{where}arrays: expected the name of the .npz file, got {_describe(doc['arrays'])}"
        )
    meta = _check_meta(doc.get("meta", {}), where)
    g = _geometry_from(doc["geometry"], where)

    learning = _learning_from(doc["learning"], where, g) if "learning" in doc else None

    npz_path = path.parent / doc["arrays"]
    net = Network(geometry=g, count=None, sign=None, learning=learning)
    arrays = _read_npz(npz_path, g)
    net.count, net.sign = arrays["count"], arrays["sign"]
    net.params = {k: arrays[f"params_{k}"] for k in PARAM_FIELDS}
    net.route_valid = arrays["route_valid"]
    net.route_core = arrays["route_core"]
    net.route_axon = arrays["route_axon"]
    try:
        net.validate()  # values in range ("count[0, 3, 1] = 9: out of range 0..7 ...")
    except NetworkError as e:
        raise NetworkError(f"{npz_path.name}: {e}") from None
    # Every value is now known to be in range: int64 holds it, and signed
    # arithmetic (-count) is safe for the golden model.
    net.count, net.sign = net.count.astype(np.int64), net.sign.astype(np.int64)
    net.params = {k: v.astype(np.int64) for k, v in net.params.items()}
    net.route_valid = net.route_valid.astype(np.int64)
    net.route_core = net.route_core.astype(np.int64)
    net.route_axon = net.route_axon.astype(np.int64)
    return net, meta


def _read_npz(npz_path: Path, g: Geometry) -> dict[str, np.ndarray]:
    """Every array of the archive, checked against ``g`` before it is read."""
    where = f"{npz_path.name}: "
    expected = _expected(g)
    # Bound the file before opening it: all arrays as int64 plus generous
    # room for zip and .npy headers. (Compressed archives are much smaller.)
    limit = sum(8 * int(np.prod(s)) + 4096 for s, _ in expected.values()) + 65536
    try:
        size = npz_path.stat().st_size
    except FileNotFoundError:
        raise NetworkError(f"{where}no such file (named by 'arrays')") from None
    except OSError as e:
        raise NetworkError(f"{where}cannot read: {e.strerror or e}") from None
    if size > limit:
        raise NetworkError(
            f"{where}{size} bytes, more than the {limit} that the arrays of this geometry can take"
        )
    try:
        zf = zipfile.ZipFile(npz_path)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise NetworkError(f"{where}not an .npz (zip) archive, or truncated ({e})") from None
    with zf:
        members = {}
        for info in zf.infolist():
            name = info.filename
            key = name[:-4] if name.endswith(".npy") else None
            if key not in expected:
                raise NetworkError(
                    f"{where}unexpected member {name!r} (expected: "
                    f"{', '.join(k + '.npy' for k in expected)})"
                )
            if key in members:
                raise NetworkError(f"{where}{key}: stored twice")
            members[key] = info
        for key in expected:
            if key not in members:
                raise NetworkError(f"{where}{key}: missing")

        out = {}
        for key, (shape, _) in expected.items():
            info = members[key]
            got_shape, dtype = _read_header(zf, info.filename, key, where)
            if got_shape != shape:
                raise NetworkError(
                    f"{where}{key}: shape {got_shape}, expected {shape} for this geometry"
                )
            if dtype.kind not in "biu" or dtype.fields is not None:
                raise NetworkError(f"{where}{key}: integers expected, got dtype {dtype}")
            # A member that claims to expand to far more than its array is not ours.
            if info.file_size > dtype.itemsize * int(np.prod(shape)) + 65536:
                raise NetworkError(
                    f"{where}{key}: {info.file_size} bytes uncompressed, more than a "
                    f"{shape} {dtype} array needs"
                )
            try:
                with zf.open(info) as fp:
                    out[key] = np.lib.format.read_array(fp, allow_pickle=False)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
                raise NetworkError(f"{where}{key}: corrupt array ({e})") from None
    return out


def load_network(path) -> Network:
    """Load and validate the network file ``path`` (``NAME.toml``).

    Raises :class:`~spikeloom.network.NetworkError` naming the file and the
    key or array at fault.
    """
    return load_network_with_meta(path)[0]
