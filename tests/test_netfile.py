"""The network file (NAME.toml + NAME.npz): round trip, and every way loading refuses."""

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from spikeloom.defs import PARAM_FIELDS, Geometry
from spikeloom.host.netfile import array_names, load_network, load_network_with_meta, save_network
from spikeloom.network import Network, NetworkError
from spikeloom.testing.stimulus import random_network

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SPIKELOOM = str(Path(sys.executable).parent / "spikeloom")
GEOMETRY = Geometry(levels=(2, 2), neurons=8, axons=8, lanes=4, fanout=2, count_bits=3)


def _all_arrays(net: Network) -> dict:
    out = {"count": net.count, "sign": net.sign}
    out.update({f"params_{k}": net.params[k] for k in PARAM_FIELDS})
    out.update(route_valid=net.route_valid, route_core=net.route_core, route_axon=net.route_axon)
    return out


@pytest.fixture
def saved(tmp_path):
    """A random network saved as tmp_path/net.toml; returns (network, toml path)."""
    net = random_network(GEOMETRY, seed=11)
    path = save_network(net, tmp_path / "net.toml", meta={"name": "rnd", "source": "seed 11"})
    return net, path


def _edit_toml(path: Path, edit) -> None:
    doc = tomllib.loads(path.read_text())
    edit(doc)
    path.write_text(tomli_w.dumps(doc))


def _rewrite_npz(path: Path, edit) -> None:
    """Rewrite the .npz beside ``path`` with ``edit(arrays)`` applied (a dict)."""
    npz = path.with_suffix(".npz")
    with np.load(npz, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    edit(arrays)
    np.savez(npz, **arrays)


def _refused(path, *fragments):
    with pytest.raises(NetworkError) as info:
        load_network(path)
    msg = str(info.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    return msg


# -- round trip -------------------------------------------------------------------


def test_round_trip_keeps_every_array_and_the_meta(saved, tmp_path):
    net, path = saved
    assert path == tmp_path / "net.toml" and (tmp_path / "net.npz").exists()
    text = path.read_text()
    assert 'format = "spikeloom-network"' in text and 'arrays = "net.npz"' in text
    back, meta = load_network_with_meta(path)
    assert back.geometry == GEOMETRY
    assert meta == {"name": "rnd", "source": "seed 11"}
    for name, arr in _all_arrays(net).items():
        got = _all_arrays(back)[name]
        assert got.dtype == np.int64, name
        np.testing.assert_array_equal(got, arr, err_msg=name)
    # The random network is not trivial: the round trip carried real content.
    assert net.count.any() and net.sign.any() and net.route_valid.any()


def test_arrays_path_is_relative_to_the_toml_file(saved, tmp_path, monkeypatch):
    net, path = saved
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for f in ("net.toml", "net.npz"):
        (tmp_path / f).rename(moved / f)
    monkeypatch.chdir(tmp_path)  # not the files' directory
    back = load_network(moved / "net.toml")
    np.testing.assert_array_equal(back.count, net.count)


def test_saved_dtypes_are_small(saved):
    _, path = saved
    with np.load(path.with_suffix(".npz"), allow_pickle=False) as z:
        assert sorted(z.files) == sorted(array_names())
        assert z["count"].dtype == np.uint8
        assert z["params_threshold"].dtype == np.uint16  # 15 bits for potential_bits 16


def test_save_refuses_invalid_networks_and_names(tmp_path):
    net = Network.empty(GEOMETRY)
    net.count[0, 0, 0] = 8  # count_bits 3: at most 7
    with pytest.raises(NetworkError, match=r"count\[0, 0, 0\] = 8"):
        save_network(net, tmp_path / "bad.toml")
    assert not (tmp_path / "bad.toml").exists() and not (tmp_path / "bad.npz").exists()
    with pytest.raises(NetworkError, match="must end in .toml"):
        save_network(Network.empty(GEOMETRY), tmp_path / "x.npz")
    with pytest.raises(NetworkError, match="meta.colour: unknown key"):
        save_network(Network.empty(GEOMETRY), tmp_path / "x.toml", meta={"colour": "red"})


# -- the TOML half ------------------------------------------------------------------


def test_missing_file(tmp_path):
    _refused(tmp_path / "none.toml", "none.toml: no such file")


def test_not_toml_names_the_line(saved):
    _, path = saved
    path.write_text('format = "spikeloom-network"\nversion = 1\narrays = \n')
    _refused(path, "not valid TOML", "line 3")


def test_not_utf8(saved):
    _, path = saved
    path.write_bytes(b'format = "\xff"\n')
    _refused(path, "not UTF-8")


@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda d: d.pop("format"), ["format: missing"]),
        (lambda d: d.update(format="other"), ["format: expected 'spikeloom-network', got 'other'"]),
        (lambda d: d.update(version=2), ["version: 2 is not supported", "version 1"]),
        (lambda d: d.update(version="1"), ["version: expected an integer, got '1'"]),
        (lambda d: d.update(colour="red"), ["colour: unknown key"]),
        (lambda d: d.pop("arrays"), ["arrays: missing"]),
        (lambda d: d.update(arrays=3), ["arrays: expected the name of the .npz file"]),
        (lambda d: d.pop("geometry"), ["geometry: missing"]),
        (lambda d: d["geometry"].pop("neurons"), ["geometry.neurons: missing"]),
        (
            lambda d: d["geometry"].update(neurons="abc"),
            ["geometry.neurons: expected an integer, got 'abc'"],
        ),
        (
            lambda d: d["geometry"].update(axons=True),
            ["geometry.axons: expected an integer, got True (bool)"],
        ),
        (
            lambda d: d["geometry"].update(fanout=2.5),
            ["geometry.fanout: expected an integer, got 2.5 (float)"],
        ),
        (
            lambda d: d["geometry"].update(levels=4),
            ["geometry.levels: expected a list of integers"],
        ),
        (lambda d: d["geometry"].update(shape="x"), ["geometry.shape: unknown key"]),
        (lambda d: d["geometry"].update(neurons=12), ["Geometry.neurons = 12", "power of two"]),
        (lambda d: d["geometry"].update(levels=[]), ["Geometry.levels"]),
        (lambda d: d.update(meta={"name": 3}), ["meta.name: expected a string, got 3"]),
        (lambda d: d.update(meta={"author": "x"}), ["meta.author: unknown key"]),
        (lambda d: d.update(meta="x"), ["meta: expected a table"]),
    ],
)
def test_bad_toml_content_names_the_key(saved, edit, fragments):
    _, path = saved
    _edit_toml(path, edit)
    msg = _refused(path, "net.toml: ", *fragments)
    assert "\n" not in msg


