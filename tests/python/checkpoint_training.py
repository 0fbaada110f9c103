"""A small training run for the checkpoint tests, and the resume half of it in a process of its own.

Run as a script: ``checkpoint_training.py CHECKPOINT STEPS OUT`` builds a
fresh model, optimizer and scheduler (from another seed, so only the
checkpoint can make them right), loads CHECKPOINT, trains STEPS more steps
and writes the final parameters, optimizer state, last learning rates and
the checkpoint's extra to OUT with save_file (see write_outcome).
"""

import json
import sys

import torch

from safeweights.torch import load_checkpoint, save_file


def build(seed, optimizer="adamw", hidden=16, layers=2):
    """An MLP with dropout, its optimizer and a LambdaLR (whose state holds None for the lambda)."""
    torch.manual_seed(seed)
    modules = [torch.nn.Linear(8, hidden), torch.nn.ReLU(), torch.nn.Dropout(0.3)]
    for _ in range(layers - 2):
        modules += [torch.nn.Linear(hidden, hidden), torch.nn.ReLU()]
    model = torch.nn.Sequential(*modules, torch.nn.Linear(hidden, 1))
    if optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
        scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.9**step)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, nesterov=True)
        scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    return model, opt, scheduler


def train(model, optimizer, scheduler, steps):
    """Steps on batches drawn from torch's RNG inside the loop, so the RNG state decides the run too."""
    model.train()
    for _ in range(steps):
        x = torch.randn(32, 8)
        y = x.sum(dim=1, keepdim=True).sin()
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


def outcome_tensors(model, optimizer):
    """Parameters and optimizer state tensors by flat name: what two runs must agree on bit for bit."""
    tensors = {f"param/{name}": t.detach().clone() for name, t in model.state_dict().items()}
    for param_id, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state/{param_id}/{key}"] = value.clone()
    return tensors


def write_outcome(path, model, optimizer, scheduler, extra):
    save_file(outcome_tensors(model, optimizer), path,
              metadata={"last_lr": json.dumps(scheduler.get_last_lr()), "extra": json.dumps(extra)})


def main(checkpoint, steps, out):
    torch.set_num_threads(1)
    model, optimizer, scheduler = build(seed=1234)
    extra = load_checkpoint(checkpoint, model, optimizer, scheduler)
    train(model, optimizer, scheduler, steps)
    write_outcome(out, model, optimizer, scheduler, extra)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
