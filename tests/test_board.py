"""The host library (host/board.py, host/transport.py) against the golden model of the device."""

import copy
import dataclasses
import threading
import time

import numpy as np
import pytest

from spikeloom import protocol as P
from spikeloom.defs import PRNG_RESET, PROB_ONE, Geometry, LearnConfig, Region, pack_array
from spikeloom.host.board import Board, BoardError
from spikeloom.host.transport import (
    SIM_GEOMETRY,
    SIM_LINK,
    GoldenServer,
    GoldenTransport,
    SerialTransport,
    open_transport,
)
from spikeloom.network import Network
from spikeloom.sim.top import ChipModel
from spikeloom.testing.stimulus import random_host_inputs, random_network

#: Two cores, so that routing between cores and core addressing are exercised.
TWO_CORES = dataclasses.replace(SIM_GEOMETRY, levels=(2,), neurons=32, axons=32)


def golden_events(net: Network, inputs, ticks):
    """Output events of ChipModel run directly, with full tick numbers."""
    chip = ChipModel(copy.deepcopy(net))
    out = []
    for t in range(ticks):
        _, events = chip.tick(inputs[t] if t < len(inputs) else [])
        out += [(t, c, n) for _, c, n in events]
    return sorted(out)


class Frames:
    """Counts the frames in a byte stream (for instrumented transports)."""

    def __init__(self):
        self.deframer = P.Deframer()

    def feed(self, data):
        return [body for body, _ in self.deframer.feed(data)]


class LaggyTransport(GoldenTransport):
    """Answers only when the host waits (read with a timeout), like a line with latency.

    Records the most request frames and line bytes the host had unanswered.
    """

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.requests = Frames()
        self.outstanding = self.outstanding_bytes = 0
        self.max_outstanding = self.max_outstanding_bytes = 0

    def write(self, data):
        self.outstanding += len(self.requests.feed(data))
        self.outstanding_bytes += len(data)
        self.max_outstanding = max(self.max_outstanding, self.outstanding)
        self.max_outstanding_bytes = max(self.max_outstanding_bytes, self.outstanding_bytes)
        super().write(data)

    def read(self, timeout):
        if timeout <= 0:
            return b""
        self.outstanding = self.outstanding_bytes = 0
        return super().read(timeout)


class DropTransport(GoldenTransport):
    """The golden model, but requests with command ``drop`` are lost on the way."""

    def __init__(self, drop, *a, **kw):
        super().__init__(*a, **kw)
        self.drop = drop

    def write(self, data):
        for body in Frames().feed(data):
            if body[0] != self.drop:
                super().write(P.frame(body[:-2]))


class Swallow:
    """A line into nowhere: bytes go out, nothing comes back."""

    description = "the void"

    def write(self, data):
        pass

    def read(self, timeout):
        time.sleep(timeout)
        return b""

    def close(self):
        pass


@pytest.fixture
def board():
    with Board(open_transport("golden")) as b:
        yield b


def test_identify_reports_the_device(board):
    ident = board.identify()
    assert ident.id == P.PROTOCOL_ID
    assert ident.geometry == SIM_GEOMETRY
    assert ident.link == SIM_LINK
    assert board.window == SIM_LINK.rx_fifo
    # Cached: no second IDENTIFY on the line.
    before = board.registers()["FRAMES_OK"]
    board.identify()
    assert board.registers()["FRAMES_OK"] == before + 1  # just the read of the registers


def test_registers_read_write_and_read_only_refused(board):
    board.write_regs("SCRATCH", [0xDEADBEEF, 1234])  # SCRATCH, PERIOD
    assert board.read_regs("scratch", 2) == [0xDEADBEEF, 1234]
    assert board.registers()["PERIOD"] == 1234
    with pytest.raises(BoardError, match=r"WRITE_REG TICK .*BAD_ADDRESS.*TICK is read-only"):
        board.write_regs("TICK", 5)
    regs = board.registers()
    assert regs["TICK"] == 0 and regs["BAD_ADDRESS"] == 1
    with pytest.raises(BoardError, match="no register named 'NOPE'"):
        board.read_regs("NOPE")
    with pytest.raises(BoardError, match="registers hold"):
        board.write_regs("SCRATCH", 1 << 32)
    # By address too: one past the last register.
    with pytest.raises(BoardError, match="READ_REG .*BAD_ADDRESS"):
        board.read_regs(len(board.register_names))


