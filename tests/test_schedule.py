"""The suite's order (``spikeloom.testing.schedule``): longest first, dealt out, builds apart."""

import json

from spikeloom.testing import schedule

from conftest import TESTS

EST = {
    "a": (100.0, "x"),
    "b": (90.0, "x"),
    "c": (80.0, None),
    "d": (10.0, "y"),
    "e": (5.0, None),
}


def test_one_worker_runs_longest_first():
    # Unlisted (z) counts 0; one worker has no neighbour to keep a build away from.
    assert schedule.order(["e", "d", "c", "b", "a", "z"], EST, 1) == ["a", "b", "c", "d", "e", "z"]


def test_two_workers_get_alternate_turns_and_no_shared_new_build():
    # Longest first: a b c d e z; a and b build x, so b waits a turn (c takes its place).
    # Worker 0 gets the first half (a, b, e), worker 1 the second (c, d, z).
    got = schedule.order(["z", "e", "d", "c", "b", "a"], EST, 2)
    assert got == ["a", "b", "e", "c", "d", "z"]
    first, second = got[:3], got[3:]
    assert (first[0], second[0]) == ("a", "c")  # the two longest tests start at once


def test_the_committed_estimates_name_existing_tests():
    raw = json.loads((TESTS / "durations.json").read_text())["tests"]
    est = schedule.load_estimates(TESTS / "durations.json")
    assert set(est) == set(raw) and all(s > 0 for s, _ in est.values())
    for test in est:  # a renamed test would silently lose its place
        path, _, name = test.partition("::")
        assert f"def {name.split('[')[0]}(" in (TESTS.parent / path).read_text(), test
