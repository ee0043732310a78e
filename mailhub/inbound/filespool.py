"""The SQLite spool log: where the SMTP front end makes a message safe before answering 250.

SQLite has one write lock per database; a busy worker holds it for much of each second, and
an SMTP front end that waited for it would stall. So on SQLite an accepted message is
appended, as one record, to a segment file of ``data/spool/`` and 250 follows the write.
Appending costs a few microseconds; creating and renaming a file per message cost the
kernel a hundred times that on ext4, most of the front end's time under load.

A record is ``MHS1 <length> <crc32>\\n`` then a JSON envelope line and the raw bytes, written
with one system call. A written record survives the process being killed, as a committed
SQLite transaction in WAL mode with synchronous=NORMAL does; `inbound.spool_fsync` adds an
fsync per message for those who also want to survive a power cut. A write that fails is cut
off again, and the front end answers 451; a record cut short by a crash was never
acknowledged, and its CRC tells the reader so.

The worker reads records from where it last stopped (`SpoolSegment`), stores them as spool
rows and moves that mark in the same transaction, so each record becomes exactly one row. A
segment is closed (``.open`` renamed to ``.log``) when it grows past a size or an age, or
when its writer stops; a closed, fully read segment is deleted. A writer holds a lock on its
``.open`` segment while it lives; one whose writer died (the lock died with it) counts as
closed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from mailhub.inbound.spool import TABLE, Arrival, SpoolRow, row_values
from mailhub.models import InboundState, SpoolSegment, table_of

MAGIC = b"MHS1"
OPEN, CLOSED, MAKING = ".open", ".log", ".new"
READ_LOCK = "readers.lock"
UNMADE_SECONDS = 60.0
SEGMENT_BYTES = 16 * 1024 * 1024
SEGMENT_SECONDS = 3600.0
READ_BYTES = 8 * 1024 * 1024
READ_HINT = 256 * 1024
RECORD_HINT = 16 * 1024
SEGMENTS = table_of(SpoolSegment)
log = logging.getLogger("mailhub.spool")


class SpoolWriteError(OSError):
    """The record could not be made safe; the sender must retry (451)."""


class SpoolReadError(OSError):
    """The spool log cannot be read; what it holds waits there until it can."""


class FileSpool:
    """The spool log in ``root``: appended to by the front end, read by the worker."""

    def __init__(self, root: Path, fsync: bool = False) -> None:
        self.root = root
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._name = ""
        self._size = 0
        self._opened = 0.0

    # ---- writing (the front end) ----

    def write(self, arrival: Arrival, now: datetime) -> str:
        """Append one arrival; once this returns, the message is safe. Returns its place."""
        envelope = {
            "source": arrival.source,
            "mail_from": arrival.mail_from,
            "rcpt_to": list(arrival.rcpt_to),
            "received_at": now.astimezone(UTC).isoformat(),
        }
        payload = json.dumps(envelope).encode() + b"\n" + arrival.raw
        record = b"%s %d %08x\n" % (MAGIC, len(payload), zlib.crc32(payload)) + payload
        with self._lock:
            try:
                fd = self._segment()
            except OSError as exc:
                raise SpoolWriteError(f"spool segment cannot be opened: {exc}") from exc
            start = self._size
            try:
                _write_all(fd, record)
                if self.fsync:
                    os.fdatasync(fd)
            except OSError as exc:
                self._undo(fd, start)
                raise SpoolWriteError(f"spool write failed: {exc}") from exc
            self._size += len(record)
            return f"{self._name}@{start}"

    def _segment(self) -> int:
        """The open segment, after closing one that is full or old."""
        if self._fd is not None and (
            self._size >= SEGMENT_BYTES or time.monotonic() - self._opened >= SEGMENT_SECONDS
        ):
            self._close_segment()
        if self._fd is None:
            self.root.mkdir(parents=True, exist_ok=True)
            name = f"{time.time_ns():020d}-{os.getpid()}"
            # Created under a name readers ignore, locked, then given its reader-visible
            # name: a reader that saw an unlocked ``.open`` file between its creation and its
            # lock would take it for a dead writer's, find it empty and delete it, and what
            # was written next would go to a file no longer in the folder.
            making = self.root / (name + MAKING)
            fd = os.open(making, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                # Held while this process lives: how a reader tells a live segment from one
                # whose writer died (a process id could be reused; a lock dies with its holder).
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.replace(making, self.root / (name + OPEN))
            except OSError:
                os.close(fd)
                making.unlink(missing_ok=True)
                raise
            self._fd, self._name = fd, name
            self._size = 0
            self._opened = time.monotonic()
        return self._fd

    def _undo(self, fd: int, start: int) -> None:
        """Cut off a partly written record; if even that fails, start a new segment."""
        try:
            os.ftruncate(fd, start)
        except OSError:
            self._close_segment()

    def _close_segment(self) -> None:
        if self._fd is None:
            return
        fd, name = self._fd, self._name
        self._fd = None
        try:
            _rename(self.root / (name + OPEN), self.root / (name + CLOSED))
        finally:
            os.close(fd)

    def close(self) -> None:
        """Close the open segment (the service is stopping)."""
        with self._lock:
            self._close_segment()

    # ---- reading (the worker) ----

    def segments(self) -> list[tuple[str, bool]]:
        """Every segment, oldest first, with whether it is closed (nothing more will come)."""
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise SpoolReadError(f"spool log folder {self.root} cannot be read: {exc}") from exc
        found = []
        for name in sorted(names):
            if name.endswith(CLOSED):
                found.append((name[: -len(CLOSED)], True))
            elif name.endswith(OPEN):
                stem = name[: -len(OPEN)]
                found.append((stem, stem != self._name and not _writer_holds(self.root / name)))
        return found

    def sweep_unmade(self, now: float | None = None) -> int:
        """Delete the empty ``.new`` files of writers that died before naming them (a kill
        in the instant between creating and locking a segment); return how many. One no
        writer holds that is older than a minute is such a file."""
        now = time.time() if now is None else now
        swept = 0
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(self.root):
                path = self.root / name
                if not name.endswith(MAKING) or _writer_holds(path):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if now - path.stat().st_mtime > UNMADE_SECONDS:
                        path.unlink()
                        swept += 1
        return swept

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the readers' lock (a lock file beside the segments) while reading."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = (self.root / READ_LOCK).open("a")
        except OSError as exc:
            raise SpoolReadError(f"spool log folder {self.root} cannot be used: {exc}") from exc
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def path(self, stem: str, closed: bool) -> Path:
        if not closed:
            return self.root / (stem + OPEN)
        closed_path = self.root / (stem + CLOSED)
        return closed_path if closed_path.exists() else self.root / (stem + OPEN)


@dataclass
class _Record:
    offset: int
    end: int
    arrival: Arrival
    received_at: datetime


def _open(path: Path) -> BinaryIO:
    """Open a segment; an ``.open`` one its writer closed (renamed) meanwhile is the ``.log``."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        if path.suffix != OPEN:
            raise
        return path.with_suffix(CLOSED).open("rb")


