"""Messages, motor pools, transfer functions and the in-process transport."""
import numpy as np
import pytest

from bridge import (Afferents, BridgeParams, ExcitationTransfer, Hello, MotorCounts,
                    MuscleTransfer, ProtocolError, afferent_channels, afferent_drive_Hz,
                    in_process_pair, motor_pools)


def test_messages_round_trip():
    c = MotorCounts(interval=7, counts=np.array([0, 3, 12], dtype=np.int64))
    back = MotorCounts.unpack(c.pack())
    assert back.interval == 7 and np.array_equal(back.counts, c.counts)
    rates = np.arange(12, dtype=float).reshape(4, 3) * 1.5
    a = Afferents.unpack(Afferents(interval=3, rates_Hz=rates).pack())
    assert a.interval == 3 and np.array_equal(a.rates_Hz, rates)
    h = Hello.unpack(Hello(muscle_names=("a", "b"), interval_ms=1.0).pack())
    assert h.muscle_names == ("a", "b") and h.interval_ms == 1.0


@pytest.mark.parametrize("mutate,match", [
    (lambda b: b.__setitem__(0, 1.0), "bad magic"),
    (lambda b: b.__setitem__(1, 99.0), "protocol version 99"),
    (lambda b: b.__setitem__(2, 3.0), "expected 2"),
    (lambda b: b.__setitem__(4, 5.0), "header says 5"),
])
def test_bad_messages_raise_protocol_error(mutate, match):
    buf = MotorCounts(interval=1, counts=np.array([1, 2, 3])).pack()
    mutate(buf)
    with pytest.raises(ProtocolError, match=match):
        MotorCounts.unpack(buf)


def test_pools_split_by_position_and_count():
    rng = np.random.default_rng(0)
    gids = np.arange(100, 200, dtype=np.int64)
    pos = rng.uniform(0, 300, (100, 3))
    pools = motor_pools(gids, pos, 4)
    assert list(pools.size) == [25, 25, 25, 25]
    means = [pos[pools.pool == p, 0].mean() for p in range(4)]
    assert means == sorted(means)
    spikes = np.array([100, 100, 150, 5, 199, 250], dtype=np.int64)   # 5, 250: not pooled
    counts = pools.count(spikes)
    assert counts.sum() == 4
    assert counts[pools.pool[0]] >= 2
    with pytest.raises(ValueError, match="at least one cell per muscle"):
        motor_pools(gids[:3], pos[:3], 4)


def test_transfer_gain_baseline_saturation_and_overrides():
    params = BridgeParams(rate_tau_ms=0.0, transfer=MuscleTransfer(gain_per_Hz=0.01, baseline=0.1),
                          muscles={"b": MuscleTransfer(gain_per_Hz=0.1, saturation=0.5)})
    tr = ExcitationTransfer(params, ("a", "b"), np.array([10, 10]))
    assert np.allclose(tr.rest(), [0.1, 0.0])
    e = tr(np.array([1, 1]))            # 1 spike / 10 cells / 1 ms = 100 Hz
    assert np.allclose(e, [1.0, 0.5])   # 0.1 + 0.01 * 100 Hz saturates at 1
    with pytest.raises(ValueError, match="muscles.zz: no such muscle"):
        BridgeParams(muscles={"zz": MuscleTransfer()}).transfer_arrays(("a",))
    with pytest.raises(ValueError, match="counts: expected shape"):
        tr(np.array([1, 2, 3]))


def test_transfer_low_pass():
    params = BridgeParams(rate_tau_ms=10.0, transfer=MuscleTransfer(gain_per_Hz=0.001))
    tr = ExcitationTransfer(params, ("a",), np.array([1]))
    first = tr(np.array([1]))[0]   # one spike in 1 ms from 1 cell: 1000 Hz raw
    assert first == pytest.approx(0.001 * 1000 * (1 - np.exp(-0.1)))
    assert tr(np.array([0]))[0] == pytest.approx(first * np.exp(-0.1))


def test_afferent_channels_and_drive():
    ch = afferent_channels(7, 2)
    assert list(ch) == [0, 1, 2, 3, 4, 5, 0]
    rates = np.array([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]])
    assert list(afferent_drive_Hz(rates, ch, 2.0)) == [20, 40, 60, 80, 100, 120, 20]


def test_in_process_transport_checks_interval_order():
    brain, body = in_process_pair()
    with pytest.raises(ProtocolError, match="has not sent"):
        brain.recv_hello()
    body.send_hello(Hello(muscle_names=("m",), interval_ms=1.0))
    assert brain.recv_hello().muscle_names == ("m",)
    body.send_afferents(Afferents(interval=1, rates_Hz=np.zeros((1, 3))))
    with pytest.raises(ProtocolError, match="got interval 1, expected 0"):
        brain.recv_afferents(0)
