"""Narrow workarounds for bugs in our dependencies, each with a link, a self-check and a way out.

pyiceberg 0.12's Cython Avro decoder declares `cpdef float read_double`, so every Avro `double` it
reads is narrowed to float32 (https://github.com/apache/iceberg-python/pull/3808, fixed upstream).
The only doubles in manifests are identity-partition values of double columns: read back rounded
(0.30000000000000004 -> 0.30000001192092896, 1e-300 -> 0.0), pyiceberg would prune them wrongly,
and any rewrite of a manifest (compaction, rewrite-manifests, rollback, manifest merging on append)
would store the rounded value for good. Float partitions are unaffected (`read_float` is right).

The fix replaces one method, `DoubleReader.read`, with the pure-Python decoder's exact reading
(8 bytes, little-endian IEEE 754). It is installed only when the bug is present, so it retires itself
once pyiceberg ships the fix, and tests/test_float_partitions.py checks both the bug and the fix.
"""

from __future__ import annotations

import struct

from pyiceberg.avro.decoder import BinaryDecoder, new_decoder
from pyiceberg.avro.reader import DoubleReader

_DOUBLE = struct.Struct("<d")
_PROBE = 0.30000000000000004  # not representable as float32


def decoder_narrows_doubles() -> bool:
    """True when pyiceberg's default Avro decoder reads a double as float32 (the upstream bug)."""
    return new_decoder(_DOUBLE.pack(_PROBE)).read_double() != _PROBE


def _read_exact_double(self: DoubleReader, decoder: BinaryDecoder) -> float:
    return float(_DOUBLE.unpack(decoder.read(8))[0])


def install() -> None:
    """Make pyiceberg read Avro doubles exactly; idempotent, and a no-op on a fixed pyiceberg."""
    if DoubleReader.read is not _read_exact_double and decoder_narrows_doubles():
        DoubleReader.read = _read_exact_double  # type: ignore[method-assign]
