"""The distillation loop: Adam on the teacher's residuals, checkpoints to resume from, a calibrated gain.

Loss: mean squared error on the residual, plus the same on the residual blurred (Gaussian, sigma 2 px, the
scale the figures are measured at), both in 1.0 = full-scale units, plus ``corr_weight`` times one minus the
correlation of the blurred gray residuals of each picture (scale-free: every picture counts, weak or strong),
plus ``objective_weight`` times the engine's own objective on the student's dream (:mod:`.objective`: minus the
teacher's layer response to the picture plus the student's residual rescaled to the teacher's strength), which
rewards the dream's patterns where the regression terms alone learn only their mean.
Training may start from the weights of an earlier run's checkpoint (``init``).
Each batch is rolled in longitude by a random number of columns and mirrored at random (the teacher is
equivariant to both, up to its jitter).
The student's output is the teacher's mean over seeds, which is weaker than any one dream; at the end its
output is multiplied by a gain, fitted on the training set, that gives it the teacher's strength (the mean
absolute gray residual), folded into ``NetSpec.out_scale``.
"""
from __future__ import annotations

import dataclasses
import math
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..atomic import atomic_write
from ..quality import GRAY_WEIGHTS as GRAY
from .net import NetSpec, StudentNet

OBJECTIVE_WEIGHT = 0.0


@dataclass
class TrainOptions:
    steps: int = 2000
    batch: int = 4
    lr: float = 2e-3
    lr_final: float = 1e-4        # cosine decay to this
    blur_weight: float = 1.0      # weight of the blurred-residual term
    corr_weight: float = 0.5      # weight of 1 - correlation of the blurred gray residuals (per picture)
    objective_weight: float = OBJECTIVE_WEIGHT  # weight of the engine's objective on the dream (0: off)
    init: Optional[str] = None    # start from the weights of this checkpoint (an earlier run's)
    checkpoint_every: int = 100
    seed: int = 0


@dataclass
class TrainState:
    step: int
    losses: List[List[float]]     # [step, loss] every 10 steps
    seconds: float


def gaussian_kernel(sigma: float = 2.0) -> torch.Tensor:
    r = int(math.ceil(3 * sigma))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), longitude wrapping, rows replicated at the poles."""
    r = kernel.numel() // 2
    c = x.shape[1]
    kx = kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="circular"), kx, groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), ky, groups=c)


def _batch(pics: np.ndarray, res: np.ndarray, idx: np.ndarray, rng: np.random.Generator):
    x = torch.from_numpy(pics[idx]).permute(0, 3, 1, 2).float() / 255.0
    y = torch.from_numpy(res[idx].astype(np.float32)).permute(0, 3, 1, 2)
    shift = int(rng.integers(x.shape[-1]))
    x, y = torch.roll(x, shift, dims=-1), torch.roll(y, shift, dims=-1)
    if rng.random() < 0.5:
        x, y = x.flip(-1), y.flip(-1)
    return x.contiguous(), y.contiguous()


def _lr(opts: TrainOptions, step: int) -> float:
    t = min(step / max(opts.steps, 1), 1.0)
    return opts.lr_final + 0.5 * (opts.lr - opts.lr_final) * (1 + math.cos(math.pi * t))


def save_checkpoint(path: Path, net: StudentNet, opt, state: TrainState, rng: np.random.Generator,
                    meta: Dict) -> None:
    blob = {"net": net.state_dict(), "opt": opt.state_dict(), "state": dataclasses.asdict(state),
            "rng": rng.bit_generator.state, "spec": dataclasses.asdict(net.spec), "meta": meta}
    atomic_write(path, lambda tmp: torch.save(blob, tmp))


def checkpoint_key(opts: TrainOptions) -> Dict:
    """The training settings a checkpoint belongs to: all but ``steps`` (a run can be resumed with more), and
    the objective and warm start only when used (so checkpoints of runs without them stay valid)."""
    key = {k: v for k, v in dataclasses.asdict(opts).items() if k != "steps"}
    if not opts.objective_weight:
        key.pop("objective_weight")
    if opts.init is None:
        key.pop("init")
    else:
        from ..provenance import sha256_file

        key["init"] = sha256_file(Path(opts.init))
    return key


def load_init(net: StudentNet, path: str) -> int:
    """Load the weights of an earlier run's checkpoint into ``net``; returns the steps it had done."""
    from ..errors import UserError

    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
        net.load_state_dict(blob["net"])
    except (OSError, KeyError, RuntimeError, EOFError, TypeError, ValueError, pickle.UnpicklingError) as e:
        raise UserError(f"--init {path}: not a distill checkpoint of this network ({type(e).__name__}); give a "
                        f"train-*.pt file from the distill cache of a run with the same --widths/--blocks") from None
    return int(blob.get("state", {}).get("step", 0))


def loss_terms(net: StudentNet, x: torch.Tensor, y: torch.Tensor, opts: TrainOptions, kernel: torch.Tensor,
               dream_objective=None) -> Dict[str, torch.Tensor]:
    """The weighted loss terms of one batch: ``teacher`` (the regression terms) and ``objective`` (when on)."""
    pred = net(x)
    loss = F.mse_loss(pred, y)
    if opts.blur_weight or opts.corr_weight:
        bp, by = blur(pred, kernel), blur(y, kernel)
        if opts.blur_weight:
            loss = loss + opts.blur_weight * F.mse_loss(bp, by)
        if opts.corr_weight:
            loss = loss + opts.corr_weight * (1.0 - correlation(gray(bp), gray(by)).mean())
    terms = {"teacher": loss}
    if opts.objective_weight and dream_objective is not None:
        terms["objective"] = opts.objective_weight * dream_objective(x, pred, y)
    return terms


