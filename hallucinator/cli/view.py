"""Command line: ``hallucinator view`` and ``hallucinator bench viewer``."""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

from ..errors import UserError
from ..io.probe import STEREO_CHOICES
from ..live.options import ENGINES, GRADIENT_LIVE_SIZE
from ..viewer.request import XR_LAYERS


EYES = ("left", "right")


def register(sub):
    p = sub.add_parser(
        "view", help="play a 360° image or video in a window or an OpenXR headset",
        description="Play an equirectangular image or video (mono or top-bottom stereo) with head tracking, "
                    "a dose dial between a matched control and the dream, and pose logs. Also renders single "
                    "stills (--screenshot) and participant's-eye replays of pose logs (--replay-pose --export).",
        epilog="keys: drag/arrows look, wheel or +/- zoom, 0 recentre, space pause, PgUp/PgDn or "
               "shift+left/right seek 5 s, Home restart, [ ] dose -/+0.1, \\ back to the timeline, "
               "h status line, f fullscreen, l loop, q/Esc quit")
    p.add_argument("source", help="dream video or image (equirectangular, 360x180); with --live any video, image "
                                  "or camera:N")
    p.add_argument("--control", help="matched control video/image; the dose mixes control (0) and dream (1)")
    p.add_argument("--dose", default="1",
                   help="dose: a number (0 control, 1 dream, >1 exaggerates), a timeline like "
                        "'0s:0 -> 30s:1 -> 90s:1 -> 120s:0', or a file holding one (default 1)")
    p.add_argument("--pose-log", help="write one row per displayed frame to this TSV (+ .json sidecar)")
    p.add_argument("--replay-pose", help="take the head pose from a recorded pose log")
    p.add_argument("--export", help="with --replay-pose: render the recorded views into this MP4 (headless)")
    p.add_argument("--screenshot", help="render one view to this PNG and exit (headless)")
    p.add_argument("--size", default="1280x720", help="window / output size WxH (default 1280x720)")
    p.add_argument("--yaw", type=float, default=0.0, help="initial yaw, degrees to the right")
    p.add_argument("--pitch", type=float, default=0.0, help="initial pitch, degrees up")
    p.add_argument("--roll", type=float, default=0.0, help="initial roll, degrees clockwise")
    p.add_argument("--fov", type=float, default=90.0, help="horizontal field of view in degrees (default 90)")
    p.add_argument("--time", type=float, default=0.0, help="--screenshot: time in the video, seconds")
    p.add_argument("--start", type=float, default=0.0, help="start playback at this time, seconds")
    p.add_argument("--duration", type=float, help="stop after this many seconds of playback")
    p.add_argument("--frames", type=int, help="stop after this many video frames")
    p.add_argument("--loop", action="store_true", help="loop the video")
    p.add_argument("--fullscreen", action="store_true", help="fill the primary monitor")
    p.add_argument("--headless", action="store_true", help="no visible window (offscreen; e.g. under Xvfb)")
    p.add_argument("--xr", action="store_true", help="render to an OpenXR headset; the window mirrors one eye")
    p.add_argument("--xr-layer", choices=XR_LAYERS, default="auto",
                   help="with --xr: equirect (the runtime's compositor samples the mixed sphere: best quality, "
                        "lowest latency), projection (the viewer renders each eye), or auto (default: equirect "
                        "when the runtime offers XR_KHR_composition_layer_equirect2)")
    p.add_argument("--stereo", choices=STEREO_CHOICES, default="auto",
                   help="source layout: mono, top-bottom (or tb; left eye on top), or auto from the file's metadata")
    p.add_argument("--eye", choices=EYES, default="left",
                   help="eye shown on a desktop, in screenshots and in exports (stereo)")
    p.add_argument("--no-audio", action="store_true", help="play without sound (the wall clock drives the video)")
    p.add_argument("--audio-device", help="sounddevice output device (name or index); 'none' = a virtual output "
                        "(no sound; the clock still follows the audio)")
    p.add_argument("--no-status", action="store_true", help="hide the status line (h toggles it)")
    p.add_argument("--hwaccel", action="store_true", help="try hardware video decoding (CUDA/VAAPI/...)")
    p.add_argument("--every-frame", dest="realtime", action="store_false",
                   help="show every frame once, as fast as it renders (no audio; offline review)")
    live = p.add_argument_group("live dreaming")
    live.add_argument("--live", action="store_true",
                      help="dream each frame of SOURCE (a file or camera:N, V4L2) as it plays; the control is "
                           "the source itself, so --dose mixes source (0) and dream (1)")
    live.add_argument("--engine", choices=ENGINES, default="student",
                      help="with --live: student (the distilled net in ONNX Runtime, default) or gradient (the "
                           "engine warm-started along the flow, a reduced schedule; for GPUs)")
    live.add_argument("--student", help="with --live: the student file (default: the shipped one)")
    live.add_argument("--live-size", help="with --live: dreaming size WxH (default: the student's train size; "
                                          f"{GRADIENT_LIVE_SIZE[0]}x{GRADIENT_LIVE_SIZE[1]} for gradient)")
    live.add_argument("--device", default="auto", help="with --live: auto, cpu, cuda or cuda:N")
    live.add_argument("--temporal", type=float, metavar="KEEP",
                      help="with --live --engine student: carry KEEP (0..1) of the previous frame's residual "
                           "along the flow (as dream --engine student --temporal); default each frame alone")
    p.set_defaults(func=run_view)


