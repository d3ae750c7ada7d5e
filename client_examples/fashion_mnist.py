#!/usr/bin/env python3
"""fashion_mnist.py: Fashion-MNIST through mlpd, from raw files to accuracy.

Reads the gzip'd idx files of Debian's dataset-fashion-mnist package
(/usr/share/datasets/fashion-mnist), pushes the 60,000 training rows to a
daemon at $MLPD_URL (default http://127.0.0.1:8080) as NumPy .npz batches
(pixels scaled to [0, 1], targets one-hot), trains, waits for the job,
predicts the 10,000 test rows in chunks (.npy in, Accept:
application/x-npy out) and prints the test accuracy with the time each
stage took. The HTTP client is python_client.py next to this file; numpy
(Debian's python3-numpy) is needed for the default --format npy only:
--format csv (CSV in and out) and --format json (JSON batches, CSV
predictions) use the standard library alone.

    server/mlpd --db /tmp/fm.db &
    python3 client_examples/fashion_mnist.py                 # the seed's net
    python3 client_examples/fashion_mnist.py --config best   # relu+adam+CE

--config seed is the seed's net [784, 128, 10], sigmoid, MSE, plain SGD
(40 epochs of minibatches of 16 at learning rate 2); --config best is the
best configuration found: [784, 256, 10], relu, softmax + cross-entropy,
Adam, 30 epochs of minibatches of 64 in one job whose learning rate
falls from 0.001 to 0.00005 along a cosine (the job's "schedule").
--epochs, --schedule (jobs as EPOCHS@RATE,...: the rate stepping down
over a few jobs, as --config best did before schedules), --batch-size,
--learning-rate, --layers and --seed override the chosen configuration;
--format csv or json sends text/csv or JSON bodies instead of .npz/.npy.
"""

import argparse
import gzip
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_client import Mlpd, MlpdError  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"

# What each --config creates and how it trains: the model, the minibatch
# size and a schedule "EPOCHS@RATE,...", one training job per entry (a
# learning rate that steps down is a few jobs in a row). The figures these
# reach are in the README ("Fashion-MNIST through the API").
CONFIGS = {
    "seed": {
        "model": {"layers": [784, 128, 10], "activation": "sigmoid",
                  "loss": "mse", "optimizer": "sgd", "learning_rate": 2.0},
        "batch_size": 16, "schedule": "40@2",
    },
    "best": {
        "model": {"layers": [784, 256, 10], "activation": "relu",
                  "loss": "cross_entropy", "optimizer": "adam",
                  "learning_rate": 0.001},
        "batch_size": 64, "schedule": "12@0.001,6@0.0002,6@0.00005",
        # one job instead of the three above: 30 epochs whose rate falls
        # from 0.001 to 0.00005 along a cosine (the daemon's schedule)
        "job": {"epochs": 30, "learning_rate": 0.001,
                "schedule": {"type": "cosine", "min_lr": 0.00005}},
    },
}


def parse_schedule(text, batch_size):
    """'10@0.001,5@0.0003' -> the train options of one job per entry."""
    phases = []
    for part in text.split(","):
        epochs, rate = part.split("@")
        phases.append({"epochs": int(epochs), "batch_size": batch_size,
                       "learning_rate": float(rate), "shuffle": True})
    return phases


