#!/usr/bin/python3
"""The loading benchmark of bench/compare: safeweights against what people
use today to keep weights (torch.save, NumPy .npy and .npz, pickle, joblib)
and against the machine's floor, on the same two state dicts, in one run.

Data (made at run time in a temporary directory, removed at the end):
  gpt2: a GPT-2-small-sized F32 state dict, 148 tensors, 124,439,808 values;
  many: 10,000 small F32 tensors (1 to 8 values each).
For each format: save time (every writer followed by an fsync, because the
safeweights writer always syncs), size on disk, lazy open where the format
has one, eager load into memory, and the peak RSS of the process that
loaded. Every open and load runs in a fresh process (its peak RSS read with
wait4) and is timed inside it around the call alone; each is repeated and
the median kept. Cold-cache loads drop the page cache first, where allowed.

Run through bench/compare (it builds the C++ side and installs what is
missing); by hand: /usr/bin/python3 bench/compare.py --cpp build-bench/bench/bench-compare
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
CHILD_ENV = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONHASHSEED="0")

# ------------------------------------------------------------------ data


def gpt2_layout(cpp):
    """nn::gpt2's layout for GPT-2 small, as bench-compare save-gpt2 writes it."""
    out = subprocess.run([cpp, "layout-gpt2"], check=True, capture_output=True, text=True).stdout
    return [(name, tuple(shape)) for name, shape in json.loads(out)]


def many_layout():
    return [(f"blocks.{i // 8}.p{i % 8}", (i % 8 + 1,)) for i in range(10000)]


def state_dict(layout):
    import numpy as np
    rng = np.random.default_rng(0)
    return {name: rng.standard_normal(shape, dtype=np.float32) for name, shape in layout}


# ------------------------------------------------------------------ formats
# Each Python format: a saver (in the driver) and loaders (in a child).

def fsync_path(path):
    paths = [os.path.join(path, f) for f in os.listdir(path)] if os.path.isdir(path) else [path]
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)


def save(fmt, sd, path):
    import numpy as np
    if fmt == "torch":
        import torch
        torch.save({k: torch.from_numpy(v) for k, v in sd.items()}, path)
    elif fmt == "npy":
        os.makedirs(path)
        for k, v in sd.items():
            np.save(os.path.join(path, k + ".npy"), v)
    elif fmt == "npz":
        np.savez(path, **sd)
    elif fmt == "pickle":
        import pickle
        with open(path, "wb") as f:
            pickle.dump(sd, f, protocol=pickle.HIGHEST_PROTOCOL)
    elif fmt == "joblib":
        import joblib
        joblib.dump(sd, path)
    fsync_path(path)


def child(fmt, op, path):
    """Runs in a fresh interpreter: imports first (untimed), then one call, timed."""
    import numpy as np
    if fmt == "torch":
        import torch
    if fmt == "pickle":
        import pickle
    if fmt == "joblib":
        import joblib
    if op == "baseline":
        print(json.dumps({"seconds": 0.0}))
        return
    t0 = time.perf_counter()
    if fmt == "torch":
        sd = torch.load(path)
    elif fmt == "npy":
        mode = "r" if op == "open" else None
        sd = {f[:-4]: np.load(os.path.join(path, f), mmap_mode=mode) for f in os.listdir(path)}
    elif fmt == "npz":
        z = np.load(path)  # an NpzFile: the zip directory only, arrays read on access
        sd = z if op == "open" else {k: z[k] for k in z.files}
    elif fmt == "pickle":
        with open(path, "rb") as f:
            sd = pickle.load(f)
    elif fmt == "joblib":
        sd = joblib.load(path, mmap_mode="r" if op == "open" else None)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "tensors": len(sd)}))


# ------------------------------------------------------------------ running

