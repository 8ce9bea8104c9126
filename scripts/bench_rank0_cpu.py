#!/usr/bin/env python3
"""bench_rank0_cpu.py - what rank 0 (the coordinator) costs in CPU while a
sweep runs: one sweep on 2 ranks (rank 0 and one worker), and the CPU time
(utime + stime from /proc/PID/stat, sampled every 0.5 s) of each rank over
the sweep. Not a test; PERFORMANCE.md, "Rank 0's CPU", has the numbers.

    scripts/bench_rank0_cpu.py [BINARY] [MPIRUN_OPTION...]   # default build/stylesweep

The sweep: 4 runs of 128 px, channels_div 4, random weights, 100 iterations
of 8 evaluations, one thread (a few minutes on 2 cores).
"""
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = f"""sweep: rank0-cpu
defaults:
  content: {REPO}/samples/content/chelsea.jpg
  style: [{REPO}/samples/style/starry_night.jpg]
  model: vgg16
  weights: random
  channels_div: 4
  image_size: 128
  iterations: 100
  evals_per_iteration: 8
  content_weight: 0.25
  style_norm: target
  tv_weight: 1.0e-6
  init: noise
  pool: avg
  seed: 0
  snapshots: {{first: 2, every: 5}}
experiments:
  - {{id: a}}
  - {{id: b, pool: max}}
  - {{id: c, init: content}}
  - {{id: d, seed: 1}}
"""


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ranks_of(parent):
    """{rank: pid} of parent's children (OMPI_COMM_WORLD_RANK in their environment)."""
    found = {}
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1] != str(parent):
                continue
            for kv in open(f"/proc/{d}/environ", "rb").read().split(b"\0"):
                if kv.startswith(b"OMPI_COMM_WORLD_RANK="):
                    found[int(kv.split(b"=")[1])] = int(d)
        except OSError:
            pass
    return found


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "build/stylesweep"))
    extra = sys.argv[2:]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    with tempfile.TemporaryDirectory(prefix="bench_rank0_cpu.") as tmp:
        manifest = os.path.join(tmp, "sweep.yaml")
        with open(manifest, "w") as f:
            f.write(MANIFEST)
        cmd = ["mpirun", "--oversubscribe", "-np", "2", "--bind-to", "none", *extra, binary, "run", manifest,
               "-o", os.path.join(tmp, "a.h5"), "--threads", "1"]
        print(" ".join(cmd))
        with open(os.path.join(tmp, "out"), "w") as log:
            p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            ranks, t0 = {}, time.time()
            while p.poll() is None and len(ranks) < 2 and time.time() - t0 < 60:
                ranks = ranks_of(p.pid)
                time.sleep(0.05)
            last, t_start = {}, time.time()
            t_last = t_start
            while p.poll() is None:
                try:
                    last = {r: cpu_seconds(pid) for r, pid in ranks.items()}
                    t_last = time.time()
                except OSError:
                    pass  # a rank just ended
                time.sleep(0.5)
            rc = p.wait()
        wall = max(t_last - t_start, 1e-9)
        r0, r1 = last.get(0, 0.0), last.get(1, 0.0)
        print(f"exit {rc}; sweep {wall:.1f} s; rank 0 {r0:.2f} s CPU ({100 * r0 / wall:.1f} % of a core); "
              f"rank 1 {r1:.2f} s CPU; load average {os.getloadavg()[0]:.1f}")
        return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
