"""`release_freed` gives memory a large read freed back to the system (glibc keeps it otherwise)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.heap import _trim, release_freed


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(_trim() is None or not Path("/proc/self/status").exists(), reason="glibc on Linux")
def test_freed_heap_pages_go_back_to_the_system() -> None:
    # 160 MiB of 2 KiB blocks (malloc, not Python's small-object arenas); every 16th is kept, so the
    # freed space is holes between live blocks, which glibc never returns by itself
    blocks = [bytearray(2048) for _ in range(80_000)]
    kept = blocks[::16]
    del blocks
    before = _rss_mib()
    release_freed()
    after = _rss_mib()
    assert before - after > 60, (before, after)
    assert len(kept) == 5000
