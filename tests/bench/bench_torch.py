#!/usr/bin/python3
"""bench_torch: PyTorch's side of bench_core, driven over a pipe.

bench_core starts this script with the net's shape, batch and rate, and
interleaves its slices with its own runs so that both see the same load.
The net is the same shape (Linear + Sigmoid per layer, MSE, plain SGD,
one thread); the data is random of the same shape (the values do not
change the work done per step). Protocol, one line each way:

  script -> "ready torch VERSION"         once set up (or "skip REASON")
  bench  -> "K"                           run K minibatches
  script -> "done"                        after them
  bench  -> "loss"                        MSE over the first rows
  script -> "loss VALUE"
End of input ends the script.
"""
import sys


def main():
    args = dict(a.split("=", 1) for a in sys.argv[1:])
    try:
        import torch
    except ImportError as e:
        print("skip %s" % e, flush=True)
        return 0
    torch.set_num_threads(1)
    torch.manual_seed(int(args.get("seed", "1")))
    sizes = [int(s) for s in args["layers"].split(",")]
    batch = int(args["batch"])
    layers = []
    for i in range(len(sizes) - 1):
        layers += [torch.nn.Linear(sizes[i], sizes[i + 1]), torch.nn.Sigmoid()]
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=float(args["lr"]))
    lossf = torch.nn.MSELoss()
    rows = max(batch * 64, 4096)
    x = torch.rand(rows, sizes[0])
    y = torch.rand(rows, sizes[-1])
    nb = rows // batch
    k = 0
    print("ready torch %s" % torch.__version__, flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "loss":
            with torch.no_grad():
                print("loss %.6f" % lossf(net(x[:1024]), y[:1024]).item(),
                      flush=True)
            continue
        for _ in range(int(cmd)):
            r = (k % nb) * batch
            k += 1
            opt.zero_grad(set_to_none=True)
            lossf(net(x[r:r + batch]), y[r:r + batch]).backward()
            opt.step()
        print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
