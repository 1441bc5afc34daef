"""Sans-IO requests: what the host sends for a memory access or a whole network.

Pure functions from words to request arguments and payloads (and back),
with no transport, no timing and no state, so ``Board`` (``host/board.py``),
the testbenches and the benchmarks cut memory into frames the same way.
One WRITE_MEM or READ_MEM carries up to ``max_payload`` bytes of whole words.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from spikeloom import protocol as P
from spikeloom.defs import Geometry, Region
from spikeloom.network import Network

__all__ = ["LOAD_REGIONS", "mem_writes", "mem_reads", "network_writes", "words_of"]

#: The regions a network load writes, in order (STATE: zeroes).
LOAD_REGIONS = (Region.CROSSBAR, Region.PARAMS, Region.ROUTES, Region.STATE)


def mem_writes(
    g: Geometry, core: int, region: Region, index: int, words: Sequence[int], max_payload: int
) -> Iterator[tuple[dict, bytes]]:
    """WRITE_MEM (arguments, payload) for ``words`` of ``region`` from ``index``."""
    wb = P.word_bytes(g, region)
    per = max_payload // wb
    for i in range(0, len(words), per):
        chunk = words[i : i + per]
        args = {"core": core, "region": region, "index": index + i}
        yield args, b"".join(int(w).to_bytes(wb, "little") for w in chunk)


def mem_reads(
    g: Geometry, core: int, region: Region, index: int, count: int, max_payload: int
) -> Iterator[dict]:
    """READ_MEM arguments for ``count`` words of ``region`` from ``index``."""
    per = min(max_payload // P.word_bytes(g, region), 0xFFFF)
    for i in range(index, index + count, per):
        yield {"core": core, "region": region, "index": i, "count": min(per, index + count - i)}


def network_writes(
    network: Network, max_payload: int = P.MAX_PAYLOAD, regions=LOAD_REGIONS
) -> Iterator[tuple[dict, bytes]]:
    """WRITE_MEM (arguments, payload) for ``regions`` of every core of ``network``."""
    for core in range(network.geometry.cores):
        for region in regions:
            words = network.region_words(core, region)
            yield from mem_writes(network.geometry, core, region, 0, words, max_payload)


def words_of(g: Geometry, region: Region, data: bytes) -> list[int]:
    """The words of ``region`` in READ_MEM data (or a WRITE_MEM payload)."""
    wb = P.word_bytes(g, region)
    return [int.from_bytes(data[i : i + wb], "little") for i in range(0, len(data), wb)]
