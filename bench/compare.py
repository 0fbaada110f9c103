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
loaded. The safetensors file is read twice: by the C++ program, and
through our Python package (--python-site: where bench/compare installed
it) with the drop-in's calls: torch and numpy load_file (lazy views; and
copy=True, every byte read), load_file with backend="pread", and safe_open
with keys() and with one get_tensor. Every open and load runs in a fresh
process (its peak RSS read with wait4) and is timed inside it around the
call alone; each is repeated and the median kept. Cold-cache loads drop
the page cache first, where allowed. Before an eager load's clock starts,
its process touches and frees twice the file's size and starts its peak
RSS again (see recycle_memory; --no-recycle to skip).

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
# Our Python package's rows: child() formats run on the safetensors file.
PACKAGE_ROWS = ("sw-torch", "sw-numpy", "sw-pread", "sw-open")
# The tensor that "one" fetches (GPT-2 only): 768 x 768 F32, 2.4 MB.
ONE_TENSOR = "h.0.attn.c_proj.weight"

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


def recycle_memory(nbytes):
    """Touches and frees twice `nbytes`, then starts the peak RSS again, so that the
    fresh memory an eager load fills next (its arrays; the page cache too, when
    cold) comes from pages the kernel has just had. In a virtual machine whose
    balloon reports free pages to the host (virtio free page reporting), memory
    freed a second ago is handed back and faults in again at the host's cost:
    0.6 s more for 500 MB here, paid or not by how long the process took to
    start (a second for `import torch`, a tenth for NumPy), so by format rather
    than by loader. Once the file's size was not always enough. NumPy asks for
    huge pages for large arrays, as the loaders here do. bench-compare's load
    does the same; SAFEWEIGHTS_BENCH_RECYCLE=0 (--no-recycle) turns both off."""
    import numpy as np
    if os.environ.get("SAFEWEIGHTS_BENCH_RECYCLE") == "0":
        return
    scratch = np.ones(2 * nbytes, dtype=np.uint8)
    del scratch
    with open("/proc/self/clear_refs", "w") as f:  # the scratch is not the load's: VmHWM := VmRSS
        f.write("5")


def child(fmt, op, path, site):
    """Runs in a fresh interpreter: imports first (untimed), then one call, timed."""
    import numpy as np
    if fmt == "torch" or fmt in PACKAGE_ROWS:
        import torch
    if fmt in PACKAGE_ROWS:
        sys.path.insert(0, site)
        import safeweights
        import safeweights.numpy
        import safeweights.torch
    if fmt == "pickle":
        import pickle
    if fmt == "joblib":
        import joblib
    if op == "baseline":
        print(json.dumps({"seconds": 0.0}))
        return
    if op == "load":
        recycle_memory(size_on_disk(path))
    t0 = time.perf_counter()
    if fmt == "torch":
        sd = torch.load(path)
    elif fmt == "npy" and op == "one":  # lazy, as safe_open's view is
        sd = {ONE_TENSOR: np.load(os.path.join(path, ONE_TENSOR + ".npy"), mmap_mode="r")}
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
    elif fmt == "sw-torch":  # open: lazy copy-on-write views; load: every byte read into fresh memory
        sd = safeweights.torch.load_file(path, copy=op == "load")
    elif fmt == "sw-numpy":
        sd = safeweights.numpy.load_file(path, copy=op == "load")
    elif fmt == "sw-pread":
        sd = safeweights.torch.load_file(path, backend="pread")
    elif fmt == "sw-open":
        with safeweights.safe_open(path, "pt") as f:
            sd = f.keys() if op == "open" else {ONE_TENSOR: f.get_tensor(ONE_TENSOR)}
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


def measure_ops(row, ops, argv_of, path, reps, cold):
    """Fills row[op] (and op's peak RSS, and cold_op when `cold`) for each op: warm, then cold."""
    for op in ops:
        row[op], row["rss" if op == "load" else f"{op}_rss"] = median_of(reps, argv_of(op), lambda: warm(path))
    if cold:
        for op in ops:
            row[f"cold_{op}"], _ = median_of(reps, argv_of(op), drop_caches)


