"""Transports of bridge messages: in-process queues and MPI point-to-point.

Each transport has two ends with the same methods whatever carries the bytes:

* brain end: ``recv_hello()``, ``recv_afferents(k)``, ``send_counts(msg)``, ``close()``
* body end: ``send_hello(h)``, ``recv_counts(k)`` (summed over brain ranks),
  ``send_afferents(msg)``, ``close()``

so the loops in ``cosim`` run unchanged embedded or over MPI.
"""
from __future__ import annotations

from collections import deque
import time

import numpy as np

from .messages import HEADER_LEN, Afferents, Hello, MotorCounts, ProtocolError

__all__ = ["in_process_pair", "MpiBrainEnd", "MpiBodyEnd", "TAG_COUNTS", "TAG_AFFERENTS",
           "TAG_HELLO"]

TAG_HELLO, TAG_COUNTS, TAG_AFFERENTS = 11, 12, 13


def _check_interval(msg, expected: int, name: str):
    if msg.interval != expected:
        raise ProtocolError(f"{name}: got interval {msg.interval}, expected {expected}")
    return msg


class _Queues:
    def __init__(self):
        self.hello = None
        self.to_brain: deque = deque()
        self.to_body: deque = deque()


class _InProcessBrainEnd:
    def __init__(self, q: _Queues):
        self._q = q

    def recv_hello(self) -> Hello:
        if self._q.hello is None:
            raise ProtocolError("Hello: the body has not sent it")
        return Hello.unpack(self._q.hello)

    def recv_afferents(self, interval: int) -> Afferents:
        if not self._q.to_brain:
            raise ProtocolError(f"Afferents: none queued for interval {interval}")
        return _check_interval(Afferents.unpack(self._q.to_brain.popleft()), interval,
                               "Afferents")

    def send_counts(self, msg: MotorCounts) -> None:
        self._q.to_body.append(msg.pack())

    def close(self) -> None:
        pass


class _InProcessBodyEnd:
    def __init__(self, q: _Queues):
        self._q = q

    def send_hello(self, hello: Hello) -> None:
        self._q.hello = hello.pack()

    def send_afferents(self, msg: Afferents) -> None:
        self._q.to_brain.append(msg.pack())

    def recv_counts(self, interval: int) -> MotorCounts:
        if not self._q.to_body:
            raise ProtocolError(f"MotorCounts: none queued for interval {interval}")
        return _check_interval(MotorCounts.unpack(self._q.to_body.popleft()), interval,
                               "MotorCounts")

    def close(self) -> None:
        pass


def in_process_pair():
    """(brain end, body end) joined by queues, for the embedded runner."""
    q = _Queues()
    return _InProcessBrainEnd(q), _InProcessBodyEnd(q)


def _wait_all(requests, poll_s: float = 2e-5) -> None:
    # Test + sleep instead of Waitall: with more ranks than cores a spinning rank
    # would steal the core of the rank it is waiting for.
    pending = list(requests)
    while pending:
        pending = [r for r in pending if not r.Test()]
        if pending:
            time.sleep(poll_s)


class MpiBrainEnd:
    """Brain rank's end: Isend counts to the body rank, Irecv afferents from it."""

    def __init__(self, comm, body_rank: int):
        self.comm, self.body_rank = comm, body_rank
        self._pending = []
        self._n_values = None

    def recv_hello(self) -> Hello:
        hello = Hello.unpack(self.comm.recv(source=self.body_rank, tag=TAG_HELLO))
        self._n_values = HEADER_LEN + 3 * len(hello.muscle_names)
        return hello

    def recv_afferents(self, interval: int) -> Afferents:
        buf = np.empty(self._n_values, dtype=np.float64)
        _wait_all([self.comm.Irecv(buf, source=self.body_rank, tag=TAG_AFFERENTS)])
        return _check_interval(Afferents.unpack(buf), interval, "Afferents")

    def send_counts(self, msg: MotorCounts) -> None:
        _wait_all([req for req, _ in self._pending])  # one message in flight at a time
        buf = msg.pack()
        self._pending = [(self.comm.Isend(buf, dest=self.body_rank, tag=TAG_COUNTS), buf)]

    def close(self) -> None:
        _wait_all([req for req, _ in self._pending])
        self._pending = []


class MpiBodyEnd:
    """Body rank's end: Irecv counts from every brain rank (summed), Isend afferents to all."""

    def __init__(self, comm, brain_ranks, n_pools: int):
        self.comm, self.brain_ranks = comm, list(brain_ranks)
        self._bufs = [np.empty(HEADER_LEN + n_pools, dtype=np.float64) for _ in self.brain_ranks]
        self._pending = []      # (request, buffer): a buffer lives until its send completes

    def send_hello(self, hello: Hello) -> None:
        buf = hello.pack()
        for r in self.brain_ranks:
            self.comm.send(buf, dest=r, tag=TAG_HELLO)

    def recv_counts(self, interval: int) -> MotorCounts:
        reqs = [self.comm.Irecv(b, source=r, tag=TAG_COUNTS)
                for b, r in zip(self._bufs, self.brain_ranks)]
        _wait_all(reqs)
        total, stop = None, 0
        for b, r in zip(self._bufs, self.brain_ranks):
            msg = _check_interval(MotorCounts.unpack(b), interval, f"MotorCounts from rank {r}")
            total = msg.counts if total is None else total + msg.counts
            stop = stop or msg.stop_signal
        return MotorCounts(interval=interval, counts=total, stop_signal=stop)

    def send_afferents(self, msg: Afferents) -> None:
        self._pending = [(req, buf) for req, buf in self._pending if not req.Test()]
        buf = msg.pack()
        self._pending += [(self.comm.Isend(buf, dest=r, tag=TAG_AFFERENTS), buf)
                          for r in self.brain_ranks]

    def close(self) -> None:
        _wait_all([req for req, _ in self._pending])
        self._pending = []
