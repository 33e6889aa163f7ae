"""Audio playback and the clock that drives the video.

:class:`AudioClock` decodes a file's first audio stream on its own thread and
plays it through sounddevice (PortAudio).  Its :meth:`time` is the media time
of the sample being heard, which is what the player shows frames against.
When there is no sound device (servers, CI, ``device=False``) it runs a
*virtual* output that consumes samples at the nominal rate on the monotonic
clock: the clock stays audio-driven (it stalls when decoding falls behind,
like a real device would) and the video code does not know the difference.

:class:`WallClock` is the clock for silent media, :class:`StepClock` the one for
showing every frame once, :class:`LoopingClock` keeps an audio clock counting
up through a looping video; all have the same methods: ``start()``, ``time()``,
``pause(flag)``, ``paused``, ``seek(t)``, ``close()``.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path
from typing import Optional

import numpy as np


class WallClock:
    """Playback clock on the monotonic wall clock (silent media, stills)."""

    kind = "wall"

    def __init__(self, start_s: float = 0.0, rate: float = 1.0):
        self._base = float(start_s)
        self._t0: Optional[float] = None
        self._paused_at: Optional[float] = None
        self.rate = rate

    def start(self):
        self._t0 = time.monotonic()

    def time(self) -> float:
        if self._t0 is None:
            return self._base
        now = self._paused_at if self._paused_at is not None else time.monotonic()
        return self._base + (now - self._t0) * self.rate

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self, flag: bool = True):
        if flag and self._paused_at is None:
            self._paused_at = time.monotonic()
        elif not flag and self._paused_at is not None:
            if self._t0 is not None:
                self._t0 += time.monotonic() - self._paused_at
            self._paused_at = None

    def seek(self, t: float):
        self._base = float(t)
        now = time.monotonic()
        self._t0 = now
        if self._paused_at is not None:
            self._paused_at = now

    def close(self):
        pass


class StepClock(WallClock):
    """A clock that only moves when told (frame-exact offline rendering and tests)."""

    kind = "step"

    def __init__(self, start_s: float = 0.0):
        super().__init__(start_s)
        self._now = float(start_s)

    def start(self):
        pass

    def time(self) -> float:
        return self._now

    def advance(self, dt: float):
        if self._paused_at is None:
            self._now += dt

    def seek(self, t: float):
        self._now = float(t)


class AudioClock:
    """Plays the audio of ``path`` from ``start_s`` and reports the media time being heard.

    ``device``: None for the default output, a sounddevice device id/name, or
    False for the virtual output.  ``self.virtual`` says which one is in use
    (and ``self.device_error`` why a real device could not be opened).
    """

    kind = "audio"

    def __init__(self, path, start_s: float = 0.0, device=None, volume: float = 1.0, buffer_s: float = 1.0):
        import av

        self.path = Path(path)
        self._av = av
        self.container = av.open(str(self.path))
        if not self.container.streams.audio:
            raise ValueError(f"{self.path} has no audio stream")
        self.stream = self.container.streams.audio[0]
        self.rate = int(self.stream.rate or self.stream.codec_context.sample_rate)
        self.channels = min(2, self.stream.codec_context.channels or 2)
        self.volume = float(volume)
        self.buffer_s = buffer_s
        self._chunks: deque = deque()
        self._lock = threading.Lock()
        self._have = threading.Condition(self._lock)
        self._pushed = 0          # samples decoded since the last seek
        self._consumed = 0        # samples played since the last seek
        self._base = float(start_s)
        self._eof = False
        self._stop = threading.Event()
        self._seek_to: Optional[float] = float(start_s)
        self._generation = 0
        self._paused = True
        self.underruns = 0
        self.virtual = device is False
        self.device_error = "disabled" if device is False else None
        self._stream_out = None
        self._device = device
        self._t0 = None          # virtual output: wall time at which consumed == 0
        self._last_cb = None     # real output: (monotonic, consumed after the block, frames)
        self._latency = 0.0
        self._thread = threading.Thread(target=self._decode_loop, name=f"audio:{self.path.name}", daemon=True)
        self._thread.start()

    # -- decoding ------------------------------------------------------------
    def _decode_loop(self):
        av = self._av
        resampler = av.AudioResampler(format="flt", layout="stereo" if self.channels == 2 else "mono", rate=self.rate)
        tb = self.stream.time_base
        # media time 0 is the first video frame (frame indices count from there), so sound that
        # starts earlier or later than the picture (encoder priming, offsets) stays in sync
        origin = self._origin()
        start_pts = int(round(origin / tb))
        it = None
        skip_samples = 0
        generation = -1
        while not self._stop.is_set():
            with self._lock:
                seek_to, self._seek_to = self._seek_to, None
                if seek_to is not None:
                    generation = self._generation
            if seek_to is not None:
                self.container.seek(max(0, start_pts + int(seek_to / tb)), stream=self.stream, backward=True)
                it = self.container.decode(self.stream)
                skip_until = seek_to
                resampler = av.AudioResampler(format="flt", layout="stereo" if self.channels == 2 else "mono",
                                              rate=self.rate)
            try:
                frame = next(it)
            except StopIteration:
                with self._lock:
                    self._eof = True
                    self._have.notify_all()
                while not self._stop.is_set() and self._seek_to is None:
                    self._stop.wait(0.02)
                continue
            except av.FFmpegError:
                continue
            t = float(((frame.pts or 0) - start_pts) * tb)
            for out in resampler.resample(frame):
                data = out.to_ndarray().reshape(-1, self.channels).astype(np.float32, copy=False)
                if skip_until is not None:
                    skip_samples = int(round((skip_until - t) * self.rate))
                    if skip_samples > 0:
                        data = data[skip_samples:]
                    elif skip_samples < 0:  # stream starts after the seek point: pad with silence
                        data = np.concatenate([np.zeros((-skip_samples, self.channels), np.float32), data])
                    skip_until = None
                t += out.samples / self.rate
                if not len(data):
                    continue
                with self._lock:
                    if generation != self._generation:
                        break
                    self._chunks.append(data)
                    self._pushed += len(data)
                    self._have.notify_all()
                # keep about buffer_s ahead of what is heard
                while not self._stop.is_set() and self._seek_to is None:
                    with self._lock:
                        ahead = (self._pushed - self._consumed) / self.rate
                    if ahead < self.buffer_s:
                        break
                    self._stop.wait(0.01)

    def _origin(self) -> float:
        """Seconds on the container's timeline that playback time 0 stands for."""
        if self.container.streams.video:
            v = self.container.streams.video[0]
            if v.start_time is not None:
                return float(v.start_time * v.time_base)
        return float((self.stream.start_time or 0) * self.stream.time_base)

    def _take(self, n: int) -> np.ndarray:
        """Up to ``n`` samples from the buffer (lock held)."""
        parts, got = [], 0
        while got < n and self._chunks:
            c = self._chunks[0]
            k = min(n - got, len(c))
            parts.append(c[:k])
            if k == len(c):
                self._chunks.popleft()
            else:
                self._chunks[0] = c[k:]
            got += k
        self._consumed += got
        return np.concatenate(parts) if parts else np.zeros((0, self.channels), np.float32)

    # -- output --------------------------------------------------------------
    def _open_device(self):
        if self.virtual:
            return
        try:
            import sounddevice as sd

            sd.query_devices(self._device, kind="output")
            self._stream_out = sd.OutputStream(samplerate=self.rate, channels=self.channels, dtype="float32",
                                               device=self._device, callback=self._callback)
            self._latency = float(self._stream_out.latency or 0.0)
        except Exception as exc:  # no PortAudio device: virtual output
            self.virtual = True
            self.device_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._stream_out = None

    def _callback(self, outdata, frames, time_info, status):
        with self._lock:
            if self._paused:
                outdata.fill(0)
                return
            data = self._take(frames)
            self._last_cb = (time.monotonic(), self._consumed, frames)
        n = len(data)
        outdata[:n] = data * self.volume
        if n < frames:
            outdata[n:] = 0
            with self._lock:
                if self._eof:   # past the end of the sound: silence keeps the clock going
                    self._consumed += frames - n
                    self._pushed = max(self._pushed, self._consumed)
                else:
                    self.underruns += 1

    def start(self):
        """Start playing (waits briefly for the first samples so the clock starts on sound)."""
        self._open_device()
        with self._lock:
            self._have.wait_for(lambda: self._pushed > 0 or self._eof, timeout=2.0)
            self._paused = False
            self._t0 = time.monotonic()
        if self._stream_out is not None:
            self._stream_out.start()

    def _virtual_update(self):
        """Consume samples the virtual device would have played by now (lock held)."""
        if self._paused or self._t0 is None:
            return
        now = time.monotonic()
        due = int((now - self._t0) * self.rate) - self._consumed
        if due <= 0:
            return
        avail = self._pushed - self._consumed
        if due > avail:
            if self._eof:   # past the end of the sound: silence keeps the clock going
                self._take(avail)
                self._consumed += due - avail
                self._pushed = self._consumed
                return
            # underrun: the virtual device stalls, as a real one would lose sync
            self.underruns += 1
            self._t0 += (due - avail) / self.rate
            due = avail
        self._take(due)

    def time(self) -> float:
        """Media time (seconds) of the sample being heard now."""
        with self._lock:
            if self.virtual or self._stream_out is None:
                self._virtual_update()
                if self._paused or self._t0 is None:
                    return self._base + self._consumed / self.rate
                # interpolate inside the current millisecond, never past what was decoded
                pos = (time.monotonic() - self._t0) * self.rate
                if not self._eof:
                    pos = min(pos, float(self._pushed))
                return self._base + max(pos, self._consumed) / self.rate
            if self._last_cb is None or self._paused:
                return self._base + self._consumed / self.rate
            when, consumed, frames = self._last_cb
            block_start = (consumed - frames) / self.rate
            since = min(max(0.0, time.monotonic() - when), frames / self.rate)
            return self._base + max(0.0, block_start + since - self._latency)

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self, flag: bool = True):
        with self._lock:
            if flag == self._paused:
                return
            if flag:
                self._virtual_update()
                self._paused = True
            else:
                self._paused = False
                # the virtual device restarts where it stopped
                self._t0 = time.monotonic() - self._consumed / self.rate

    def seek(self, t: float):
        with self._lock:
            self._generation += 1
            self._seek_to = max(0.0, float(t))
            self._base = self._seek_to
            self._chunks.clear()
            self._pushed = self._consumed = 0
            self._eof = False
            self._last_cb = None
            self._t0 = time.monotonic()

    @property
    def ended(self) -> bool:
        """All the sound has been played."""
        with self._lock:
            if self.virtual or self._stream_out is None:
                self._virtual_update()
            return self._eof and self._consumed >= self._pushed

    def close(self):
        self._stop.set()
        if self._stream_out is not None:
            try:
                self._stream_out.stop()
                self._stream_out.close()
            except Exception:
                pass
        self._thread.join(timeout=2)
        try:
            self.container.close()
        except Exception:
            pass


class LoopingClock:
    """Wraps an audio clock so a looping video keeps one continuous playback timeline."""

    def __init__(self, inner: AudioClock, duration: float):
        self.inner, self.duration, self.loops = inner, duration, 0
        self.kind = inner.kind

    @property
    def virtual(self) -> bool:
        return self.inner.virtual

    @property
    def underruns(self) -> int:
        return self.inner.underruns

    def start(self):
        self.inner.start()

    def time(self) -> float:
        if self.inner.ended and self.duration:
            self.loops += 1
            self.inner.seek(0.0)
        return self.loops * self.duration + self.inner.time()

    def pause(self, flag: bool = True):
        self.inner.pause(flag)

    @property
    def paused(self) -> bool:
        return self.inner.paused

    def seek(self, t: float):
        self.loops = int(t // self.duration) if self.duration else 0
        self.inner.seek(t - self.loops * self.duration)

    def close(self):
        self.inner.close()
