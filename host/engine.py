"""The pipelined I/O engine under ``Board`` (``host/board.py``): requests in flight.

``Pipelined`` frames requests, sends ahead while the unanswered requests'
line bytes fit the device's receive FIFO (``window``) and their answers
the response window, matches each answer to its request by command and
tag, and turns anything else (no answer in time, a garbled or out-of-step
answer, an error status) into a :class:`BoardError` naming the request.
The deadline of an answer is the timeout plus the request's own line time
and device clocks. Requests come from ``host/wire.py`` and ``Board``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from spikeloom import protocol as P

__all__ = ["BoardError", "Response", "Pipelined", "DEFAULT_WINDOW", "RESPONSE_WINDOW"]


class BoardError(Exception):
    """Talking to a device failed; the message says what happened, for humans."""


#: The receive window assumed before IDENTIFY reports the device's ``rx_fifo``.
DEFAULT_WINDOW = 512
#: Most response bytes the host lets the device owe it: the operating
#: system's receive buffer of a serial port is a few KiB, and nothing on
#: the line stops a device that sends into a full one.
RESPONSE_WINDOW = 4096
#: Most requests in flight: their 8-bit tags must differ.
MAX_IN_FLIGHT = 128
#: Line bytes of a response besides its data: 2 FLAGs, cmd, tag, status, CRC.
_RESPONSE_OVERHEAD = 2 + P.RESPONSE_HEADER + P.CRC_BYTES


def _status_text(status: P.Status) -> str:
    doc = P.STATUS_TEXT[status]
    return f"{status.name} ({doc})" if doc else status.name


class Response(NamedTuple):
    """A response taken apart: echoed command (with 0x80), tag, status, data."""

    cmd: int
    tag: int
    status: P.Status
    data: bytes


@dataclass
class _Request:
    cmd: P.Command
    what: str  # names the request in messages: "WRITE_MEM core 0 PARAMS index 60"
    args: dict = field(default_factory=dict)
    payload: bytes = b""
    reply: int = 0  # most data bytes of the response
    exact: bool = False  # the response data is exactly ``reply`` bytes
    busy_clocks: int = 0  # device clocks before it can answer (STEP, STOP)
    done: Callable[[bytes], None] | None = None  # takes the data of an OK response
    hints: dict = field(default_factory=dict)  # status -> advice added to its message
    tag: int = 0
    line: bytes = b""
    sent_at: float = 0.0


class Pipelined:
    """Requests to a device behind ``transport``, pipelined (module docstring).

    A subclass provides ``window`` (the device's receive FIFO, bytes),
    ``description`` and ``_identity`` (its link, or None before IDENTIFY).
    """

    def __init__(self, transport, timeout: float | None = None):
        self.transport = transport
        self.timeout = getattr(transport, "default_timeout", 1.0) if timeout is None else timeout
        self._tag = 0
        self._deframer = P.Deframer()
        self._bodies: deque[tuple[bytes, bool]] = deque()
        self._dirty = False  # a request went unanswered: its answer may still come
        self._last_answer = 0.0
        #: Most requests that were ever in flight at once (pipelining at work).
        self.max_in_flight = 0

    # -- the link ---------------------------------------------------------

    def send_raw(self, line: bytes) -> Response:
        """Send raw line bytes (a frame, maybe a bad one) and wait for one response."""
        if self._dirty:
            self._resync()
        self.transport.write(bytes(line))
        start = time.monotonic()
        self._last_answer = start
        body, aborted = self._await(start + self.timeout + self._cost(len(line), 256), "a frame")
        if aborted or len(body) < P.RESPONSE_HEADER + P.CRC_BYTES or P.crc16(body):
            self._dirty = True
            raise BoardError(f"garbled answer from {self.description}: {body.hex(' ')}")
        try:
            status = P.Status(body[2])
        except ValueError:
            raise BoardError(f"unknown status {body[2]} from {self.description}") from None
        return Response(body[0], body[1], status, body[P.RESPONSE_HEADER : -P.CRC_BYTES])

    def _clock_seconds(self) -> float:
        t = self.transport
        sec = getattr(t, "seconds_per_clock", None)
        if sec is not None:
            return sec
        baud = getattr(t, "baud", None)
        cpb = self._identity.link.clocks_per_bit if self._identity else 104
        return 1.0 / (baud * cpb) if baud else 0.0

    def _cost(self, request_bytes: int, reply: int, busy_clocks: int = 0) -> float:
        """Seconds a request takes beyond the timeout: its bytes on the line, its ticks."""
        clock = self._clock_seconds()
        cpb = self._identity.link.clocks_per_bit if self._identity else 104
        # Stuffing may double the response; count it at its worst.
        line = request_bytes + 2 * (reply + _RESPONSE_OVERHEAD)
        return clock * (10 * cpb * line + busy_clocks)

    def _one(self, req: _Request) -> bytes:
        out = []
        req.done = out.append
        self._exchange([req])
        return out[0]

    def _receive(self, timeout: float) -> None:
        data = self.transport.read(timeout)
        if data:
            self._bodies.extend(self._deframer.feed(data))

    def _await(self, deadline: float, what: str) -> tuple[bytes, bool]:
        """The next response body; BoardError if none comes by ``deadline``."""
        start = time.monotonic()
        while not self._bodies:
            left = deadline - time.monotonic()
            if left <= 0:
                self._dirty = True
                waited = max(deadline - start, self.timeout)
                raise BoardError(
                    f"no answer from {self.description} to {what} within {waited:.1f} s: "
                    "is a spikeloom bitstream loaded, and is the baud rate right?"
                )
            self._receive(left)
        self._last_answer = time.monotonic()
        return self._bodies.popleft()

    def _resync(self) -> None:
        """Forget answers still on their way after a failure, so the next ones match."""
        for _ in range(100):
            if not self.transport.read(0.05):
                break
        self._deframer = P.Deframer()
        self._bodies.clear()
        self._dirty = False

    def _answer(self, req: _Request) -> tuple[P.Status, bytes]:
        deadline = max(req.sent_at, self._last_answer) + self.timeout
        deadline += self._cost(len(req.line), req.reply, req.busy_clocks)
        body, aborted = self._await(deadline, req.what)
        why = None
        if aborted:
            why = "aborted frame"
        elif len(body) < P.RESPONSE_HEADER + P.CRC_BYTES:
            why = f"{len(body)} bytes"
        elif P.crc16(body):
            why = "bad CRC"
        if why:
            self._dirty = True
            raise BoardError(
                f"garbled answer to {req.what} from {self.description} ({why}): "
                "is the baud rate right?"
            )
        if body[0] != req.cmd | P.RESPONSE_BIT or body[1] != req.tag:
            self._dirty = True
            if body[2] in (P.Status.BAD_CRC, P.Status.BAD_FRAME, P.Status.TOO_LONG):
                # The request arrived damaged, its command or tag among the damage.
                raise BoardError(
                    f"{req.what}: {self.description} received it damaged "
                    f"({_status_text(P.Status(body[2]))}): is the baud rate right?"
                )
            raise BoardError(
                f"answer out of step from {self.description}: expected {req.cmd.name} "
                f"tag {req.tag}, got command 0x{body[0]:02X} tag {body[1]}"
            )
        try:
            status = P.Status(body[2])
        except ValueError:
            self._dirty = True
            raise BoardError(
                f"unknown status {body[2]} in the answer to {req.what} from {self.description}"
            ) from None
        return status, body[P.RESPONSE_HEADER : -P.CRC_BYTES]

    def _exchange(self, requests: Iterable[_Request]) -> None:
        """Send requests pipelined; hand each OK response's data to its ``done``.

        Sends ahead while the unanswered requests' line bytes fit the
        device's receive FIFO (and their answers the response window). At
        the first error status it stops sending, collects the answers still
        owed (so the link stays in step), then raises.
        """
        if self._dirty:
            self._resync()
        it = iter(requests)
        flight: deque[_Request] = deque()
        self._last_answer = time.monotonic()
        try:
            error = self._pipeline(it, flight)
        except BaseException:
            # Answers may still be on their way (Ctrl-C, a lost answer):
            # drop them before the next exchange.
            if flight:
                self._dirty = True
            raise
        if error is not None:
            raise error

    def _pipeline(self, it, flight: deque) -> BoardError | None:
        line_bytes = reply_bytes = 0
        error: BoardError | None = None
        req = next(it, None)
        while True:
            while req is not None and error is None:
                line = P.frame(P.request(req.cmd, self._tag, req.args, req.payload))
                reply = req.reply + _RESPONSE_OVERHEAD
                if flight and (
                    line_bytes + len(line) > self.window
                    or reply_bytes + reply > RESPONSE_WINDOW
                    or len(flight) >= MAX_IN_FLIGHT
                ):
                    break
                req.tag, req.line = self._tag, line
                self._tag = (self._tag + 1) & 0xFF
                self.transport.write(line)
                req.sent_at = time.monotonic()
                flight.append(req)
                line_bytes += len(line)
                reply_bytes += reply
                self.max_in_flight = max(self.max_in_flight, len(flight))
                # Take in what has arrived, so the receive buffer never fills up.
                self._receive(0)
                req = next(it, None)
            if not flight:
                break
            head = flight[0]
            status, data = self._answer(head)
            flight.popleft()
            line_bytes -= len(head.line)
            reply_bytes -= head.reply + _RESPONSE_OVERHEAD
            if error is not None:
                continue
            if status != P.Status.OK:
                hint = f": {head.hints[status]}" if status in head.hints else ""
                error = BoardError(f"{head.what}: {_status_text(status)}{hint}")
            elif head.exact and len(data) != head.reply or len(data) > head.reply:
                error = BoardError(
                    f"{head.what}: {self.description} answered {len(data)} bytes of data, "
                    f"expected {head.reply}"
                )
            elif head.done is not None:
                try:
                    head.done(data)
                except BoardError as e:
                    error = e
        return error