def bench_dataset(name, layout, cpp, site, work, reps, save_reps, cold):
    """Every measurement for one state dict; returns a dict of rows."""
    sd = state_dict(layout)
    data_bytes = sum(v.nbytes for v in sd.values())
    rows = {}
    here = os.path.abspath(__file__)
    py = lambda fmt, op, path: [PYTHON, here] + (["--python-site", site] if site else []) + ["--child", fmt, op, path]

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
    if site:  # the same file through our Python package
        for fmt in PACKAGE_ROWS:
            ops = {"sw-pread": ("load",), "sw-open": ("open", "one") if name == "gpt2" else ("open",)}
            rows[fmt] = {}
            measure_ops(rows[fmt], ops.get(fmt, ("open", "load")), lambda op: py(fmt, op, st), st, reps, cold)
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
        if fmt == "npy" and name == "gpt2":  # the baseline of safe_open + one get_tensor
            measure_ops(row, ("one",), lambda op: py(fmt, op, path), path, reps, cold)
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
    "sw-torch": "safeweights.torch.load_file (Python; open: lazy views, load: copy=True)",
    "sw-numpy": "safeweights.numpy.load_file (Python; open: lazy views, load: copy=True)",
    "sw-pread": "safeweights.torch.load_file (Python; backend=\"pread\")",
    "sw-open": "safeweights.safe_open(path, \"pt\") + keys() (Python)",
}
# The chart's shorter names for the package's rows, by panel.
EAGER_LABELS = {"sw-torch": "safeweights.torch\nload_file(copy=True)",
                "sw-numpy": "safeweights.numpy\nload_file(copy=True)",
                "sw-pread": "safeweights.torch\nload_file(backend=\"pread\")"}