def train(pics: np.ndarray, res: np.ndarray, spec: NetSpec, opts: TrainOptions, checkpoint: Optional[Path] = None,
          meta: Optional[Dict] = None, log=None, dream_objective=None):
    """Train a student on ``pics`` (N, h, w, 3) uint8 and ``res`` (N, h, w, 3) teacher residuals; resume from
    ``checkpoint`` when it exists with the same ``meta`` (the data and settings fingerprint).  With
    ``opts.objective_weight`` the engine's objective is added (``dream_objective``, made here when not given).
    Returns (net, state)."""
    log = log or sys.stderr
    torch.manual_seed(opts.seed)
    net = StudentNet(spec)
    if opts.objective_weight and dream_objective is None:
        from .objective import DreamObjective

        dream_objective = DreamObjective()
    opt = torch.optim.Adam(net.parameters(), lr=opts.lr)
    rng = np.random.default_rng(opts.seed)
    state = TrainState(0, [], 0.0)
    meta = meta or {}
    if checkpoint is not None and checkpoint.is_file():
        blob = torch.load(checkpoint, map_location="cpu", weights_only=False)
        if blob.get("meta") == meta:
            net.load_state_dict(blob["net"])
            opt.load_state_dict(blob["opt"])
            rng.bit_generator.state = blob["rng"]
            state = TrainState(**blob["state"])
            print(f"hallucinator distill: resuming at step {state.step} from {checkpoint}", file=log, flush=True)
        else:
            print(f"hallucinator distill: {checkpoint} is of other data or settings; starting afresh",
                  file=log, flush=True)
    if state.step == 0 and opts.init is not None:
        done = load_init(net, opts.init)
        print(f"hallucinator distill: starting from the weights of {opts.init} ({done} steps)", file=log, flush=True)
    kernel = gaussian_kernel(2.0)
    n = len(pics)
    t0 = time.perf_counter() - state.seconds
    recent: List[float] = []
    recent_obj: List[float] = []
    net.train()
    while state.step < opts.steps:
        idx = rng.choice(n, size=min(opts.batch, n), replace=False)
        x, y = _batch(pics, res, idx, rng)
        for g in opt.param_groups:
            g["lr"] = _lr(opts, state.step)
        terms = loss_terms(net, x, y, opts, kernel, dream_objective)
        loss = sum(terms.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state.step += 1
        recent.append(float(loss.detach()))
        recent_obj.append(float(terms["objective"].detach()) if "objective" in terms else 0.0)
        if state.step % 10 == 0:
            state.losses.append([state.step, float(np.mean(recent))])
            state.seconds = time.perf_counter() - t0
            if state.step % 50 == 0 or state.step == opts.steps:
                rate = state.seconds / state.step
                obj = f" (objective term {np.mean(recent_obj):.3e})" if opts.objective_weight else ""
                print(f"hallucinator distill: step {state.step}/{opts.steps} loss {np.mean(recent):.3e}{obj} "
                      f"({rate:.2f} s/step, eta {rate * (opts.steps - state.step) / 60:.1f} min)",
                      file=log, flush=True)
            recent, recent_obj = [], []
        if checkpoint is not None and (state.step % opts.checkpoint_every == 0 or state.step == opts.steps):
            state.seconds = time.perf_counter() - t0
            save_checkpoint(checkpoint, net, opt, state, rng, meta)
    net.eval()
    return net, state


def correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation per picture of (N, H, W) tensors."""
    a = a.flatten(1) - a.flatten(1).mean(1, keepdim=True)
    b = b.flatten(1) - b.flatten(1).mean(1, keepdim=True)
    return (a * b).sum(1) / ((a * a).sum(1) * (b * b).sum(1)).sqrt().clamp_min(1e-12)


def gray(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor(GRAY, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1)


@torch.no_grad()
def predict(net: StudentNet, pics: np.ndarray, batch: int = 4) -> np.ndarray:
    """The net's residuals (N, h, w, 3) float32 of uint8 pictures, in PyTorch."""
    out = []
    for i in range(0, len(pics), batch):
        x = torch.from_numpy(pics[i:i + batch]).permute(0, 3, 1, 2).float() / 255.0
        out.append(net(x).permute(0, 2, 3, 1).numpy())
    return np.concatenate(out)


def fit_gain(net: StudentNet, pics: np.ndarray, res: np.ndarray, limit: int = 64) -> float:
    """The gain that gives the student the teacher's mean absolute gray residual on (up to ``limit`` of) the
    training pictures."""
    pred = predict(net, pics[:limit])
    g = np.asarray(GRAY, dtype=np.float32)
    s = np.abs(pred @ g).mean()
    t = np.abs(res[:limit].astype(np.float32) @ g).mean()
    return float(t / max(s, 1e-12))


def with_gain(net: StudentNet, gain: float) -> StudentNet:
    """A copy of ``net`` whose output is multiplied by ``gain`` (folded into the spec's ``out_scale``)."""
    spec = dataclasses.replace(net.spec, out_scale=net.spec.out_scale * gain)
    out = StudentNet(spec)
    out.load_state_dict(net.state_dict())
    return out.eval()
