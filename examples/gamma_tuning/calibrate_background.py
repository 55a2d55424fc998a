import os, sys, json, re, numpy as np, h5py
from cosim.scene import load
from cosim.runner import run_embedded
TARGET = {'L23_E': 1.0, 'L5A_E': 3.0, 'L5B_E': 4.0, 'L6_E': 2.0, 'L23_FS': 10, 'L5A_FS': 10,
          'L5B_FS': 10, 'L6_FS': 10, 'L23_LTS': 5, 'L5A_LTS': 5, 'L5B_LTS': 5, 'L6_LTS': 5, 'L1_I': 4}
path = sys.argv[1]
scene0 = load(path)
idx = {p.cell_types[0].split('.',1)[-1]: i for i, p in enumerate(scene0.brain.poisson)
       if len(p.cell_types) == 2 and p.cell_types[0].startswith('MOp.') and p.receptor == 'AMPA'}
rates = {k: scene0.brain.poisson[i].rate_Hz for k, i in idx.items()}
extra = sys.argv[2:]
for it in range(int(os.environ.get('ITERS', 6))):
    ov = [f'brain.poisson[{idx[k]}].rate_Hz={v:.1f}' for k, v in rates.items()] + \
         ['brain.dc[0].amplitude_pA=0.0', 'run.duration_ms=400.0'] + extra
    sc = load(path, overrides=ov)
    run_embedded(sc, '/tmp/tune/cal.h5', progress=False)
    with h5py.File('/tmp/tune/cal.h5') as f:
        t = f['spikes/brain/timestamps'][()]; ids = f['spikes/brain/node_ids'][()].astype(int)
        tn = f['cells/type_names'][()].astype(str) if 'type_names' in f['cells'] else None
        tid = f['cells/type_id'][()]
    names = [c.name for c in sc.brain.cell_types]
    cnt = np.bincount(tid[ids[t > 100]], minlength=len(names))
    n = np.bincount(tid, minlength=len(names))
    meas = {}
    for k in rates:
        ii = [names.index(f'MOp.{k}')]
        meas[k] = cnt[ii].sum() / max(n[ii].sum(), 1) / 0.3
    print(it, {k: round(v, 1) for k, v in meas.items()}, flush=True)
    for k in rates:
        rates[k] *= (TARGET[k] / max(meas[k], 0.05)) ** 0.12
print('RATES', json.dumps({k: round(v, 1) for k, v in rates.items()}))
