"""Shared fixtures: where the real test data lives, and a clear skip when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from hallucinator.threads import prefer_passive_wait

# The tests load torch in this process before any command runs, so ask for OpenMP's passive waiting here
# too, as the CLI does: on a busy machine the default busy-waiting made the engine tests about 2x slower.
prefer_passive_wait()

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HALLUCINATOR_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_file(relative: str) -> Path:
    """Path of a file in ../shared/data, or skip the test saying which file is missing."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"real test data not present: {path} (see shared/data/SOURCES.md)")
    return path


@pytest.fixture
def shared():
    return shared_file


@pytest.fixture(scope="session")
def xdisplay():
    """A virtual X display (Xvfb + Mesa) for tests that open real OpenGL windows.

    Uses $DISPLAY when one is set; otherwise starts Xvfb for the session.
    Skips, saying why, when neither is possible (.ci/run installs Xvfb).
    """
    import shutil
    import subprocess
    import time

    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    xvfb = shutil.which("Xvfb")
    if not xvfb:
        pytest.skip("Xvfb is not installed (apt-get install xvfb libgl1-mesa-dri); .ci/run installs it")
    for number in range(90, 140):
        if not Path(f"/tmp/.X{number}-lock").exists() and not Path(f"/tmp/.X11-unix/X{number}").exists():
            break
    display = f":{number}"
    # -noreset: without it the server resets whenever its last client leaves, and a window opened
    # at that moment (one test module closing GLFW, the next opening it) is refused
    proc = subprocess.Popen([xvfb, display, "-screen", "0", "1920x1080x24", "-nolisten", "tcp", "-noreset"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if Path(f"/tmp/.X11-unix/X{number}").exists():
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail(f"Xvfb is installed but could not start on {display} (exit code {proc.returncode})")
    os.environ["DISPLAY"] = display
    os.environ.setdefault("LIBGL_ALWAYS_SOFTWARE", "1")
    try:
        yield display
    finally:
        os.environ.pop("DISPLAY", None)
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def xr_runtime(xdisplay):
    """A real OpenXR runtime (Monado, simulated headset, null compositor) for child processes: its environment.

    Skips, saying why, when no runtime is found or it does not load; in CI (``CI`` set) that fails instead,
    since .ci/run makes one available."""
    from xr_runtime import check, manifest, runtime_env

    path = manifest()
    problem = None
    if path is None or not path.is_file():
        problem = f"no OpenXR runtime manifest ({path or 'set HALLUCINATOR_XR_RUNTIME_JSON'}); .ci/run provides Monado"
    else:
        env = runtime_env(path, xdisplay)
        try:
            env["HALLUCINATOR_XR_EXTENSIONS"] = check(env)
        except RuntimeError as exc:
            problem = f"the OpenXR runtime {path} does not load: {exc}"
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    return env
