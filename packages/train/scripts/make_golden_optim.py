"""Golden trajectories for the TypeScript optimisers, made with PyTorch's own torch.optim.

    python3 packages/train/scripts/make_golden_optim.py   # writes packages/train/fixtures/optim-golden.json

Three parameters (a weight that is decayed, a bias and a LayerNorm weight that are not, as the
BERT convention and Detectron's norm rule exclude them), six steps with fixed gradients, the
learning rate cut by 10x before step 4 (as the multi-step schedule does at a decay epoch), and the
third parameter given no gradient at step 2 (torch skips a parameter whose grad is None).
Parameters are recorded after every step, for SGD (momentum 0.9: the paper's
CNN optimiser, with weight decay 0.05 rather than the paper's 5e-4 so that coupled and decoupled
decay differ well beyond float32 rounding) and AdamW (betas 0.9/0.999, weight decay 0.1: the
Transformer's optimiser, decay raised likewise).
"""
import json
import math
from pathlib import Path

import torch

torch.set_default_dtype(torch.float64)


def init():
    return {
        "encoder.dense.weight": torch.tensor([[0.5 - 0.1 * (i * 3 + j) for j in range(3)] for i in range(4)]),
        "encoder.dense.bias": torch.tensor([0.1, -0.2, 0.3]),
        "encoder.LayerNorm.weight": torch.tensor([1.0, 1.0, 1.0]),
    }


def grad(name, p, step):
    # Deterministic, varied in sign and size, depending on the parameter's value (as real gradients do).
    k = {"encoder.dense.weight": 1.0, "encoder.dense.bias": 2.0, "encoder.LayerNorm.weight": 3.0}[name]
    idx = torch.arange(p.numel(), dtype=torch.float64).reshape(p.shape)
    return torch.sin(idx * 0.7 + step * k) * (0.5 + 0.1 * step) + 0.3 * p


def run(make_opt, lr):
    params = {n: torch.nn.Parameter(t.clone()) for n, t in init().items()}
    decay = [params["encoder.dense.weight"]]
    no_decay = [params["encoder.dense.bias"], params["encoder.LayerNorm.weight"]]
    opt = make_opt(decay, no_decay, lr)
    trajectory, lrs = [], []
    for step in range(1, 7):
        cur = lr * (0.1 if step >= 4 else 1.0)
        for g in opt.param_groups:
            g["lr"] = cur
        lrs.append(cur)
        for n, p in params.items():
            p.grad = None if (n == "encoder.LayerNorm.weight" and step == 2) else grad(n, p.detach(), step)
        opt.step()
        trajectory.append({n: p.detach().flatten().tolist() for n, p in params.items()})
    return {"lrs": lrs, "after_step": trajectory}


def sgd(decay, no_decay, lr):
    return torch.optim.SGD([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=lr, momentum=0.9)


def adamw(decay, no_decay, lr):
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.999), eps=1e-8)


out = {
    "made_with": f"torch {torch.__version__}, float64",
    "init": {n: t.flatten().tolist() for n, t in init().items()},
    "shapes": {n: list(t.shape) for n, t in init().items()},
    "grad_rule": "sin(i*0.7 + step*k) * (0.5 + 0.1*step) + 0.3*p, k = 1/2/3 for weight/bias/LayerNorm; no LayerNorm grad at step 2",
    "sgd": {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.05, **run(sgd, 0.01)},
    "adamw": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1, **run(adamw, 1e-3)},
}
path = Path(__file__).resolve().parent.parent / "fixtures" / "optim-golden.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {path}")