def read_records(path: Path, offset: int, limit: int) -> tuple[list[_Record], int, bool]:
    """Whole records from ``offset``: (records, where reading stopped, damaged tail seen)."""
    # Enough for ``limit`` records of a usual size; a larger one is read on its own.
    wanted = min(READ_BYTES, max(READ_HINT, limit * RECORD_HINT))
    with _open(path) as handle:
        handle.seek(offset)
        data = handle.read(wanted)
    # Where the file ends inside a record, it is being written, or was cut short if the
    # segment is closed: the caller tells which.
    at_end = len(data) < wanted
    records: list[_Record] = []
    position = 0
    damaged = False
    while len(records) < limit and position < len(data):
        newline = data.find(b"\n", position, position + 64)
        if newline < 0:
            damaged = len(data) - position >= 64 or at_end
            break
        head = data[position:newline].split()
        if len(head) != 3 or head[0] != MAGIC:
            damaged = True
            break
        try:
            length, crc = int(head[1]), int(head[2], 16)
        except ValueError:
            damaged = True
            break
        start, end = newline + 1, newline + 1 + length
        if end > len(data):
            if not records:
                # A record larger than one read: read it alone.
                return _read_large(path, offset + position, newline - position + 1, length, crc)
            damaged = at_end
            break
        payload = data[start:end]
        if zlib.crc32(payload) != crc:
            damaged = True
            break
        records.append(_parse(payload, offset + position, offset + end))
        position = end
    return records, offset + position, damaged


