"""Byte transports to a spikeloom device.

Three ends of the same line, one interface (``write``, ``read``, ``close``,
``description``, context manager):

* :class:`SerialTransport`: a serial port or any pyserial URL
  (``/dev/ttyUSB1``, ``socket://127.0.0.1:7777``);
* :class:`SimTransport`: the RTL in a simulator, behind a socket served by
  ``spikeloom.sim.rtl.bridge`` (the same bytes as on the wire);
* :class:`GoldenTransport`: the golden model (``sim/uart.py``) in-process.

:func:`open_transport` picks one from a port name: ``"golden"``, ``"sim"``,
or anything else for pyserial.
"""

from __future__ import annotations

import abc
import os
import re
import select
import socket
import time

from spikeloom import protocol as P
from spikeloom.boards import TARGETS
from spikeloom.defs import Geometry
from spikeloom.sim.rtl.bridge import SIM_LINK

from .board import BoardError

__all__ = [
    "SIM_GEOMETRY",
    "SIM_LINK",
    "Transport",
    "SerialTransport",
    "GoldenTransport",
    "SimTransport",
    "LineServer",
    "GoldenServer",
    "BridgeServer",
    "launch_bridge",
    "open_transport",
    "default_baud",
]

#: The geometry of the ``golden`` and ``sim`` devices unless told otherwise:
#: one small core, quick to simulate.
SIM_GEOMETRY = Geometry(
    levels=(1,),
    neurons=64,
    axons=64,
    count_bits=3,
    potential_bits=16,
    fanout=4,
    lanes=4,
    timer_bits=8,
    tick_bits=16,
)
# SIM_LINK (imported): the link of the ``golden`` and ``sim`` devices, the bridge's.


def default_baud(board=None) -> int:
    """A board target's baud rate; without one, the lowest rate of the board table
    (``spikeloom.boards.TARGETS``; today every board runs at the same rate)."""
    if board is not None:
        return board.baud
    return min(t.baud for t in TARGETS.values())


class Transport(abc.ABC):
    """A byte pipe to a device (an interface). Subclasses set the attributes below."""

    #: What the device is, for messages ("/dev/ttyUSB1", "the golden model").
    description = "a device"
    #: Line rate in baud, if the bytes really travel on a UART line (sets timeouts).
    baud: int | None = None
    #: Wall seconds per device clock, where the baud rate does not tell it (simulators).
    seconds_per_clock: float | None = None
    #: The response timeout a :class:`~spikeloom.host.board.Board` uses unless told.
    default_timeout = 1.0
    #: Least wall seconds per tick of ``run_ticks``, where the line does not bound it.
    tick_seconds = 0.0

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Send ``data`` to the device."""

    @abc.abstractmethod
    def read(self, timeout: float) -> bytes:
        """Whatever arrived, waiting up to ``timeout`` s for the first byte (b"" if none)."""

    def close(self) -> None:  # noqa: B027 (optional: most transports hold nothing)
        """Release the device; by default there is nothing to release."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<{type(self).__name__} {self.description}>"


def _reason(e: Exception) -> str:
    """The human part of a pyserial / socket error ("No such file or directory")."""
    errno = getattr(e, "errno", None)
    if errno is None:
        # pyserial folds the OSError into its message: "[Errno 2] could not
        # open port X: [Errno 2] No such file or directory: 'X'".
        found = re.findall(r"\[Errno (\d+)\]", str(e))
        errno = int(found[-1]) if found else None
    text = os.strerror(errno) if errno else str(e)
    if errno == 13:
        text += " (is your user in the dialout group?)"
    return text


def _check_url(port: str) -> None:
    """Refuse a malformed ``socket://HOST:PORT`` by name (pyserial's message says little)."""
    if not port.lower().startswith("socket://"):
        return
    rest = port[len("socket://") :].split("?", 1)[0]
    host, sep, number = rest.rpartition(":")
    if not sep or not host:
        raise BoardError(f"cannot open {port}: expected socket://HOST:PORT")
    if not number.isdigit() or not 0 < int(number) < 65536:
        raise BoardError(f"cannot open {port}: port {number!r} is not a number 1..65535")


