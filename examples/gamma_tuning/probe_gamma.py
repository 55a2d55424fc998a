import os, sys, json, time, numpy as np, h5py
from scipy import signal
from cosim.scene import load
from cosim.build import build_brain_model
from cosim.runner import run_embedded
from brain.inputs import stimulated_cells
from brain.params import ATLAS_LAYERS

def analyse(h5, model, t0=300, t1=800):
    with h5py.File(h5) as f:
        t = f['spikes/brain/timestamps'][()]; ids = f['spikes/brain/node_ids'][()].astype(np.int64)
    c = model.cells; names = [x.name for x in model.params.cell_types]
    stim = np.zeros(c.n, bool)
    for d in model.params.dc:
        if d.voxels or d.columns: stim[stimulated_cells(model, d)] = True
    tn = np.array(names)[c.type_id]
    reg = np.array(c.region_names)[c.region]
    isE = np.char.endswith(tn.astype(str), '_E')
    m1e = (reg == 'MOp') & isE & ~stim
    out = {}
    def rate(mask, a, b):
        sel = mask[ids] & (t >= a) & (t < b)
        return sel.sum() / max(mask.sum(), 1) / ((b - a) / 1000)
    out['stim_rate'] = rate(stim & isE, t0, t1)
    out['stim_FS_rate'] = rate(stim & np.char.endswith(tn.astype(str),'_FS'), t0, t1)
    out['m1e_rate_stim'] = rate(m1e, t0, t1); out['m1e_rate_pre'] = rate(m1e, 50, 200)
    sel = m1e[ids] & (t >= t0) & (t < t1)
    h, _ = np.histogram(t[sel], bins=np.arange(t0, t1 + 1, 1.0))
    r = h / m1e.sum() * 1000
    f_, p = signal.welch(r, fs=1000, nperseg=256)
    band = lambda lo, hi: p[(f_ >= lo) & (f_ <= hi)].mean()
    s = (f_ >= 10) & (f_ <= 150)
    out['peak_Hz'] = float(f_[s][np.argmax(p[s])]); out['g_ratio'] = band(30, 50) / band(60, 100)
    out['gpow'] = float('%.3g' % band(30, 50))
    d = np.linalg.norm(c.sheet_um - c.sheet_um[np.flatnonzero(stim)].mean(0), axis=1)
    near = m1e & (d < 200)
    out['near_n'] = int(near.sum()); out['near_rate_stim'] = rate(near, t0, t1); out['near_rate_pre'] = rate(near, 50, 200)
    sos = signal.butter(3, [30, 50], 'bandpass', fs=1000, output='sos')
    ph = np.angle(signal.hilbert(signal.sosfiltfilt(sos, r - r.mean())))
    tt = np.arange(t0, t1) + 0.5
    ph_out = {}
    for lay in ['L2/3', 'L5A', 'L5B', 'L6']:
        li = ATLAS_LAYERS.index(lay)
        for ty in ['E', 'FS', 'LTS']:
            mask = (reg == 'MOp') & (c.layer == li) & np.char.endswith(tn.astype(str), '_' + ty) & ~stim
            sel = mask[ids] & (t >= t0) & (t < t1 - 1)
            if sel.sum() < 5: continue
            idx = np.clip(np.searchsorted(tt, t[sel]) , 0, len(ph) - 1)
            z = np.exp(1j * ph[idx]).mean()
            ph_out[f'{lay}.{ty}'] = (round(float(np.degrees(np.angle(z))), 0), round(float(abs(z)), 2), round(rate(mask, t0, t1), 1))
    out['phase'] = ph_out
    for lay in ['L2/3', 'L5A', 'L5B', 'L6']:
        li = ATLAS_LAYERS.index(lay)
        mk = m1e & (c.layer == li)
        sl = mk[ids] & (t >= t0) & (t < t1)
        hh, _ = np.histogram(t[sl], bins=np.arange(t0, t1 + 1, 1.0))
        ff, pp = signal.welch(hh / max(mk.sum(),1) * 1000, fs=1000, nperseg=256)
        bb = lambda lo, hi: pp[(ff >= lo) & (ff <= hi)].mean()
        ss = (ff >= 10) & (ff <= 150)
        out['spec_' + lay] = (float(ff[ss][np.argmax(pp[ss])]), round(float(bb(30,50)/bb(60,100)),2), float('%.3g' % bb(30,50)))
    for rg in ['MOs', 'PG', 'SIM', 'VAL']:
        out[f'rate_{rg}'] = rate(reg == rg, t0, t1)
    return out

H5 = os.environ.get('H5', '/tmp/tune/run.h5')
if __name__ == '__main__':
    ov = [a for a in sys.argv[1:] if '=' in a]
    tag = [a for a in sys.argv[1:] if '=' not in a]
    scene = load(tag[0] if tag else 'm1_m2_th_pg_cb', overrides=ov)
    t = time.time()
    r = run_embedded(scene, H5, progress=False)
    model = build_brain_model(scene)
    o = analyse(H5, model)
    print(f"cells {r.n_cells} wall {time.time()-t:.0f}s")
    for k, v in o.items():
        if k != 'phase': print(k, float('%.4g' % v) if isinstance(v, float) else v)
    for k, v in o['phase'].items(): print('  ', k, v)
