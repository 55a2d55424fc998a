"""Load any MJCF whose actuators are muscles, and find its muscles and joints once.

The body works with any MuJoCo model whose actuators are ``<muscle>`` (gain type
``mjGAIN_MUSCLE``); muscle names come from the model. Other actuators are left at ctrl 0 and
are not exposed.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import mujoco
import numpy as np

__all__ = ["load_model", "MjcfInfo", "mjcf_info", "muscle_indices", "muscle_names", "joint_indices", "joint_names"]


def load_model(path: str | os.PathLike[str]) -> mujoco.MjModel:
    """Compile an MJCF file that has at least one muscle actuator.

    Parameters
    ----------
    path : str or os.PathLike
        MJCF (XML) file.

    Returns
    -------
    mujoco.MjModel

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    PermissionError
        The file cannot be read.
    ValueError
        MuJoCo cannot parse or compile the file (MuJoCo's message is included), or the model
        has no muscle actuators.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"MJCF file not found: {path}")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"{path}: MJCF file cannot be read (permission denied; expected "
                              "a MuJoCo XML file this user may read)")
    try:
        model = mujoco.MjModel.from_xml_path(path)
    except Exception as err:  # MuJoCo reports XML and compile errors as ValueError today
        # one line: MuJoCo's message spans several ("XML Error: ...\nElement ..., line 3")
        msg = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
        raise ValueError(f"{path}: MuJoCo could not compile the model: {msg}") from err
    if muscle_indices(model).size == 0:
        raise ValueError(
            f"{path}: the model has no muscle actuators ({model.nu} actuators in total); "
            "the body's actuators must be MuJoCo <muscle> actuators "
            '(or <general gaintype="muscle" biastype="muscle" dyntype="muscle">)'
        )
    return model


@dataclass(frozen=True)
class MjcfInfo:
    """What a scene checks against before building: timestep (s) and the names it has."""

    path: str
    timestep_s: float
    muscles: tuple
    sites: tuple
    bodies: tuple


@functools.lru_cache(maxsize=16)
def _info(path: str, mtime_ns: int, size: int) -> MjcfInfo:
    m = load_model(path)
    return MjcfInfo(path=path, timestep_s=float(m.opt.timestep), muscles=muscle_names(m),
                    sites=tuple(m.site(i).name for i in range(m.nsite) if m.site(i).name),
                    bodies=tuple(m.body(i).name for i in range(m.nbody) if m.body(i).name))


def mjcf_info(path: str | os.PathLike[str]) -> MjcfInfo:
    """`load_model` once per file version (cached on path, mtime and size); same errors."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"MJCF file not found: {path}")
    st = os.stat(path)
    return _info(path, st.st_mtime_ns, st.st_size)


def muscle_indices(model: mujoco.MjModel) -> np.ndarray:
    """Actuator ids of the muscles, in model order.

    Returns
    -------
    numpy.ndarray of int64, shape (n_muscles,)
    """
    is_muscle = model.actuator_gaintype == mujoco.mjtGain.mjGAIN_MUSCLE
    return np.flatnonzero(is_muscle).astype(np.int64)


def muscle_names(model: mujoco.MjModel) -> tuple[str, ...]:
    """Names of the muscles, in the order of `muscle_indices`; unnamed ones are ``actuator<i>``."""
    return tuple(model.actuator(int(i)).name or f"actuator{i}" for i in muscle_indices(model))


def joint_indices(model: mujoco.MjModel) -> np.ndarray:
    """Ids of the hinge and slide joints (the ones with one scalar qpos), in model order.

    Returns
    -------
    numpy.ndarray of int64, shape (n_joints,)
    """
    scalar = (model.jnt_type == mujoco.mjtJoint.mjJNT_HINGE) | (
        model.jnt_type == mujoco.mjtJoint.mjJNT_SLIDE
    )
    return np.flatnonzero(scalar).astype(np.int64)


def joint_names(model: mujoco.MjModel) -> tuple[str, ...]:
    """Names of the hinge and slide joints; unnamed ones are ``joint<i>``."""
    return tuple(model.joint(int(j)).name or f"joint{j}" for j in joint_indices(model))
