#!/usr/bin/env python3
"""How a disk's flush latency suffers from bulk writes beside it (docs/BENCHMARKS.md, "Kafka API").

Measures 4 KiB pwrite + fdatasync latency (what a WAL group commit costs) in a loop for SECONDS, alone
and while another process writes a 64 MiB file with direct I/O every 1.2 s (what the stream engine's
uploads do when objects live on the WAL's disk): flushed once at the end (`big`), or 1 MiB at a time
(`dsync`, each write flushed before the next), or paced at 100 or 200 MB/s in 1 MiB direct writes and
flushed at the end (`pace100`, `pace200`). Prints p50/p99/p999/max per mode.

usage: bench/flush_under_load.py [DIR (default /work)] [SECONDS (default 12)] [MODES (comma-separated)]
"""
import mmap
import os
import subprocess
import sys
import tempfile
import threading
import time

MODES = {
    "alone": None,
    "big": ["bs=1M", "count=64", "oflag=direct", "conv=fdatasync"],
    "dsync": ["bs=1M", "count=64", "oflag=direct,dsync"],
    # 1 MiB direct writes at a set pace (MB/s), one flush at the end: an upload spread out in time
    "pace100": 100,
    "pace200": 200,
}


def paced_write(path, mbs):
    """64 MiB in 1 MiB direct writes, at most `mbs` MB/s, then one fdatasync."""
    buf = mmap.mmap(-1, 1 << 20)
    buf.write(b"o" * (1 << 20))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o644)
    try:
        start = time.monotonic()
        for i in range(64):
            os.pwritev(fd, [buf], i << 20)
            due = start + (i + 1) * (1 << 20) / (mbs * 1e6)
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        os.fdatasync(fd)
    finally:
        os.close(fd)


def measure(workdir, seconds, mode):
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            if isinstance(MODES[mode], int):
                paced_write(os.path.join(workdir, "object"), MODES[mode])
                stop.wait(1.2)
                continue
            subprocess.run(["dd", "if=/dev/zero", "of=" + os.path.join(workdir, "object")] + MODES[mode],
                           stderr=subprocess.DEVNULL, check=True)
            stop.wait(1.2)

    t = threading.Thread(target=writer)
    if MODES[mode]:
        t.start()
    fd = os.open(os.path.join(workdir, "wal"), os.O_WRONLY | os.O_CREAT, 0o644)
    block = b"w" * 4096
    lat = []
    end = time.monotonic() + seconds
    i = 0
    try:
        while time.monotonic() < end:
            os.pwrite(fd, block, (i % 1024) * 4096)
            i += 1
            t0 = time.perf_counter()
            os.fdatasync(fd)
            lat.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.001)
    finally:
        os.close(fd)
        stop.set()
        if t.is_alive():
            t.join()
    lat.sort()
    n = len(lat)
    return {"mode": mode, "flushes": n, "p50_ms": round(lat[n // 2], 3), "p99_ms": round(lat[int(n * 0.99)], 3),
            "p999_ms": round(lat[int(n * 0.999)], 3), "max_ms": round(lat[-1], 3)}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "/work"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 12
    with tempfile.TemporaryDirectory(dir=root, prefix="flush-under-load.") as d:
        modes = sys.argv[3].split(",") if len(sys.argv) > 3 else ["alone", "big", "dsync", "pace100", "pace200"]
        for mode in modes * 2:
            r = measure(d, seconds, mode)
            print("%-6s %6d flushes: p50 %.2f  p99 %.2f  p999 %.2f  max %.2f ms" %
                  (r["mode"], r["flushes"], r["p50_ms"], r["p99_ms"], r["p999_ms"], r["max_ms"]), flush=True)


if __name__ == "__main__":
    main()