def _read_large(
    path: Path, offset: int, head: int, length: int, crc: int
) -> tuple[list[_Record], int, bool]:
    with _open(path) as handle:
        handle.seek(offset + head)
        payload = handle.read(length)
    if len(payload) < length:
        return [], offset, True  # the file ends inside it
    if zlib.crc32(payload) != crc:
        return [], offset, True
    end = offset + head + length
    return [_parse(payload, offset, end)], end, False


def _next_whole_record(path: Path, start: int, size: int) -> int:
    """Where the next whole, CRC-checked record after ``start`` begins (``size``: none)."""
    with _open(path) as handle:
        handle.seek(start)
        data = handle.read()
    position = data.find(MAGIC + b" ")
    while position >= 0:
        records, _, _ = read_records(path, start + position, 1)
        if records:
            return start + position
        position = data.find(MAGIC + b" ", position + 1)
    return size


def _parse(payload: bytes, offset: int, end: int) -> _Record:
    line, _, raw = payload.partition(b"\n")
    envelope = json.loads(line)
    arrival = Arrival(
        source=envelope["source"],
        raw=raw,
        mail_from=envelope["mail_from"],
        rcpt_to=envelope["rcpt_to"],
    )
    return _Record(offset, end, arrival, datetime.fromisoformat(envelope["received_at"]))


@dataclass(frozen=True)
class Backlog:
    """What the spool log holds that no worker has stored yet."""

    segments: int
    unread_bytes: int
    oldest: datetime | None


def backlog(engine: Engine, spool: FileSpool) -> Backlog:
    """The segments with unread records, how many bytes wait, and since when (for admins
    asking whether the workers keep up)."""
    segments = spool.segments()
    if not segments:
        return Backlog(0, 0, None)
    with engine.connect() as connection:
        marks = dict(connection.execute(select(SEGMENTS.c.name, SEGMENTS.c.offset)).all())
    waiting, unread, oldest = 0, 0, None
    for stem, closed in segments:
        path = spool.path(stem, closed)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        mark = marks.get(stem, 0)
        if size <= mark:
            continue
        waiting += 1
        unread += size - mark
        if oldest is None:
            records, _, _ = read_records(path, mark, 1)
            oldest = records[0].received_at if records else None
    return Backlog(waiting, unread, oldest)


def import_files(engine: Engine, spool: FileSpool, limit: int = 500) -> int:
    """Store up to ``limit`` waiting records as new spool rows; return how many."""
    return len(_import(engine, spool, limit, None))


def take(
    engine: Engine, spool: FileSpool, now: datetime, lease: timedelta, limit: int
) -> list[SpoolRow]:
    """Store up to ``limit`` waiting records as spool rows already leased to the caller.

    The worker gets the rows without reading back the bytes it has just written; if it dies
    before finishing, the lease runs out and another pass claims them like any other row.
    """
    return _import(engine, spool, limit, now + lease)


