"""Mutation fuzzing of the container parser and the full decode path.

Mutations: bit flips, byte changes, truncations, extensions, random bytes,
section-length and size-field edits, and "valid headers with absurd sizes".
Half of the mutants get a freshly computed check field so they get past the
checksum into the entropy decoders and the networks.

Every input must either decode to an image of the declared size or raise a
``BitstreamError`` (or ``WeightsError``/``UnknownModel`` for other models) —
anything else (another exception type, a hang, a crash) is a failure.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from gencodec.container import BitstreamError, Header, pack, peek_header
from gencodec.container.format import DEFAULT_MAX_PIXELS
from gencodec.container.varint import encode_varint


def fix_check(data: bytes) -> bytes:
    """Recompute the 16-bit check so a mutant reaches the payload decoders."""
    try:
        _, start = peek_header(data, max_pixels=1 << 40)
    except BitstreamError:
        return data
    body = data[: start - 2] + data[start:]
    return data[: start - 2] + (zlib.crc32(body) & 0xFFFF).to_bytes(2, "little") + data[start:]


def absurd(rng: random.Random, seed: bytes) -> bytes:
    """A well-formed header declaring extreme sizes and section lengths."""
    h = Header(rng.choice([1, 2, 3, 6, 7]), seed[3] if len(seed) > 3 else 0,
               rng.choice([1, 65536, 40000, rng.randint(1, 65536)]),
               rng.choice([1, 65536, 50000, rng.randint(1, 65536)]), rng.randint(0, 255))
    secs = [bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 40))) for _ in range(rng.randint(1, 4))]
    data = pack(h, secs)
    if rng.random() < 0.5:  # lie about a section length
        pos = data.index(bytes([h.rate]), 4) + 1
        data = data[:pos] + encode_varint(rng.randint(0, 1 << 27)) + data[pos + 1 :]
    return data


def mutate(rng: random.Random, seed: bytes) -> bytes:
    b = bytearray(seed)
    kind = rng.randrange(8)
    if kind == 0 and b:
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == 1 and b:
        b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == 2:
        b = b[: rng.randrange(len(b) + 1)]
    elif kind == 3:
        b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif kind == 4:
        b = bytearray(rng.randrange(256) for _ in range(rng.randint(0, 200)))
    elif kind == 5:
        return absurd(rng, seed)
    elif kind == 6 and len(b) > 12:  # scramble the payload
        i = rng.randrange(12, len(b))
        b[i:] = bytes(rng.randrange(256) for _ in range(len(b) - i))
    else:
        i = rng.randrange(len(b) + 1)
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    out = bytes(b)
    return fix_check(out) if rng.random() < 0.5 else out


@dataclass
class FuzzReport:
    inputs: int = 0
    decoded: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    max_seconds: float = 0.0


def run(decode: Callable[[bytes], object], seeds: list[bytes], n: int, seed: int = 0,
        allowed: tuple[type[BaseException], ...] = (BitstreamError,), slow: float = 5.0) -> FuzzReport:
    rng = random.Random(seed)
    rep = FuzzReport()
    for _ in range(n):
        data = mutate(rng, rng.choice(seeds))
        t0 = time.perf_counter()
        try:
            decode(data)
            rep.decoded += 1
        except allowed as exc:
            rep.rejected[type(exc).__name__] = rep.rejected.get(type(exc).__name__, 0) + 1
        except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
            rep.failures.append(f"{type(exc).__name__}: {exc} <- {data[:40].hex()}")
        dt = time.perf_counter() - t0
        rep.max_seconds = max(rep.max_seconds, dt)
        if dt > slow:
            rep.failures.append(f"slow input ({dt:.1f} s) <- {data[:40].hex()}")
        rep.inputs += 1
    return rep


MAX_PIXELS = DEFAULT_MAX_PIXELS