def test_learning_parameters_phase_and_seeds(board):
    chip = board.transport.model.chip
    assert board.learning() == LearnConfig() and board.phase() == 0
    cfg = board.set_learning(p_plus=0.1, p_minus=0.05, p_grow=1.0, episode=4)
    assert cfg == LearnConfig(learn=1, p_plus=6554, p_minus=3277, p_grow=PROB_ONE, episode=4)
    assert board.learning() == cfg and chip.learn_cfg == cfg
    assert board.read_regs("LEARN", 5) == [1, 6554, 3277, PROB_ONE, 4]
    board.step(3)
    assert board.phase() == 3
    board.step(1)
    assert board.phase() == 0  # episodes of 4 ticks
    board.step(2)
    board.restart_episode()
    assert board.phase() == 0 and board.learning() == cfg
    off = LearnConfig(p_plus=PROB_ONE, episode=7)
    assert board.set_learning(off) == off and board.learning() == off

    # Out of range: refused by the host before anything is sent...
    sent = board.registers()["FRAMES_OK"]
    with pytest.raises(BoardError, match=r"p_plus = 1\.5: a probability, 0 \.\. 1"):
        board.set_learning(p_plus=1.5)
    with pytest.raises(BoardError, match=r"episode = 65536: 0 \.\. 65535 ticks"):
        board.set_learning(episode=65536)
    with pytest.raises(BoardError, match=r"seed 4294967296: 0 \.\. 2\*\*32-1"):
        board.seed(0, 1 << 32)
    with pytest.raises(BoardError, match="core 1: the device has cores 0..0"):
        board.seed(1, 5)
    assert board.registers()["FRAMES_OK"] == sent + 1  # the read before
    # ... and by the device, register by register: nothing of the request is written.
    board.step(1)
    with pytest.raises(
        BoardError,
        match=r"WRITE_REG SCRATCH..EPISODE \(addresses \d+..\d+\): BAD_ADDRESS .*: "
        r"P_GROW = 65537 is over its maximum 65536",
    ):
        board.write_regs("SCRATCH", [1, 2, 1, 0, 0, PROB_ONE + 1, 0])
    with pytest.raises(BoardError, match="LEARN = 2 is over its maximum 1"):
        board.write_regs("LEARN", 2)
    assert board.learning() == off and board.read_regs("SCRATCH") == [0]
    assert board.phase() == 1  # not restarted either
    assert board.registers()["BAD_ADDRESS"] == 2

    # Seeds reach the generators (0 seeds the reset value); RESET restarts them
    # and the episode, and keeps the parameters.
    board.seed(0, 12345)
    assert chip.learners[0].prng == 12345
    board.seed(0, 0)
    assert chip.learners[0].prng == PRNG_RESET
    board.seed(0, 99)
    board.reset()
    assert chip.learners[0].prng == PRNG_RESET
    assert board.phase() == 0 and board.learning() == off


def test_seeding_every_core():
    with Board(GoldenTransport(TWO_CORES)) as board:
        learners = board.transport.model.chip.learners
        assert board.seed_cores(0xFFFF_FFFF) == [0xFFFF_FFFF, 0]  # seed + core, wrapping
        assert [lr.prng for lr in learners] == [0xFFFF_FFFF, PRNG_RESET]
        assert board.seed_cores([7, 8]) == [7, 8]
        assert [lr.prng for lr in learners] == [7, 8]
        with pytest.raises(BoardError, match="3 seeds for the device's 2 cores"):
            board.seed_cores([1, 2, 3])
        with pytest.raises(BoardError, match="core 2: the device has cores 0..1"):
            board.seed(2, 1)
        # The device refuses a core that does not exist too.
        r = board.send_raw(P.frame(P.request(P.Command.SEED, 1, {"core": 2, "seed": 1})))
        assert r.status == P.Status.BAD_ADDRESS and [lr.prng for lr in learners] == [7, 8]


