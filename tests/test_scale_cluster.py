"""``--ray ADDRESS``: a run joins a Ray cluster started apart with ``ray start --head`` and leaves it
running; without Ray's token setting it stops with one line saying how to give the token.

The head runs with token authentication, which Ray turns on by default for a head started where a
token is on disk, and which a process joining by address uses only when ``RAY_AUTH_MODE=token``.
Tiny frames (128x64), the small model, one torch thread per worker; the command run as a user runs it.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import shared_file

from hallucinator.io.probe import probe

ray = pytest.importorskip("ray")

BATTLE = "videos/panolens-1941-battle-640x320.mp4"
TOKEN = secrets.token_hex(32)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_status(address: str, env) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("ray")), "status", "--address", address], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def head():
    """A head node with 2 CPUs, token authentication on, in its own temporary folder; stopped at the end."""
    port, temp = _free_port(), tempfile.mkdtemp(prefix="rayhead")     # short: Ray's socket paths have a limit
    address = f"127.0.0.1:{port}"
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN, OMP_WAIT_POLICY="PASSIVE")
    log = open(Path(temp) / "head.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", f"--port={port}",
                             "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
                             f"--temp-dir={temp}", "--block"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _ray_status(address, env).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, (Path(temp) / "head.log").read_text()[-2000:]
            time.sleep(1)
        yield dict(address=address, proc=proc, env=env)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _dream(address, tmp, name, env, *extra) -> subprocess.CompletedProcess:
    """The command a user runs on the head node (a fresh process, so Ray reads its settings at start)."""
    cmd = [sys.executable, "-m", "hallucinator", "--threads", "1", "dream", str(shared_file(BATTLE)),
           str(tmp / f"{name}.mp4"), "--frames", "0:8", "--size", "128x64", "--model", "efficientnet-lite0",
           "--layer", "block5", "--octaves", "2", "--iterations", "3", "--cache-dir", str(tmp / "cache"),
           "--ray", address, "--workers", "2", "--chunk-frames", "4", "--overlap-frames", "2", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_run_joins_a_running_cluster_by_address_and_leaves_it_running(head, tmp_path):
    r = _dream(head["address"], tmp_path, "joined", head["env"], "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    assert probe(tmp_path / "joined.mp4").frames == 8
    side = json.loads((tmp_path / "joined.mp4.json").read_text())["scale"]
    assert side["ray"] == head["address"] and side["workers"] == 2 and len(side["chunks"]) == 2
    assert all(c["pid"] for c in side["chunks"]) and side["frames_dreamed"] == 4 + 6
    assert head["proc"].poll() is None and _ray_status(head["address"], head["env"]).returncode == 0


@pytest.mark.slow
def test_joining_a_cluster_that_asks_for_a_token_without_it_says_how_to_give_it(head, tmp_path):
    env = {k: v for k, v in head["env"].items() if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    r = _dream(head["address"], tmp_path, "refused", env)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr[-2000:]     # Ray's retry lines held back, no bar
    last = r.stderr.strip()
    assert r.returncode == 2 and last.startswith(f"hallucinator: error: cannot join the Ray cluster at {head['address']}")
    assert "RAY_AUTH_MODE=token" in last and "ray get-auth-token" in last
    assert not (tmp_path / "refused.mp4").exists() and not (tmp_path / "refused.mp4.json").exists()
    assert head["proc"].poll() is None