def run_measured(argv):
    """Runs argv under GNU time; returns (its JSON line, its peak RSS in MB). (wait4 on
    a child forked from this big interpreter would count the pages it shared before exec.)"""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name] + argv, capture_output=True, env=CHILD_ENV)
        if p.returncode != 0:
            sys.exit(f"bench/compare: {' '.join(argv)} failed:\n{p.stderr.decode()}")
        peak_kb = int(rss.read().split()[-1])
    return json.loads(p.stdout.decode().strip().splitlines()[-1]), peak_kb / 1024


def warm(path):
    paths = [os.path.join(path, f) for f in os.listdir(path)] if os.path.isdir(path) else [path]
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass


def drop_caches():
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def remove_path(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def size_on_disk(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    return os.path.getsize(path)


def median_of(reps, argv, before=None):
    """The median time and peak RSS of `reps` processes, after one unrecorded
    run (the first process after a big free can pay for memory compaction)."""
    times, rss = [], []
    for i in range(reps + 1):
        if before:
            before()
        result, peak = run_measured(argv)
        if i:
            times.append(result["seconds"])
            rss.append(peak)
    return statistics.median(times), statistics.median(rss)


def bench_dataset(name, layout, cpp, work, reps, save_reps, cold):
    """Every measurement for one state dict; returns a dict of rows."""
    sd = state_dict(layout)
    data_bytes = sum(v.nbytes for v in sd.values())
    rows = {}
    py = lambda fmt, op, path: [PYTHON, os.path.abspath(__file__), "--child", fmt, op, path]

    # safeweights: saved, opened and loaded by the C++ program.
    st = os.path.join(work, f"{name}.safetensors")
    saves = []
    for _ in range(save_reps):
        remove_path(st)
        saves.append(run_measured([cpp, f"save-{name}", st])[0]["seconds"])
    row = {"save": statistics.median(saves), "size": size_on_disk(st)}
    warm(st)
    row["open"], row["open_rss"] = median_of(reps, [cpp, "open", st])
    row["load"], row["rss"] = median_of(reps, [cpp, "load", st], lambda: warm(st))
    if cold:
        row["cold_open"], _ = median_of(reps, [cpp, "open", st], drop_caches)
        row["cold_load"], _ = median_of(reps, [cpp, "load", st], drop_caches)
    rows["safeweights"] = row
    rows["floor: pread into a warm buffer"] = {"load": median_of(reps, [cpp, "floor-pread", st], lambda: warm(st))[0]}
    rows["floor: memcpy"] = {"load": median_of(reps, [cpp, "floor-memcpy", st])[0]}

    for fmt in ("torch", "npy", "npz", "pickle", "joblib"):
        path = os.path.join(work, f"{name}.{fmt}")
        saves = []
        for _ in range(save_reps):
            remove_path(path)
            t0 = time.perf_counter()
            save(fmt, sd, path)
            saves.append(time.perf_counter() - t0)
        row = {"save": statistics.median(saves), "size": size_on_disk(path)}
        warm(path)
        if fmt in ("npy", "npz", "joblib"):
            row["open"], row["open_rss"] = median_of(reps, py(fmt, "open", path), lambda: warm(path))
        row["load"], row["rss"] = median_of(reps, py(fmt, "load", path), lambda: warm(path))
        if cold:
            if "open" in row:
                row["cold_open"], _ = median_of(reps, py(fmt, "open", path), drop_caches)
            row["cold_load"], _ = median_of(reps, py(fmt, "load", path), drop_caches)
        rows[fmt] = row
        remove_path(path)
    remove_path(st)
    return {"tensors": len(layout), "data_bytes": data_bytes, "rows": rows}


# ------------------------------------------------------------------ report

LABELS = {
    "safeweights": "safeweights (C++)",
    "torch": "torch.save / torch.load",
    "npy": "NumPy .npy, one per tensor",
    "npz": "NumPy .npz (np.savez)",
    "pickle": "pickle",
    "joblib": "joblib (open: mmap_mode='r')",
}


def fmt_time(s):
    if s is None:
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def ratio(a, b):
    return f"{a / b:,.1f}×" if a and b else "—"


def table(name, result, cold):
    rows, data = result["rows"], result["data_bytes"]
    sw = rows["safeweights"]
    head = ["Format", "Save (+fsync)", "File size", "Open (lazy)", "Open vs safeweights", "Load (eager)", "Load GB/s",
            "Load vs safeweights", "Peak RSS of load"]
    if cold:
        head += ["Cold open", "Cold load"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, r in rows.items():
        load = r.get("load")
        opened = r.get("open") or (load if key in ("torch", "pickle") else None)  # no lazy mode: a full load
        if key == "safeweights":
            open_cell, open_ratio, load_ratio = fmt_time(opened), "1×", "1×"
        elif key.startswith("floor"):
            open_cell, open_ratio, load_ratio = "—", "—", ratio(load, sw["load"])
        else:
            open_cell = fmt_time(r["open"]) if "open" in r else "(loads all)"
            open_ratio, load_ratio = ratio(opened, sw["open"]), ratio(load, sw["load"])
        cells = [LABELS.get(key, key), fmt_time(r.get("save")), f"{r['size'] / 1e6:,.1f} MB" if "size" in r else "—",
                 open_cell, open_ratio, fmt_time(load), f"{data / load / 1e9:.3g}", load_ratio,
                 f"{r['rss']:,.0f} MB" if "rss" in r else "—"]
        if cold:
            cells += [fmt_time(r.get("cold_open")) if "cold_open" in r else "—",
                      fmt_time(r.get("cold_load")) if "cold_load" in r else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals(name, result):
    """The ratios the issue names; its goals are for the GPT-2-sized file."""
    verdict = lambda ok, goal: f" (goal {goal}: {'met' if ok else 'not met'})" if name == "gpt2" else ""
    rows = result["rows"]
    sw = rows["safeweights"]
    python = {k: rows[k]["load"] for k in ("torch", "npy", "npz", "pickle", "joblib")}
    fastest = min(python, key=python.get)
    data = result["data_bytes"]
    out = []
    x = python[fastest] / sw["load"]
    out.append(f"- eager load: safeweights {data / sw['load'] / 1e9:.2f} GB/s, the fastest Python loader "
               f"({LABELS[fastest]}) {data / python[fastest] / 1e9:.2f} GB/s: **{x:.1f}×** faster"
               + verdict(x >= 2, "≥ 2×"))
    floor = rows["floor: pread into a warm buffer"]["load"]
    out.append(f"- eager load against the floor: {100 * floor / sw['load']:.0f}% of `pread` into a warm buffer "
               f"({data / floor / 1e9:.2f} GB/s); memcpy runs at {data / rows['floor: memcpy']['load'] / 1e9:.2f} GB/s")
    t = rows["torch"]["load"] / sw["open"]
    out.append(f"- lazy open: torch.load (no lazy mode in this PyTorch) {fmt_time(rows['torch']['load'])} vs safeweights "
               f"{fmt_time(sw['open'])}: **{t:,.0f}×**" + verdict(t >= 1000, "≥ 1000×"))
    j = rows["joblib"]["open"] / sw["open"]
    out.append(f"- lazy open: joblib mmap_mode='r' {fmt_time(rows['joblib']['open'])} vs safeweights "
               f"{fmt_time(sw['open'])}: **{j:,.0f}×**" + verdict(j >= 100, "≥ 100×"))
    return "\n".join(out)


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    g = results["gpt2"]
    keys = list(g["rows"])
    speeds = [g["data_bytes"] / g["rows"][k]["load"] / 1e9 for k in keys]
    labels = [LABELS.get(k, k).replace(" (", "\n(").replace(", one", "\none") for k in keys]
    colors = ["tab:green" if k == "safeweights" else "tab:gray" if k.startswith("floor") else "tab:blue" for k in keys]
    axes[0].barh(labels, speeds, color=colors)
    axes[0].set_xlabel("GB/s (higher is better)")
    axes[0].set_title("GPT-2 F32, 498 MB: eager load (warm cache)", fontsize=10)
    axes[0].invert_yaxis()
    for ax, name in ((axes[1], "gpt2"), (axes[2], "many")):
        r = results[name]["rows"]
        lazy = [(k, r[k].get("open") or r[k]["load"]) for k in ("safeweights", "torch", "npy", "npz", "pickle", "joblib")]
        ax.barh([LABELS[k].replace(" (", "\n(").replace(", one", "\none") for k, _ in lazy], [v * 1e3 for _, v in lazy],
                color=["tab:green" if k == "safeweights" else "tab:blue" for k, _ in lazy])
        ax.set_xscale("log")
        ax.set_xlabel("ms, log scale (lower is better)")
        ax.set_title(f"{'GPT-2' if name == 'gpt2' else '10,000 tensors'}: open (lazy; torch, pickle: full load)",
                     fontsize=10)
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def machine(cold, load_before, load_after):
    import numpy, joblib, torch
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0) / 2**20
    blas = "OpenBLAS (libopenblas0-pthread)" if os.path.exists("/usr/lib/x86_64-linux-gnu/openblas-pthread") else "reference BLAS"
    return (f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC · {cpu}, {os.cpu_count()} cores, "
            f"{mem:.0f} GiB · {platform.system()} {platform.release()} · Debian python3 {platform.python_version()}, "
            f"torch {torch.__version__}, numpy {numpy.__version__}, joblib {joblib.__version__}, {blas}, "
            f"OMP_WAIT_POLICY=PASSIVE · load average {load_before:.2f} before, {load_after:.2f} after · "
            f"cold cache: {'page cache dropped before each cold run' if cold else 'not measured (cannot drop the page cache here)'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpp", help="the bench-compare program")
    ap.add_argument("--reps", type=int, default=5, help="processes per open/load measurement (median)")
    ap.add_argument("--save-reps", type=int, default=3, help="saves per format (median)")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-cache runs")
    ap.add_argument("--only", choices=("gpt2", "many"), help="one state dict only")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="where the table, JSON and chart go")
    ap.add_argument("--child", nargs=3, metavar=("FORMAT", "OP", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)
    if not args.cpp:
        ap.error("--cpp is required")

    cold = not args.no_cold and drop_caches()
    load_before = os.getloadavg()[0]
    work = tempfile.mkdtemp(prefix="safeweights-compare-", dir=os.environ.get("TMPDIR", "/tmp"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        results = {}
        for name, layout in (("gpt2", gpt2_layout(os.path.abspath(args.cpp))), ("many", many_layout())):
            if args.only and name != args.only:
                continue
            print(f"bench/compare: {name}...", file=sys.stderr, flush=True)
            results[name] = bench_dataset(name, layout, os.path.abspath(args.cpp), work, args.reps, args.save_reps, cold)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    info = machine(cold, load_before, os.getloadavg()[0])

    md = [f"Measured with `bash bench/compare` on {info}.", ""]
    for name, title in (("gpt2", "GPT-2-sized state dict: 148 F32 tensors, 124,439,808 values (497.8 MB)"),
                        ("many", "10,000 small F32 tensors (0.18 MB of data)")):
        if name not in results:
            continue
        md += [f"**{title}** — medians of {args.reps} processes (saves: {args.save_reps})", "",
               table(name, results[name], cold), "", goals(name, results[name]), ""]
    md += ["Open and load are timed inside a fresh process around the call alone (imports excluded); peak RSS is "
           "that whole process's, interpreter and imports included. \"× safeweights\": how many times longer than "
           "safeweights. torch.load and pickle have no lazy mode: their open is a full load."]
    text = "\n".join(md) + "\n"
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "compare-latest.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "compare-latest.json"), "w") as f:
        json.dump({"machine": info, "results": results}, f, indent=1)
    if len(results) == 2:
        chart(results, os.path.join(args.out, "compare.png"))
    print(text)
    print(f"bench/compare: wrote {args.out}/compare-latest.md, compare-latest.json, compare.png", file=sys.stderr)


if __name__ == "__main__":
    main()
