"""The run file's spikes follow SONATA: libsonata opens them and reads what h5py reads.

SONATA (spike file): root attributes ``magic`` (uint32 0x0A7A) and ``version`` (uint32
[0, 1]); ``/spikes/<population>`` with ``timestamps`` (float64, attr units) and
``node_ids`` (uint64), and attribute ``sorting``, an enum over uint8 (none, by_id, by_time).
"""
import h5py
import libsonata
import numpy as np
import pytest

from cosim.runner import run_embedded
from cosim.scene import load
from tests.conftest import SMALL, write_scene


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    """A ~1000-cell, 200 ms embedded run of the demo scene."""
    tmp = tmp_path_factory.mktemp("sonata")
    out = tmp / "run.h5"
    run_embedded(load(write_scene(tmp, "small.toml", **SMALL)), out, progress=False)
    with h5py.File(out, "r") as f:
        ids = f["spikes/brain/node_ids"][()]
        t = f["spikes/brain/timestamps"][()]
    assert len(ids) > 100
    return out, ids, t


def _pairs(spikes):
    return {(int(i), float(t)) for i, t in spikes}


def test_root_and_population_attributes(run_file):
    path, _, _ = run_file
    with h5py.File(path, "r") as f:
        assert f.attrs["magic"] == 0x0A7A and f.attrs["magic"].dtype == np.uint32
        assert list(f.attrs["version"]) == [0, 1] and f.attrs["version"].dtype == np.uint32
        assert isinstance(f.attrs["cosim_version"], str) and f.attrs["cosim_version"]
        pop = f["spikes/brain"]
        dtype = pop.attrs.get_id("sorting").dtype
        assert h5py.check_enum_dtype(dtype) == {"none": 0, "by_id": 1, "by_time": 2}
        assert dtype.base == np.uint8 and pop.attrs["sorting"] == 2
        assert pop["timestamps"].dtype == np.float64 and pop["timestamps"].attrs["units"] == "ms"
        assert pop["node_ids"].dtype == np.uint64


def test_libsonata_reads_the_spikes_h5py_reads(run_file):
    path, ids, t = run_file
    reader = libsonata.SpikeReader(str(path))
    assert reader.get_population_names() == ["brain"]
    pop = reader["brain"]
    assert pop.sorting == "by_time" and pop.time_units == "ms"
    everything = pop.get()
    assert len(everything) == len(ids)
    assert _pairs(everything) == set(zip(ids.tolist(), t.tolist()))

    # A window whose ends are spike times (both ends are inclusive) and some cells that
    # fire in it, plus one that never fires.
    times = np.unique(t)
    tstart, tstop = float(times[len(times) // 4]), float(times[len(times) // 2])
    inside = (t >= tstart) & (t <= tstop)
    chosen = sorted(set(ids[inside].tolist()))[::3]
    silent = next(i for i in range(len(ids) + 1) if i not in set(ids.tolist()))
    assert chosen
    got = pop.get(node_ids=[*chosen, silent], tstart=tstart, tstop=tstop)
    want = inside & np.isin(ids, chosen)
    assert 0 < len(got) < len(ids)
    assert len(got) == np.count_nonzero(want)
    assert _pairs(got) == set(zip(ids[want].tolist(), t[want].tolist()))


def test_bmtk_reads_the_spikes_h5py_reads(run_file):
    """bmtk's SONATA spike reader (the Allen Institute's BMTK) gets the same spikes."""
    from bmtk.utils.reports.spike_trains import SpikeTrains
    path, ids, t = run_file
    ids = ids.astype(np.int64)
    st = SpikeTrains.load(str(path), file_type="sonata")
    assert st.populations == ["brain"] and st.n_spikes("brain") == len(t) > 0
    df = st.to_dataframe(population="brain", sort_order="by_time")
    assert np.array_equal(df["timestamps"].to_numpy(), t)
    assert np.array_equal(df["node_ids"].to_numpy().astype(np.int64), ids)
    busiest = int(np.bincount(ids).argmax())
    assert np.array_equal(np.sort(st.get_times(busiest, population="brain")),
                          np.sort(t[ids == busiest]))
