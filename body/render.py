"""Offscreen frames of a Body. Import this module only when frames are wanted.

MuJoCo picks its OpenGL backend from the ``MUJOCO_GL`` environment variable when it first
sets up rendering, so headless machines need ``MUJOCO_GL=egl`` (GPU or Mesa EGL) or
``MUJOCO_GL=osmesa`` (software) in the environment before the process imports mujoco. With a
backend whose library is missing, ``import mujoco`` itself may fail (PyOpenGL raises at import);
with one that loads but cannot make a context, `render_frame` raises RuntimeError.
"""

from __future__ import annotations

import atexit
import os
import weakref
from typing import TYPE_CHECKING

import mujoco
import numpy as np

if TYPE_CHECKING:
    from body.body import Body

__all__ = ["render_frame", "close_renderers"]

_GL_HINT = (
    "set MUJOCO_GL=egl (Debian/Ubuntu packages libegl1 and libegl-mesa0, or a GPU driver's EGL) "
    "or MUJOCO_GL=osmesa (package libosmesa6) in the environment before Python imports mujoco"
)

# One GL context per (body, frame size): creating one costs far more than rendering a frame.
_renderers: weakref.WeakKeyDictionary[Body, dict[tuple[int, int], mujoco.Renderer]] = (
    weakref.WeakKeyDictionary()
)


def render_frame(
    body: Body, width: int = 480, height: int = 360, camera: str | int | None = "side"
) -> np.ndarray:
    """Render the body's current state offscreen.

    Parameters
    ----------
    body : Body
    width, height : int
        Frame size in pixels; at most the model's ``<visual><global offwidth offheight>``.
    camera : str, int or None
        Camera name or id; None (or -1) for MuJoCo's default free camera.

    Returns
    -------
    numpy.ndarray of uint8, shape (height, width, 3)
        RGB frame.

    Raises
    ------
    ValueError
        Unknown camera, or a frame larger than the model's offscreen buffer.
    RuntimeError
        No OpenGL backend could be initialised (the message says how to get one).
    """
    model = body.model
    camera_id = _camera_id(model, camera)
    max_w, max_h = int(model.vis.global_.offwidth), int(model.vis.global_.offheight)
    if not (0 < width <= max_w and 0 < height <= max_h):
        raise ValueError(
            f"frame size {width}x{height}: must be positive and at most the model's offscreen "
            f"buffer {max_w}x{max_h} (raise <visual><global offwidth offheight> in the MJCF)"
        )
    renderer = _renderer(body, width, height)
    renderer.update_scene(body.data, camera=camera_id)
    return renderer.render().copy()


def close_renderers(body: Body) -> None:
    """Free the GL contexts held for ``body`` (they are also freed with the body)."""
    for renderer in _renderers.pop(body, {}).values():
        renderer.close()


@atexit.register
def _close_all() -> None:
    # GL contexts freed by __del__ during interpreter shutdown raise noisy ctypes errors (osmesa)
    for body in list(_renderers.keys()):
        close_renderers(body)


def _camera_id(model: mujoco.MjModel, camera: str | int | None) -> int:
    if camera is None:
        return -1
    if isinstance(camera, str):
        cam = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if cam < 0:
            names = [model.camera(i).name for i in range(model.ncam)]
            raise ValueError(f"camera {camera!r}: not in the model; cameras: {names}")
        return cam
    if not -1 <= int(camera) < model.ncam:
        raise ValueError(f"camera {camera!r}: id must be -1 (free) or in [0, {model.ncam})")
    return int(camera)


def _renderer(body: Body, width: int, height: int) -> mujoco.Renderer:
    per_size = _renderers.setdefault(body, {})
    renderer = per_size.get((width, height))
    if renderer is None:
        try:
            renderer = mujoco.Renderer(body.model, height=height, width=width)
        except Exception as err:  # each backend fails differently: FatalError, AttributeError, ...
            backend = os.environ.get("MUJOCO_GL", "<unset>")
            raise RuntimeError(
                f"cannot render: no usable OpenGL backend (MUJOCO_GL={backend}): "
                f"{type(err).__name__}: {err}; {_GL_HINT}"
            ) from err
        per_size[(width, height)] = renderer
    return renderer