def read_idx(path):
    """An idx file (gzip'd) -> (dims, raw bytes of the uint8 items)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, kind, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or kind != 0x08:
        raise ValueError(f"{path}: not an idx file of unsigned bytes")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = data[4 + 4 * ndim:]
    size = 1
    for d in dims:
        size *= d
    if len(body) != size:
        raise ValueError(f"{path}: {len(body)} bytes of items, "
                         f"expected {size}")
    return dims, body


def load(data_dir, split):
    """(images as bytes rows of 784 pixels, labels) of 'train' or 't10k'."""
    dims, pix = read_idx(os.path.join(data_dir,
                                      f"{split}-images-idx3-ubyte.gz"))
    n, width = dims[0], dims[1] * dims[2]
    _, labels = read_idx(os.path.join(data_dir,
                                      f"{split}-labels-idx1-ubyte.gz"))
    if len(labels) != n:
        raise ValueError(f"{split}: {n} images but {len(labels)} labels")
    return [pix[i * width:(i + 1) * width] for i in range(n)], labels


# pixel byte -> its value in [0, 1] as text, 9 significant digits at most
PIXEL = ["0" if p == 0 else "1" if p == 255 else format(p / 255.0, ".9g")
         for p in range(256)]
# label -> the one-hot target columns
ONE_HOT = [",".join("1" if k == j else "0" for k in range(10))
           for j in range(10)]


def csv_rows(images, labels=None):
    """CSV text: per line 784 pixels, then (with labels) 10 targets."""
    get = PIXEL.__getitem__
    if labels is None:
        return "".join(",".join(map(get, img)) + "\n" for img in images)
    return "".join(",".join(map(get, img)) + "," + ONE_HOT[lab] + "\n"
                   for img, lab in zip(images, labels))


def as_arrays(images, labels):
    """NumPy float32 arrays: pixels in [0, 1] (rows x 784) and one-hot
    targets (rows x 10)."""
    import numpy as np
    pix = np.frombuffer(b"".join(images), dtype=np.uint8)
    x = (pix.reshape(len(images), -1) / np.float32(255)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[np.frombuffer(bytes(labels),
                                                   dtype=np.uint8)]
    return x, y


def json_rows(images, labels):
    inputs = [[p / 255.0 for p in img] for img in images]
    targets = [[1.0 if k == lab else 0.0 for k in range(10)]
               for lab in labels]
    return inputs, targets


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=os.environ.get(
        "MLPD_URL", "http://127.0.0.1:8080"))
    ap.add_argument("--data", default=DATA, help="directory of the idx files")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="seed")
    ap.add_argument("--epochs", type=int,
                    help="one job of N epochs at the model's rate")
    ap.add_argument("--schedule", help="jobs as EPOCHS@RATE,...")
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--learning-rate", type=float)
    ap.add_argument("--layers", help="e.g. 784,256,10")
    ap.add_argument("--seed", type=int, default=1, help="model seed")
    ap.add_argument("--format", choices=("npy", "csv", "json"),
                    default="npy",
                    help="body type of the pushed batches and predictions")
    ap.add_argument("--push-rows", type=int, default=2000,
                    help="rows per pushed batch")
    ap.add_argument("--train-rows", type=int, default=60000,
                    help="use only the first N training rows")
    ap.add_argument("--keep", action="store_true",
                    help="keep the model instead of deleting it")
    a = ap.parse_args()

    cfg = CONFIGS[a.config]
    spec = dict(cfg["model"], name=f"fashion-mnist-{a.config}", seed=a.seed)
    if a.layers:
        spec["layers"] = [int(v) for v in a.layers.split(",")]
    if a.learning_rate:
        spec["learning_rate"] = a.learning_rate
    schedule = a.schedule or cfg["schedule"]
    if a.epochs:
        schedule = f"{a.epochs}@{spec['learning_rate']}"
    phases = parse_schedule(schedule, a.batch_size or cfg["batch_size"])
    if "job" in cfg and not (a.schedule or a.epochs or a.learning_rate):
        # the config's single job with a learning-rate schedule
        job = cfg["job"]
        phases = [dict(job, batch_size=a.batch_size or cfg["batch_size"],
                       shuffle=True)]
        sched = job["schedule"]
        schedule = (f"{job['epochs']}@{job['learning_rate']:g} "
                    f"{sched['type']} to {sched['min_lr']:g}, one job")
    epochs = sum(p["epochs"] for p in phases)

    t = time.monotonic()
    train_x, train_y = load(a.data, "train")
    test_x, test_y = load(a.data, "t10k")
    train_x, train_y = train_x[:a.train_rows], train_y[:a.train_rows]
    if a.format == "npy":
        train_x, train_y = as_arrays(train_x, train_y)
        test_arr, _ = as_arrays(test_x, test_y)
    print(f"read {len(train_x)} training and {len(test_x)} test images "
          f"in {time.monotonic() - t:.1f} s")

    c = Mlpd(a.url, timeout=300)
    model = c.create(**spec)
    mid = model["id"]
    print(f"model {mid}: layers {model['layers']}, activation "
          f"{model['activation']}, loss {model['loss']}, optimizer "
          f"{model['optimizer']}, learning rate {model['learning_rate']:g}")
    try:
        # 1. push the training rows, push_rows at a time
        t = time.monotonic()
        for i in range(0, len(train_x), a.push_rows):
            xs, ys = train_x[i:i + a.push_rows], train_y[i:i + a.push_rows]
            if a.format == "npy":
                r = c.push_npy(mid, xs, ys)
            elif a.format == "csv":
                r = c.push_csv(mid, csv_rows(xs, ys))
            else:
                r = c.push(mid, *json_rows(xs, ys))
        push_s = time.monotonic() - t
        print(f"pushed {r['total_samples']} rows as {a.format} in "
              f"{push_s:.1f} s ({r['total_samples'] / push_s:.0f} rows/s)")

        # 2. train, reporting progress every few seconds
        t = time.monotonic()
        last = [0.0]

        def progress(j):
            now = time.monotonic()
            if now - last[0] >= 10 and j["steps_done"] > 0:
                last[0] = now
                loss = j["loss"] if j["loss"] is not None else float("nan")
                print(f"  {now - t:6.1f} s  step {j['steps_done']}/"
                      f"{j['steps_total']}  loss {loss:.5f}", flush=True)

        steps = 0
        for phase in phases:
            job = c.train(mid, **phase)
            print(f"job {job['id']}: {phase['epochs']} epochs of batch "
                  f"{phase['batch_size']}, learning rate "
                  f"{phase['learning_rate']:g}"
                  + (f" ({phase['schedule']['type']} schedule)"
                     if "schedule" in phase else "") + ": "
                  f"{job['steps_total']} steps", flush=True)
            job = c.wait(job["id"], poll=0.5, progress=progress)
            steps += job["steps_done"]
        train_s = time.monotonic() - t
        print(f"trained {steps} steps in {train_s:.1f} s, "
              f"last minibatch loss {job['loss']:.5f}")

        # 3. predict the test rows in chunks: .npy in and out, or CSV
        t = time.monotonic()
        right = 0
        chunk = 2000
        for i in range(0, len(test_x), chunk):
            labels = test_y[i:i + chunk]
            if a.format == "npy":
                outs = c.predict_npy(mid, test_arr[i:i + chunk])
                if len(outs) != len(labels):
                    raise ValueError(f"predict answered {len(outs)} rows "
                                     f"for {len(labels)}")
                # a NaN output is never the best
                outs[outs != outs] = -float("inf")
                right += int((outs.argmax(axis=1) ==
                              list(labels)).sum())
                continue
            lines = c.predict_csv(mid, csv_rows(test_x[i:i + chunk]))
            lines = lines.splitlines()
            if len(lines) != len(labels):
                raise ValueError(f"predict answered {len(lines)} rows for "
                                 f"{len(labels)}")
            for line, lab in zip(lines, labels):
                # an empty field is a non-finite output: never the best
                out = [float(v) if v else float("-inf")
                       for v in line.split(",")]
                right += out.index(max(out)) == lab
        predict_s = time.monotonic() - t
        acc = right / len(test_x)
        print(f"predicted {len(test_x)} test rows in {predict_s:.1f} s")
        print(f"config {a.config}: layers {model['layers']} "
              f"{'/'.join(model['activation'])} {model['loss']} "
              f"{model['optimizer']}, batch {phases[0]['batch_size']}, "
              f"{epochs} epochs ({schedule}): "
              f"test accuracy {acc:.4f} ({right}/{len(test_x)}); push "
              f"{push_s:.1f} s, train {train_s:.1f} s, predict "
              f"{predict_s:.1f} s")
    finally:
        if not a.keep:
            c.delete(mid)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except MlpdError as e:
        print(f"fashion_mnist: {e}", file=sys.stderr)
        sys.exit(1)
    except (OSError, ValueError) as e:
        print(f"fashion_mnist: {e}", file=sys.stderr)
        sys.exit(1)
