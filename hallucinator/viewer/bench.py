"""``hallucinator bench viewer``: upload, render and end-to-end frame rates on this machine.

Measured in one run, side by side:

* decode: the background decoder alone (frames/s, RGB out);
* upload: one frame into the texture, through pixel buffer objects and, for
  reference, straight from client memory (``glTexSubImage2D`` with a pointer),
  each followed by ``glFinish`` so the copy is really done;
* render: one view at the viewport size (draw + ``glFinish``);
* play: the whole loop (decode thread -> upload -> draw -> present) as fast as
  it goes, every frame shown once (``realtime=False``), i.e. the fps the viewer
  can sustain.
"""
from __future__ import annotations

import time
from typing import Optional, Tuple

import numpy as np

from .pose import Pose


def _synthetic_frames(width: int, height: int, count: int = 4):
    """4:2:0 frames as a decoder hands them over (Y, U, V planes), random content."""
    from .frames import Frame, yuv_matrix

    rng = np.random.default_rng(0)
    y = rng.integers(16, 236, size=(height, width), dtype=np.uint8)
    u = rng.integers(16, 241, size=(height // 2, width // 2), dtype=np.uint8)
    v = rng.integers(16, 241, size=(height // 2, width // 2), dtype=np.uint8)
    m = yuv_matrix(1, 1, height)
    return [Frame(i, i / 30, None, planes=(np.roll(y, 8 * i, 1), np.roll(u, 4 * i, 1), np.roll(v, 4 * i, 1)), yuv=m)
            for i in range(count)]


def _timeit(fn, n: int, finish_each: bool = True) -> float:
    """Seconds per call; ``finish_each``: wait for the GPU after every call (latency) or only at the end
    (throughput, as in the render loop)."""
    from OpenGL import GL

    fn(0)
    GL.glFinish()
    t0 = time.perf_counter()
    for i in range(n):
        fn(i + 1)
        if finish_each:
            GL.glFinish()
    GL.glFinish()
    return (time.perf_counter() - t0) / n


def run_bench(video: Optional[str] = None, size: Tuple[int, int] = (1280, 720), frames: int = 60,
              source_size: Tuple[int, int] = (4096, 2048), visible: bool = False, planar: Optional[bool] = None) -> dict:
    """Figures as a dict (see :func:`format_bench`).  ``planar``: hand 4:2:0 planes to the GPU (None: the
    renderer's choice, as in playback)."""
    from OpenGL import GL

    from .app import Viewer
    from .frames import VideoSource

    res = {"viewport": f"{size[0]}x{size[1]}", "frames": frames}
    if planar is None:
        with Viewer(size=(16, 16), visible=False) as probe:
            planar = probe.renderer.planar
    if video:
        src = VideoSource(video, planar=planar)
        res["source"] = f"{video} ({src.width}x{src.height}, {src.fps:g} fps)"
        src.start(0.0)
        imgs = []
        t0 = time.perf_counter()
        while len(imgs) < frames:
            f = src.get(timeout=30)
            if f is None or not hasattr(f, "image"):
                break
            imgs.append(f)
        dt = time.perf_counter() - t0
        src.close()
        res["decode_fps"] = len(imgs) / dt if dt else 0.0
        if not imgs:
            raise RuntimeError("no frames decoded")
    else:
        imgs = _synthetic_frames(*source_size)
        if not planar:
            imgs = [f.image for f in imgs]
        res["source"] = f"synthetic {source_size[0]}x{source_size[1]} frames"
    n = max(5, min(frames, 200))
    with Viewer(size=size, visible=visible, vsync=False, status=False) as v:
        vendor = GL.glGetString(GL.GL_RENDERER)
        res["renderer"] = vendor.decode() if isinstance(vendor, bytes) else str(vendor)
        res["frame_format"] = "yuv420p planes (converted in the shader)" if getattr(imgs[0], "is_yuv", False) \
            else "rgb24 (converted on the CPU)"
        r = v.renderer
        for label, pbo in (("upload_pbo_ms", True), ("upload_direct_ms", False)):
            r.pbo = pbo
            if r.sources["dream"] is not None:
                r.sources["dream"].delete()
                r.sources["dream"] = None
            res[label] = 1000 * _timeit(lambda i: r.set_frame("dream", imgs[i % len(imgs)]), n)
        from .renderer import software_renderer

        r.pbo = not software_renderer()
        res["pbo_used"] = r.pbo
        v.set_frames(imgs[0])
        poses = [Pose.from_euler(yaw=3.0 * i, pitch=10.0 * np.sin(i / 7), fov=100) for i in range(n + 1)]
        res["render_ms"] = 1000 * _timeit(lambda i: (v.draw_view(poses[i]), v.present()), n, finish_each=False)
        res["render_latency_ms"] = 1000 * _timeit(lambda i: v.draw_view(poses[i]), n)
        res["render_fps"] = 1000.0 / res["render_ms"] if res["render_ms"] else float("inf")
        # the whole loop
        if video:
            vs = VideoSource(video, planar=planar)
            try:
                s = v.play(vs, max_frames=frames, pose=Pose(fov=100), realtime=False, audio=False, keys=False)
            finally:
                vs.close()
            res["play_fps"] = s.video_frames / s.wall_seconds if s.wall_seconds else 0.0
            res["play_upload_ms"] = s.mean_upload_ms
            res["play_render_ms"] = s.mean_render_ms
        else:
            t0 = time.perf_counter()
            for i in range(n):
                v.renderer.set_frame("dream", imgs[i % len(imgs)])
                v.draw_view(poses[i])
                v.present()
            GL.glFinish()
            res["play_fps"] = n / (time.perf_counter() - t0)
    return res


def format_bench(res: dict) -> str:
    lines = [f"viewer bench: {res['source']} -> {res['viewport']} on {res.get('renderer', '?')}",
             f"  frames handed to the GPU as {res['frame_format']}; PBO uploads {'on' if res['pbo_used'] else 'off'}"
             " for this renderer"]
    if "decode_fps" in res:
        lines.append(f"  decode (background thread)      {res['decode_fps']:8.1f} fps")
    lines.append(f"  upload via PBO                  {res['upload_pbo_ms']:8.2f} ms/frame")
    lines.append(f"  upload direct (reference)       {res['upload_direct_ms']:8.2f} ms/frame")
    lines.append(f"  render one view (throughput)    {res['render_ms']:8.2f} ms/frame ({res['render_fps']:.1f} fps)")
    lines.append(f"  render one view (with glFinish) {res['render_latency_ms']:8.2f} ms/frame")
    lines.append(f"  whole loop, every frame shown   {res['play_fps']:8.1f} fps")
    return "\n".join(lines)
