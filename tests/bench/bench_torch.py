#!/usr/bin/python3
"""bench_torch: PyTorch's side of bench_core, driven over a pipe.

bench_core starts this script with the net's shape, batch, rate and the
number of rows, and interleaves its slices with its own runs so that both
see the same load. The net is the same shape (Linear + Sigmoid per layer,
MSE, plain SGD); the data is random of the same shape and row count (the
values do not change the work done per step: five GEMMs, the input needs
no gradient). Everything runs on one thread: torch.set_num_threads(1)
bounds PyTorch's own pool, but Debian's torch multiplies through OpenBLAS,
whose thread count only OPENBLAS_NUM_THREADS (read when the library loads)
sets, so it is set before torch is imported; left alone, OpenBLAS takes
every core and the ratio depends on how idle the other core happens to be.
Each slice is timed here, so pipe latency is not counted. Protocol, one
line each way:

  script -> "ready torch VERSION, N threads"  once set up (or "skip REASON")
  bench  -> "run SECONDS"      minibatches until SECONDS have passed
  script -> "done K WALL CPU"  K minibatches in WALL s, CPU s of the process
  bench  -> "loss"             MSE over the first rows
  script -> "loss VALUE"
End of input ends the script.
"""
import os
import sys
import time

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"


def threads():
    """Threads of this process (the BLAS pool included)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return -1


def main():
    args = dict(a.split("=", 1) for a in sys.argv[1:])
    try:
        import torch
    except ImportError as e:
        print("skip %s" % e, flush=True)
        return 0
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(int(args.get("seed", "1")))
    sizes = [int(s) for s in args["layers"].split(",")]
    batch = int(args["batch"])
    layers = []
    for i in range(len(sizes) - 1):
        layers += [torch.nn.Linear(sizes[i], sizes[i + 1]), torch.nn.Sigmoid()]
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=float(args["lr"]))
    lossf = torch.nn.MSELoss()
    rows = max(int(args.get("rows", "0")), batch * 64, 4096)
    x = torch.rand(rows, sizes[0])
    y = torch.rand(rows, sizes[-1])
    nb = rows // batch
    k = 0
    print("ready torch %s, %d threads" % (torch.__version__, threads()),
          flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if cmd == ["loss"]:
            with torch.no_grad():
                print("loss %.6f" % lossf(net(x[:1024]), y[:1024]).item(),
                      flush=True)
            continue
        secs = float(cmd[1])
        n = 0
        c0 = time.process_time()
        t0 = time.perf_counter()
        while True:
            r = (k % nb) * batch
            k += 1
            opt.zero_grad(set_to_none=True)
            lossf(net(x[r:r + batch]), y[r:r + batch]).backward()
            opt.step()
            n += 1
            t = time.perf_counter()
            if t - t0 >= secs:
                break
        print("done %d %.6f %.6f" % (n, t - t0, time.process_time() - c0),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
