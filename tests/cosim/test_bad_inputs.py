"""Issue 9: every bad input is refused at load, before any brain is built, with a message
that names the file, the key and the bad value.

Each row edits the demo scene's text (or writes a bad MJCF next to it) and loads it with
``cosim.scene.load`` (no build: these run in well under a second each); a handful run the
command line to check the exit status, the one-line message and ``--debug``.
"""
from __future__ import annotations

import gzip
import subprocess
import sys
import time

import pytest

from cosim.scene import SceneError, load
from tests.conftest import SCENES, scene_text

FORELIMB = (SCENES / "forelimb.xml").read_text()
MUSCLE_FREE = """<mujoco><worldbody><body name="b"><joint name="j" type="hinge"/>
<geom type="sphere" size="0.01" mass="0.01"/></body></worldbody>
<actuator><motor joint="j"/></actuator></mujoco>"""
BAD_JOINT = """<mujoco><worldbody><body><geom type="sphere" size="0.01"/></body></worldbody>
<actuator><muscle joint="no_such_joint"/></actuator></mujoco>"""

CONN_TC = '[[brain.connections]]\npre = ["TC"]'
TC_E_L = 'E_L_mV = -65.0'

# (id, {old line: new line} edits of demo.toml, MJCF text written as body.xml or None,
#  key the error must name, the bad value it must show, further words it must contain)
CASES = [
    ("toml-syntax", {"[run]": "[run"}, None, "", "not valid TOML", ()),
    ("unknown-top-section", {"[run]": "[extra]\nx = 1\n\n[run]"}, None, "extra", "extra",
     ("unknown section",)),
    ("unknown-nested-key", {"[brain.delays]": "[brain.delays]\nbase = 1.0"}, None,
     "brain.delays.base", "base", ("did you mean 'base_ms'",)),
    ("unknown-cell-type-key", {TC_E_L: TC_E_L + "\nEL_mV = 1.0"}, None,
     "brain.cell_types.TC.EL_mV", "EL_mV", ("unknown key",)),
    ("wrong-type-float", {"density_scale = 0.3 ": 'density_scale = "0.3" '}, None,
     "brain.density_scale", "'0.3'", ("not a number",)),
    ("wrong-type-bool", {"lag = true ": "lag = 1 "}, None, "bridge.lag", "1",
     ("not true/false",)),
    ("wrong-type-list", {CONN_TC: '[[brain.connections]]\npre = "TC"'}, None,
     "brain.connections[20].pre", "'TC'", ("not a list",)),
    ("wrong-type-path", {'mjcf_path = "forelimb.xml"': "mjcf_path = 3"}, None,
     "body.mjcf_path", "3", ("not a path",)),
    ("missing-required-key", {'cell_type = "TC"\n': ""}, None, "brain.afferents.cell_type",
     "cell_type", ("required key missing",)),
    ("missing-receptor-tau", {"E_rev_mV = 0.0\ntau_ms = 1.0\n": "E_rev_mV = 0.0\n"}, None,
     "brain.receptors.AMPA.tau_ms", "tau_ms", ("required key missing",)),
    ("missing-body-section", {'[body]\nmjcf_path = "forelimb.xml"\nsettle_s = 0.5\n': ""},
     None, "body", "body", ("required section missing",)),
    ("missing-mjcf-file", {'mjcf_path = "forelimb.xml"': 'mjcf_path = "/no/such/arm.xml"'},
     None, "body.mjcf_path", "/no/such/arm.xml", ("not found",)),
    ("unknown-region", {'region = "VAL"': 'region = "VLA"'}, None,
     "brain.cell_types.TC.region", "'VLA'", ("did you mean 'VAL'",)),
    ("unknown-type-in-connection", {'post = ["TC"]': 'post = ["TCX"]'}, None,
     "brain.connections[19].post[0]", "'TCX'", ("unknown cell type",)),
    ("unknown-type-in-record", {"[run]": '[run]\nrecord = ["L5B_X"]'}, None,
     "run.record[0]", "'L5B_X'", ("unknown cell type",)),
    ("unknown-type-in-dc", {'cell_types = ["L23_E", "L23_FS", "L23_LTS"]':
                            'cell_types = ["L23_E", "L23_XS", "L23_LTS"]'}, None,
     "brain.dc[0].cell_types[1]", "'L23_XS'", ("unknown cell type",)),
    ("unknown-type-in-poisson", {'cell_types = ["L23_E", "L5A_E"': 'cell_types = ["L2_E", "L5A_E"'},
     None, "brain.poisson[0].cell_types[0]", "'L2_E'", ("unknown cell type",)),
    ("unknown-pool-type", {'pool_cell_type = "L5B_E"': 'pool_cell_type = "L5C_E"'}, None,
     "bridge.pool_cell_type", "'L5C_E'", ("unknown cell type",)),
    ("tau-zero", {"tau_ms = 3.0": "tau_ms = 0.0"}, None, "brain.receptors.GABA_A.tau_ms",
     "0.0", ("must be > 0",)),
    ("tau-negative", {"E_rev_mV = 0.0\ntau_ms = 1.0": "E_rev_mV = 0.0\ntau_ms = -1.0"}, None,
     "brain.receptors.AMPA.tau_ms", "-1.0", ("must be > 0",)),
    ("C_m-zero", {"C_m_pF = 250.0": "C_m_pF = 0.0"}, None, "brain.cell_types.L23_E.C_m_pF",
     "0.0", ("must be > 0",)),
    ("g_L-negative", {"g_L_nS = 12.5": "g_L_nS = -12.5"}, None,
     "brain.cell_types.L23_E.g_L_nS", "-12.5", ("must be > 0",)),
    ("weight-negative", {"weight_nS = 0.6": "weight_nS = -0.6"}, None,
     "brain.connections[0].weight_nS", "-0.6", (">= 0",)),
    ("t_ref-negative", {"t_ref_ms = 1.0": "t_ref_ms = -1.0"}, None,
     "brain.cell_types.L23_FS.t_ref_ms", "-1.0", (">= 0",)),
    ("density-negative", {"density_per_mm3 = 100000.0": "density_per_mm3 = -5.0"}, None,
     "brain.cell_types.TC.density_per_mm3", "-5.0", (">= 0",)),
    ("reset-above-threshold", {"V_reset_mV = -60.0": "V_reset_mV = -40.0"}, None,
     "brain.cell_types.L23_E.V_reset_mV", "-40.0", ("< V_th_mV",)),
    ("delay-zero", {CONN_TC: '[[brain.connections]]\ndelay_ms = 0.0\npre = ["TC"]'}, None,
     "brain.connections[20].delay_ms", "0.0", ("must be > 0",)),
    ("delay-below-dt", {CONN_TC: '[[brain.connections]]\ndelay_ms = 0.05\npre = ["TC"]'},
     None, "brain.connections[20].delay_ms", "0.05", (">= run.dt_ms = 0.1",)),
    ("min-delay-negative", {"min_ms = 1.0": "min_ms = -1.0"}, None, "brain.delays.min_ms",
     "-1.0", ("must be > 0",)),
    ("velocity-zero", {"velocity_um_per_ms = 300.0": "velocity_um_per_ms = 0.0"}, None,
     "brain.delays.velocity_um_per_ms", "0.0", ("must be > 0",)),
    ("interval-not-multiple-of-dt", {"interval_ms = 1.0": "interval_ms = 0.25"}, None,
     "bridge.interval_ms", "0.25", ("multiple of run.dt_ms = 0.1",)),
    ("interval-not-multiple-of-mjcf-timestep", {}, FORELIMB.replace(
        'timestep="0.001"', 'timestep="0.005"'), "bridge.interval_ms", "1.0",
     ("body timestep 5.0 ms", "body.xml", "set bridge.interval_ms to a multiple of 5.0 ms, "
      "e.g. 5.0")),
    ("interval-not-multiple-of-default-timestep", {}, FORELIMB.replace(
        'timestep="0.001" ', ''), "bridge.interval_ms", "1.0",
     ("body timestep 2.0 ms", "e.g. 2.0")),
    ("interval-not-multiple-of-body-timestep_s", {"settle_s = 0.5": "settle_s = 0.5\n"
                                                  "timestep_s = 0.0003"}, None,
     "bridge.interval_ms", "1.0", ("body.timestep_s = 0.0003", "e.g. 0.9")),
    ("p_max-negative", {"p_max = 0.10": "p_max = -0.1"}, None, "brain.connections[0].p_max",
     "-0.1", ("must be in [0, 1]",)),
    ("baseline-above-one", {"baseline = 0.0": "baseline = 1.5"}, None,
     "bridge.transfer.baseline", "1.5", ("must be in [0, 1]",)),
    ("rate-nan", {"rate_Hz = 2600.0": "rate_Hz = nan"}, None, "brain.poisson[0].rate_Hz",
     "nan", (">= 0",)),
    ("duration-nan", {"duration_ms = 1000.0": "duration_ms = nan"}, None,
     "run.duration_ms", "nan", ("finite",)),
    ("g_L-inf", {"g_L_nS = 12.5": "g_L_nS = inf"}, None, "brain.cell_types.L23_E.g_L_nS",
     "inf", ("finite",)),
    ("weight-inf", {"weight_nS = 3.0": "weight_nS = inf"}, None,
     "brain.connections[8].weight_nS", "inf", ("finite",)),
    ("E_L-minus-inf", {TC_E_L: "E_L_mV = -inf"}, None, "brain.cell_types.TC.E_L_mV", "-inf",
     ("finite",)),
    ("interval-inf", {"interval_ms = 1.0": "interval_ms = inf"}, None, "bridge.interval_ms",
     "inf", ("finite",)),
    ("density-scale-zero", {"density_scale = 0.3 ": "density_scale = 0.0 "}, None,
     "brain.density_scale", "0.0", ("0 < value <= 1",)),
    ("density-scale-negative", {"density_scale = 0.3 ": "density_scale = -0.5 "}, None,
     "brain.density_scale", "-0.5", ("0 < value <= 1",)),
    ("muscle-override-missing-muscle", {"[bridge.transfer]": "[bridge.muscles.bicepz]\n"
                                        "gain_per_Hz = 0.01\n\n[bridge.transfer]"}, None,
     "bridge.muscles.bicepz", "'bicepz'", ("did you mean 'biceps'", "forelimb.xml")),
    ("mjcf-not-xml", {}, "this is not XML {", "body.mjcf_path", "body.xml",
     ("MuJoCo could not compile",)),
    ("mjcf-compile-error", {}, BAD_JOINT, "body.mjcf_path", "no_such_joint",
     ("MuJoCo could not compile",)),
    ("mjcf-no-muscles", {}, MUSCLE_FREE, "body.mjcf_path", "body.xml",
     ("no muscle actuators",)),
    ("mjcf-empty-file", {}, "", "body.mjcf_path", "body.xml", ("empty file",)),
    ("mjcf-binary", {}, gzip.compress(b"\0" * 64), "body.mjcf_path", "body.xml",
     ("MuJoCo could not compile", "XML parse error")),
    ("mjcf-include-missing", {}, '<mujoco>\n<include file="arm_parts.xml"/>\n</mujoco>',
     "body.mjcf_path", "arm_parts.xml", ("Error opening file", "Element 'include', line 2")),
    ("mjcf-mesh-missing", {}, '<mujoco><asset><mesh name="m" file="hand.stl"/></asset>'
     '<worldbody><body><geom type="mesh" mesh="m"/></body></worldbody></mujoco>',
     "body.mjcf_path", "hand.stl", ("Error opening file",)),
    ("adaptation-without-receptor", {TC_E_L: TC_E_L + "\nadaptation_nS = 1.0"}, None,
     "brain.cell_types.TC.adaptation_nS", "1.0", ("adaptation_receptor",)),
    ("adaptation-unknown-receptor",
     {TC_E_L: TC_E_L + '\nadaptation_nS = 1.0\nadaptation_receptor = "K_AHB"'}, None,
     "brain.cell_types.TC.adaptation_receptor", "'K_AHB'", ("unknown receptor",)),
    ("adaptation-on-a-synaptic-receptor",
     {TC_E_L: TC_E_L + '\nadaptation_nS = 1.0\nadaptation_receptor = "AMPA"'}, None,
     "brain.cell_types.TC.adaptation_receptor", "'AMPA'", ("own receptor",)),
    ("missing-end-effector", {"settle_s = 0.5": 'settle_s = 0.5\nend_effector = "hand"'},
     None, "body.end_effector", "'hand'", ("no site or body", "forelimb.xml")),
]