def _import(
    engine: Engine, spool: FileSpool, limit: int, leased_until: datetime | None
) -> list[SpoolRow]:
    if not spool.segments():
        return []
    # Workers take turns reading, so each reads past what the one before it stored (the
    # marks in the store would catch a second reader anyway, at the cost of a wasted read).
    with spool.reading():
        segments = spool.segments()
        try:
            taken, finished = _import_segments(engine, spool, segments, limit, leased_until)
        except (MarkMoved, IntegrityError) as exc:
            log.info("spool log: %s; leaving these records to the other worker", exc)
            return []
        for stem in finished:
            for suffix in (CLOSED, OPEN):
                (spool.root / (stem + suffix)).unlink(missing_ok=True)
        if finished:
            spool.sweep_unmade()
            present = [stem for stem, _ in segments if stem not in finished]
            with engine.begin() as connection:
                # The marks of segments that are gone: deleted now, or before a crash kept
                # their mark. Only readers make marks, and they hold the lock.
                connection.execute(delete(SEGMENTS).where(SEGMENTS.c.name.not_in(present)))
    return taken


def _import_segments(
    engine: Engine,
    spool: FileSpool,
    segments: list[tuple[str, bool]],
    limit: int,
    leased_until: datetime | None,
) -> tuple[list[SpoolRow], list[str]]:
    taken: list[SpoolRow] = []
    finished: list[str] = []
    with engine.begin() as connection:
        marks = {
            name: offset
            for name, offset in connection.execute(
                select(SEGMENTS.c.name, SEGMENTS.c.offset).where(
                    SEGMENTS.c.name.in_([stem for stem, _ in segments])
                )
            )
        }
        for stem, closed in segments:
            if len(taken) >= limit:
                break
            path = spool.path(stem, closed)
            offset = marks.get(stem, 0)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            records: list[_Record] = []
            end = offset
            if offset < size:
                records, end, damaged = read_records(path, offset, limit - len(taken))
                if damaged and closed:
                    # A record cut short when its writer died was never acknowledged; whole
                    # records after damaged bytes (a disk fault) are read from the next pass.
                    resume = _next_whole_record(path, end + 1, size)
                    log.warning(
                        "spool log %s: incomplete record at %d skipped (%d bytes)",
                        stem,
                        end,
                        resume - end,
                    )
                    end = resume
            if records:
                taken += _store(connection, stem, records, leased_until)
            if end != offset:
                _move_mark(connection, stem, offset, end, stem in marks)
            if closed and end >= size:
                finished.append(stem)
    return taken, finished


def _store(
    connection: Connection, stem: str, records: list[_Record], leased_until: datetime | None
) -> list[SpoolRow]:
    rows = []
    for record in records:
        row = row_values(record.arrival, record.received_at.astimezone(UTC))
        row["source_ref"] = f"spool:{stem}@{record.offset}"
        if leased_until is not None:
            row.update(state=InboundState.PROCESSING.value, attempts=1, lease_until=leased_until)
        rows.append(row)
    statement = insert(TABLE).returning(TABLE.c.id, sort_by_parameter_order=True)
    ids = [found[0] for found in connection.execute(statement, rows)]
    attempts = 0 if leased_until is None else 1
    return [
        SpoolRow(
            row_id,
            r.arrival.raw,
            r.arrival.mail_from,
            list(r.arrival.rcpt_to),
            r.arrival.source,
            attempts,
        )
        for row_id, r in zip(ids, records, strict=True)
    ]


class MarkMoved(RuntimeError):
    """Another worker read the same records first; this transaction must not commit."""


def _move_mark(connection: Connection, stem: str, old: int, new: int, known: bool) -> None:
    """Advance a segment's mark, only from where this worker read it (else roll back)."""
    if not known:
        connection.execute(insert(SEGMENTS), {"name": stem, "offset": new})
        return
    moved = connection.execute(
        update(SEGMENTS).where(SEGMENTS.c.name == stem, SEGMENTS.c.offset == old).values(offset=new)
    )
    if moved.rowcount != 1:
        raise MarkMoved(f"segment {stem} was read by another worker")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _rename(source: Path, target: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.replace(source, target)


def _writer_holds(path: Path) -> bool:
    """Whether a live writer still holds this open segment's lock."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return False  # closed (renamed) just now
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
