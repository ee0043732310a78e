"""DKIM signing in a worker process, ahead of the connections that send.

A signature costs about 0.5 ms of CPU a copy (RSA-2048 most of it, plus Ed25519 and the
header work). Made in the sender's own threads it ran on the core that talks SMTP, and its
Python part waited for the interpreter lock with the connections: signed delivery ran at
about 40 % of the bare unsigned client in bench/fanout.py. Here a worker process signs a
batch's copies in order, a chunk at a time, while the connections send the chunks before,
so a second core signs. A connection takes its copy's signed bytes when it gets to it
(waiting only if the worker is behind); the outbox, the recorder and the order of things
on each connection stay as they were, so exactly-once is unchanged: a row is still
recorded as sent before its connection's next DATA.

The worker is started on the first signed batch (spawned, not forked: the sender has
threads and open connections) and stopped with the sender.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Sequence
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor

from mailhub.config import Settings
from mailhub.outbound.signing import Signer, SigningError, signer_from_settings

CHUNK = 32  # copies a worker signs per round trip: small enough that the first comes soon

# The worker process's signer, made once by its initializer (one per worker process).
_signer: Signer | None = None


def _start(settings: Settings) -> None:
    """In the worker: load the keys once; leave Ctrl-C to the parent, which stops us."""
    global _signer
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _signer = signer_from_settings(settings)


def _sign_chunk(raws: list[bytes]) -> list[bytes | str]:
    """In the worker: each copy signed, or the reason it could not be."""
    assert _signer is not None
    done: list[bytes | str] = []
    for raw in raws:
        try:
            done.append(_signer.sign(raw))
        except SigningError as exc:
            done.append(str(exc))
    return done


class Ahead:
    """One batch's copies being signed in order; `signed` waits for one of them."""

    def __init__(self, chunks: list[Future[list[bytes | str]]], fallback: Signer) -> None:
        self._chunks = chunks
        self._fallback = fallback

    def signed(self, index: int, raw: bytes) -> bytes:
        """The signed bytes of the batch's copy number ``index`` (``raw``); SigningError
        when it cannot be signed. Should the worker die, this thread signs it."""
        try:
            found = self._chunks[index // CHUNK].result()[index % CHUNK]
        except BrokenExecutor:
            return self._fallback.sign(raw)
        if isinstance(found, str):
            raise SigningError(found)
        return found


class SigningPool:
    """Worker processes that sign with the configured keys."""

    def __init__(self, settings: Settings, signer: Signer, processes: int) -> None:
        self._settings = settings
        self._signer = signer
        self._processes = processes
        self._executor: ProcessPoolExecutor | None = None

    def sign_ahead(self, raws: Sequence[bytes]) -> Ahead:
        """Start signing ``raws`` in order, a chunk at a time (in a new worker when the
        last one died)."""
        try:
            chunks = self._submit(raws)
        except BrokenExecutor:
            self.close()
            chunks = self._submit(raws)
        return Ahead(chunks, self._signer)

    def _submit(self, raws: Sequence[bytes]) -> list[Future[list[bytes | str]]]:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self._processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self._settings,),
            )
        return [
            self._executor.submit(_sign_chunk, list(raws[start : start + CHUNK]))
            for start in range(0, len(raws), CHUNK)
        ]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
