"""Engine: owns the state of one rank's cells and advances it.

Vocabulary after NEST: ``prepare()`` once, ``run(n_steps)`` as often as needed,
``close()``.  Between exchanges a rank runs ``period_steps`` steps with no
communication; the period never exceeds the minimum delay, so every spike reaches
its targets before it is due (temporal blocking).

Two-level intervals (``long_period_steps`` > 0, scene ``run.long_period_ms``): the
synapses are split into two tables by a rule of the model alone, not of the rank
count: the *long* table holds the inter-area synapses (source and target in different
(region, hemisphere) areas) whose delay is >= the long period, the short table all
others. Short synapses are delivered every period as before; the spikes of a long
period (absolute steps [k L, (k + 1) L)) are exchanged and delivered into the long
table once, at its end, sorted by (step, gid), after that period's short delivery and
before the adaptation. A spike of the long period's first step with the shortest long
delay d >= L arrives at step k L + 1 + d > (k + 1) L: never before its delivery. Every
rank count (and the embedded run) uses the same tables and this same order, so the
float32 sums of the ring are the same everywhere.
"""
from __future__ import annotations

import time

import numba
import numpy as np

from .connectivity import Synapses
from .inputs import dc_schedule, poisson_arrays
from .kernels.delivery import _deliver_rows, row_delays, row_splits
from .kernels.neurons import (CELL_ROWS, CHUNK, POISSON_TABLE_LEN, RECEPTOR_ROWS, _advance,
                              chunk_layout)
from .kernels.rng import STREAM_INIT, poisson_cdf_table, uniforms
from .kernels.spikes import _collect_spikes
from .model import Model

__all__ = ["Engine", "exchange_period", "split_synapses", "long_synapse_mask"]


def exchange_period(min_delay_steps: int, interval_steps: int) -> int:
    """Largest divisor of ``interval_steps`` that is <= ``min_delay_steps``.

    Exchanges then align with bridge intervals and never come later than the
    minimum delay allows.
    """
    if min_delay_steps < 1 or interval_steps < 1:
        raise ValueError(f"min_delay_steps={min_delay_steps} and interval_steps="
                         f"{interval_steps} must be >= 1")
    return max(d for d in range(1, min(min_delay_steps, interval_steps) + 1)
               if interval_steps % d == 0)


def long_synapse_mask(model: Model, local_gids: np.ndarray, syn: Synapses,
                      long_steps: int) -> np.ndarray:
    """bool[n_syn]: the synapses of the long table of two-level intervals (inter-area,
    delay >= ``long_steps``). Depends on the synapses alone, so every rank count
    splits the same network the same way."""
    source = np.repeat(np.arange(model.n_cells, dtype=np.int64), np.diff(syn.indptr))
    target_area = model.area_of(local_gids)[syn.target]
    source_area = model.area_of(np.arange(model.n_cells, dtype=np.int64))[source]
    return (source_area != target_area) & (syn.delay_steps >= long_steps)


def split_synapses(syn: Synapses, mask: np.ndarray):
    """(synapses where not mask, synapses where mask): two CSR tables over the same
    sources, each keeping the rows' order (sorted by target), so the summation order
    of a row's part is the order it had in the whole row."""
    row = np.repeat(np.arange(len(syn.indptr) - 1, dtype=np.int64), np.diff(syn.indptr))

    def part(keep):
        indptr = np.zeros_like(syn.indptr)
        np.cumsum(np.bincount(row[keep], minlength=len(indptr) - 1), out=indptr[1:])
        return Synapses(indptr=indptr, target=syn.target[keep],
                        weight_code=syn.weight_code[keep],
                        weight_table_nS=syn.weight_table_nS, delay_steps=syn.delay_steps[keep])
    return part(~mask), part(mask)


def cell_parameters(tab, type_of: np.ndarray):
    """Per-cell parameter arrays for the neuron kernel from the per-type tables.

    Returns (cell float64[len(CELL_ROWS), n], receptor float64[len(RECEPTOR_ROWS), n_r, n],
    ref_steps int64[n]); see ``brain.kernels.neurons``.
    """
    values = {"C_m_pF": tab.C_m_pF, "g_L_nS": tab.g_L_nS, "gL_EL_pA": tab.g_L_nS * tab.E_L_mV,
              "V_th_mV": tab.V_th_mV, "V_reset_mV": tab.V_reset_mV}
    cell = np.stack([values[k][type_of] for k in CELL_ROWS])
    receptor = np.stack([getattr(tab, k)[type_of].T for k in RECEPTOR_ROWS])
    return (np.ascontiguousarray(cell), np.ascontiguousarray(receptor),
            np.ascontiguousarray(tab.ref_steps[type_of], dtype=np.int64))


