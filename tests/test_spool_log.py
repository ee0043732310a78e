"""The SQLite spool log: every acknowledged record becomes exactly one spool row, once.

These tests write real segment files with `FileSpool` (or by hand, for what a crash leaves
behind) and read them into a real SQLite store with `import_files` and `take`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import threading
import zlib
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from conftest import derive
from sqlalchemy import insert
from sqlmodel import select

from mailhub.clock import FrozenClock
from mailhub.context import Context
from mailhub.db import make_engine
from mailhub.inbound import filespool, pipeline
from mailhub.inbound.committers import spool_folder
from mailhub.inbound.filespool import FileSpool, SpoolWriteError, import_files, take
from mailhub.inbound.spool import Arrival, store
from mailhub.models import InboundMessage, Post, SpoolSegment, table_of

LIST = "irnet@lists.example.org"
LEASE = timedelta(minutes=5)


def message(number: int, body: str = "A word on skills.\n") -> bytes:
    mail = EmailMessage()
    mail["From"] = "amina@example.org"
    mail["To"] = LIST
    mail["Subject"] = f"Apprenticeships {number}"
    mail["Message-ID"] = f"<log{number}@example.org>"
    mail.set_content(body)
    return mail.as_bytes(policy=policy.SMTP)


def arrival(number: int, body: str = "A word on skills.\n") -> Arrival:
    return Arrival("smtp", message(number, body), f"m{number}@example.org", [LIST])


def record(item: Arrival, now: datetime) -> bytes:
    """One record as the format defines it, built here independently of the writer."""
    envelope = {
        "source": item.source,
        "mail_from": item.mail_from,
        "rcpt_to": list(item.rcpt_to),
        "received_at": now.isoformat(),
    }
    payload = json.dumps(envelope).encode() + b"\n" + item.raw
    return b"MHS1 %d %08x\n" % (len(payload), zlib.crc32(payload)) + payload


def rows(ctx: Context) -> list[InboundMessage]:
    with ctx.session() as session:
        return list(session.exec(select(InboundMessage).order_by(InboundMessage.id)))


def marks(ctx: Context) -> dict[str, int]:
    with ctx.session() as session:
        return {s.name: s.offset for s in session.exec(select(SpoolSegment))}


def files(spool: FileSpool) -> list[str]:
    """The segment files in the spool folder."""
    if not spool.root.exists():
        return []
    return sorted(n for n in os.listdir(spool.root) if n.endswith((".open", ".log")))


def dead_pid() -> int:
    """A process id that no process has right now."""
    for pid in range(os.getpid() + 50_000, 4_000_000, 7919):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    raise AssertionError("no free process id found")


def segment(spool: FileSpool, pid: int, suffix: str = ".open") -> Path:
    spool.root.mkdir(parents=True, exist_ok=True)
    return spool.root / f"{datetime.now(UTC).timestamp() * 1e9:020.0f}-{pid}{suffix}"


def test_records_round_trip_into_rows_and_posts(sqlite_ctx: Context) -> None:
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    written = [arrival(n) for n in range(5)]
    times = [ctx.now() + timedelta(seconds=n) for n in range(5)]
    places = [spool.write(a, t) for a, t in zip(written, times, strict=True)]
    stem = places[0].split("@")[0]
    assert files(spool) == [f"{stem}.open"]
    assert import_files(ctx.engine, spool) == 5
    stored = rows(ctx)
    assert [r.raw for r in stored] == [a.raw for a in written]
    assert [(r.source, r.mail_from, r.rcpt_to) for r in stored] == [
        ("smtp", f"m{n}@example.org", [LIST]) for n in range(5)
    ]
    assert [r.received_at for r in stored] == times
    assert [r.source_ref for r in stored] == [f"spool:{p}" for p in places]
    assert all(r.state == "new" and r.attempts == 0 for r in stored)
    assert import_files(ctx.engine, spool) == 0
    # The writer's segment stays while it is open; its mark says how far it was read.
    assert marks(ctx) == {stem: (spool.root / f"{stem}.open").stat().st_size}
    assert pipeline.drain(ctx).count("post") == 5
    with ctx.session() as session:
        posts = session.exec(select(Post).order_by(Post.id)).all()
    assert [p.message_id for p in posts] == [f"log{n}@example.org" for n in range(5)]


def test_take_leases_what_it_stores_and_gives_each_record_once(
    sqlite_ctx: Context, clock: FrozenClock
) -> None:
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    for n in range(4):
        spool.write(arrival(n), ctx.now())
    taken = take(ctx.engine, spool, ctx.now(), LEASE, 3)
    assert [t.raw for t in taken] == [message(n) for n in range(3)]
    assert all(t.attempts == 1 and t.source == "smtp" and t.rcpt_to == [LIST] for t in taken)
    stored = rows(ctx)
    assert [r.id for r in stored] == [t.id for t in taken]
    assert all(r.state == "processing" and r.attempts == 1 for r in stored)
    assert all(r.lease_until == ctx.now() + LEASE for r in stored)
    rest = take(ctx.engine, spool, ctx.now(), LEASE, 10)
    assert [t.raw for t in rest] == [message(3)]
    assert take(ctx.engine, spool, ctx.now(), LEASE, 10) == []
    assert len(rows(ctx)) == 4
    # Rows leased to a worker that went away are processed once the lease runs out.
    assert pipeline.drain(ctx).outcomes == {}
    clock.advance(LEASE + timedelta(seconds=1))
    assert pipeline.drain(ctx).count("post") == 4


def test_a_record_being_written_waits_for_its_last_byte(sqlite_ctx: Context) -> None:
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    place = spool.write(arrival(1), ctx.now())
    path = spool.root / (place.split("@")[0] + ".open")
    whole = path.stat().st_size
    second = record(arrival(2), ctx.now())
    half = len(second) // 2
    # A second process of this id is writing; the reader must not tell it from a crash.
    reader = FileSpool(spool.root)
    with path.open("ab") as handle:
        handle.write(second[:half])
    assert import_files(ctx.engine, reader) == 1
    assert marks(ctx) == {path.stem: whole}
    assert import_files(ctx.engine, reader) == 0
    assert marks(ctx) == {path.stem: whole}
    with path.open("ab") as handle:
        handle.write(second[half:])
    assert import_files(ctx.engine, reader) == 1
    assert [r.raw for r in rows(ctx)] == [message(1), message(2)]
    assert rows(ctx)[1].source_ref == f"spool:{path.stem}@{whole}"
    assert path.exists()


def test_a_dead_writers_segment_is_read_to_its_last_whole_record_and_removed(
    sqlite_ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    path = segment(spool, dead_pid())
    data = b"".join(record(arrival(n), ctx.now()) for n in range(3))
    cut = record(arrival(3), ctx.now())
    path.write_bytes(data + cut[: len(cut) - 10])
    with caplog.at_level(logging.WARNING, logger="mailhub.spool"):
        assert import_files(ctx.engine, spool) == 3
    assert [r.raw for r in rows(ctx)] == [message(n) for n in range(3)]
    assert f"incomplete record at {len(data)}" in caplog.text
    assert files(spool) == []
    assert marks(ctx) == {}
    assert import_files(ctx.engine, spool) == 0


@pytest.mark.parametrize("kept", [0, 8, 25, 40])
def test_a_dead_writers_header_cut_short_is_skipped(sqlite_ctx: Context, kept: int) -> None:
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    path = segment(spool, dead_pid())
    path.write_bytes(record(arrival(1), ctx.now()) + record(arrival(2), ctx.now())[:kept])
    assert import_files(ctx.engine, spool) == 1
    assert files(spool) == []


def test_a_damaged_record_in_a_closed_segment_is_skipped_and_reading_goes_on(
    sqlite_ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    """Bytes a disk fault spoiled are skipped; the whole records after them are still stored
    (they were acknowledged)."""
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    good = b"".join(record(arrival(n), ctx.now()) for n in range(2))
    bad = bytearray(record(arrival(2), ctx.now()))
    bad[-5] ^= 0xFF
    after = record(arrival(3), ctx.now())
    path = segment(spool, os.getpid(), ".log")
    path.write_bytes(good + bytes(bad) + after)
    with caplog.at_level(logging.WARNING, logger="mailhub.spool"):
        assert import_files(ctx.engine, spool) == 2
        assert import_files(ctx.engine, spool) == 1
    assert [r.raw for r in rows(ctx)] == [message(0), message(1), message(3)]
    assert f"incomplete record at {len(good)} skipped ({len(bad)} bytes)" in caplog.text
    assert files(spool) == [] and marks(ctx) == {}


def test_segments_rotate_and_are_read_once_in_order(
    sqlite_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = sqlite_ctx
    monkeypatch.setattr(filespool, "SEGMENT_BYTES", 1000)
    spool = spool_folder(ctx)
    written = [arrival(n) for n in range(12)]
    places = [spool.write(a, ctx.now()) for a in written]
    stems = sorted({p.split("@")[0] for p in places})
    assert len(stems) >= 4
    assert files(spool) == [s + ".log" for s in stems[:-1]] + [stems[-1] + ".open"]
    reader = FileSpool(spool.root)
    taken = take(ctx.engine, reader, ctx.now(), LEASE, 5)
    taken += take(ctx.engine, reader, ctx.now(), LEASE, 100)
    assert take(ctx.engine, reader, ctx.now(), LEASE, 100) == []
    assert [t.raw for t in taken] == [a.raw for a in written]
    assert [r.source_ref for r in rows(ctx)] == [f"spool:{p}" for p in places]
    # Closed segments are gone once read; the open one stays until its writer closes it.
    assert files(spool) == [stems[-1] + ".open"]
    assert list(marks(ctx)) == [stems[-1]]
    spool.close()
    assert files(spool) == [stems[-1] + ".log"]
    assert import_files(ctx.engine, reader) == 0
    assert files(spool) == [] and marks(ctx) == {}


def test_a_crash_between_commit_and_delete_stores_nothing_twice(sqlite_ctx: Context) -> None:
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    for n in range(3):
        spool.write(arrival(n), ctx.now())
    spool.close()
    (closed,) = spool.root.iterdir()
    kept = closed.read_bytes()
    assert import_files(ctx.engine, spool) == 3
    assert files(spool) == [] and marks(ctx) == {}
    # The mark moved with the rows; the file was not unlinked yet.
    closed.write_bytes(kept)
    with ctx.engine.begin() as connection:
        connection.execute(
            insert(table_of(SpoolSegment)), {"name": closed.stem, "offset": len(kept)}
        )
    assert import_files(ctx.engine, spool) == 0
    assert files(spool) == [] and marks(ctx) == {}
    # The file was unlinked but its mark was not deleted yet.
    with ctx.engine.begin() as connection:
        connection.execute(
            insert(table_of(SpoolSegment)), {"name": closed.stem, "offset": len(kept)}
        )
    assert import_files(ctx.engine, spool) == 0
    assert take(ctx.engine, spool, ctx.now(), LEASE, 10) == []
    assert len(rows(ctx)) == 3
    # A mark whose file is gone is forgotten when the next segment is finished.
    spool.write(arrival(9), ctx.now())
    spool.close()
    assert import_files(ctx.engine, spool) == 1
    assert closed.stem not in marks(ctx)


def test_an_unreadable_spool_log_is_reported_and_the_table_still_moves(
    sqlite_ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    spool.write(arrival(1), ctx.now())
    spool.close()
    spool.root.rename(spool.root.with_name("spool-away"))
    spool.root.write_bytes(b"not a folder")
    # Mail that came another way (IMAP, the pipe) is in the table already.
    store(ctx.engine, arrival(2), ctx.now())
    with caplog.at_level(logging.ERROR, logger="mailhub.pipeline"):
        batch = pipeline.process_batch(ctx)
    assert [o.msg_class for o in batch.outcomes.values()] == ["post"]
    assert "cannot be read" in caplog.text
    # Mended, the record waiting in the log is stored too: nothing was lost.
    spool.root.unlink()
    spool.root.with_name("spool-away").rename(spool.root)
    assert len(pipeline.drain(ctx).outcomes) == 1
    assert len(rows(ctx)) == 2


@pytest.mark.parametrize("read_before", [False, True])
def test_a_reader_overtaken_by_another_stores_nothing(
    sqlite_ctx: Context, monkeypatch: pytest.MonkeyPatch, read_before: bool
) -> None:
    """Without the readers' lock, the marks alone keep a second reader from storing twice:
    a mark moved meanwhile (MarkMoved) or inserted meanwhile (IntegrityError)."""
    ctx = sqlite_ctx
    monkeypatch.setattr(FileSpool, "reading", lambda self: contextlib.nullcontext())
    spool = spool_folder(ctx)
    spool.write(arrival(0), ctx.now())
    if read_before:
        assert import_files(ctx.engine, spool) == 1
    for n in range(1, 3):
        spool.write(arrival(n), ctx.now())
    real = filespool.read_records

    def overtaken(path: Path, offset: int, limit: int) -> Any:
        found = real(path, offset, limit)
        monkeypatch.setattr(filespool, "read_records", real)
        assert import_files(ctx.engine, FileSpool(spool.root)) == 3 - read_before
        return found

    monkeypatch.setattr(filespool, "read_records", overtaken)
    assert take(ctx.engine, spool, ctx.now(), LEASE, 10) == []
    assert [r.raw for r in rows(ctx)] == [message(n) for n in range(3)]
    assert all(r.state == "new" for r in rows(ctx))


def test_two_readers_at_once_store_every_record_exactly_once(
    sqlite_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = sqlite_ctx
    monkeypatch.setattr(filespool, "SEGMENT_BYTES", 64 * 1024)
    spool = spool_folder(ctx)
    done = threading.Event()
    errors: list[BaseException] = []
    written: dict[str, bytes] = {}
    taken = {"a": 0, "b": 0}

    def read() -> None:
        engine = make_engine(str(ctx.engine.url))
        reader = FileSpool(spool.root)
        try:
            while True:
                finished = done.is_set()
                got = take(engine, reader, ctx.now(), LEASE, 50)
                taken[threading.current_thread().name] += len(got)
                if finished and not got and not reader.segments():
                    return
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            engine.dispose()

    readers = [threading.Thread(target=read, name=name) for name in taken]
    for thread in readers:
        thread.start()
    try:
        for n in range(2000):
            item = Arrival("smtp", b"Subject: %d\r\n\r\n" % n + b"x" * (n % 700), "a@b.org", [LIST])
            written["spool:" + spool.write(item, ctx.now())] = item.raw
        spool.close()
    finally:
        done.set()
        for thread in readers:
            thread.join(timeout=60)
    assert errors == []
    assert not any(thread.is_alive() for thread in readers)
    assert sum(taken.values()) == 2000
    stored = rows(ctx)
    assert len(stored) == 2000
    assert {r.source_ref: r.raw for r in stored} == written
    assert files(spool) == [] and marks(ctx) == {}


def test_a_record_larger_than_one_read_is_read_alone(
    sqlite_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = sqlite_ctx
    monkeypatch.setattr(filespool, "READ_BYTES", 1024)
    spool = spool_folder(ctx)
    sizes = [10, 5000, 10, 900, 1000, 1010, 20]
    written = [arrival(n, "y" * size + "\n") for n, size in enumerate(sizes)]
    for item in written:
        spool.write(item, ctx.now())
    reader = FileSpool(spool.root)
    assert sum(import_files(ctx.engine, reader) for _ in range(len(sizes) + 1)) == len(sizes)
    assert [r.raw for r in rows(ctx)] == [a.raw for a in written]
    spool.close()
    assert import_files(ctx.engine, reader) == 0
    assert files(spool) == []


def test_a_large_record_cut_short_by_a_crash_is_skipped(
    sqlite_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = sqlite_ctx
    monkeypatch.setattr(filespool, "READ_BYTES", 1024)
    spool = spool_folder(ctx)
    large = record(arrival(2, "z" * 5000), ctx.now())
    path = segment(spool, dead_pid())
    path.write_bytes(record(arrival(1), ctx.now()) + large[:3000])
    assert import_files(ctx.engine, spool) == 1
    assert import_files(ctx.engine, spool) == 0
    assert files(spool) == []


def test_an_unusable_spool_folder_refuses_the_write(sqlite_ctx: Context) -> None:
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    shutil.rmtree(spool.root, ignore_errors=True)
    spool.root.parent.mkdir(parents=True, exist_ok=True)
    spool.root.write_bytes(b"not a folder")
    with pytest.raises(SpoolWriteError, match="cannot be opened"):
        spool.write(arrival(1), ctx.now())
    spool.root.unlink()
    spool.write(arrival(1), ctx.now())
    assert import_files(ctx.engine, spool) == 1


def test_a_write_that_fails_midway_is_cut_off(
    sqlite_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    first = spool.write(arrival(1), ctx.now())
    path = spool.root / (first.split("@")[0] + ".open")
    size = path.stat().st_size
    real = os.write
    failures = []

    def disk_full(fd: int, data: Any) -> int:
        if failures:
            return real(fd, data)
        failures.append(fd)
        real(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(filespool.os, "write", disk_full)
    with pytest.raises(SpoolWriteError, match="No space left"):
        spool.write(arrival(2), ctx.now())
    assert path.stat().st_size == size
    third = spool.write(arrival(3), ctx.now())
    monkeypatch.undo()
    assert third == f"{path.stem}@{size}"
    assert import_files(ctx.engine, spool) == 2
    assert [r.raw for r in rows(ctx)] == [message(1), message(3)]
    spool.close()
    assert import_files(ctx.engine, spool) == 0
    assert files(spool) == []


def test_spool_fsync_syncs_each_record(
    sqlite_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = derive(sqlite_ctx, inbound={"spool_fsync": True})
    spool = spool_folder(ctx)
    assert spool.fsync
    synced: list[int] = []
    real = os.fdatasync

    def counted(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(filespool.os, "fdatasync", counted)
    for n in range(3):
        spool.write(arrival(n), ctx.now())
    assert len(synced) == 3
    assert import_files(ctx.engine, spool) == 3
    assert [r.raw for r in rows(ctx)] == [message(n) for n in range(3)]


def test_inbound_status_shows_what_waits_in_the_log(
    sqlite_ctx: Context, run_cli_sqlite: Any
) -> None:
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    written = [record(arrival(n), ctx.now()) for n in range(2)]
    for n in range(2):
        spool.write(arrival(n), ctx.now())
    result = run_cli_sqlite("inbound", "status", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["states"] == {}
    assert report["spool_log"]["segments_waiting"] == 1
    assert report["spool_log"]["bytes_waiting"] == sum(map(len, written))
    assert report["spool_log"]["oldest_waiting"].startswith(ctx.now().strftime("%Y-%m-%d"))
    pipeline.drain(ctx)
    shown = run_cli_sqlite("inbound", "status")
    assert shown.exit_code == 0, shown.output
    assert "nothing waiting" in shown.output
    report = json.loads(run_cli_sqlite("inbound", "status", "--json").output)
    assert report["states"] == {"done": 2}
    assert report["spool_log"]["bytes_waiting"] == 0


def test_a_busy_log_never_keeps_the_tables_own_rows_waiting(sqlite_ctx: Context) -> None:
    """Mail from IMAP or the pipe (or a retry) is in the table already; a steady SMTP stream
    in the log must not hold it back."""
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    for n in range(300):
        spool.write(arrival(n), ctx.now())
    imap_row = store(ctx.engine, arrival(1000), ctx.now())
    batch = pipeline.process_batch(ctx, limit=100)
    assert len(batch.outcomes) == 100
    assert imap_row in batch.outcomes


def test_a_dead_writers_segment_is_closed_even_when_its_process_id_lives_again(
    sqlite_ctx: Context,
) -> None:
    """Liveness is the writer's lock on its segment, not its process id (ids are reused)."""
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    path = segment(spool, 1)  # process 1 is alive, but holds no lock on this file
    path.write_bytes(record(arrival(1), ctx.now()))
    assert import_files(ctx.engine, spool) == 1
    assert files(spool) == []
    # A live writer's segment stays, even read to its end.
    spool.write(arrival(2), ctx.now())
    assert import_files(ctx.engine, FileSpool(spool.root)) == 1
    assert len(files(spool)) == 1