def test_every_region_written_and_read_back():
    net = random_network(TWO_CORES, 11)
    with Board(GoldenTransport(TWO_CORES)) as board:
        seen = []
        board.load(net, progress=lambda done, total: seen.append((done, total)))
        total = (
            TWO_CORES.cores
            * sum(
                TWO_CORES.region_depth(r) for r in (Region.CROSSBAR, Region.PARAMS, Region.ROUTES)
            )
            + TWO_CORES.cores * TWO_CORES.neurons
        )
        assert seen[0] == (0, total) and seen[-1] == (total, total)
        back = board.read_network()
        for name in ("count", "sign", "route_valid", "route_core", "route_axon"):
            assert np.array_equal(getattr(back, name), getattr(net, name)), name
        for k, v in net.params.items():
            assert np.array_equal(back.params[k], v), k
        for core in range(TWO_CORES.cores):
            assert board.read_mem(core, "STATE", 0, TWO_CORES.neurons) == [0] * TWO_CORES.neurons

        # STATE (signed fields) round-trips through words.
        rng = np.random.default_rng(5)
        g = TWO_CORES
        state = {
            "v": rng.integers(g.v_min, g.v_max + 1, g.neurons),
            "s": rng.integers(g.v_min, g.v_max + 1, g.neurons),
            "timer": rng.integers(0, g.timer_max + 1, g.neurons),
            "active": rng.integers(0, 2, g.neurons),
        }
        board.write_mem(1, Region.STATE, 0, pack_array(g.state_layout, **state))
        got = board.read_state(1)
        for k, v in state.items():
            assert np.array_equal(got[k], v), k

        # Single words anywhere, by region name or number.
        words = board.read_mem(0, "crossbar", 100, 300)
        assert words == net.region_words(0, Region.CROSSBAR)[100:400]
        with pytest.raises(BoardError, match="ROUTES index 127..128: the region has 128 words"):
            board.read_mem(0, 3, 127, 2)
        with pytest.raises(BoardError, match="core 2: the device has cores 0..1"):
            board.write_mem(2, "PARAMS", 0, [0])
        with pytest.raises(BoardError, match="no memory region 'WEIGHTS'"):
            board.read_mem(0, "WEIGHTS", 0, 1)


def test_error_in_a_pipeline_names_the_frame_and_keeps_the_link_in_step():
    g = SIM_GEOMETRY
    with Board(GoldenTransport(g)) as board:
        wb = P.word_bytes(g, Region.CROSSBAR)
        per = P.MAX_PAYLOAD // wb
        words = [1] * (4 * per)
        words[2 * per + 7] = 1 << 5  # beyond count (3 bits) and sign: padding
        with pytest.raises(
            BoardError,
            match=rf"WRITE_MEM core 0 CROSSBAR index {2 * per}..{3 * per - 1}: BAD_ADDRESS "
            r"\(register, core, region, index, event, word padding or value out of range\)",
        ):
            board.write_mem(0, Region.CROSSBAR, 0, words)
        # The frames before it were written, the bad one not at all (frames
        # sent after it, while its answer was on the way, may have been).
        back = board.read_mem(0, Region.CROSSBAR, 0, 4 * per)
        assert back[: 3 * per] == [1] * (2 * per) + [0] * per
        assert board.registers()["BAD_ADDRESS"] == 1


def test_load_and_run_equals_the_chip_model():
    net = random_network(TWO_CORES, 3)
    inputs = random_host_inputs(TWO_CORES, 3, 60)
    with Board(GoldenTransport(TWO_CORES)) as board:
        board.load(net)
        progress = []
        events = board.run_ticks(60, inputs, progress=lambda d, t: progress.append(d))
        assert progress[-1] == 60
        expected = golden_events(net, inputs, 60)
        assert expected and events == expected
        assert board.read_regs("TICK") == [60]
        # A second run continues the tick count; its inputs count from its start.
        more = board.run_ticks(5, {0: [(1, 3)]})
        assert all(60 <= t < 65 for t, _, _ in more)
        assert board.registers()["EVENTS_DROPPED"] == 0


def test_tick_stamps_unwrap_past_tick_bits():
    g = dataclasses.replace(SIM_GEOMETRY, tick_bits=8, neurons=16, axons=16)
    # Neuron 0 fires every tick (axon 0 drives it), neuron 1 on odd ticks.
    net = Network.empty(g)
    net.params["threshold"][0, :2] = 1
    net.params["output"][0, :2] = 1
    net.count[0, g.neurons + 0, 0] = 1
    net.count[0, g.neurons + 1, 1] = 1
    ticks = 700  # more than two wraps of the 8-bit stamp
    inputs = [[(0, 0)] + ([(0, 1)] if t % 2 else []) for t in range(ticks)]
    with Board(GoldenTransport(g)) as board:
        board.load(net)
        events = board.run_ticks(ticks, inputs)
        assert events == golden_events(net, inputs, ticks)
        assert events[-1] == (ticks - 1, 0, 1)
        # read_events unwraps against TICK as well.
        board.inject([(0, 0)])
        board.step(200)  # within 2**tick_bits ticks of the event
        assert board.read_events() == [(ticks, 0, 0)]


