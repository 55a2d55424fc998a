"""Which OpenGL backends MuJoCo can render with here, each tried in a fresh process.

MuJoCo (and PyOpenGL under it) choose the backend from ``MUJOCO_GL`` once, at import, so a
process cannot try a second backend after the first: every probe is a subprocess with
``MUJOCO_GL`` (and, for osmesa, ``PYOPENGL_PLATFORM``) set.
"""
from __future__ import annotations

import os
import subprocess
import sys

__all__ = ["HEADLESS_BACKENDS", "backend_env", "probe_backend", "gl_backends", "usable_backend"]

HEADLESS_BACKENDS = ("egl", "osmesa")

_PROBE = """
import mujoco
m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><light pos="0 0 1"/>'
                                   '<geom size="0.1"/></worldbody></mujoco>')
d = mujoco.MjData(m)
mujoco.mj_forward(m, d)
r = mujoco.Renderer(m, 32, 32)
r.update_scene(d)
frame = r.render()
r.close()   # before shutdown: osmesa's context freed by __del__ then prints ctypes errors
print("OK", frame.shape)
"""


def backend_env(backend: str) -> dict:
    """This process's environment with ``MUJOCO_GL`` (and PyOpenGL's platform) set."""
    env = {**os.environ, "MUJOCO_GL": backend}
    if backend in HEADLESS_BACKENDS:
        env["PYOPENGL_PLATFORM"] = backend
    return env


def probe_backend(backend: str, timeout_s: float = 60.0) -> tuple[bool, str]:
    """Render one 32x32 frame with ``MUJOCO_GL=backend`` in a subprocess.

    Returns
    -------
    (bool, str)
        Whether it worked, and "ok" or the last line of the error.
    """
    try:
        res = subprocess.run([sys.executable, "-c", _PROBE], env=backend_env(backend),
                             capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False, f"no frame within {timeout_s:g} s"
    if res.returncode == 0 and res.stdout.startswith("OK"):
        return True, "ok"
    lines = [ln.strip() for ln in res.stderr.splitlines() if ln.strip()]
    return False, lines[-1] if lines else f"exit status {res.returncode}"


def gl_backends() -> dict[str, str]:
    """Backend -> "ok" or why it fails, for egl and osmesa (and ``$MUJOCO_GL`` if another)."""
    names = list(HEADLESS_BACKENDS)
    env_gl = os.environ.get("MUJOCO_GL")
    if env_gl and env_gl not in names:
        names.insert(0, env_gl)
    out = {}
    for name in names:
        ok, why = probe_backend(name)
        out[name] = "ok" if ok else f"unavailable ({why})"
    return out


def usable_backend() -> tuple[str | None, dict[str, str]]:
    """The first backend that renders: ``$MUJOCO_GL`` if set, then egl, then osmesa.

    Returns
    -------
    (str or None, dict)
        The backend (None if none works) and the failures seen on the way (backend -> why).
    """
    names = list(HEADLESS_BACKENDS)
    env_gl = os.environ.get("MUJOCO_GL")
    if env_gl:
        names = [env_gl] + [n for n in names if n != env_gl]
    failures = {}
    for name in names:
        ok, why = probe_backend(name)
        if ok:
            return name, failures
        failures[name] = why
    return None, failures
