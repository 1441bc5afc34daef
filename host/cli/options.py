"""Command-line options shared by several ``spikeloom`` commands, defined once.

* :func:`geometry_options`: one ``--FIELD`` option per geometry field
  (``spikeloom.defs.GEOMETRY_FIELDS``), with the defaults of ``Geometry()``
  or "not given"; :func:`make_geometry` turns them into a ``Geometry``.
* :func:`parse_levels`, :func:`describe`: ``--levels`` text and a geometry's
  one-line form (``levels=1 neurons=64 ...``).
* :func:`board_option`: ``--board NAME``, a target of ``spikeloom.boards``.
* :func:`default_baud` (from ``transport``): the board's baud rate, or the table's.
* :func:`geometry_mismatch`: the message for a network that does not fit a board.
"""

from __future__ import annotations

import dataclasses

import click

from spikeloom.boards import TARGETS, Target, target
from spikeloom.defs import GEOMETRY_FIELDS, Geometry
from spikeloom.host.board import describe
from spikeloom.host.transport import default_baud

__all__ = [
    "BOARDS_DEFAULT",
    "geometry_options",
    "make_geometry",
    "parse_levels",
    "describe",
    "board_option",
    "default_baud",
    "geometry_mismatch",
]


def parse_levels(text) -> tuple[int, ...]:
    """``"4,4"`` -> (4, 4); a click error naming the value otherwise."""
    try:
        return tuple(int(x) for x in str(text).split(","))
    except ValueError:
        raise click.BadParameter(
            f"not a list of integers: {text!r}", param_hint="--levels"
        ) from None


#: ``help_default`` of a command whose geometry defaults to the board's.
BOARDS_DEFAULT: dict = {}


def flag(name: str) -> str:
    """The option of a geometry field: ``potential_bits`` -> ``--potential-bits``."""
    return f"--{name.replace('_', '-')}"


def geometry_options(defaults: bool = True, help_default: dict | None = None):
    """A decorator adding ``--levels``, ``--neurons``, ... (every geometry field).

    ``defaults``: the options default to ``Geometry()``'s values; else to
    None ("not given": the command fills them in, from a board or the graph).
    ``help_default``: field -> the help text's "[default: ...]" when not given.
    """
    base = Geometry()
    if help_default is BOARDS_DEFAULT:
        help_default = dict.fromkeys(GEOMETRY_FIELDS, "the board's")
    help_default = help_default or {}

    def decorate(f):
        for name in reversed(GEOMETRY_FIELDS):
            value = getattr(base, name)
            shown = ",".join(map(str, value)) if name == "levels" else value
            if defaults:
                kw = dict(default=shown, show_default=True)
            else:
                kw = dict(default=None, help=f"[default: {help_default.get(name, shown)}]")
            if name == "levels":
                kw["help"] = "bus-tree branching factors, leaves first, comma-separated " + (
                    kw.get("help") or ""
                )
                f = click.option("--levels", "levels", type=str, **kw)(f)
            else:
                f = click.option(flag(name), name, type=int, **kw)(f)
        return f

    return decorate


def pop_geometry_fields(kw: dict) -> dict:
    """Remove the geometry options from ``kw``; return those given, levels parsed."""
    fields = {k: kw.pop(k) for k in GEOMETRY_FIELDS}
    given = {k: v for k, v in fields.items() if v is not None}
    if "levels" in given:
        given["levels"] = parse_levels(given["levels"])
    return given


def make_geometry(kw: dict, base: Geometry | None = None) -> Geometry:
    """The geometry of the options in ``kw`` (removed from it), over ``base``'s fields."""
    given = pop_geometry_fields(kw)
    try:
        if base is not None:
            return dataclasses.replace(base, **given)
        return Geometry(**given)
    except ValueError as e:
        raise click.UsageError(str(e)) from None


def _board(ctx, param, value):
    if value is None:
        return None
    try:
        return target(value)
    except KeyError as e:
        raise click.BadParameter(e.args[0]) from None


def board_option(required: bool = False, help: str | None = None, dest: str = "board"):
    """``--board NAME``: a board target (``spikeloom boards``), as a ``Target`` in ``dest``."""
    return click.option(
        "--board",
        dest,
        required=required,
        callback=_board,
        metavar="NAME",
        help=help or f"board target ({', '.join(TARGETS)}): its geometry and baud rate",
    )


def geometry_mismatch(what: str, g: Geometry, board: Target, fix: str) -> str | None:
    """None if ``g`` is the board's geometry; else a message naming the fields and ``fix``."""
    want = board.geometry
    if g == want:
        return None
    diff = ", ".join(
        f"{describe(g, [k])} (board: {describe(want, [k])})"
        for k in GEOMETRY_FIELDS
        if getattr(g, k) != getattr(want, k)
    )
    return f"{what} does not fit the {board.name} board: {diff}; {fix}"