#: What a :class:`LineServer` busy with another client sends a new one, then hangs up.
BUSY = b"\x00spikeloom serve: busy with another client\n"


class SerialTransport(Transport):
    """A serial port or pyserial URL (``/dev/ttyUSB1``, ``socket://host:port``)."""

    def __init__(self, port: str, baud: int | None = None, write_timeout: float = 5.0):
        import serial

        baud = baud or default_baud()
        self.description = port
        _check_url(port)
        # For a socket this is only a guess of the far end's line rate; it
        # just lengthens timeouts of long transfers.
        self.baud = baud
        try:
            # timeout=0: reads never block; read() waits with select instead,
            # so it returns as soon as anything arrives.
            self.port = serial.serial_for_url(
                port, baudrate=baud, timeout=0, write_timeout=write_timeout
            )
        except (serial.SerialException, OSError, ValueError, OverflowError) as e:
            raise BoardError(f"cannot open {port}: {_reason(e)}") from None
        self._busy = False
        self._fresh_line = True  # nothing received yet (a busy server says so first)
        try:
            self._fd = self.port.fileno()
        except Exception:  # some URL handlers (loop://) have no file descriptor
            self._fd = None

    def write(self, data: bytes) -> None:
        import serial

        try:
            self.port.write(data)
        except serial.SerialTimeoutException:
            raise BoardError(
                f"cannot send to {self.description}: the line does not take bytes"
            ) from None
        except (serial.SerialException, OSError) as e:
            raise BoardError(f"cannot send to {self.description}: {_reason(e)}") from None

    def read(self, timeout: float) -> bytes:
        import serial

        try:
            data = self.port.read(1 << 16)
            if not data and timeout > 0:
                if self._fd is not None:
                    select.select([self._fd], [], [], timeout)
                else:
                    time.sleep(min(timeout, 0.01))
                data = self.port.read(1 << 16)
        except (serial.SerialException, OSError) as e:
            if self._busy:
                raise self._busy_error() from None
            raise BoardError(f"lost {self.description}: {_reason(e)}") from None
        if data and self._fresh_line:
            # A frame starts with FLAG; a busy server's first byte is 0.
            self._fresh_line = False
            self._busy = data.startswith(BUSY[:10])
            if self._busy:
                raise self._busy_error()
        return data

    def _busy_error(self) -> BoardError:
        return BoardError(
            f"{self.description} is busy: its spikeloom serve is serving another client "
            f"(it serves one at a time; try again when that one is done)"
        )

    def close(self) -> None:
        sock = getattr(self.port, "_socket", None)
        if isinstance(sock, socket.socket):
            # pyserial's socket:// close() sleeps 0.3 s "for quick reconnects";
            # every CLI command would pay it. Close the socket ourselves.
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            self.port._socket = None
            self.port.is_open = False
        else:
            self.port.close()


class GoldenTransport(Transport):
    """The golden model of the device (``LinkModel``) in-process; answers at once."""

    description = "the golden model"
    tick_seconds = 1e-4  # some 0.4 ms on a 2-core machine of 2026

    def __init__(self, geometry: Geometry = SIM_GEOMETRY, link: P.LinkConfig | None = None):
        from spikeloom.sim.uart import LinkModel

        self.model = LinkModel(geometry, link or SIM_LINK)
        self._out = bytearray()

    def write(self, data: bytes) -> None:
        self._out += self.model.feed(data)

    def read(self, timeout: float) -> bytes:
        if not self._out:
            # Nothing more can come: the model answers as bytes arrive. Wait
            # like a quiet line would, then tell the model the line was idle.
            if timeout > 0:
                time.sleep(timeout)
            self.model.idle()
            return b""
        data, self._out = bytes(self._out), bytearray()
        return data