def register_bench(bench_sub):
    p = bench_sub.add_parser("viewer", help="texture upload, render and playback speed of the viewer",
                             description="Measure decode, upload (PBO vs direct), render and whole-loop fps "
                                         "for a video (or synthetic frames) at a viewport size, side by side.")
    p.add_argument("video", nargs="?", help="video to play (default: synthetic frames of --source-size)")
    p.add_argument("--size", default="1280x720", help="viewport WxH (default 1280x720)")
    p.add_argument("--source-size", default="4096x2048", help="synthetic frame size when no video is given")
    p.add_argument("--frames", type=int, default=60, help="frames to measure (default 60)")
    p.add_argument("--visible", action="store_true", help="render into a visible window instead of offscreen")
    p.add_argument("--frames-as", choices=["auto", "yuv", "rgb"], default="auto",
                   help="hand frames to the GPU as 4:2:0 planes (converted in the shader) or RGB "
                        "(converted on the CPU); auto = what playback uses on this renderer")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=run_bench_cmd)


def _audio_device(text):
    if text is None:
        return None
    if text.lower() in ("none", "null", "off"):
        return False
    return int(text) if text.isdigit() else text


def _live_options(args):
    """The :class:`~hallucinator.live.options.LiveOptions` of ``--live`` (None without it), checked."""
    from ..config import parse_size
    from ..live.options import LiveOptions

    live_only = {"--engine": args.engine != "student", "--student": args.student is not None,
                 "--live-size": args.live_size is not None, "--device": args.device != "auto",
                 "--temporal": args.temporal is not None}
    if not args.live:
        given = [k for k, v in live_only.items() if v]
        if given:
            raise UserError(f"{', '.join(given)} applies to --live only; add --live or leave it out")
        return None
    if args.control:
        raise UserError("--live shows the source as the control; leave out --control")
    if args.screenshot or args.export:
        raise UserError("--live plays; --screenshot and --export render pre-dreamed files (dream it first with "
                        "hallucinator dream)")
    size = parse_size(args.live_size, "--live-size") if args.live_size else None
    return LiveOptions(engine=args.engine, size=size, student=args.student, device=args.device,
                       threads=getattr(args, "global_threads", None), temporal=args.temporal)


def _sources(args, live, stack: contextlib.ExitStack):
    """(dream, control, pose-log metadata, live figures): the files as given, or with ``--live`` the source
    dreamed on its own thread and the source itself as the control."""
    if live is None:
        return args.source, args.control, None, None
    from ..live.session import open_live

    lp = stack.enter_context(open_live(args.source, live, stereo=args.stereo, loop=args.loop,
                                       hwaccel=args.hwaccel))
    print(f"live: {lp.description}", flush=True)
    return lp.dream, lp.control, lp.log_metadata(), lp.stats


def _play(args, size, eye, pose, live):
    """Play in a window or headset; (summary, the XR session or None, live figures or None)."""
    from ..viewer.app import Viewer

    with contextlib.ExitStack() as stack:
        dream, control, log_metadata, stats = _sources(args, live, stack)
        v = stack.enter_context(Viewer(size=size, fullscreen=args.fullscreen, visible=not args.headless,
                                       xr=args.xr, status=not args.no_status,
                                       title=f"Hallucinator - {Path(args.source).name}"))
        summary = v.play(dream, control=control, dose=args.dose, duration_s=args.duration,
                         max_frames=args.frames, pose=pose, pose_log=args.pose_log, start_s=args.start,
                         loop=args.loop, audio=not args.no_audio, audio_device=_audio_device(args.audio_device),
                         realtime=args.realtime, stereo=args.stereo, eye=eye, hwaccel=args.hwaccel,
                         xr_layer=args.xr_layer, log_metadata=log_metadata)
        return summary, v.xr, stats


