"""Small file-system helpers shared by the archive and the backup."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

# Backups and archives hold password hashes, session keys and credential secrets:
# only the account that runs the maintenance may read them.
PRIVATE_FILE, PRIVATE_DIRECTORY = 0o600, 0o700


class MaintenanceError(RuntimeError):
    """A maintenance task failed for a reason an operator can act on."""


def create_private(path: Path) -> int:
    """Create `path` (it must not exist) readable by its owner only; returns a write fd.

    The mode is set by open(2) itself, so no byte is ever readable by others;
    a chmod after writing would leave a window. O_EXCL also refuses to follow
    a symlink planted at `path`.
    """
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)


def prepare_directory(directory: Path, purpose: str) -> Path:
    """Create `directory` if needed and prove it is writable, or raise MaintenanceError.

    Checked up front so an unwritable setting fails with a message naming the
    setting's directory, not with a traceback from deep inside a write. A
    directory created here is private to its owner (0700); an existing one
    keeps the mode its owner gave it.
    """
    try:
        directory.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    except OSError as exc:
        raise MaintenanceError(f"Cannot create {purpose} directory {directory}: {exc}") from exc
    probe = directory / f".write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise MaintenanceError(
            f"{purpose.capitalize()} directory {directory} is not writable: {exc}"
        ) from exc
    return directory


def fsync_directory(directory: Path) -> None:
    """Make a rename or unlink inside `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive_lock(directory: Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on `directory/.lock`; raise MaintenanceError if another run has it.

    Runs of one task on one host must not clean up each other's in-progress
    files. (The scheduler never overlaps a task; this also covers `runtask`.)
    """
    with open(directory / ".lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise MaintenanceError(f"Another {what} is running (lock on {directory})") from exc
            raise
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_quietly(path: Path) -> None:
    """Delete a partial file after a failure; the original error is what matters."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"the disk is full ({exc})"
    return str(exc)