def test_a_reader_between_a_new_segments_creation_and_its_lock_leaves_it_alone(
    sqlite_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that looks while the writer has just created its next segment, before the
    writer's lock is on it, must not take it for a dead writer's empty segment and delete
    it: what is written next would go to a file no longer in the folder, after its 250."""
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    reader = FileSpool(spool.root)
    real_flock = filespool.fcntl.flock
    looked = []

    def flock_after_a_reader_looked(fd: Any, operation: int) -> None:
        if operation == filespool.fcntl.LOCK_EX | filespool.fcntl.LOCK_NB and not looked:
            looked.append(import_files(ctx.engine, reader))
        real_flock(fd, operation)

    monkeypatch.setattr(filespool.fcntl, "flock", flock_after_a_reader_looked)
    spool.write(arrival(1), ctx.now())
    monkeypatch.setattr(filespool.fcntl, "flock", real_flock)
    spool.write(arrival(2), ctx.now())
    spool.close()
    assert looked == [0]
    assert import_files(ctx.engine, reader) == 2
    assert [r.raw for r in rows(ctx)] == [message(1), message(2)]
    assert files(spool) == []


def test_a_segment_closed_while_a_reader_reads_it_is_read_under_its_new_name(
    sqlite_ctx: Context,
) -> None:
    """The writer renames ``.open`` to ``.log`` when it closes a segment; a reader that
    listed the segment as open a moment before reads the same file by its new name."""
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    spool.write(arrival(1), ctx.now())
    reader = FileSpool(spool.root)
    listed = reader.segments()
    assert [closed for _, closed in listed] == [False]
    spool.close()  # renamed after the reader listed it
    records, end, damaged = filespool.read_records(reader.path(listed[0][0], False), 0, 10)
    assert [r.arrival.raw for r in records] == [message(1)] and not damaged and end > 0


def test_a_segment_its_writer_died_making_is_swept_once_old(sqlite_ctx: Context) -> None:
    """A writer killed between creating its next segment and naming it leaves an empty
    ``.new`` file; readers delete it once it is old and no writer holds it."""
    ctx = sqlite_ctx
    spool = spool_folder(ctx)
    spool.root.mkdir(parents=True, exist_ok=True)
    dead = spool.root / "00000000000000000001-999.new"
    dead.touch()
    os.utime(dead, (1_000_000, 1_000_000))
    young = spool.root / "00000000000000000002-999.new"
    young.touch()
    held = spool.root / "00000000000000000003-999.new"
    held.touch()
    os.utime(held, (1_000_000, 1_000_000))
    with held.open("rb") as handle:
        filespool.fcntl.flock(handle, filespool.fcntl.LOCK_EX)
        assert spool.sweep_unmade() == 1
    assert sorted(p.name for p in spool.root.iterdir() if p.suffix == ".new") == [
        young.name,
        held.name,
    ]
    spool.write(arrival(1), ctx.now())
    spool.close()
    reader = FileSpool(spool.root)
    assert import_files(ctx.engine, reader) == 1  # a pass that finishes a segment sweeps too
    assert not dead.exists() and young.exists() and not held.exists()
