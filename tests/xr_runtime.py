"""Finding and checking a real OpenXR runtime for the XR tests: Monado with its simulated headset.

The runtime is the manifest in ``$HALLUCINATOR_XR_RUNTIME_JSON`` (``.ci/run`` sets it to the one it
made available), else the prebuilt one in ``../shared/tools/monado/``.  XR work runs in child
processes (``python -m hallucinator ...``), so a runtime that crashes cannot take the test run down.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

REPO = Path(__file__).resolve().parents[1]
MONADO = REPO.parent / "shared" / "tools" / "monado"
PREBUILT = MONADO / "prebuilt-debian12-x86_64" / "openxr_monado.json"

CHECK = ("import xr; names = [p.extension_name.decode() if isinstance(p.extension_name, bytes) "
         "else str(p.extension_name) for p in xr.enumerate_instance_extension_properties()]; print(' '.join(names))")


def manifest() -> Optional[Path]:
    given = os.environ.get("HALLUCINATOR_XR_RUNTIME_JSON")
    if given:
        return Path(given)
    return PREBUILT if PREBUILT.is_file() else None


def runtime_env(manifest_path: Path, display: str, null_compositor: bool = True, **extra) -> Dict[str, str]:
    """The environment of a child process that uses Monado's simulated headset on ``display``.

    ``null_compositor=False``: Monado's main compositor, which opens a window showing both eyes."""
    env = dict(os.environ, XR_RUNTIME_JSON=str(manifest_path), SIMULATED_ENABLE="1", XRT_LOG="warning",
               DISPLAY=display, LIBGL_ALWAYS_SOFTWARE="1", PYTHONPATH=str(REPO))
    env.pop("XRT_COMPOSITOR_NULL", None)
    if null_compositor:
        env["XRT_COMPOSITOR_NULL"] = "1"
    env.update(extra)
    return env


def check(env: Dict[str, str]) -> str:
    """The runtime's extensions (space separated); raises RuntimeError saying why it does not load."""
    proc = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["no output"])[-1])
    return proc.stdout.strip()


def hallucinator(env: Dict[str, str], *args, timeout: float = 300, cwd=None) -> subprocess.CompletedProcess:
    """``python -m hallucinator ARGS`` in a child process with ``env``."""
    return subprocess.run([sys.executable, "-m", "hallucinator", *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)
