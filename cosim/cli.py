"""``cosim``: run a scene embedded, launch it over MPI, report on a run, export it (NWB,
CSV), print versions."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (``cosim run: error: argument --seed: ...``), exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(kind, low=None, strict=True):
    """An argparse type: a finite ``kind`` number, > low (strict) or >= low."""
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{text!r}: must be finite")
        if low is not None and (value <= low if strict else value < low):
            raise argparse.ArgumentTypeError(f"{text!r}: must be {'>' if strict else '>='} {low}")
        return value
    convert.__name__ = kind.__name__
    return convert


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("scene", nargs="?", help="scene file (TOML), or the name of a shipped "
                   "scene, e.g. demo (omitted with --resume)")
    p.add_argument("-o", "--output", metavar="OUT.h5",
                   help="output HDF5 file (default: <scene name>.h5 in the current folder); "
                   "its folder must exist, and an existing file is refused unless --overwrite")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output file")
    p.add_argument("--seed", type=_number(int, 0, strict=False), metavar="S",
                   help="override the scene's run.seed")
    p.add_argument("--duration", type=_number(float, 0), metavar="MS",
                   help="override run.duration_ms (simulated milliseconds)")
    p.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true",
                   help="do not show the progress bar")
    p.add_argument("--checkpoint-every", type=_number(float, 0), metavar="MS",
                   help="write a checkpoint every MS simulated ms (a multiple of "
                   "bridge.interval_ms), and when a signal stops the run")
    p.add_argument("--checkpoint", metavar="CKPT.h5",
                   help="checkpoint file, replaced each time (default: OUT.ckpt.h5)")
    p.add_argument("--resume", metavar="CKPT.h5",
                   help="continue the run a checkpoint was taken from, appending to its "
                   "output (or to -o if the file moved); gives the spikes and trajectory of "
                   "the uninterrupted run. The scene, seed and overrides come from the "
                   "checkpoint")
    _add_set_option(p)


def _add_set_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override one scene key, validated like the file (repeatable), e.g. "
                   "--set brain.density_scale=0.01 --set 'brain.dc=[]' "
                   "--set 'brain.cut=[\"MOp->*\"]' --set bridge.feedback=false")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cosim", description="Brain-body co-simulation: a spiking "
                "mouse motor-cortex model driving a MuJoCo forelimb. Every input (scene, MJCF, "
                "options, output paths) is checked before any work starts; an error is one "
                "line on stderr and exit status 2.")
    p.add_argument("--debug", action="store_true",
                   help="show the Python traceback of an error (before the command)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           parser_class=_Parser)
    run = sub.add_parser("run", help="run a scene in this process (no MPI needed)",
                         description="Run SCENE embedded: brain, bridge and body in one "
                         "process. Writes OUT.h5 and a summary figure OUT.png.")
    _add_run_options(run)
    run.add_argument("--no-figure", action="store_true", help="do not write the summary PNG")
    run.add_argument("--no-cache", action="store_true",
                     help="neither read nor write the built-model cache")
    run.add_argument("--overlap", action="store_true",
                     help="step the body in a thread while the brain computes the next "
                     "interval (needs bridge.lag = true; same results; faster only with a "
                     "free core)")
    launch = sub.add_parser("launch", help="run a scene as an MPI MPMD job",
                            description="Run SCENE over MPI: mpiexec -n N python -m brain "
                            "SCENE : -n 1 python -m body SCENE, with this environment's "
                            "mpiexec and python.")
    _add_run_options(launch)
    launch.add_argument("--brain-ranks", type=_number(int, 1, strict=False), default=2, metavar="N",
                        help="number of brain ranks (default 2); one body rank is added")
    launch.add_argument("--members", type=_number(int, 1, strict=False), default=1, metavar="M",
                        help="run M independent ensemble members (seeds seed, seed+1, ...) "
                        "in one job; member m writes OUT_member<m>.h5")
    launch.add_argument("--dry-run", action="store_true",
                        help="print the mpiexec command instead of running it")
    launch.add_argument("--slurm", metavar="FILE",
                        help="also write a srun --multi-prog file for a SLURM cluster")
    launch.add_argument("--sbatch", metavar="FILE",
                        help="also write an sbatch script for a SLURM cluster (submit it "
                        "with `sbatch FILE`; it writes and runs its srun --multi-prog file)")
    launch.add_argument("--threads", type=_number(int, 1, strict=False), default=1, metavar="T",
                        help="threads (cores) per brain rank in the --slurm / --sbatch files "
                        "(default 1); body ranks use one")
    report = sub.add_parser("report", help="write the HTML report of an output file",
                            description="Write DIR/index.html for OUT.h5: run summary table, "
                            "raster, rates per type, spectra, gamma phase histograms, voxel "
                            "rate maps (and their animation), joint angles, muscles, bridge "
                            "counts and afferents, and the limb video (needs an OpenGL "
                            "backend: see cosim info). Figures sit beside the page; no network "
                            "is needed to view it. For a `cosim experiment` folder: the "
                            "seed's claim, every metric against its criterion, the figures "
                            "and a report per run (default folder EXPDIR/report). For a `cosim assimilate` "
                            "file: parameter trajectories with spread bands, the "
                            "observation fit and innovation statistics.")
    report.add_argument("output", metavar="OUT.h5|EXPDIR",
                        help="output file of a run, or a `cosim experiment` folder")
    report.add_argument("-o", "--out-dir", metavar="DIR",
                        help="report folder, created if missing (default: OUT_report)")
    report.add_argument("--no-video", action="store_true",
                        help="do not render the limb video")
    report.add_argument("--png", help="also write the one-page summary figure to this PNG")
    export = sub.add_parser("export", help="write a run file as NWB or CSV",
                            description="Write RUN.h5 as an NWB file (spikes as a Units "
                            "table in s, joint angles and muscle series in a 'behavior' "
                            "module; needs pip install brain-body-cosim[nwb]) and/or as CSV "
                            "tables in DIR (spikes.csv, cells.csv, body_<key>.csv). Existing "
                            "output is refused unless --overwrite.")
    export.add_argument("run", metavar="RUN.h5", help="output file of a run")
    export.add_argument("--nwb", metavar="OUT.nwb", help="write an NWB file; its folder "
                        "must exist")
    export.add_argument("--csv", metavar="DIR", help="write CSV tables into DIR (created "
                        "if missing)")
    export.add_argument("--overwrite", action="store_true",
                        help="replace an existing OUT.nwb or CSV files")
    build = sub.add_parser("build", help="build a scene's brain model and report on it",
                           description="Build (or load from the cache) SCENE's brain model "
                           "and the synapses of every rank; print cells per region and type, "
                           "synapses per pathway, memory and build time.")
    build.add_argument("scene", help="scene file (TOML) or the name of a shipped scene")
    build.add_argument("--json", metavar="OUT.json", help="also write the summary as JSON")
    build.add_argument("--ranks", type=_number(int, 1, strict=False), default=1, metavar="N",
                       help="build the synapses of N brain ranks (default 1)")
    build.add_argument("--no-cache", action="store_true",
                       help="neither read nor write the model cache")
    _add_set_option(build)
    show = sub.add_parser("show", help="draw a scene's atlas and cells to a PNG",
                          description="Draw three orthogonal atlas slices coloured by region "
                          "with the cell positions coloured by type.")
    show.add_argument("scene", help="scene file (TOML) or the name of a shipped scene")
    show.add_argument("-o", "--output", metavar="OUT.png",
                      help="figure path (default: <scene name>_atlas.png)")
    show.add_argument("--no-cache", action="store_true", help="do not use the model cache")
    _add_set_option(show)
    cache_p = sub.add_parser("cache", help="show or clear the built-model cache",
                             description="Show the model cache ($COSIM_CACHE or "
                             "~/.cache/brain-body-cosim): files and total size.")
    cache_p.add_argument("--clear", action="store_true", help="delete every cached model")
    exp = sub.add_parser("experiment", help="reproduce one of the seed's results",
                         description="Run experiment NAME (gamma, phase, propagation, "
                         "forelimb, ensemble) on a shipped scene and its controls; write DIR/metrics.json "
                         "(every value with its criterion), PNG figures and the HDF5 file of "
                         "every run. DIR is created if missing; it may hold an earlier "
                         "experiment's runs: a complete run file of the same scene, seed and "
                         "duration is reused, any other file of that name is replaced. Exit "
                         "status 0 when every criterion holds, 1 otherwise, 2 on bad input.")
    exp.add_argument("name", help="gamma, phase, propagation, forelimb or ensemble")
    exp.add_argument("-o", "--output", metavar="DIR", help="output folder "
                     "(default: experiments/<name>)")
    exp.add_argument("--scale", type=_number(float, 0), default=1.0, metavar="S",
                     help="place S x the scene's cells, in-degrees unchanged (default 1); "
                     "ensemble: round(100 S) members")
    exp.add_argument("--atlas", choices=("synthetic", "allen"), default="synthetic",
                     help="synthetic brain (m1_m2_th_pg_cb) or the real CCF "
                     "(ccf_motor_left, needs COSIM_DATA)")
    exp.add_argument("--seed", type=_number(int, 0, strict=False), nargs="+", default=[1, 2, 3], metavar="S",
                     help="seeds, one set of runs each (default 1 2 3)")
    exp.add_argument("--duration", type=_number(float, 0), metavar="MS", help="override run.duration_ms")
    exp.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true",
                     help="no progress bars")
    obs = sub.add_parser("observe", help="turn a run file into observations for assimilation",
                         description="Apply an observation operator to RUN.h5 (e.g. a "
                         "ground-truth run with hidden parameters) and write OBS.h5: the "
                         "population rate of every (region, cell type) group in bins, with "
                         "its Poisson-count noise variance rate / (cells x bin).")
    obs.add_argument("run", metavar="RUN.h5", help="output file of a complete run")
    obs.add_argument("--operator", default="rates", choices=("rates",),
                     help="observation operator (default rates)")
    obs.add_argument("--bin", type=_number(float, 0), default=100.0, metavar="MS",
                     help="bin width in ms (default 100)")
    obs.add_argument("--noise-floor", type=_number(float, 0, strict=False), default=1.0,
                     metavar="HZ", help="noise variance at least that of a HZ rate (default 1)")
    obs.add_argument("-o", "--output", required=True, metavar="OBS.h5",
                     help="observation file to write; its folder must exist")
    obs.add_argument("--overwrite", action="store_true", help="replace an existing OBS.h5")
    asm = sub.add_parser("assimilate", help="fit parameters to observations with an EnKF",
                         description="Ensemble Kalman filter: M members of SCENE advance one "
                         "window at a time; after each window their population rates are "
                         "compared with OBS.h5 and the parameters of the scene's "
                         "[assimilation] section are updated (stochastic EnKF, perturbed "
                         "observations, inflation, localisation by region). Writes the "
                         "parameter ensemble per window and the observation fit to OUT.h5 "
                         "(draw it with cosim report OUT.h5). --ranks R > 1 runs the members "
                         "spread over R MPI ranks (member m on rank m mod R); the numbers do "
                         "not depend on R.")
    asm.add_argument("scene", help="scene file with an [assimilation] section")
    asm.add_argument("--observations", required=True, metavar="OBS.h5",
                     help="observation file (cosim observe)")
    asm.add_argument("--members", type=_number(int, 2, strict=False), required=True, metavar="M",
                     help="ensemble members (>= 2), drawn from the scene's priors")
    asm.add_argument("--window", type=_number(float, 0), required=True, metavar="MS",
                     help="assimilation window, ms (a multiple of the observation bin)")
    asm.add_argument("--ranks", type=_number(int, 1, strict=False), default=1, metavar="R",
                     help="MPI ranks (default 1: embedded, no MPI)")
    asm.add_argument("--brain-ranks-per-member", type=_number(int, 1, strict=False), default=1,
                     metavar="N", help="brain ranks of one member: its cells spread over N ranks "
                     "(--ranks must be a multiple of N; default 1)")
    asm.add_argument("-o", "--output", metavar="OUT.h5",
                     help="output file (default <scene name>_enkf.h5)")
    asm.add_argument("--overwrite", action="store_true", help="replace an existing OUT.h5")
    asm.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true",
                     help="do not print a line per window")
    _add_set_option(asm)
    sub.add_parser("info", help="print versions of the package and its dependencies",
                   description="Print versions of brain-body-cosim, Python, numpy, numba, "
                   "mujoco, mpi4py, the MPI library, gymnasium and h5py, and which "
                   "OpenGL backends (MUJOCO_GL=egl, osmesa) can render here.")
    return p


def _output_path(args, members: int = 1) -> Path:
    """The output file, checked before any work: its folder exists, and it does not
    exist unless --overwrite (with M members: each OUT_member<m>.h5)."""
    from .ranks import member_output
    out = Path(args.output) if args.output else Path(Path(args.scene).stem + ".h5")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"-o {out}: output folder {str(parent)!r} does not exist "
                                "(create it first)")
    for m in range(members):
        path = Path(member_output(str(out), m, members))
        if path.is_dir():
            raise IsADirectoryError(f"-o {out}: {path} is a folder, not a file")
        if path.exists() and not args.overwrite:
            raise FileExistsError(f"-o {out}: {path} exists; pass --overwrite to replace it "
                                  "or choose another -o")
    return out


def _load(args):
    from .scene import load
    if not args.scene:
        raise ValueError("give a SCENE (or --resume CKPT to continue a run)")
    return load(args.scene, seed=args.seed, duration_ms=args.duration,
                overrides=args.overrides)


def _run_setup(args):
    """(scene, output path, checkpoint schedule, checkpoint to resume or None), all
    checked before any work."""
    from .checkpoint import Schedule, open_checkpoint, schedule
    if not args.resume:
        out = _output_path(args, getattr(args, "members", 1))
        scene = _load(args)
        return scene, out, schedule(scene, args.checkpoint_every, args.checkpoint, out), None
    given = [flag for flag, v in (("SCENE", args.scene), ("--seed", args.seed),
                                  ("--duration", args.duration), ("--set", args.overrides),
                                  ("--members", getattr(args, "members", 1) != 1)) if v]
    if given:
        raise ValueError(f"--resume {args.resume}: {', '.join(given)} cannot be combined with "
                         "--resume: the scene, seed and overrides are the checkpoint's")
    ckpt = open_checkpoint(args.resume)
    scene = ckpt.scene()
    out = Path(args.output or ckpt.attrs["output"])
    if not out.is_file():
        raise FileNotFoundError(f"--resume {args.resume}: its run file {str(out)!r} is "
                                "missing; give its new place with -o")
    ckpt.check_output(out)
    if args.checkpoint_every:
        sched = schedule(scene, args.checkpoint_every, args.checkpoint or ckpt.path, out)
    else:       # keep the schedule the run had
        sched = Schedule(every=int(ckpt.attrs.get("checkpoint_every", 0)),
                         path=args.checkpoint or ckpt.path)
    return scene, out, sched, ckpt


def _cmd_run(args) -> int:
    from . import cache
    from .interrupts import RunInterrupted
    from .report import summary_figure
    from .runner import run_embedded
    if args.no_cache:
        cache.set_enabled(False)
    scene, out, checkpoints, resume = _run_setup(args)
    try:
        r = run_embedded(scene, out, progress=not args.no_progress, checkpoints=checkpoints,
                         resume=resume, overlap=args.overlap)
    except RunInterrupted as exc:
        if exc.checkpoint:
            print(f"wrote checkpoint {exc.checkpoint}; continue with: cosim run --resume "
                  f"{exc.checkpoint}", file=sys.stderr)
        raise
    print(f"wrote {out}: {r.n_cells} cells, {r.n_synapses} synapses, {r.n_spikes} spikes; "
          f"{r.simulated_ms:.0f} ms simulated in {r.run_wall_s:.2f} s "
          f"({r.real_time_factor:.2f} s wall / s sim; build {r.build_s:.1f} s)")
    if not args.no_figure:
        png = summary_figure(out, out.with_suffix(".png"))
        print(f"wrote {png}")
    return 0


def _cmd_launch(args) -> int:
    from .launch import mpmd_command, sbatch_script, slurm_multiprog
    from .ranks import member_output
    scene, out, checkpoints, resume = _run_setup(args)  # validate before starting any rank
    extra = []
    if checkpoints.every:
        extra += ["--checkpoint-every", repr(checkpoints.every * scene.bridge.interval_ms),
                  "--checkpoint", checkpoints.path]
    if resume is not None:
        extra += ["--resume", resume.path]
    cmd = mpmd_command(scene.path, args.brain_ranks, out, scene.run.seed if resume else
                       args.seed, scene.run.duration_ms if resume else args.duration,
                       progress=not args.no_progress, members=args.members,
                       overrides=scene.overrides if resume else args.overrides, extra=extra)
    slurm_args = (Path(scene.path).resolve(), args.brain_ranks, out, args.seed, args.duration)
    slurm_kw = {"python": sys.executable, "members": args.members,
                "overrides": args.overrides, "threads": args.threads}
    if args.slurm:
        Path(args.slurm).write_text(slurm_multiprog(*slurm_args, **slurm_kw))
        n = (args.brain_ranks + 1) * args.members
        print(f"wrote {args.slurm}: srun -n {n} --multi-prog {args.slurm}")
    if args.sbatch:
        Path(args.sbatch).write_text(sbatch_script(*slurm_args, **slurm_kw))
        print(f"wrote {args.sbatch}: sbatch {args.sbatch}")
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    return _run_mpiexec(cmd, [member_output(str(out), m, args.members)
                              for m in range(args.members)])


def _own_session_ended_with_parent() -> None:
    """(In the child, before exec.) A new session, and SIGTERM when the launcher dies
    (Linux), so that killing `cosim launch` still stops the job cleanly."""
    import ctypes
    import signal
    os.setsid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)    # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_mpiexec(cmd, outputs) -> int:
    """Run mpiexec, passing its output through; when a rank died, say which one."""
    import signal
    import threading
    from .launch import launch_env, name_dead_rank
    # mpiexec in a session of its own, so that a Ctrl-C reaches it once, from here: a
    # second SIGINT would make it abort the job instead of letting the ranks stop cleanly
    proc = subprocess.Popen(cmd, env=launch_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1,
                            preexec_fn=_own_session_ended_with_parent)
    forwarded: list[int] = []

    def forward_signal(signum, frame):
        if not forwarded:
            forwarded.append(signum)
            proc.send_signal(signum)       # mpiexec passes it to every rank

    old = {s: signal.signal(s, forward_signal) for s in (signal.SIGINT, signal.SIGTERM)} \
        if threading.current_thread() is threading.main_thread() else {}
    tail: list[str] = []

    def forward(src, dst):
        for line in src:
            dst.write(line)
            dst.flush()
            tail.append(line)
            del tail[:-200]

    threads = [threading.Thread(target=forward, args=(proc.stdout, sys.stdout)),
               threading.Thread(target=forward, args=(proc.stderr, sys.stderr))]
    for t in threads:
        t.start()
    try:
        code = proc.wait()
        for t in threads:
            t.join()
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    if forwarded and code in (128 + signal.SIGINT, 128 + signal.SIGTERM):
        return code                 # stopped cleanly; the body rank said where
    if code != 0:
        who = name_dead_rank("".join(tail), outputs)
        if who:
            # MPICH names the first process it reaped, which may be one it killed while
            # cleaning up rather than the one that died first
            print(f"cosim launch: error: the job ended with a rank gone; mpiexec reports "
                  f"{who} (exit status {code})", file=sys.stderr)
    return code


def _cmd_build(args) -> int:
    import json

    from . import cache
    from .build import build_summary, format_summary
    from .scene import load
    if args.no_cache:
        cache.set_enabled(False)
    summary = build_summary(load(args.scene, overrides=args.overrides), args.ranks)
    print(format_summary(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))
        print(f"wrote {args.json}")
    return 0


def _cmd_show(args) -> int:
    from . import cache
    from .build import atlas_figure, build_brain_model
    from .scene import load
    if args.no_cache:
        cache.set_enabled(False)
    scene = load(args.scene, overrides=args.overrides)
    png = args.output or f"{Path(args.scene).stem}_atlas.png"
    print(f"wrote {atlas_figure(build_brain_model(scene), png)}")
    return 0


def _cmd_report(args) -> int:
    from .report import is_experiment_folder, summary_figure, write_experiment_report, \
        write_report
    if Path(args.output).is_dir():
        if not is_experiment_folder(args.output):
            raise FileNotFoundError(f"{args.output}: a folder without metrics.json: give a run "
                                    "file or a `cosim experiment` folder")
        if args.png:
            raise ValueError("--png: only for a run file, not an experiment folder")
        print(f"wrote {write_experiment_report(args.output, args.out_dir, not args.no_video)}")
        return 0
    if not Path(args.output).is_file():
        raise FileNotFoundError(f"{args.output}: no such run file")
    from .assimilation.results import is_assimilation_file
    if is_assimilation_file(args.output):
        from .report.assimilation import write_assimilation_report
        out_dir = Path(args.out_dir or Path(args.output).with_suffix("").as_posix() + "_report")
        print(f"wrote {write_assimilation_report(args.output, out_dir)}")
        return 0
    out_dir = Path(args.out_dir or Path(args.output).with_suffix("").as_posix() + "_report")
    print(f"wrote {write_report(args.output, out_dir, video=not args.no_video)}")
    if args.png:
        print(f"wrote {summary_figure(args.output, args.png)}")
    return 0


def _cmd_export(args) -> int:
    from .export import (check_csv_output, check_nwb_output, read_run, require_nwb, to_csv,
                         to_nwb, unit_mask)
    if not (args.nwb or args.csv):
        raise ValueError("give --nwb OUT.nwb and/or --csv DIR")
    if args.nwb:
        require_nwb()
    run = read_run(args.run)                # every path is checked before anything is written
    if args.nwb:
        check_nwb_output(args.nwb, args.overwrite)
    if args.csv:
        check_csv_output(args.csv, args.overwrite)
    units = int(unit_mask(run).sum())
    if args.nwb:
        out = to_nwb(run, args.nwb, overwrite=args.overwrite)
        print(f"wrote {out}: {units} units, {len(run.spike_ids)} spikes, "
              f"{len(run.body['time_s'])} body rows")
    if args.csv:
        paths = to_csv(run, args.csv, overwrite=args.overwrite)
        print(f"wrote {len(paths)} CSV files to {args.csv}: {', '.join(p.name for p in paths)}")
    return 0


def _new_file(path, overwrite: bool, flag: str = "-o") -> Path:
    out = Path(path)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"{flag} {out}: output folder {str(parent)!r} does not exist")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{flag} {out}: exists; pass --overwrite to replace it")
    return out


def _cmd_observe(args) -> int:
    from .assimilation.observe import observe_run, write_observations
    out = _new_file(args.output, args.overwrite)
    if not Path(args.run).is_file():
        raise FileNotFoundError(f"{args.run}: no such run file")
    obs = observe_run(args.run, args.bin, args.noise_floor, args.operator)
    write_observations(out, obs)
    print(f"wrote {out}: {len(obs.names)} observables x {len(obs.t_start_ms)} bins of "
          f"{obs.bin_ms:g} ms")
    return 0


def _cmd_assimilate(args) -> int:
    from .assimilation.program import command, run, setup
    out = _new_file(args.output or Path(args.scene).stem + "_enkf.h5", args.overwrite)
    p = setup(args.scene, args.observations, args.members, args.window, args.overrides,
              args.brain_ranks_per_member)      # every check before any member runs
    n = args.brain_ranks_per_member
    if n > 1 and (args.ranks < n or args.ranks % n):
        raise ValueError(f"--brain-ranks-per-member {n}: needs --ranks R, a multiple of {n} "
                         f"(got --ranks {args.ranks})")
    if args.ranks > 1:
        return _run_mpiexec(command(args.scene, args.observations, args.members, args.window,
                                    out, args.ranks, args.overrides,
                                    args.brain_ranks_per_member, not args.no_progress), [])
    res = run(p, out, progress=not args.no_progress)
    mean, sd = res["members"][-1].mean(axis=0), res["members"][-1].std(axis=0, ddof=1)
    print(f"wrote {out}: {p.n_members} members x {p.n_windows} windows in {res['wall_s']:.1f} s; "
          + ", ".join(f"{n} = {m:.4g} +- {s:.2g}" for n, m, s in zip(p.params.names, mean, sd)))
    return 0


def versions() -> dict:
    """Versions of the package and what it runs on (MPI only if it can be loaded)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("brain-body-cosim", "numpy", "numba", "mujoco", "mpi4py", "mpich",
                 "gymnasium", "h5py"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    try:
        import numba
        out["numba threads"] = f"{numba.config.NUMBA_NUM_THREADS} (NUMBA_NUM_THREADS)"
    except ImportError:
        pass
    try:
        from mpi4py import MPI
        out["MPI library"] = MPI.Get_library_version().splitlines()[0].strip()
        out["MPI standard"] = "%d.%d" % MPI.Get_version()
    except Exception as exc:  # MPI missing or broken: embedded mode still works
        out["MPI library"] = f"unavailable ({exc})"
    return out


def _cmd_cache(args) -> int:
    from . import cache
    if args.clear:
        print(f"freed {cache.clear() / 1e6:.1f} MB in {cache.cache_root()}")
        return 0
    items = cache.entries()
    for path, size in items:
        print(f"{size / 1e6:10.1f} MB  {path.name}")
    print(f"{len(items)} files, {sum(s for _, s in items) / 1e6:.1f} MB in {cache.cache_root()}")
    return 0


def _cmd_experiment(args) -> int:
    from .experiments import run_experiment
    out = Path(args.output or Path("experiments") / args.name)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"-o {out}: exists and is not a folder")
    m = run_experiment(args.name, out, scale=args.scale, atlas=args.atlas, seeds=args.seed,
                       duration_ms=args.duration, progress=not args.no_progress)
    for key, v in m["metrics"].items():
        if "pass" in v:
            print(f"{'ok  ' if v['pass'] else 'FAIL'} {key} = {v['value']} "
                  f"(criterion {v['criterion']}){'  ' + v['note'] if 'note' in v else ''}")
    print(f"{m['n_pass']}/{m['n_checks']} criteria hold; wrote {out / 'metrics.json'} "
          f"({m['wall_s']:.0f} s)")
    return 0 if m["all_pass"] else 1


def _cmd_info(args) -> int:
    from .gl import gl_backends
    for k, v in versions().items():
        print(f"{k:18s} {v}")
    # each backend is tried in its own process: MuJoCo fixes MUJOCO_GL at import
    for name, status in gl_backends().items():
        print(f"{'MUJOCO_GL=' + name:18s} {status}")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .scene import SceneError
    from bridge import ProtocolError
    from .export import MissingExtraError
    from .interrupts import RunInterrupted, SimulationFault
    try:
        return {"run": _cmd_run, "launch": _cmd_launch, "report": _cmd_report,
                "build": _cmd_build, "show": _cmd_show, "export": _cmd_export,
                "info": _cmd_info, "cache": _cmd_cache, "experiment": _cmd_experiment,
                "observe": _cmd_observe, "assimilate": _cmd_assimilate}[args.command](args)
    except RunInterrupted as exc:
        print(f"cosim {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except SimulationFault as exc:
        if args.debug:
            raise
        print(f"cosim {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except (SceneError, ProtocolError, OSError, ValueError, MissingExtraError) as exc:
        # Input errors are one line on stderr (--debug: the traceback); bugs keep theirs.
        if args.debug:
            raise
        text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        print(f"cosim {args.command}: error: {text}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