def launch_bridge(
    geometry: Geometry, link: P.LinkConfig | None = None, simulator=None, progress=None
):
    """Start the RTL in a simulator behind a socket (``spikeloom.sim.rtl.bridge.launch``).

    Returns the bridge's server (``.url``, ``.close()``); failures are BoardErrors.
    ``progress(text)`` hears of a first build of the geometry (minutes) as it goes.
    """
    try:
        from spikeloom.sim.rtl import bridge
    except ImportError as e:
        raise BoardError(
            f"the RTL simulation bridge is not available ({e}): use --port golden"
        ) from None
    try:
        return bridge.launch(geometry, link or SIM_LINK, simulator, progress=progress)
    except Exception as e:  # a missing simulator, a failed build: say what and why
        raise BoardError(f"cannot start the RTL simulation: {e}") from e


class SimTransport(Transport):
    """The RTL in a simulator behind a socket (``spikeloom.sim.rtl.bridge``)."""

    # A simulated clock takes some 10 to 100 us of wall time.
    seconds_per_clock = 1e-4
    default_timeout = 10.0

    def __init__(
        self,
        geometry: Geometry = SIM_GEOMETRY,
        link: P.LinkConfig | None = None,
        simulator: str | None = None,
        progress=None,
    ):
        self.server = launch_bridge(geometry, link, simulator, progress)
        try:
            self.serial = SerialTransport(self.server.url)
        except BoardError:
            self.server.close()
            raise
        self.description = f"the RTL simulation at {self.server.url}"

    def write(self, data: bytes) -> None:
        self.serial.write(data)

    def read(self, timeout: float) -> bytes:
        return self.serial.read(timeout)

    def close(self) -> None:
        try:
            self.serial.close()
        finally:
            self.server.close()


