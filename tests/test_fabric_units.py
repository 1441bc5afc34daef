"""The fabric's corner cases in Amaranth's simulator (``spikeloom.testing.fabric``).

Each check there is one test here; the mutation gate runs the same checks
against its mutants.
"""

import pytest

from spikeloom.testing.fabric import CHECKS


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_fabric(check):
    check()
