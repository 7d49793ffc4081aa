"""The same nets as numpy_nets.py in PyTorch (CPU, float32), with an explicit thread count.

Usage: python torch_nets.py WORKLOAD THREADS STEPS   (WORKLOAD: mlp | conv | deep | gemm)
Prints one JSON object: {"runner": "torch-Nt", "workload": ..., "steps_per_sec": ...}.
"""
import json
import sys
import time

import torch

import bench_data


def main():
    workload, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if workload == "gemm":
        a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
        a @ b
        t0 = time.perf_counter()
        for _ in range(steps):
            a @ b
        dt = time.perf_counter() - t0
        result = {"gflops": 2 * 1024 ** 3 * steps / dt / 1e9}
    else:
        images, labels = bench_data.mnist_train()
        x_all = torch.from_numpy(images.astype("float32") / 255.0)
        t_all = torch.from_numpy(labels)
        nn = torch.nn
        if workload == "mlp":
            net = nn.Sequential(nn.Linear(784, 50), nn.ReLU(), nn.Linear(50, 10))
            opt = torch.optim.SGD(net.parameters(), lr=0.1)
            shape = (-1, 784)
        elif workload == "conv":
            net = nn.Sequential(
                nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
                nn.Linear(4320, 100), nn.ReLU(), nn.Linear(100, 10))
            shape = (-1, 1, 28, 28)
        else:  # the book's DeepConvNet: 3×3 convolutions (the fourth pad 2), dropout 0.5
            layers, c = [], 1
            for i, (fn, pad) in enumerate([(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]):
                layers += [nn.Conv2d(c, fn, 3, padding=pad), nn.ReLU()]
                if i % 2 == 1:
                    layers.append(nn.MaxPool2d(2, 2))
                c = fn
            layers += [nn.Flatten(), nn.Linear(1024, 50), nn.ReLU(), nn.Dropout(0.5),
                       nn.Linear(50, 10), nn.Dropout(0.5)]
            net = nn.Sequential(*layers)
            shape = (-1, 1, 28, 28)
        if workload != "mlp":
            opt = torch.optim.Adam(net.parameters(), lr=0.001, eps=1e-7)
        for p in net.parameters():
            if p.dim() == 1:
                torch.nn.init.zeros_(p)
            elif workload == "deep":  # He: N(0, 2 / fan-in)
                torch.nn.init.kaiming_normal_(p, nonlinearity="relu")
            else:  # the book's init: N(0, 0.01²) weights, zero biases
                torch.nn.init.normal_(p, std=0.01)
        loss_fn = nn.CrossEntropyLoss()
        n = x_all.shape[0]
        gen = torch.Generator().manual_seed(0)

        def step():
            mask = torch.randint(0, n, (100,), generator=gen)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x_all[mask].reshape(shape)), t_all[mask])
            loss.backward()
            opt.step()

        for _ in range(min(5, steps)):
            step()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        dt = time.perf_counter() - t0
        result = {"steps_per_sec": steps / dt}
    result.update({"runner": "torch-%dt" % threads, "workload": workload})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