class LineServer(abc.ABC):
    """A device behind a TCP socket, so that it outlives its clients.

    Clients (``SerialTransport("socket://HOST:PORT")``) are served one at a
    time, in turn; the device state carries over from one to the next.
    Subclasses say what the device is (:meth:`_serve`).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 7777):
        if not 0 <= port < 65536:
            raise BoardError(f"cannot listen on {host}:{port}: port {port} is not 0..65535")
        try:
            self.sock = socket.create_server((host, port))
        except (OSError, OverflowError) as e:
            raise BoardError(f"cannot listen on {host}:{port}: {_reason(e)}") from None
        self.url = f"socket://{host}:{self.sock.getsockname()[1]}"
        self._closed = False
        self._refused: list = []  # (connection, when) told "busy", closed a little later

    def serve_forever(self) -> None:
        """Serve clients until :meth:`close` (from another thread) or Ctrl-C."""
        while not self._closed:
            try:
                ready, _, _ = select.select([self.sock], [], [], 0.2)
                if not ready:
                    self._between_clients()
                    continue
                conn, _ = self.sock.accept()
                with conn:
                    self._serve(conn)
            except (OSError, ValueError):
                if self._closed:  # closed under a select() or accept() by close()
                    return
                raise

    @property
    def closed(self) -> bool:
        return self._closed

    def _refuse_waiting(self, conn: socket.socket, ready: list) -> None:
        """Tell clients that connect while ``conn`` is served that the server is busy.

        Only if ``conn`` has nothing to read (it may have just hung up). Each
        is told again every loop for a few seconds, then hung up on: a client
        opening its port discards what arrived before (pyserial), and drops
        data that arrive with the hang-up.
        """
        if self.sock in ready:
            ready.remove(self.sock)
        while not ready and select.select([self.sock], [], [], 0)[0]:
            if select.select([conn], [], [], 0)[0]:
                break
            try:
                new, _ = self.sock.accept()
            except OSError:
                break
            self._refused.append((new, time.monotonic()))
        now = time.monotonic()
        keep = []
        for other, since in self._refused:
            try:
                other.sendall(BUSY)
                if now - since < 5:
                    keep.append((other, since))
                    continue
            except OSError:
                pass
            other.close()
        self._refused = keep

    def _between_clients(self) -> None:  # noqa: B027 (an optional hook)
        """Called after a client hangs up, before the next is accepted."""

    @abc.abstractmethod
    def _serve(self, conn: socket.socket) -> None:
        """Serve one connected client until it hangs up."""

    def close(self) -> None:
        self._closed = True
        self.sock.close()
        for conn, _ in self._refused:
            conn.close()


def _recv(conn: socket.socket) -> bytes:
    try:
        return conn.recv(1 << 16)
    except OSError:
        return b""


class GoldenServer(LineServer):
    """The golden model (a ``LinkModel``) behind a TCP socket.

    A client quiet for ``idle`` seconds in the middle of a frame has the
    frame dropped, as an idle line would; so does one that hangs up.
    """

    def __init__(self, model, host: str = "127.0.0.1", port: int = 7777, idle: float = 0.5):
        super().__init__(host, port)
        self.model = model
        self.idle = idle

    def _serve(self, conn: socket.socket) -> None:
        last = time.monotonic()
        while not self._closed:
            ready, _, _ = select.select([conn, self.sock], [], [], min(self.idle, 0.3))
            self._refuse_waiting(conn, ready)
            if not ready:
                if time.monotonic() - last >= self.idle:
                    self.model.idle()
                    last = time.monotonic()
                continue
            last = time.monotonic()
            data = _recv(conn)
            if not data:  # the client went away
                self.model.idle()
                return
            out = self.model.feed(data)
            if out:
                try:
                    conn.sendall(out)
                except OSError:
                    self.model.idle()
                    return


class BridgeServer(LineServer):
    """The RTL simulation behind a TCP socket that outlives its clients.

    The simulation bridge serves one connection and ends when it closes;
    this server holds that connection and relays each client's bytes to it
    and the simulation's answers back. Answers arriving between clients are
    dropped.
    """

    def __init__(self, bridge, host: str = "127.0.0.1", port: int = 7777):
        super().__init__(host, port)
        self.bridge = bridge  # the bridge's server: .url, .close()
        addr = bridge.url.removeprefix("socket://").rpartition(":")
        try:
            self.upstream = socket.create_connection((addr[0], int(addr[2])), timeout=10)
        except OSError as e:
            self.close()
            raise BoardError(
                f"cannot reach the RTL simulation at {bridge.url}: {_reason(e)}"
            ) from None
        self.upstream.settimeout(None)

    def _ended(self):
        if not self._closed:
            raise BoardError("the RTL simulation ended")

    def _between_clients(self) -> None:
        while not self._closed and select.select([self.upstream], [], [], 0)[0]:
            if not _recv(self.upstream):
                return self._ended()

    def _serve(self, conn: socket.socket) -> None:
        while not self._closed:
            ready, _, _ = select.select([conn, self.upstream, self.sock], [], [], 0.3)
            self._refuse_waiting(conn, ready)
            if self.upstream in ready:
                data = _recv(self.upstream)
                if not data:
                    return self._ended()
                try:
                    conn.sendall(data)
                except OSError:
                    return
            if conn in ready:
                data = _recv(conn)
                if not data:  # the client went away; the simulation lives on
                    return
                self.upstream.sendall(data)

    def close(self) -> None:
        super().close()
        upstream = getattr(self, "upstream", None)
        if upstream is not None:
            upstream.close()  # the bridge ends when its connection closes
        self.bridge.close()


def open_transport(
    port: str, geometry: Geometry | None = None, baud: int | None = None, link=None, progress=None
) -> Transport:
    """``"golden"``, ``"sim"`` (a fresh device of ``geometry``, default
    :data:`SIM_GEOMETRY`), or a serial port / pyserial URL (at ``baud``,
    default :func:`default_baud`). ``progress(text)``: news of a simulator build."""
    if port == "golden":
        return GoldenTransport(geometry or SIM_GEOMETRY, link or SIM_LINK)
    if port == "sim":
        return SimTransport(geometry or SIM_GEOMETRY, link or SIM_LINK, progress=progress)
    return SerialTransport(port, baud)