LAZY_LABELS = {"sw-torch": "safeweights.torch\nload_file (lazy views)", "sw-open": "safeweights\nsafe_open + keys()"}


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
        # No lazy mode: the open is a full load.
        opened = r.get("open") or (load if key in ("torch", "pickle", "sw-pread") else None)
        if key == "safeweights":
            open_cell, open_ratio, load_ratio = fmt_time(opened), "1×", "1×"
        elif key.startswith("floor"):
            open_cell, open_ratio, load_ratio = "—", "—", ratio(load, sw["load"])
        else:
            open_cell = fmt_time(r["open"]) if "open" in r else "(loads all)"
            open_ratio, load_ratio = ratio(opened, sw["open"]), ratio(load, sw["load"])
        cells = [LABELS.get(key, key), fmt_time(r.get("save")), f"{r['size'] / 1e6:,.1f} MB" if "size" in r else "—",
                 open_cell, open_ratio, fmt_time(load), f"{data / load / 1e9:.3g}" if load else "—", load_ratio,
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
    if "sw-torch" in rows:
        out += package_goals(name, result)
    return "\n".join(out)


def package_goals(name, result):
    """The Python package's figures, each against its baselines from the same run: torch.load
    (which reads everything: this PyTorch has no lazy mode) and NumPy's per-tensor .npy.
    The goals are for the GPT-2-sized file, but safe_open's (the 10,000-tensor file's)."""
    rows, data = result["rows"], result["data_bytes"]
    torch_load, npy = rows["torch"]["load"], rows["npy"]

    def against(seconds, base, what, goal=None):
        x = base / seconds
        text = f"{what} {fmt_time(base)}: **{x:,.{2 if x < 10 else 1}f}×**"
        if goal is not None and name == "gpt2":
            text += f" (goal ≥ {goal}×: {'met' if x >= goal else 'not met'})"
        return text

    out = []
    lazy = rows["sw-torch"]["open"]
    out.append(f"- Python, `safeweights.torch.load_file(path)` (every tensor a lazy, writable view): {fmt_time(lazy)}; "
               + against(lazy, torch_load, "torch.load", 100))
    for fmt, call in (("sw-torch", "safeweights.torch.load_file(path, copy=True)"),
                      ("sw-numpy", "safeweights.numpy.load_file(path, copy=True)"),
                      ("sw-pread", "safeweights.torch.load_file(path, backend=\"pread\")")):
        load = rows[fmt]["load"]
        goal = (5, 2) if fmt != "sw-pread" else (None, None)
        out.append(f"- Python, `{call}` (every byte read): {fmt_time(load)}, {data / load / 1e9:.3g} GB/s; "
                   + against(load, torch_load, "torch.load", goal[0]) + "; "
                   + against(load, npy["load"], "NumPy .npy", goal[1]))
    if "one" in rows["sw-open"]:
        one = rows["sw-open"]["one"]
        cold = f"; cold cache {fmt_time(rows['sw-open']['cold_one'])}" if "cold_one" in rows["sw-open"] else ""
        met = "met" if one < 300e-6 else "not met"
        out.append(f"- Python, `safe_open(path, \"pt\")` + one `get_tensor` of a 768×768 tensor (a lazy view), "
                   f"the open included: {fmt_time(one)} (goal < 300 µs: {met}){cold}; "
                   + against(one, npy["one"], "NumPy np.load(mmap_mode='r') of its .npy"))
    keys = rows["sw-open"]["open"]
    verdict = f" (goal < 5 ms: {'met' if keys < 5e-3 else 'not met'})" if name == "many" else ""
    out.append(f"- Python, `safe_open(path, \"pt\")` + `keys()`: {fmt_time(keys)}{verdict}; "
               + against(keys, torch_load, "torch.load") + "; "
               + against(keys, npy["open"], "NumPy .npy mmap_mode='r'"))
    return out


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(17, 6.5))
    g = results["gpt2"]
    keys = [k for k in g["rows"] if "load" in g["rows"][k]]
    speeds = [g["data_bytes"] / g["rows"][k]["load"] / 1e9 for k in keys]
    wrap = lambda k: LABELS.get(k, k).replace(" (", "\n(").replace(", one", "\none")
    labels = [EAGER_LABELS.get(k) or wrap(k) for k in keys]
    color = lambda k: ("tab:green" if k == "safeweights" else "yellowgreen" if k in PACKAGE_ROWS
                       else "tab:gray" if k.startswith("floor") else "tab:blue")
    colors = [color(k) for k in keys]
    axes[0].barh(labels, speeds, color=colors)
    axes[0].set_xlabel("GB/s (higher is better)")
    axes[0].set_title("GPT-2 F32, 498 MB: eager load (warm cache)", fontsize=10)
    axes[0].invert_yaxis()
    for ax, name in ((axes[1], "gpt2"), (axes[2], "many")):
        r = results[name]["rows"]
        lazy = [(k, r[k].get("open") or r[k]["load"])
                for k in ("safeweights", "sw-torch", "sw-open", "torch", "npy", "npz", "pickle", "joblib") if k in r]
        ax.barh([LAZY_LABELS.get(k) or wrap(k) for k, _ in lazy], [v * 1e3 for _, v in lazy],
                color=[color(k) for k, _ in lazy])
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
    ap.add_argument("--python-site", help="where our Python package is installed (pip --target); without it, no "
                    "Python-package rows")
    ap.add_argument("--reps", type=int, default=5, help="processes per open/load measurement (median)")
    ap.add_argument("--save-reps", type=int, default=3, help="saves per format (median)")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-cache runs")
    ap.add_argument("--no-recycle", action="store_true",
                    help="eager loads start without first touching and freeing twice the file's size")
    ap.add_argument("--only", choices=("gpt2", "many"), help="one state dict only")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="where the table, JSON and chart go")
    ap.add_argument("--child", nargs=3, metavar=("FORMAT", "OP", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child, args.python_site and os.path.abspath(args.python_site))
    if not args.cpp:
        ap.error("--cpp is required")

    if args.no_recycle:
        CHILD_ENV["SAFEWEIGHTS_BENCH_RECYCLE"] = "0"
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
            site = args.python_site and os.path.abspath(args.python_site)
            results[name] = bench_dataset(name, layout, os.path.abspath(args.cpp), site, work, args.reps,
                                          args.save_reps, cold)
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
           "safeweights (C++). torch.load and pickle have no lazy mode: their open is a full load. The Python "
           "package's rows import numpy, torch and safeweights before the clock starts, as the torch.load row "
           "imports torch; their open is `load_file(path)`, whose tensors are writable views of a private "
           "copy-on-write mapping (read from the file when touched), their load `load_file(path, copy=True)`, "
           "which reads every byte into fresh memory. "
           + ("Before an eager load's clock starts, its process touches and frees twice the file's size, then starts "
              "its peak RSS again: in a virtual machine whose balloon hands freed memory back to the host, fresh "
              "memory otherwise costs up to 0.6 s more per 500 MB, by how long the process took to start rather "
              "than by its loader (`--no-recycle` measures without)." if not args.no_recycle else
              "Eager loads ran without first touching and freeing memory (`--no-recycle`).")]
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
