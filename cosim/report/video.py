"""The limb video of a run: /body/qpos replayed through the scene's MJCF, rendered offscreen.

Rendering needs an OpenGL backend chosen before mujoco is imported, so :func:`limb_video`
picks one (:func:`cosim.gl.usable_backend`) and renders in a subprocess
(``python -m cosim.report.video RUN.h5 OUT.mp4``) with ``MUJOCO_GL`` set.  Replay sets qpos
and runs ``mj_forward`` per frame: no dynamics are simulated, so the video shows exactly
the recorded trajectory.
"""
from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["LimbVideo", "limb_video", "mjcf_path", "write_video"]

FRAME_MS = 10.0     # simulated time per frame
FPS = 25            # so the video plays at FRAME_MS * FPS / 1000 = 0.25 x real time


@dataclass
class LimbVideo:
    """What :func:`limb_video` made: the MP4 and a still frame, or why there is none."""

    mp4: str | None
    poster_png: str | None
    backend: str | None
    message: str


def mjcf_path(run) -> str:
    """The body model of a run: the path resolved when it ran, else the scene's own
    ``body.mjcf_path`` looked up as :mod:`cosim.scene` does (beside the scene file, then
    among the shipped scenes), so a file moved to another machine still finds it.

    Raises FileNotFoundError naming every place looked in.
    """
    from cosim.scene import SCENES_DIR
    tried = []
    resolved = run.scene.get("body", {}).get("mjcf_path")
    if resolved:
        tried.append(Path(resolved))
    try:
        raw = tomllib.loads(run.scene_text).get("body", {}).get("mjcf_path")
    except tomllib.TOMLDecodeError:
        raw = None
    if raw:
        scene_dir = Path(str(run.attrs.get("scene_path", "."))).parent
        tried += [scene_dir / raw, SCENES_DIR / raw, SCENES_DIR / Path(raw).name]
    for p in tried:
        if p.is_file():
            return str(p.resolve())
    raise FileNotFoundError("body model not found; looked for " + ", ".join(map(str, tried)))


def limb_video(run, mp4, timeout_s: float = 600.0) -> LimbVideo:
    """Render the run's limb trajectory to ``mp4`` (and a middle frame beside it as PNG).

    Never raises for a missing GL backend or model: the returned message says what is
    missing, for the page to show.
    """
    from cosim.gl import backend_env, usable_backend
    try:
        mjcf_path(run)
    except FileNotFoundError as exc:
        return LimbVideo(None, None, None, str(exc))
    backend, failures = usable_backend()
    if backend is None:
        tried = "; ".join(f"MUJOCO_GL={k}: {v}" for k, v in failures.items())
        return LimbVideo(None, None, None, "no OpenGL backend works on this machine, so no "
                         f"limb video ({tried}). Install libegl1 + libegl-mesa0 (EGL) or "
                         "libosmesa6 (OSMesa) and run cosim report again.")
    poster = str(Path(mp4).with_suffix(".png"))
    res = subprocess.run([sys.executable, "-m", "cosim.report.video", run.path, str(mp4),
                          poster], env=backend_env(backend), capture_output=True, text=True,
                         timeout=timeout_s)
    if res.returncode != 0:
        last = ([ln for ln in res.stderr.splitlines() if ln.strip()] or ["no output"])[-1]
        return LimbVideo(None, None, backend, f"rendering with MUJOCO_GL={backend} failed: {last}")
    return LimbVideo(str(mp4), poster, backend, res.stdout.strip())


def write_video(run, mp4, poster_png=None, width: int = 640, height: int = 480,
                camera: str = "side") -> str:
    """Replay ``run.body['qpos']`` and write an H.264 MP4 (needs ``MUJOCO_GL`` set already).

    Parameters
    ----------
    run : RunFile
    mp4 : str or Path
    poster_png : str or Path, optional
        Also write the middle frame here.
    width, height : int
        Frame size, pixels; clipped to the model's offscreen buffer, multiples of 16 (H.264).
    camera : str
        Camera name; MuJoCo's free camera when the model has no such camera.

    Returns
    -------
    str
        A one-line summary (frames, fps, speed).
    """
    import imageio.v2 as imageio
    import mujoco

    from body import Body, BodyParams
    from body.render import close_renderers, render_frame

    known = {f.name for f in dataclasses.fields(BodyParams)}
    params = {k: v for k, v in run.scene.get("body", {}).items() if k in known}
    # no settling: every frame's pose comes from the file
    body = Body(BodyParams(**{**params, "mjcf_path": mjcf_path(run), "settle_s": 0.0}))
    model = body.model
    width = min(width, int(model.vis.global_.offwidth)) // 16 * 16
    height = min(height, int(model.vis.global_.offheight)) // 16 * 16
    has_camera = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera) >= 0
    qpos, time_s = run.body["qpos"], run.body["time_s"]
    if len(time_s) == 0:
        raise ValueError(f"{run.path}: no body samples to replay")
    frame_t = np.arange(time_s[0], time_s[-1] + 1e-12, FRAME_MS * 1e-3)
    rows = np.minimum(np.searchsorted(time_s, frame_t), len(time_s) - 1)
    Path(mp4).parent.mkdir(parents=True, exist_ok=True)
    writer = imageio.get_writer(mp4, fps=FPS, codec="libx264", pixelformat="yuv420p",
                                macro_block_size=16, ffmpeg_log_level="error")
    try:
        for i, row in enumerate(rows):
            body.data.qpos[:] = qpos[row]
            mujoco.mj_forward(model, body.data)
            frame = render_frame(body, width, height, camera if has_camera else None)
            writer.append_data(frame)
            if poster_png and i == len(rows) // 2:
                imageio.imwrite(poster_png, frame)
    finally:
        writer.close()
        close_renderers(body)
    speed = FRAME_MS * FPS / 1000.0
    return (f"{len(rows)} frames ({width}x{height}, {FPS} fps, one per {FRAME_MS:g} ms "
            f"simulated: {speed:g} x real time)")


def main(argv=None) -> int:
    from cosim.report.data import read_run
    args = sys.argv[1:] if argv is None else argv
    run = read_run(args[0])
    print(write_video(run, args[1], args[2] if len(args) > 2 else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
