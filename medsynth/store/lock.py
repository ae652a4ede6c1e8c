"""One writer per workspace: an advisory ``flock`` on ``<workspace>/.medsynth.lock``.

Every command that writes (ingest, ground, synth, judge, export, eval, train, kg, review import)
and every TUI job that calls one holds this lock while it works; readers never take it. The
lock file (owner-only) names the holder: pid, host, command and start time. The lock itself is
the kernel's ``flock`` on the open file, so when a holder dies (even by SIGKILL) the operating
system releases it and the next writer takes over; the file's stale text is then overwritten.

Within one thread the lock is re-entrant: a CLI command takes it (with ``--wait`` if asked)
and the :class:`~medsynth.store.runs.RunRecorder` of the service it calls takes it again for
free. Another thread of the same process (a second TUI job) is a second writer and is refused.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from medsynth.errors import WorkspaceError

LOCK_FILE = ".medsynth.lock"
POLL_S = 0.2  # how often a waiting writer tries again
BUSY_RETRY_S = 0.3  # a refusing writer still retries this long (a reader may probe the lock)

_held = threading.local()  # root -> [fd, depth] for the locks this thread holds


class WorkspaceBusy(WorkspaceError):
    """Another process (or TUI job) is writing to this workspace."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) the writer lock, as its lock file says."""

    pid: int | None
    host: str
    command: str
    started_at: str

    def describe(self) -> str:
        """``pid 4242 (ground) on ward-3 since 2026-12-05T10:00:00+00:00``."""
        pid = f"pid {self.pid}" if self.pid is not None else "an unknown process"
        return f"{pid} ({self.command or 'unknown command'}) on {self.host or '?'} since " + (
            self.started_at or "?"
        )


def lock_path(root: Path) -> Path:
    """The lock file of the workspace at ``root``."""
    return Path(root) / LOCK_FILE


def read_holder(root: Path) -> LockHolder | None:
    """What the lock file says about its holder (None when there is no readable lock file)."""
    try:
        data = json.loads(lock_path(root).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    return LockHolder(
        pid=pid if isinstance(pid, int) else None,
        host=str(data.get("host") or ""),
        command=str(data.get("command") or ""),
        started_at=str(data.get("started_at") or ""),
    )


def _table() -> dict[str, list[int]]:
    table: dict[str, list[int]] | None = getattr(_held, "locks", None)
    if table is None:
        table = {}
        _held.locks = table
    return table


def _key(root: Path) -> str:
    return str(Path(root).expanduser().resolve())


def held_here(root: Path) -> bool:
    """True when the calling thread holds the writer lock of ``root``."""
    return _key(root) in _table()


def is_locked(root: Path) -> bool:
    """True when some writer (this thread, another thread or another process) holds the lock."""
    if held_here(root):
        return True
    try:
        fd = os.open(lock_path(root), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return True
        raise
    finally:
        os.close(fd)  # closing drops the probe's shared lock
    return False


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _busy(root: Path, command: str) -> WorkspaceBusy:
    holder = read_holder(root)
    who = holder.describe() if holder else "another process"
    return WorkspaceBusy(
        f"another writer is using this workspace: {who}",
        source=str(root),
        hint=f"wait for it to finish, or run `medsynth {command} ... --wait` to start as soon "
        "as it does (reading commands such as `runs`, `stats` and `show` work meanwhile)",
    )


@contextlib.contextmanager
def writer_lock(
    root: Path,
    command: str,
    *,
    wait: bool = False,
    on_wait: Callable[[str], object] | None = None,
    timeout_s: float | None = None,
) -> Iterator[LockHolder]:
    """Hold the workspace's writer lock for ``command`` while the block runs.

    Refuses at once with :class:`WorkspaceBusy` (naming the holder) when another writer holds
    it, unless ``wait``: then ``on_wait`` hears once what it is waiting for, and the block
    starts when the holder ends (or :class:`WorkspaceBusy` after ``timeout_s``).
    """
    key = _key(root)
    table = _table()
    if key in table:  # re-entered by the same thread: already ours
        table[key][1] += 1
        try:
            yield read_holder(root) or LockHolder(os.getpid(), socket.gethostname(), command, "")
        finally:
            table[key][1] -= 1
        return
    path = lock_path(Path(key))
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        retry_until = time.monotonic() + BUSY_RETRY_S
        told = False
        while not _try_flock(fd):
            now = time.monotonic()
            if not wait and now >= retry_until:
                raise _busy(Path(key), command)
            if wait and deadline is not None and now >= deadline:
                raise _busy(Path(key), command)
            if wait and not told:
                holder = read_holder(Path(key))
                who = holder.describe() if holder else "another process"
                if on_wait is not None:
                    on_wait(f"waiting for the workspace's writer lock, held by {who} …")
                told = True
            time.sleep(POLL_S)
        if told and on_wait is not None:
            on_wait("the writer lock is free: starting")
        holder = LockHolder(
            os.getpid(),
            socket.gethostname(),
            command,
            time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder.__dict__) + "\n").encode(), 0)
        table[key] = [fd, 1]
        try:
            yield holder
        finally:
            del table[key]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # no stale holder text once released
    finally:
        os.close(fd)  # closing releases the flock
