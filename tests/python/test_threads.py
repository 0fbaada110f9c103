"""One safe_open handle used from several threads, and the GIL released during reads."""

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import safeweights
import safeweights.numpy as snp


@pytest.mark.parametrize("backend", ["mmap", "pread"])
def test_one_handle_many_threads(tmp_path, backend):
    rng = np.random.default_rng(3)
    tensors = {f"t{i}": rng.standard_normal((64, 33)).astype(np.float32) for i in range(40)}
    path = tmp_path / "many.safetensors"
    snp.save_file(tensors, path)
    with safeweights.safe_open(path, "np", backend=backend) as f:
        def work(i):
            name = f"t{i % 40}"
            whole = f.get_tensor(name)
            part = f.get_slice(name)[i % 64:, ::-3]
            return (np.array_equal(whole, tensors[name]) and
                    np.array_equal(part, tensors[name][i % 64:, ::-3]))

        with ThreadPoolExecutor(8) as pool:
            assert all(pool.map(work, range(800)))


def test_reads_release_the_gil(tmp_path):
    """While one thread copies 256 MiB with pread, another thread runs Python.

    The switch interval is raised to a second, so the reading thread is
    never made to give up the GIL within the read: the other thread runs
    during it only if the core releases the GIL itself.
    """
    path = tmp_path / "big.safetensors"
    snp.save_file({"big": np.ones(64 << 20, np.float32)}, path)
    handle = safeweights.safe_open(path, "np", backend="pread")
    started, done = threading.Event(), threading.Event()
    spins = 0

    def read():
        started.set()
        handle.get_tensors()
        done.set()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        thread = threading.Thread(target=read)
        thread.start()
        started.wait()
        while not done.is_set():
            spins += 1
        thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert spins > 1000