def test_requests_are_pipelined_within_the_receive_fifo():
    net = random_network(SIM_GEOMETRY, 2)
    t = LaggyTransport(SIM_GEOMETRY)
    with Board(t) as board:
        board.load(net)
        inputs = random_host_inputs(SIM_GEOMETRY, 2, 40)
        assert board.run_ticks(40, inputs) == golden_events(net, inputs, 40)
    assert board.max_in_flight > 1
    assert t.max_outstanding > 1
    assert t.max_outstanding_bytes <= SIM_LINK.rx_fifo


def test_raw_malformed_frames_get_their_error_status(board):
    good = P.request(P.Command.READ_REG, 7, {"addr": 0, "count": 1})
    crc = P.crc16(good).to_bytes(2, "big")
    bad_crc = bytes([P.FLAG]) + P.stuff(good + bytes([crc[0] ^ 1, crc[1]])) + bytes([P.FLAG])
    r = board.send_raw(bad_crc)
    assert (r.cmd, r.tag, r.status, r.data) == (P.Command.READ_REG | 0x80, 7, P.Status.BAD_CRC, b"")
    assert board.send_raw(P.frame(bytes([0x55, 9]))).status == P.Status.BAD_COMMAND
    assert board.send_raw(P.frame(good[:-1])).status == P.Status.BAD_LENGTH
    assert board.send_raw(bytes([P.FLAG, 1, P.FLAG])).status == P.Status.BAD_FRAME
    r = board.send_raw(P.frame(good))
    assert r.status == P.Status.OK and int.from_bytes(r.data, "little") == P.PROTOCOL_ID
    regs = board.registers()
    assert [regs[k] for k in ("BAD_CRC", "BAD_COMMAND", "BAD_LENGTH", "BAD_FRAME")] == [1] * 4


def test_no_answer_times_out_with_a_clear_message():
    board = Board(Swallow(), timeout=0.2)
    start = time.monotonic()
    with pytest.raises(
        BoardError,
        match=r"no answer from the void to IDENTIFY within 0\.2 s: is a spikeloom bitstream "
        r"loaded, and is the baud rate right\?",
    ):
        board.identify()
    assert 0.2 <= time.monotonic() - start < 2


def test_step_timeout_scales_with_ticks():
    t = DropTransport(P.Command.STEP, SIM_GEOMETRY)
    board = Board(t, timeout=0.1)
    board.identify()
    # Pretend each clock takes a while: 50 ticks should get about 0.4 s more.
    t.seconds_per_clock = 0.4 / (50 * board._tick_clocks())
    start = time.monotonic()
    with pytest.raises(BoardError, match=r"no answer .* to STEP 50 within 0\.5 s"):
        board.step(50)
    assert time.monotonic() - start >= 0.45
    # The link recovers for the next request.
    t.drop = None
    assert board.step(2) == 2


def test_garbled_answers_are_reported():
    class Noisy(GoldenTransport):
        def read(self, timeout):
            data = bytearray(super().read(timeout))
            if len(data) > 4:
                data[3] ^= 0x01  # a bit flipped on the line
            return bytes(data)

    with pytest.raises(BoardError, match=r"garbled answer to IDENTIFY .*bad CRC"):
        Board(Noisy()).identify()

    class NoisyRequests(GoldenTransport):
        flips = 1

        def write(self, data):
            data = bytearray(data)
            if self.flips and len(data) > 3:
                data[2] ^= 0x01  # the tag, on the way to the device
                self.flips -= 1
            super().write(bytes(data))

    board = Board(NoisyRequests())
    with pytest.raises(BoardError, match=r"IDENTIFY: the golden model received it damaged"):
        board.identify()
    assert board.identify().id == P.PROTOCOL_ID  # the link is back in step


