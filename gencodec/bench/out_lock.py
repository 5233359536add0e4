"""An exclusive lock on a bench output folder, so two ``gic bench`` runs never write the same files.

The lock is an ``flock`` on ``OUT/.gic-bench.lock`` (which records the holder's pid). The kernel
releases it when the holder exits, however it exits, so a crashed run never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".gic-bench.lock"


class OutDirBusy(OSError):
    """Another process holds the lock on the output folder."""


@contextlib.contextmanager
def locked_out_dir(out: Path) -> Iterator[Path]:
    """Create ``out`` if needed and hold its lock for the duration; raise :class:`OutDirBusy` if held."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield out
        return
    fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise OutDirBusy(
                f"{out}: another gic bench (pid {holder}) is writing there; wait for it or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield out
    finally:
        os.close(fd)
