#!/usr/bin/python3
"""PyTorch's time for a GPT-2 forward pass on the same weights bench-gpt2 uses.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/gpt2_torch.py FILE.safetensors [--tokens 64] [--threads 2]

Loads the F32 safetensors file written by bench-gpt2 into the faithful GPT-2
of tests/fixtures/make_torch_fixtures.py, runs the prompt forward (eager,
no_grad, float32) several times and prints one JSON line. Like gpt2-infer it
computes the logits of the last position only (the full forward would also
multiply the other 63 positions by the 50257 x 768 head), so both do the same
work:
{"prompt_ms": median, "all_ms": [...], "torch": version, "threads": n}.
PyTorch's best settings here: libopenblas0-pthread installed, OMP_WAIT_POLICY=PASSIVE,
as many threads as CPUs.
"""
import argparse
import json
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
from make_torch_fixtures import GPT2  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", "this script reads F32 files"
        begin, end = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data, dtype=np.float32, count=(end - begin) // 4,
                                                   offset=base + begin).reshape(e["shape"]).copy())
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--n-head", type=int, default=12)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    w = read_safetensors(a.file)
    vocab, d = w["wte.weight"].shape
    positions = w["wpe.weight"].shape[0]
    layers = len({k.split(".")[1] for k in w if k.startswith("h.")})
    model = GPT2(vocab, positions, d, layers, a.n_head)
    missing, unexpected = model.load_state_dict(w, strict=False)
    assert not unexpected and all(k.endswith(("attn.bias", "attn.masked_bias")) for k in missing), (missing, unexpected)
    model.eval()
    ids = torch.tensor([[i % vocab for i in range(a.tokens)]])

    def last_logits():
        x = model.wte(ids) + model.wpe(torch.arange(ids.size(-1)))
        for block in model.h:
            x = block(x)
        return torch.matmul(model.ln_f(x[:, -1]), model.wte.weight.t())

    times = []
    with torch.no_grad():
        assert torch.allclose(last_logits(), model(ids)[:, -1], atol=1e-4)
        for _ in range(2):
            last_logits()
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            last_logits()
            times.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"prompt_ms": statistics.median(times), "all_ms": times, "torch": torch.__version__,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