def _poisson_tables(lam: np.ndarray):
    """One Poisson CDF table per distinct mean count per step (lam[r, i]).

    Returns (table int64[n_r, n] with -1 where lam = 0, cdf [n_tables, L], tail
    [n_tables, 2] = (lam, pmf at L - 1)).
    """
    values, inverse = np.unique(lam, return_inverse=True)
    table = inverse.reshape(lam.shape).astype(np.int64)
    rows = [poisson_cdf_table(v, POISSON_TABLE_LEN) for v in values]
    cdf = np.array([r[0] for r in rows]).reshape(len(values), POISSON_TABLE_LEN)
    tail = np.array([[v, r[1]] for v, r in zip(values, rows)]).reshape(len(values), 2)
    if len(values) and values[0] == 0.0:    # no input: table -1, and shift the others
        table -= 1
        cdf, tail = cdf[1:], tail[1:]
    return table, np.ascontiguousarray(cdf), np.ascontiguousarray(tail)


class Engine:
    """Simulates the cells ``local_gids`` of ``model`` with their incoming ``synapses``.

    Parameters
    ----------
    model : built model (every rank has the same).
    local_gids : int64[n_local], sorted global ids owned here.
    synapses : incoming synapses of those cells (``brain.connectivity.connect``).
    exchange : ``LocalExchange``, ``MpiExchange`` or ``SparseMpiExchange`` (``prepare``
        hands it the local cells and the synapses' sources, to learn its routes).
    period_steps : steps between spike exchanges (<= model.min_delay_steps).
    long_period_steps : 0, or the long period of two-level intervals (steps, a multiple
        of period_steps, <= 256); see the module docstring.
    """

    def __init__(self, model: Model, local_gids: np.ndarray, synapses: Synapses, exchange,
                 period_steps: int, long_period_steps: int = 0):
        if period_steps > model.min_delay_steps:
            raise ValueError(f"period_steps = {period_steps} exceeds the minimum delay of "
                             f"{model.min_delay_steps} steps")
        if len(synapses.indptr) != model.n_cells + 1:
            raise ValueError("synapses.indptr must have n_cells + 1 entries")
        if long_period_steps and (long_period_steps % period_steps or long_period_steps > 256
                                  or long_period_steps < 0):
            raise ValueError(f"long_period_steps = {long_period_steps}: must be 0 or a "
                             f"multiple of the period ({period_steps} steps), <= 256")
        self.model = model
        self.gid = np.ascontiguousarray(local_gids, dtype=np.int64)
        self.exchange = exchange
        self.period_steps = period_steps
        self.long_period_steps = long_period_steps
        self.long_syn, self.long_exchange = None, None
        if long_period_steps:
            synapses, self.long_syn = split_synapses(synapses, long_synapse_mask(
                model, self.gid, synapses, long_period_steps))
            if self.long_syn.n and int(self.long_syn.delay_steps.min()) < long_period_steps:
                raise AssertionError("a long synapse is due before its long period ends")
            if not exchange.complete:       # sparse: the long table has its own routes
                self.long_exchange = exchange.spawn()
        self.syn = synapses
        self._pending = []          # long table: the long period's spikes so far
        self._long_periods = 0
        self.step = 0
        self._prepared = False
        #: wall seconds in the neuron update, the spike exchange and the delivery, the
        #: rest of ``run`` (Python between the kernels), and the number of synaptic events
        #: delivered (a profile a user can print)
        self.timing = {"update_s": 0.0, "exchange_s": 0.0, "deliver_s": 0.0,
                       "python_s": 0.0, "events": 0}

    @property
    def n_local(self) -> int:
        return len(self.gid)

    @property
    def time_ms(self) -> float:
        return self.step * self.model.dt_ms

    def prepare(self) -> None:
        """Allocate and initialise state. V starts uniform in [V_reset, V_th) per cell
        (keyed by gid) unless the cell type sets V_init_mV."""
        m, tab = self.model, self.model.tables
        n, n_r = self.n_local, len(m.params.receptors)
        self.type_of = m.cells.type_id[m.cells.rows(self.gid)].astype(np.int64)
        self.cell_params, self.receptor_params, self.ref_steps = \
            cell_parameters(tab, self.type_of)
        self.mg_mM = np.array([r.mg_mM for r in m.params.receptors], dtype=np.float64)
        u = np.empty(n)
        uniforms(m.seed, STREAM_INIT, self.gid, 0, u)
        v_init = np.array([np.nan if ct.V_init_mV is None else ct.V_init_mV
                           for ct in m.params.cell_types])[self.type_of]
        self.v_mV = np.where(np.isnan(v_init), tab.V_reset_mV[self.type_of] + u * (
            tab.V_th_mV[self.type_of] - tab.V_reset_mV[self.type_of]), v_init)
        self.refr = np.zeros(n, dtype=np.int64)
        self.x = np.zeros((n_r, n))
        self.g_nS = np.zeros((n_r, n))
        max_delay = max([int(t.delay_steps.max()) for t in self._tables() if t.n]
                        + [m.min_delay_steps])
        # A power-of-two ring turns the slot modulo into a mask on the hot paths.
        n_slots = 1 << int(np.ceil(np.log2(max_delay + self.period_steps + 2)))
        self.ring_nS = np.zeros((n_slots, n_r, n), dtype=np.float32)
        self.receptor_of_source = tab.receptor_of_type[m.all_type_ids()].astype(np.int64)
        # spike-triggered adaptation: (receptor, increment nS) per local cell
        self._adapt_receptor = tab.adaptation_receptor[self.type_of]
        self._adapt_nS = tab.adaptation_nS[self.type_of].astype(np.float32)
        self._adapts = bool(np.any(self._adapt_receptor >= 0))
        self.dc = dc_schedule(m, self.gid)
        rate_Hz, self.poisson_w_nS = poisson_arrays(m, self.gid)
        self.poisson_table, self.poisson_cdf, self.poisson_tail = \
            _poisson_tables(rate_Hz * m.dt_ms * 1e-3)
        # which chunks share their parameters and Poisson table (fixed from here on)
        self._layout, self._chunk_params = chunk_layout(
            self.cell_params, self.receptor_params, self.ref_steps, self.poisson_w_nS,
            self.poisson_table)
        aff = m.params.afferents
        self.aff_receptor = m.params.receptor_index(aff.receptor) if aff else -1
        self.aff_lam = np.zeros(n)
        self.aff_p0 = np.ones(n)
        self.aff_w_nS = np.full(n, aff.weight_nS if aff else 0.0)
        self.stim_pA = np.zeros(n)
        self._out_degree = np.diff(self.syn.indptr)
        # per source row: its one delay, if all its synapses share it (else -1)
        self._row_delay = [row_delays(t.indptr, t.delay_steps) for t in self._tables()]
        self._splits = {}       # (table, threads): where each thread's targets start per row
        if self.long_syn is not None:
            self._long_out_degree = np.diff(self.long_syn.indptr)
        self._current_key, self._current_pA = None, None
        n_chunks = (n + CHUNK - 1) // CHUNK
        self._spike_step = np.empty(n * self.period_steps, dtype=np.int64)
        self._spike_idx = np.empty(n * self.period_steps, dtype=np.int64)
        self._chunk_spikes = np.zeros(n_chunks, dtype=np.int64)
        self._chunk_bad = np.zeros(n_chunks, dtype=np.int64)
        self._out_step = np.empty(n * self.period_steps, dtype=np.int64)
        self._out_gid = np.empty(n * self.period_steps, dtype=np.int64)
        self.exchange.prepare(self.gid, self.syn.indptr)     # collective under MPI
        if self.long_exchange is not None:
            self.long_exchange.prepare(self.gid, self.long_syn.indptr)
        self._prepared = True

    def _tables(self) -> list:
        """The synapse tables: [short] or [short, long]."""
        return [self.syn] + ([self.long_syn] if self.long_syn is not None else [])

    @property
    def n_synapses(self) -> int:
        """Incoming synapses of the local cells, both tables."""
        return sum(t.n for t in self._tables())

    def exchange_stats(self) -> dict:
        """What the exchanges sent (``brain.exchange`` counters): the short exchange's,
        plus the long one's where it has its own; ``periods`` counts short periods and
        ``long_periods`` the long ones delivered."""
        out = dict(self.exchange.stats)
        if self.long_exchange is not None:
            for k, v in self.long_exchange.stats.items():
                if k != "periods":
                    out[k] += v
        out["long_periods"] = self._long_periods
        return out

    def set_afferent_rates(self, rate_Hz: np.ndarray, cells: np.ndarray | None = None) -> None:
        """Afferent Poisson rate (Hz) per local cell, held until the next call; with
        ``cells`` (int64 local indices) only of those cells, the others keep theirs
        (the bridge updates its few afferent cells every interval)."""
        rate_Hz = np.asarray(rate_Hz, dtype=np.float64)
        expected = (self.n_local,) if cells is None else np.shape(cells)
        if rate_Hz.shape != expected:
            raise ValueError(f"afferent rates: expected shape {expected}, "
                             f"got {rate_Hz.shape}")
        lam = rate_Hz * self.model.dt_ms * 1e-3
        where = slice(None) if cells is None else cells
        self.aff_lam[where] = lam
        self.aff_p0[where] = np.exp(-lam)

    def set_stimulus_current(self, current_pA: np.ndarray) -> None:
        """Extra current per local cell (pA) on top of the scene's DC stimuli, held until
        the next call (e.g. an RL agent's stimulation)."""
        current_pA = np.asarray(current_pA, dtype=np.float64)
        if current_pA.shape != (self.n_local,) or not np.all(np.isfinite(current_pA)):
            raise ValueError(f"stimulus current: expected {self.n_local} finite values, "
                             f"got shape {current_pA.shape}")
        self.stim_pA[:] = current_pA
        self._current_key = None

    def get_state(self) -> dict:
        """Everything that carries the local cells from this step to the next, as arrays.

        Keys: step; gid int64[n]; v_mV, refr, stim_pA [n]; x, g_nS [n_r, n]; ring_nS
        float32[n_slots, n_r, n] *unrolled*: row d holds the input (nS) due at step
        ``step + d``, so states of ranks with different ring sizes can be merged by gid.
        The random numbers need no state: they are keyed by (seed, stream, gid, step).
        With two-level intervals, pending_steps / pending_gids int64[k]: the local cells'
        spikes of the current long period, not yet delivered to the long table.
        """
        if not self._prepared:
            raise RuntimeError("Engine.get_state() before prepare()")
        slots = (self.step + np.arange(len(self.ring_nS))) & (len(self.ring_nS) - 1)
        steps, gids = self._pending_spikes()
        own = np.isin(gids, self.gid)
        return {"step": self.step, "gid": self.gid.copy(), "v_mV": self.v_mV.copy(),
                "refr": self.refr.copy(), "stim_pA": self.stim_pA.copy(),
                "x": self.x.copy(), "g_nS": self.g_nS.copy(), "ring_nS": self.ring_nS[slots],
                "pending_steps": steps[own], "pending_gids": gids[own]}

    def _pending_spikes(self):
        """(steps, gids) of the long period so far, sorted by (step, gid)."""
        if not self._pending:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return (np.concatenate([p[0] for p in self._pending]),
                np.concatenate([p[1] for p in self._pending]))

    def _set_pending(self, state: dict) -> None:
        """Pending long-table spikes from ``state`` (every cell's, as a checkpoint holds
        them): a sparse exchange keeps the local cells' (it sends them at the long
        period's end), a complete one all of them (it delivers from what it has)."""
        steps = np.asarray(state.get("pending_steps", np.zeros(0)), dtype=np.int64)
        gids = np.asarray(state.get("pending_gids", np.zeros(0)), dtype=np.int64)
        start = self.step - self.step % self.long_period_steps if self.long_period_steps \
            else self.step
        if len(steps) and (steps.min() < start or steps.max() >= self.step):
            raise ValueError(f"state: pending long-period spikes outside steps [{start}, "
                             f"{self.step}) (run.long_period_ms differs?)")
        if self.long_exchange is not None:
            keep = np.isin(gids, self.gid)
            steps, gids = steps[keep], gids[keep]
        order = np.lexsort((gids, steps))
        self._pending = [(steps[order], gids[order])] if len(steps) else []

    def set_state(self, state: dict) -> None:
        """Continue from ``state`` (``get_state``'s keys; arrays over the local cells, in
        ``self.gid`` order; ring_nS may have more rows than this rank's ring if the rows
        beyond it are zero)."""
        if not self._prepared:
            raise RuntimeError("Engine.set_state() before prepare()")
        if not np.array_equal(np.asarray(state["gid"]), self.gid):
            raise ValueError("state: its cells are not this engine's cells")
        ring = np.asarray(state["ring_nS"], dtype=np.float32)
        n_slots = len(self.ring_nS)
        if ring.shape[1:] != self.ring_nS.shape[1:]:
            raise ValueError(f"state: ring_nS has shape {ring.shape}, expected "
                             f"(rows, {', '.join(map(str, self.ring_nS.shape[1:]))})")
        if np.any(ring[n_slots:]):
            raise ValueError(f"state: input is due more than {n_slots} steps ahead, beyond "
                             "the longest delay of these synapses")
        self.step = int(state["step"])
        for name in ("v_mV", "refr", "stim_pA", "x", "g_nS"):
            current = getattr(self, name)
            value = np.asarray(state[name], dtype=current.dtype)
            if value.shape != current.shape:
                raise ValueError(f"state: {name} has shape {value.shape}, expected "
                                 f"{current.shape}")
            current[...] = value
        self.ring_nS[...] = 0.0
        rows = min(n_slots, len(ring))
        self.ring_nS[(self.step + np.arange(rows)) & (n_slots - 1)] = ring[:rows]
        self._set_pending(state)
        self._current_key = None

    def run(self, n_steps: int):
        """Advance ``n_steps`` (a multiple of period_steps).

        Returns the spikes of the local cells: (steps int64[k], gids int64[k]),
        sorted by (step, gid); a spike of step m is stamped (m + 1) * dt_ms.
        """
        if not self._prepared:
            raise RuntimeError("Engine.run() before prepare()")
        if n_steps % self.period_steps:
            raise ValueError(f"n_steps = {n_steps}: must be a multiple of the exchange "
                             f"period ({self.period_steps} steps)")
        t0 = time.perf_counter()
        tm = self.timing
        phases = tm["update_s"] + tm["exchange_s"] + tm["deliver_s"]
        out_steps, out_gids = [], []
        for _ in range(n_steps // self.period_steps):
            steps, gids = self._run_period()
            out_steps.append(steps)
            out_gids.append(gids)
        tm["python_s"] += time.perf_counter() - t0 - (
            tm["update_s"] + tm["exchange_s"] + tm["deliver_s"] - phases)
        if not out_steps:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(out_steps), np.concatenate(out_gids)

    def _current(self, step: int) -> np.ndarray:
        """DC + stimulus current (pA) per local cell at ``step``, rebuilt only when the
        DC schedule or the stimulus changes."""
        key = self.dc.change_steps.searchsorted(step, side="right")
        if key != self._current_key:
            self._current_pA = self.dc.at(step) + self.stim_pA
            self._current_key = key
        return self._current_pA

    def _first_nonfinite(self) -> str:
        """The first local cell with a non-finite potential: gid, type, region, layer."""
        i = int(np.flatnonzero(~np.isfinite(self.v_mV))[0])
        m, gid = self.model, int(self.gid[i])
        row = int(m.cells.rows(np.array([gid]))[0])
        voxel = m.cells.voxel[row]
        return (f"cell {gid} ({m.params.cell_types[m.cells.type_id[row]].name}, region "
                f"{m.atlas.region[voxel]}, layer {m.atlas.layer[voxel] or '-'}): "
                f"{self.v_mV[i]} mV")

    def _run_period(self):
        m = self.model
        t0 = time.perf_counter()
        start, stop = self.step, self.step + self.period_steps
        k = 0   # spikes so far in this period, already in (step, gid) order
        s = start
        while s < stop:     # split where a DC stimulus switches on or off
            e = min(stop, self.dc.next_change(s))
            _advance(s, e - s, m.dt_ms, m.seed, self.gid, self.cell_params,
                     self.receptor_params, self.mg_mM, self.ref_steps, self._current(s),
                     self.poisson_table, self.poisson_cdf, self.poisson_tail,
                     self.poisson_w_nS, self.aff_lam,
                     self.aff_p0, self.aff_w_nS, self.aff_receptor, self.ring_nS, self.v_mV,
                     self.refr, self.x, self.g_nS, self._spike_step, self._spike_idx,
                     self._chunk_spikes, self._chunk_bad, self._layout,
                     self._chunk_params)
            if self._chunk_bad.any():
                raise FloatingPointError(f"t = {s * m.dt_ms:g}-{e * m.dt_ms:g} ms: "
                                         f"{int((~np.isfinite(self.v_mV)).sum())} membrane "
                                         "potential(s) "
                                         f"became non-finite, first {self._first_nonfinite()}; "
                                         "check the parameters of that cell type")
            k += _collect_spikes(self._chunk_spikes, CHUNK * (e - s), self._spike_step,
                                 self._spike_idx, s, e - s, self.gid, self._out_step[k:],
                                 self._out_gid[k:])
            s = e
        steps, gids = self._out_step[:k].copy(), self._out_gid[:k].copy()
        t1 = time.perf_counter()
        all_steps, all_gids = self.exchange.exchange(steps, gids, start)
        t2 = time.perf_counter()
        self._deliver(self.syn, all_steps, all_gids)
        tm = self.timing
        tm["events"] += int(self._out_degree[all_gids].sum())
        if self.long_syn is not None:
            # sparse: this rank's own spikes, sent at the end; complete: all of them
            self._pending.append((all_steps, all_gids) if self.long_exchange is None
                                 else (steps, gids))
            if stop % self.long_period_steps == 0:
                t2 += self._deliver_long(stop - self.long_period_steps)
        if self._adapts and len(gids):
            self._add_adaptation(steps, gids)
        t3 = time.perf_counter()
        tm["update_s"] += t1 - t0
        tm["exchange_s"] += t2 - t1
        tm["deliver_s"] += t3 - t2
        self.step = stop
        return steps, gids

    def _deliver(self, syn: Synapses, steps: np.ndarray, gids: np.ndarray) -> None:
        """Spikes (sorted by (step, gid)) into the ring through synapse table ``syn``."""
        table = 0 if syn is self.syn else 1
        key = (table, numba.get_num_threads())
        split = self._splits.get(key)
        if split is None:
            split = self._splits[key] = row_splits(syn.indptr, syn.target, self.n_local,
                                                   key[1])
        _deliver_rows(steps, gids, syn.indptr, syn.target, syn.weight_code,
                      syn.weight_table_nS, syn.delay_steps, self._row_delay[table], split,
                      self.receptor_of_source, self.ring_nS)

    def _deliver_long(self, start: int) -> float:
        """Exchange (sparse) and deliver the spikes of the long period from ``start``
        into the long table. Returns the seconds spent exchanging."""
        steps, gids = self._pending_spikes()
        self._pending = []
        t0 = time.perf_counter()
        if self.long_exchange is not None:
            steps, gids = self.long_exchange.exchange(steps, gids, start)
        t1 = time.perf_counter()
        self._deliver(self.long_syn, steps, gids)
        self.timing["events"] += int(self._long_out_degree[gids].sum())
        self._long_periods += 1
        return t1 - t0

    def _add_adaptation(self, steps: np.ndarray, gids: np.ndarray) -> None:
        """Each local spike adds its cell's adaptation conductance (nS), due one minimum
        delay after the spike: that is never inside the period just run, so the ring
        carries it like a synaptic input (checkpoints and rank counts see no difference).
        A cell spikes at most once per step, so the (slot, cell) pairs are distinct and
        the fancy-index add is exact; it comes after the period's synaptic delivery on
        every rank count, which fixes the float32 summation order."""
        idx = np.searchsorted(self.gid, gids)
        rec = self._adapt_receptor[idx]
        keep = rec >= 0
        idx, rec = idx[keep], rec[keep]
        slot = (steps[keep] + self.model.min_delay_steps) & (len(self.ring_nS) - 1)
        self.ring_nS[slot, rec, idx] += self._adapt_nS[idx]

    def close(self) -> None:
        """Release the state arrays and what the exchange holds (collective under MPI)."""
        self.exchange.close()
        if self.long_exchange is not None:
            self.long_exchange.close()
        self._prepared = False
        for name in ("ring_nS", "x", "g_nS", "v_mV"):
            self.__dict__.pop(name, None)
