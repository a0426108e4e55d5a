"""Byte damage shared by the generators: a file cut at any byte, bytes overwritten."""

from __future__ import annotations

from typing import Optional

from hypothesis import strategies as st


def cut_bytes(draw, raw: bytes) -> bytes:
    """``raw`` cut at any byte (a copy that stopped, a full disk)."""
    return bytes(raw[:draw(st.integers(0, max(0, len(raw) - 1)))])


def flip_bytes(draw, raw: bytes, within: Optional[int] = None, most: int = 4) -> bytes:
    """``raw`` with 1 to ``most`` bytes overwritten, in the first ``within`` bytes (headers,
    IFDs, superblocks) or anywhere."""
    raw = bytearray(raw)
    hi = min(len(raw), within) if within else len(raw)
    if hi:
        for _ in range(draw(st.integers(1, most))):
            raw[draw(st.integers(0, hi - 1))] = draw(st.integers(0, 255))
    return bytes(raw)
