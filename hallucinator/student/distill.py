"""One distillation, start to end: plan, teacher dreams (cached), training (checkpointed), gain, ONNX, figures, card.

Running the same command again resumes: cached dreams are not redone and training continues from its last
checkpoint (kept beside the cache, keyed by the data and the settings).
"""
from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..provenance import sha256_file, short_hash, versions
from . import evaluate, teacher
from .export import card_path, export_onnx, write_card
from .net import NetSpec
from .train import TrainOptions, checkpoint_key, fit_gain, train, with_gain

HELDOUT = ("pannellum-granite-summit-lakes.jpg", "aframe-puy-de-sancy.jpg", "threejs-pano.webm")


@dataclass
class DistillOptions:
    out: str
    inputs: List[str] = field(default_factory=list)        # empty: teacher.default_inputs()
    heldout: Tuple[str, ...] = HELDOUT
    size: Tuple[int, int] = (512, 256)
    cache: str = ".hallucinator-cache/distill"
    per_panorama: int = 32
    per_video: int = 64
    jobs: int = 1
    threads: int = 1
    spec: NetSpec = NetSpec()
    train: TrainOptions = field(default_factory=TrainOptions)
    figure: Optional[str] = None                           # the student-vs-teacher sheet (JPEG)
    fresh: bool = False                                    # ignore a checkpoint
    command: str = ""


def log(msg: str) -> None:
    print(f"hallucinator distill: {msg}", file=sys.stderr, flush=True)


def _heldout_panoramas(plan: teacher.Plan, cache: teacher.TeacherCache) -> Dict[str, Dict]:
    named: Dict[str, Dict] = {}
    for s in plan.split("heldout"):
        if s.picture.frame >= 0:
            continue
        pic, res = cache.get(s)
        d = named.setdefault(s.picture.name, {"picture": pic, "teacher": []})
        d["teacher"].append(res.astype(np.float32))
    return named


def _heldout_frames(plan: teacher.Plan, cache: teacher.TeacherCache):
    pics, res = [], []
    for s in plan.split("heldout"):
        if s.picture.frame >= 0:
            p, r = cache.get(s)
            pics.append(p)
            res.append(r.astype(np.float32))
    return pics, res


