"""The suite's order: longest tests first, spread so that the workers end together.

pytest-xdist's ``worksteal`` hands the first half of the collection to one
worker and the second half to the other, and an idle worker steals the tail
of a busy one's queue. :func:`order` sorts the tests by their estimated
seconds (``tests/durations.json``, from a measured run; unlisted tests count
0 and run last) and deals them out in turns, one per worker, so that each
half starts with its share of the long tests and ends with short ones: a
long test never starts last. Two tests that build the same design (a
*group* in the estimates) are not dealt side by side while the design is
new, so that one worker does not wait on the other's build lock.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["load_estimates", "order"]


def load_estimates(path: Path) -> dict[str, tuple[float, str | None]]:
    """``{test id: (seconds, build group or None)}`` from ``path``; empty if it is missing."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return {k: (float(v[0]), v[1] if len(v) > 1 else None) for k, v in raw["tests"].items()}


def _by_length(ids, estimates):
    """Test ids, longest first (ties in collection order)."""
    pos = {t: i for i, t in enumerate(ids)}
    return sorted(ids, key=lambda t: (-estimates.get(t, (0.0,))[0], pos[t]))


def _apart(ids, estimates, workers):
    """Move tests so that no turn holds two tests of a group that no earlier turn held."""
    ids, seen = list(ids), set()
    for start in range(0, len(ids), workers):
        turn = set()
        for i in range(start, min(start + workers, len(ids))):
            group = estimates.get(ids[i], (0, None))[1]
            if group is not None and group in turn and group not in seen:
                j = next(
                    (
                        j
                        for j in range(i + 1, len(ids))
                        if estimates.get(ids[j], (0, None))[1] not in turn
                    ),
                    None,
                )
                if j is not None:
                    ids.insert(i, ids.pop(j))
                    group = estimates.get(ids[i], (0, None))[1]
            turn.add(group)
        seen |= turn - {None}
    return ids


def order(ids: list[str], estimates: dict, workers: int) -> list[str]:
    """``ids`` in the order to collect them for ``workers`` workers (see the module doc)."""
    ranked = _apart(_by_length(ids, estimates), estimates, max(1, workers))
    if workers <= 1:
        return ranked
    return [t for w in range(workers) for t in ranked[w::workers]]
