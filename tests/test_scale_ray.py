"""Scale-out on a real local Ray with 2 workers: identical frames for 1 and 2 workers, resume from the
cache, a worker killed mid-chunk, the driver killed mid-run, a chunk failing for a user error.

One Ray for the module (2 CPUs); tiny frames (128x64), the small model, a few frames, one torch
thread per worker.
"""
from __future__ import annotations

import glob
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from conftest import REPO, shared_file

from hallucinator.config import DreamConfig
from hallucinator.errors import UserError
from hallucinator.io.probe import probe
from hallucinator.io.reader import VideoReader
from hallucinator.io.writer import read_png_sequence
from hallucinator.scale.chunks import Chunk
from hallucinator.scale import driver
from hallucinator.scale.driver import ScaledRun
from hallucinator.scale.options import ScaleOptions
from hallucinator.scale.raybridge import Dispatcher
from hallucinator.scale.tasks import ChunkJob
from hallucinator.video.layout import Layout
from hallucinator.video.options import VideoOptions

ray = pytest.importorskip("ray")

BATTLE = "videos/panolens-1941-battle-640x320.mp4"
TINY = dict(model="efficientnet-lite0", layers=["block5"], octaves=2, iterations=3, device="cpu", seed=0)


@pytest.fixture(scope="module")
def local_ray():
    # the machine is shared: another job's memory must not make Ray kill these workers
    os.environ.setdefault("RAY_memory_monitor_refresh_ms", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def clip():
    return str(shared_file(BATTLE))


def scaled(clip, tmp, name, workers, cfg=None, frames=(0, 12), cache=None, **scale):
    opts = VideoOptions(frames=frames, size=(128, 64), cache_dir=str(cache or tmp / f"cache-{name}"),
                        png_dir=str(tmp / f"png-{name}"), control=str(tmp / f"c-{name}.mp4"), threads=1,
                        progress=False)
    s = ScaleOptions(ray="local", workers=workers, chunk_frames=scale.pop("chunk_frames", 4),
                     overlap_frames=scale.pop("overlap_frames", 2), **scale)
    return ScaledRun(cfg or DreamConfig(**TINY), opts, s).run(clip, str(tmp / f"{name}.mp4"))


def test_one_and_two_workers_give_the_same_frames_with_audio_and_360_metadata(local_ray, clip, tmp_path,
                                                                               monkeypatch):
    one = scaled(clip, tmp_path, "one", workers=1)
    two = scaled(clip, tmp_path, "two", workers=2, ship_frames=True)     # and frames through the object store
    a, b = read_png_sequence(tmp_path / "png-one"), read_png_sequence(tmp_path / "png-two")
    assert len(a) == 12 and all(np.array_equal(x, y) for x, y in zip(a, b))
    for name in ("one", "two"):
        info = probe(tmp_path / f"{name}.mp4")
        assert info.frames == 12 and info.has_audio and info.projection == "equirectangular"
        assert probe(tmp_path / f"c-{name}.mp4").frames == 12
    side = json.loads((tmp_path / "two.mp4.json").read_text())["scale"]
    assert [(c["warm_start"], c["start"], c["stop"]) for c in side["chunks"]] == [(0, 0, 4), (2, 4, 8), (6, 8, 12)]
    assert side["workers"] == 2 and side["retries"] == {}
    # every frame a chunk makes (warm-up too) was dreamed once, or found in that node's cache (shipping)
    assert one.dreamed == 4 + 6 + 6 and two.dreamed + two.from_cache == 4 + 6 + 6
    # each chunk ran in one of the two worker processes (which one depends on timing: chunks start as the scan
    # passes their end)
    assert all(c["pid"] for c in side["chunks"]) and len({c["pid"] for c in side["chunks"]}) <= 2
    assert "ratio_max" in two.quality["continuity"]
    assert "load_model" not in one.timings and "load_model" not in two.timings    # the driver loads no model
    control = [f.image for f in VideoReader(tmp_path / "c-one.mp4")]
    assert np.abs(a[5].astype(int) - control[5].astype(int)).mean() > 2     # dreamed, not the source
    # a rerun of the same command takes every chunk from the cache and runs no task; with room to keep only
    # 5 of the scan's working frames, the writing decodes the input again and resizes the other 7 again
    monkeypatch.setattr(driver, "KEEP_BYTES", 5 * 128 * 64 * 3)
    again = scaled(clip, tmp_path, "again", workers=2, cache=tmp_path / "cache-one")
    assert again.scale["chunks_cached"] == 3 and again.dreamed == 0 and again.from_cache == 16
    assert all(np.array_equal(x, y) for x, y in zip(a, read_png_sequence(tmp_path / "png-again")))
    assert probe(tmp_path / "again.mp4").frames == 12
    again_control = [f.image for f in VideoReader(tmp_path / "c-again.mp4")]
    assert len(again_control) == 12 and all(np.array_equal(x, y) for x, y in zip(control, again_control))


def _dream_chunk_pids():
    """Ray worker processes now running a chunk (Ray titles them after the task)."""
    pids = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                title = f.read()
        except OSError:
            continue
        if title.startswith(b"ray::dream_chunk"):
            pids.append(int(path.split("/")[2]))
    return pids


@pytest.mark.slow
def test_a_worker_killed_mid_chunk_reruns_it_and_the_frames_do_not_change(local_ray, clip, tmp_path):
    cfg = DreamConfig(**dict(TINY, iterations=30))          # chunks of a few seconds, time to kill one
    killed = []

    def killer():
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            pids = _dream_chunk_pids()
            if pids and glob.glob(str(tmp_path / "cache-hit" / "*/*/dream-*/eye0/*.png")):   # mid-chunk
                if pids[0] in _dream_chunk_pids():
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
            time.sleep(0.02)

    t = threading.Thread(target=killer)
    t.start()
    hit = scaled(clip, tmp_path, "hit", workers=2, cfg=cfg, frames=(0, 8))
    t.join()
    assert killed and sum(hit.scale["retries"].values()) >= 1
    calm = scaled(clip, tmp_path, "calm", workers=2, cfg=cfg, frames=(0, 8))
    assert calm.scale["retries"] == {}
    a, b = read_png_sequence(tmp_path / "png-hit"), read_png_sequence(tmp_path / "png-calm")
    assert len(a) == 8 and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_chunk_failing_for_a_user_error_fails_the_job_once_with_one_line(local_ray, tmp_path):
    job = ChunkJob(Chunk(0, 0, 0, 4), DreamConfig(**TINY), VideoOptions(cache_dir=str(tmp_path / "cache")),
                   str(tmp_path / "gone.mp4"), "0" * 64, Layout(1, 128, 64, 0, False), threads=1)
    d = Dispatcher(local_ray, window=2, retries=3, resources={"num_cpus": 1})
    d.submit(job)
    with pytest.raises(UserError) as err:
        d.wait_for(0)
    msg = str(err.value)
    assert msg.startswith("chunk 0 (frames 0-3): input ") and "--ship-frames" in msg and "\n" not in msg
    assert len(d.attempt_log()[0]) == 1                       # not retried


@pytest.mark.slow
def test_the_driver_killed_mid_run_resumes_from_the_cache_with_the_same_frames(local_ray, clip, tmp_path):
    cache, png = tmp_path / "cache", tmp_path / "png"
    cmd = [sys.executable, "-m", "hallucinator", "dream", clip, str(tmp_path / "out.mp4"), "--frames", "0:16",
           "--size", "128x64", "--model", "efficientnet-lite0", "--layer", "block5", "--octaves", "2",
           "--iterations", "3", "--device", "cpu", "--seed", "0", "--threads", "1", "--cache-dir", str(cache),
           "--png-dir", str(png), "--ray", "local", "--workers", "2", "--chunk-frames", "4", "--overlap-frames",
           "2", "-q"]
    first = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(glob.glob(str(cache / "*/*/dream-*/eye0/*.png"))) < 6:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not (tmp_path / "out.mp4").exists()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    side = json.loads((tmp_path / "out.mp4.json").read_text())
    assert side["scale"]["frames_from_cache"] >= 6
    ref = scaled(clip, tmp_path, "ref", workers=2, frames=(0, 16))
    assert ref.dreamed == 4 + 6 * 3
    a, b = read_png_sequence(png), read_png_sequence(tmp_path / "png-ref")
    assert len(a) == 16 and all(np.array_equal(x, y) for x, y in zip(a, b))


def _two_scenes(clip, tmp_path):
    """Four frames of the battle, then four of the same frames turned upside down: a cut at frame 4."""
    from hallucinator.io.writer import VideoWriter
    from hallucinator.sphere import resize_equirect_image

    with VideoReader(clip) as reader:
        frames = [resize_equirect_image(f.image, width=256, height=128) for f in reader.frames(0, 4)]
    scene = tmp_path / "scene.mp4"
    with VideoWriter(scene, fps=25, width=256, height=128, crf=16) as w:
        for img in frames + [np.ascontiguousarray(f[::-1, ::-1]) for f in frames]:
            w.write(img)
    return str(scene)


def test_a_scene_cut_starts_a_chunk_with_no_warm_up(local_ray, clip, tmp_path):
    scene = _two_scenes(clip, tmp_path)
    r = scaled(scene, tmp_path, "cut", workers=2, frames=None, chunk_frames=100, overlap_frames=2)
    assert [(c["warm_start"], c["start"], c["stop"], c["cut"]) for c in r.scale["chunks"]] == [
        (0, 0, 4, False), (4, 4, 8, True)]
    assert r.frames == 8 and r.quality["continuity"]["boundaries"] == []     # a cut is no boundary to judge
    # chunk 0 was sent from its first frame, planned to the clip's end; the cut found later ended it sooner
    assert r.scale["chunks"][0]["sent_stop"] == 8 and "sent_stop" not in r.scale["chunks"][1]


def test_a_chunk_sent_ahead_of_the_scan_and_moved_by_a_cut_is_withdrawn_and_the_frames_do_not_change(
        local_ray, clip, tmp_path):
    """Chunks of 3 frames: with 2 workers, chunk 2 is sent as frames 5-7 (warm-up from 5) before the scan
    meets the cut at frame 4, which moves it to frames 4-6; its task is withdrawn and the chunk sent again."""
    scene = _two_scenes(clip, tmp_path)
    two = scaled(scene, tmp_path, "two", workers=2, frames=None, chunk_frames=3, overlap_frames=1)
    one = scaled(scene, tmp_path, "one", workers=1, frames=None, chunk_frames=3, overlap_frames=1)
    plan = [(0, 0, 3, False), (2, 3, 4, False), (4, 4, 7, True), (6, 7, 8, False)]
    for r in (one, two):
        assert [(c["warm_start"], c["start"], c["stop"], c["cut"]) for c in r.scale["chunks"]] == plan
        assert r.scale["retries"] == {}
    assert [(c["index"], c["warm_start"], c["start"]) for c in two.scale["chunks_withdrawn"]] == [(2, 5, 6)]
    assert one.scale["chunks_withdrawn"] == []
    a, b = read_png_sequence(tmp_path / "png-one"), read_png_sequence(tmp_path / "png-two")
    assert len(a) == 8 and all(np.array_equal(x, y) for x, y in zip(a, b))



def test_bench_takes_turns_after_an_untimed_warm_up_and_reports_the_median_of_the_rounds(local_ray, clip, tmp_path,
                                                                                        capsys):
    """bench video --ray-workers: one untimed two-frame run, then the worker counts in turn, --repeat rounds."""
    import argparse

    from hallucinator.scale.bench import bench_scale

    args = argparse.Namespace(ray_workers="1,2", overlap_frames="2", threads=1, frames="0:8", size="128x64",
                              blend="coherent", to_2to1=False, chunk_frames=4, repeat=2)
    runs = bench_scale(clip, DreamConfig(**TINY), args, str(tmp_path))["overlaps"][2]
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if "worker" in line and "run " in line] == [
        "overlap 2, 1 worker (run 1 of 2)", "overlap 2, 2 workers (run 1 of 2)",
        "overlap 2, 1 worker (run 2 of 2)", "overlap 2, 2 workers (run 2 of 2)"]
    one, two = runs[1], runs[2]
    assert len(one["seconds_runs"]) == len(two["seconds_runs"]) == 2 and two["identical_frames"]
    assert len(two["driver_cpu_seconds_runs"]) == 2 and all(c > 0 for c in two["driver_cpu_seconds_runs"])
    assert two["speedups"] == [a / b for a, b in zip(one["seconds_runs"], two["seconds_runs"])]
    assert two["speedup"] == pytest.approx(float(np.median(two["speedups"])))
    assert os.path.isdir(tmp_path / "warm-up-2") and len(os.listdir(tmp_path / "warm-up-2")) == 2   # untimed