def _time_forward(path: Path, size: Tuple[int, int], repeats: int = 7) -> Dict[str, float]:
    """ONNX Runtime ms per frame at ``size`` on the CPU, one thread (median of ``repeats``)."""
    from .runtime import Student

    frame = (np.random.default_rng(0).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    with Student(path, device="cpu", threads=1) as s:
        s.residual(frame)
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            s.residual(frame)
            ts.append(time.perf_counter() - t)
    return {"size": f"{size[0]}x{size[1]}", "ms_median": round(1000 * float(np.median(ts)), 1), "threads": 1}


def _evaluate(out: Path, plan: teacher.Plan, cache: teacher.TeacherCache, opts: DistillOptions):
    """The held-out figures of the exported student (through ONNX Runtime), its picture, its speed."""
    from .runtime import Student, add_residual

    with Student(out, device="cpu", threads=opts.threads) as student:
        named = _heldout_panoramas(plan, cache)
        result = evaluate.evaluate(named, student.residual) if named else {}
        fpics, fres = _heldout_frames(plan, cache)
        frames_corr = evaluate.frame_correlations(fpics, fres, student.residual)
        if opts.figure and named:
            from ..io.images import write_image
            from .figures import comparison

            name = sorted(named)[0]
            d = named[name]
            pic = d["picture"]
            write_image(opts.figure, comparison(pic, add_residual(pic, d["teacher"][0]), student.dream(pic)))
            log(f"wrote {opts.figure} ({name}, held out)")
    timing = _time_forward(out, opts.size)
    if result:
        log("held-out figures (mean over " + ", ".join(sorted(named)) + "):")
        for line in evaluate.report_lines(result):
            print(line, file=sys.stderr, flush=True)
    if frames_corr:
        log(f"held-out video frames: student-teacher correlation {np.mean(frames_corr):.3f} "
            f"({len(frames_corr)} frames)")
    log(f"ONNX Runtime, CPU, 1 thread: {timing['ms_median']} ms per {timing['size']} frame")

    return result, frames_corr, timing


def run(opts: DistillOptions) -> Dict:
    """Distil a student into ``opts.out`` (ONNX) with its card; returns the card."""
    from ..threads import set_threads

    set_threads(opts.threads)
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    inputs = opts.inputs or teacher.default_inputs()
    plan = teacher.plan_samples(inputs, opts.heldout, opts.per_panorama, opts.per_video)
    fingerprint = teacher.teacher_fingerprint()
    cache = teacher.TeacherCache(opts.cache, opts.size, fingerprint)
    log(f"{len(plan.split('train'))} training dreams, {len(plan.split('heldout'))} held out "
        f"({', '.join(plan.heldout) or 'none'}); cache {cache.root}")
    t0 = time.perf_counter()
    fill = teacher.fill_cache(plan, cache, jobs=opts.jobs, threads=1 if opts.jobs > 1 else opts.threads)
    t_teacher = time.perf_counter() - t0

    pics, res, samples = teacher.load_split(plan, cache, "train")
    data_key = short_hash([s.key(opts.size, fingerprint) for s in samples])
    # the checkpoint belongs to the data and the settings; not to --steps, so a run can be resumed with more
    meta = {"data": data_key, "spec": dataclasses.asdict(opts.spec), "train": checkpoint_key(opts.train)}
    ckpt = cache.root / f"train-{short_hash(meta)}.pt"
    if opts.fresh and ckpt.exists():
        ckpt.unlink()
    log(f"training on {len(pics)} dreams at {opts.size[0]}x{opts.size[1]}, {opts.train.steps} steps; "
        f"checkpoint {ckpt}")
    dream_objective = None
    if opts.train.objective_weight:
        from .objective import DreamObjective

        dream_objective = DreamObjective()
    net, state = train(pics, res, opts.spec, opts.train, checkpoint=ckpt, meta=meta, dream_objective=dream_objective)
    gain = fit_gain(net, pics, res)
    log(f"gain to the teacher's strength on the training set: {gain:.3f}")
    final = with_gain(net, gain)
    export_onnx(final, out, train_size=opts.size)

    result, frames_corr, timing = _evaluate(out, plan, cache, opts)

    card = {
        "kind": "hallucinator student",
        "file": out.name,
        "sha256": sha256_file(out),
        "train_size": list(opts.size),
        "net": dataclasses.replace(final.spec).to_dict(),
        "gain": gain,
        "teacher": {"engine": "hallucinator.engine.Dreamer", "settings": teacher.teacher_settings(),
                    "fingerprint": fingerprint},
        "data": {
            "sources": plan.sources,
            "heldout": plan.heldout,
            "train_sources": sorted({s.picture.name.split("#")[0] for s in samples}),
            "skipped_words": list(teacher.SKIP_WORDS),
            "train_dreams": len(samples), "heldout_dreams": len(plan.split("heldout")),
            "per_panorama": opts.per_panorama, "per_video": opts.per_video,
            "augmentations": "teacher dreams of yaw-rolled, mirrored and brightness-scaled (0.75-1.3x) pictures, "
                             "saturation-scaled (0.5-1.6x), half of them hue-turned (any angle) and half tilted "
                             "(up to 25 degrees about the forward axis); at training, random longitude rolls and "
                             "mirrors of pairs",
            "key": data_key,
        },
        "training": {**dataclasses.asdict(opts.train), "steps_done": state.step,
                     "seconds": round(state.seconds, 1), "losses": state.losses[::max(len(state.losses) // 60, 1)],
                     "loss": "MSE(residual) + blur_weight * MSE(blurred, sigma 2 px) "
                             "+ corr_weight * (1 - corr(blurred gray)) + objective_weight * (-(the teacher's "
                             "objective per pixel on the picture plus the residual rescaled to the teacher's mean "
                             "strength))",
                     "objective": dream_objective.describe() if dream_objective else None,
                     "init_sha256": meta["train"].get("init"),
                     "teacher_seconds": round(t_teacher, 1), "teacher": fill},
        "figures": {"heldout_panoramas": result, "heldout_video_frames_correlation":
                    [round(c, 4) for c in frames_corr], "onnxruntime_cpu": timing,
                    "picture": opts.figure},
        "versions": versions(("torch", "numpy", "cv2", "onnxruntime", "onnx")),
        "command": opts.command,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_card(out, card)
    log(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {card_path(out)}")
    return card