def test_wrong_protocol_refused():
    t = GoldenTransport()
    t.model.identity = dataclasses.replace(t.model.identity, id=0x12345678)
    with pytest.raises(
        BoardError,
        match=rf"speaks protocol 0x12345678, this host 0x{P.PROTOCOL_ID:08X}: rebuild the "
        "bitstream or update spikeloom",
    ):
        Board(t).identify()


def test_geometry_mismatch_refused_naming_the_fields(board):
    other = dataclasses.replace(SIM_GEOMETRY, neurons=32, tick_bits=12)
    with pytest.raises(
        BoardError,
        match="network geometry neurons=32, tick_bits=12 does not match the device's "
        "neurons=64, tick_bits=16",
    ):
        board.load(Network.empty(other))


def test_inject_step_run_stop(board):
    with pytest.raises(BoardError, match=r"input event \(core 0, axon 64\) out of range"):
        board.inject([(0, 1), (0, 64)])
    assert board.registers()["FRAMES_OK"] == 1  # IDENTIFY only: nothing half sent
    board.inject([(0, 1)] * 100)  # two frames
    assert board.step(3) == 3
    assert board.registers()["HOST_EVENTS"] == 100
    board.run(10)
    with pytest.raises(BoardError, match="STEP 1: BAD_STATE .*running free: stop it first"):
        board.step()
    board.stop()
    assert board.read_regs("RUNNING") == [0]
    board.reset()
    assert board.read_regs("TICK") == [0]


def test_serial_transport_over_a_socket():
    g = SIM_GEOMETRY
    model = GoldenTransport(g).model
    server = GoldenServer(model, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        net = random_network(g, 4)
        inputs = random_host_inputs(g, 4, 20)
        with Board(SerialTransport(server.url)) as board:
            assert board.identify().geometry == g
            board.load(net)
            events = board.run_ticks(20, inputs)
        assert events == golden_events(net, inputs, 20)
        # The device outlives its client.
        with Board(SerialTransport(server.url)) as board:
            assert board.read_regs("TICK") == [20]
    finally:
        server.close()
        thread.join(5)


def test_open_failures_are_readable():
    with pytest.raises(BoardError, match="cannot open /dev/does-not-exist: No such file"):
        open_transport("/dev/does-not-exist")
    with pytest.raises(BoardError, match="cannot open socket://127.0.0.1:1: .*refused"):
        open_transport("socket://127.0.0.1:1")


def test_other_geometries_for_the_golden_device():
    g = Geometry(levels=(2, 2), neurons=8, axons=8, lanes=2, tick_bits=8)
    with Board(open_transport("golden", g)) as board:
        assert board.geometry == g
        assert board.read_regs("LEVELS") == [2 | 2 << 8]


def test_bridge_server_relays_to_one_connection_and_outlives_clients():
    from spikeloom.host.transport import BridgeServer

    # Stand-in for the simulation bridge: the golden model behind a socket.
    upstream = GoldenServer(GoldenTransport().model, "127.0.0.1", 0)
    threads = [threading.Thread(target=upstream.serve_forever, daemon=True)]
    relay = BridgeServer(upstream, "127.0.0.1", 0)
    threads.append(threading.Thread(target=relay.serve_forever, daemon=True))
    for t in threads:
        t.start()
    try:
        with Board(SerialTransport(relay.url)) as board:
            board.step(5)
        with Board(SerialTransport(relay.url)) as board:
            assert board.step(1) == 6
    finally:
        relay.close()  # closes the upstream server too, as it would end a bridge
        for t in threads:
            t.join(5)
    assert upstream.closed


def test_a_full_event_fifo_every_tick_is_drained():
    # 2 cores x 128 neurons all firing: 256 events a tick (the whole event
    # FIFO), 5-byte events, 51 to a READ_EVENTS frame.
    g = dataclasses.replace(SIM_GEOMETRY, levels=(2,), neurons=128, axons=16, tick_bits=32)
    net = Network.empty(g)
    net.params["threshold"][:] = 1
    net.params["output"][:] = 1
    net.count[:, g.neurons :, :] = 1
    inputs = [[(0, 0), (1, 0)]] * 10
    with Board(GoldenTransport(g)) as board:
        board.load(net)
        events = board.run_ticks(10, inputs)
        assert len(events) == 10 * 256
        assert events == golden_events(net, inputs, 10)
        assert board.registers()["EVENTS_DROPPED"] == 0