def run_view(args) -> int:
    from ..config import parse_size
    from ..viewer.export import export_replay, render_still, save_png
    from ..viewer.pose import MouseKeyboardPose, Pose, ReplayPose

    size = parse_size(args.size)
    live = _live_options(args)
    if live is not None:
        from ..live.session import check_source

        check_source(args.source)
    elif not Path(args.source).exists():
        raise UserError(f"{args.source} not found; give an equirectangular image or video")
    if args.control and not Path(args.control).exists():
        raise UserError(f"control {args.control} not found; give the matched control video")
    if not (1.0 <= args.fov <= 179.0):
        raise UserError(f"--fov {args.fov:g} is out of range; use 1 to 179 degrees")
    eye = EYES.index(args.eye)
    if args.export and not args.replay_pose:
        raise UserError("--export needs --replay-pose LOG (the views to render)")
    if args.xr and (args.screenshot or args.export):
        raise UserError("--xr cannot be combined with --screenshot or --export (they render headless)")
    if args.dose not in ("1", "1.0") and not args.control and live is None:
        print("hallucinator: note: --dose mixes the dream with --control; without a control the dream is shown "
              "as it is", file=sys.stderr)
    if args.xr_layer != "auto" and not args.xr:
        raise UserError("--xr-layer applies to --xr only; add --xr or leave it out")
    if args.xr:
        from ..viewer.xr import check_runtime, resolve_layer

        resolve_layer(args.xr_layer, check_runtime())
    if args.screenshot:
        from ..viewer.dose import DoseTimeline

        dose = DoseTimeline.from_spec(args.dose).value(args.time)
        img = render_still(args.source, Pose.from_euler(args.yaw, args.pitch, args.roll, args.fov), size,
                           time_s=args.time, dose=dose, control=args.control, stereo=args.stereo, eye=eye)
        save_png(img, args.screenshot)
        print(f"wrote {args.screenshot} ({size[0]}x{size[1]}, yaw {args.yaw:g} pitch {args.pitch:g} "
              f"roll {args.roll:g} fov {args.fov:g}, t={args.time:g}s)")
        return 0
    if args.export:
        n = export_replay(args.source, args.replay_pose, args.export, size=size, control=args.control,
                          stereo=args.stereo, eye=eye, progress=sys.stdout.isatty())
        print(f"wrote {args.export} ({n} frames, {size[0]}x{size[1]})")
        return 0
    from ..io.images import is_image_path
    from ..live.camera import parse_camera

    if args.headless and args.duration is None and args.frames is None and not args.replay_pose \
            and parse_camera(args.source) is None and is_image_path(args.source):
        raise UserError("a still image shown --headless would never end; add --duration SECONDS "
                        "(or use --screenshot)")
    if args.replay_pose:
        pose = ReplayPose.from_file(args.replay_pose)
    else:
        pose = MouseKeyboardPose(yaw=args.yaw, pitch=args.pitch, roll=args.roll, fov=args.fov, width=size[0])
    summary, session, stats = _play(args, size, eye, pose, live)
    print(summary.line())
    if stats is not None:
        print(stats.line())
    if session is not None:
        done = ", ".join(f"{n} {k} layers in {f} frames" for k, (f, n) in session.layers_submitted.items())
        print(f"xr: {done or 'no frames'}; session states {' > '.join(session.states)}")
    if args.pose_log:
        print(f"pose log: {args.pose_log} ({summary.frames_presented} rows)")
    return 0


def run_bench_cmd(args) -> int:
    from ..viewer.bench import format_bench, run_bench
    from ..config import parse_size

    if args.video and not Path(args.video).is_file():
        raise UserError(f"{args.video} not found; give a video file, or none for synthetic frames")
    planar = {"auto": None, "yuv": True, "rgb": False}[args.frames_as]
    res = run_bench(args.video, parse_size(args.size), args.frames, parse_size(args.source_size), args.visible,
                    planar=planar)
    print(json.dumps(res, indent=2) if args.json else format_bench(res))
    return 0