def _write(tmp_path, edits, mjcf):
    text = scene_text(**edits)
    if mjcf is not None:
        mjcf_file = tmp_path / "body.xml"
        mjcf_file.write_bytes(mjcf) if isinstance(mjcf, bytes) else mjcf_file.write_text(mjcf)
        text = text.replace('mjcf_path = "forelimb.xml"', 'mjcf_path = "body.xml"')
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("edits,mjcf,key,value,words", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_scene_is_refused_at_load(tmp_path, edits, mjcf, key, value, words):
    path = _write(tmp_path, edits, mjcf)
    t0 = time.perf_counter()
    with pytest.raises(SceneError) as info:
        load(path)
    assert time.perf_counter() - t0 < 5          # at load: nothing was built
    msg = str(info.value)
    assert info.value.key == key, msg
    assert msg.startswith(f"{path}: ") and "\n" not in msg
    for w in (key, value, *words):
        assert w in msg, (w, msg)


def test_unreadable_mjcf_is_named(tmp_path, monkeypatch):
    # as root every file is readable, so the permission is faked where the body checks it
    import body.model
    path = _write(tmp_path, {}, FORELIMB)
    real_access = body.model.os.access
    monkeypatch.setattr(body.model.os, "access",
                        lambda p, mode: not str(p).endswith("body.xml") and real_access(p, mode))
    with pytest.raises(SceneError) as info:
        load(path)
    assert info.value.key == "body.mjcf_path"
    assert f"{tmp_path / 'body.xml'}: MJCF file cannot be read" in str(info.value)


def test_case_ids_are_distinct():
    assert len({c[0] for c in CASES}) == len(CASES) >= 40


# --------------------------------------------------------------------- command line

def cosim(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cosim", *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def _one_line(res, *words):
    assert res.returncode == 2, res
    err = res.stderr.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)


CLI = [
    ("seed-not-int", ["run", "demo", "--seed", "abc"], ["--seed", "'abc'"]),
    ("seed-negative", ["run", "demo", "--seed", "-3"], ["--seed", "'-3'", ">= 0"]),
    ("duration-negative", ["run", "demo", "--duration", "-5"], ["--duration", "'-5'", "> 0"]),
    ("duration-nan", ["launch", "demo", "--duration", "nan", "--dry-run"],
     ["--duration", "'nan'", "finite"]),
    ("brain-ranks-zero", ["launch", "demo", "--brain-ranks", "0", "--dry-run"],
     ["--brain-ranks", "'0'"]),
    ("scale-negative", ["experiment", "gamma", "--scale", "-1"], ["--scale", "'-1'", "> 0"]),
    ("output-folder-missing", ["run", "demo", "-o", "no/such/dir/out.h5"],
     ["no/such/dir", "does not exist"]),
]


@pytest.mark.parametrize("args,words", [c[1:] for c in CLI], ids=[c[0] for c in CLI])
def test_bad_command_line_is_one_line(tmp_path, args, words):
    _one_line(cosim(*args, cwd=tmp_path), *words)


def test_existing_output_needs_overwrite(tmp_path):
    out = tmp_path / "out.h5"
    out.write_text("precious")
    _one_line(cosim("run", "demo", "-o", out), str(out), "exists", "--overwrite")
    _one_line(cosim("launch", "demo", "-o", out, "--dry-run"), str(out), "--overwrite")
    assert out.read_text() == "precious"
    res = cosim("launch", "demo", "-o", out, "--dry-run", "--overwrite")
    assert res.returncode == 0, res.stderr


def test_bad_scene_on_the_command_line_and_debug(tmp_path):
    path = _write(tmp_path, {}, FORELIMB.replace('timestep="0.001"', 'timestep="0.005"'))
    _one_line(cosim("run", path, "-o", tmp_path / "x.h5"), "bridge.interval_ms", "5.0 ms")
    res = cosim("--debug", "run", path, "-o", tmp_path / "x.h5")
    assert res.returncode != 0 and "Traceback" in res.stderr and "SceneError" in res.stderr
    assert not (tmp_path / "x.h5").exists()