def test_absurd_geometry_is_refused_before_anything_is_read(saved):
    _, path = saved
    # 4 cores x (2**13 + 2**13) rows x 2**13 neurons = 2**29 crossbar entries.
    _edit_toml(path, lambda d: d["geometry"].update(neurons=1 << 13, axons=1 << 13))
    _refused(path, "geometry:", "crossbar entries", "2**26")


def test_huge_field_values_are_refused(saved):
    _, path = saved
    _edit_toml(path, lambda d: d["geometry"].update(neurons=1 << 40))
    _refused(path, "geometry.neurons = 1099511627776: absurdly large")


def test_oversized_toml_is_refused(saved):
    _, path = saved
    path.write_text("# " + "x" * (1 << 20) + "\n")
    _refused(path, "too large for a network description")


# -- the NPZ half ----------------------------------------------------------------------


def test_npz_missing(saved):
    _, path = saved
    path.with_suffix(".npz").unlink()
    _refused(path, "net.npz: no such file (named by 'arrays')")


def test_npz_not_a_zip(saved):
    _, path = saved
    path.with_suffix(".npz").write_bytes(b"\x93NUMPY this is not a zip archive")
    _refused(path, "net.npz: not an .npz (zip) archive")


def test_npz_truncated(saved):
    _, path = saved
    npz = path.with_suffix(".npz")
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    _refused(path, "net.npz: not an .npz (zip) archive, or truncated")


def test_array_missing(saved):
    _, path = saved
    _rewrite_npz(path, lambda a: a.pop("route_axon"))
    _refused(path, "net.npz: route_axon: missing")


def test_extra_array(saved):
    _, path = saved
    _rewrite_npz(path, lambda a: a.update(weights=np.zeros(3, dtype=np.uint8)))
    _refused(path, "net.npz: unexpected member 'weights.npy'")


@pytest.mark.parametrize(
    "key, shape",
    [("count", (4, 16, 9)), ("params_leak", (4, 8, 1)), ("route_core", (4, 8))],
)
def test_wrong_shape(saved, key, shape):
    _, path = saved
    _rewrite_npz(path, lambda a: a.update({key: np.zeros(shape, dtype=np.uint8)}))
    _refused(path, f"net.npz: {key}: shape {shape}, expected")


def test_non_integer_dtype(saved):
    _, path = saved
    _rewrite_npz(path, lambda a: a.update(params_threshold=a["params_threshold"].astype(float)))
    _refused(path, "params_threshold: integers expected, got dtype float64")


def test_object_array_is_refused_without_unpickling(saved):
    _, path = saved
    npz = path.with_suffix(".npz")
    with np.load(npz, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["sign"] = arrays["sign"].astype(object)
    np.savez(npz, **arrays)  # numpy pickles object arrays
    _refused(path, "sign: integers expected, got dtype object")


@pytest.mark.parametrize(
    "key, index, value, fragment",
    [
        ("count", (1, 2, 3), 8, "count[1, 2, 3] = 8: out of range 0..7"),
        ("route_core", (1, 2, 1), 4, "route_core[1, 2, 1] = 4: out of range 0..3"),
        ("params_window", (1, 2), 256, "params.window[1, 2] = 256: out of range 0..255"),
    ],
)
def test_value_out_of_range(saved, key, index, value, fragment):
    _, path = saved

    def edit(a):
        a[key] = a[key].astype(np.int64)
        a[key][index] = value

    _rewrite_npz(path, edit)
    _refused(path, "net.npz: ", fragment)


def _npz_with_member(npz: Path, name: str, header: dict, payload: bytes, others: dict):
    """An .npz whose member ``name`` has a hand-written header (claims anything)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(npz, "w") as zf:
        for k, v in others.items():
            out = io.BytesIO()
            np.lib.format.write_array(out, v)
            zf.writestr(f"{k}.npy", out.getvalue())
        zf.writestr(name, buf.getvalue() + payload)


def test_oversized_array_is_refused_from_its_header(saved):
    """A member claiming 2**40 entries is refused without reading its data."""
    _, path = saved
    npz = path.with_suffix(".npz")
    with np.load(npz, allow_pickle=False) as z:
        others = {k: z[k] for k in z.files if k != "count"}
    header = {"descr": "<i8", "fortran_order": False, "shape": (4, 1 << 20, 1 << 20)}
    _npz_with_member(npz, "count.npy", header, b"\0" * 64, others)
    _refused(path, "count: shape (4, 1048576, 1048576), expected (4, 16, 8)")


def test_short_array_data_is_corrupt(saved):
    _, path = saved
    npz = path.with_suffix(".npz")
    with np.load(npz, allow_pickle=False) as z:
        others = {k: z[k] for k in z.files if k != "count"}
    header = {"descr": "|u1", "fortran_order": False, "shape": (4, 16, 8)}
    _npz_with_member(npz, "count.npy", header, b"\0" * 10, others)
    _refused(path, "net.npz: count: corrupt array")


def test_flipped_byte_fails_the_crc(saved):
    _, path = saved
    npz = path.with_suffix(".npz")
    _rewrite_npz(path, lambda a: None)  # stored, not compressed: data bytes are in the file
    raw = bytearray(npz.read_bytes())
    with zipfile.ZipFile(npz) as zf:
        info = zf.getinfo("count.npy")
    # Local header (30 bytes + name + extra), then the .npy header (128 bytes), then data.
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 128
    raw[start + 5] ^= 0x01
    npz.write_bytes(bytes(raw))
    _refused(path, "net.npz: count: corrupt array", "CRC")


def test_oversized_npz_file_is_refused_before_it_is_opened(saved):
    _, path = saved
    npz = path.with_suffix(".npz")
    npz.write_bytes(npz.read_bytes() + b"\0" * (1 << 20))
    _refused(path, "net.npz: ", "bytes, more than the")


# -- the CLI -------------------------------------------------------------------------------


def _cli(*args):
    return subprocess.run([SPIKELOOM, *args], capture_output=True, text=True, timeout=60)


def test_cli_check_network_summarises(saved):
    net, path = saved
    r = _cli("check-network", str(path))
    assert r.returncode == 0, r.stderr
    total = int(np.count_nonzero(net.count))
    routes = int(np.count_nonzero(net.route_valid))
    assert f"synapses: {total} non-zero crossbar entries" in r.stdout
    assert f"routes: {routes} valid routing entries" in r.stdout
    assert "cores: 4, each 8 neurons, 8 axons" in r.stdout
    assert "name: rnd" in r.stdout


def test_cli_check_network_corrupt_toml(saved):
    _, path = saved
    path.write_text('format = "spikeloom-network"\nversion = 1 2\n')
    r = _cli("check-network", str(path))
    assert r.returncode == 1
    assert "net.toml: not valid TOML" in r.stderr and "line 2" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_cli_check_network_truncated_npz(saved):
    _, path = saved
    npz = path.with_suffix(".npz")
    npz.write_bytes(npz.read_bytes()[:100])
    r = _cli("check-network", str(path))
    assert r.returncode == 1
    assert "net.npz: not an .npz (zip) archive, or truncated" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_cli_check_network_misshaped_array(saved):
    _, path = saved
    _rewrite_npz(path, lambda a: a.update(sign=np.zeros((4, 16, 16), dtype=np.uint8)))
    r = _cli("check-network", str(path))
    assert r.returncode == 1
    assert "sign: shape (4, 16, 16), expected (4, 16, 8)" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_a_file_without_virtual_loads_with_one_core_per_engine(tmp_path):
    """``geometry.virtual`` came after files were written: a file without it loads."""
    import re

    src = Path(__file__).resolve().parent.parent / "examples" / "net.toml"
    text = re.sub(r"(?m)^virtual = .*\n", "", src.read_text())
    assert "virtual" not in text.split("[meta]")[0]
    (tmp_path / "net.toml").write_text(text)
    (tmp_path / "net.npz").write_bytes(src.with_suffix(".npz").read_bytes())
    net = load_network(tmp_path / "net.toml")
    assert net.geometry.virtual == 1
