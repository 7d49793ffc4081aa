"""The same nets as torch_nets.py in JAX (CPU, float32), with an explicit thread count.

Each training step (batch gather, forward, the book's softmax-with-loss, backward by jax.grad,
optimizer update) is one jax.jit-compiled function; the compile happens in the warm-up steps,
which are not timed, and timing waits for the results with block_until_ready (JAX dispatches
asynchronously).

Usage: python jax_nets.py WORKLOAD THREADS STEPS   (WORKLOAD: mlp | conv | deep | gemm)
Prints one JSON object: {"runner": "jax-Nt", "workload": ..., "steps_per_sec": ...}.
"""
import functools
import json
import math
import os
import sys
import time


def limit_threads(threads):
    """Limit XLA's CPU threads; must run before jax is imported (the settings are read once).

    JAX has no set_num_threads. The CPU PjRt client sizes its thread pools (the intra-op pool
    "XLAEigen" that XLA's CPU kernels split work across, and the pool that runs computations)
    from the environment variable PJRT_NPROC (older jaxlibs: NPROC), else from the number of
    CPUs the process may run on; this is what limits the threads.
    --xla_cpu_multi_thread_eigen=false also makes XLA's Eigen matmul/convolution kernels
    single-threaded, but on its own it does not stop other ops from using the pool.
    (TensorFlow's intra_op_parallelism_threads is not an XLA flag.) With THREADS=1 the compute
    runs on one thread at a time; JAX's asynchronous dispatch still lets the Python thread
    (batch sampling, dispatch) overlap it, which for the small mlp step adds about a quarter
    of a core.
    """
    os.environ["PJRT_NPROC"] = os.environ["NPROC"] = str(threads)
    flags = os.environ.get("XLA_FLAGS", "").split()
    flags = [f for f in flags if not f.startswith("--xla_cpu_multi_thread_eigen")]
    flags.append("--xla_cpu_multi_thread_eigen=%s" % ("true" if threads > 1 else "false"))
    os.environ["XLA_FLAGS"] = " ".join(flags)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def main():
    workload, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    limit_threads(threads)
    import jax  # imported here, after the thread flags are in the environment
    import jax.numpy as jnp
    import numpy as np

    import bench_data

    rng = np.random.default_rng(0)
    if workload == "gemm":
        a = jnp.asarray(rng.standard_normal((1024, 1024), dtype=np.float32))
        b = jnp.asarray(rng.standard_normal((1024, 1024), dtype=np.float32))
        matmul = jax.jit(jnp.matmul)
        matmul(a, b).block_until_ready()  # compile
        t0 = time.perf_counter()
        for _ in range(steps):
            matmul(a, b).block_until_ready()  # one at a time, like torch's synchronous a @ b
        dt = time.perf_counter() - t0
        result = {"gflops": 2 * 1024 ** 3 * steps / dt / 1e9}
    else:
        images, labels = bench_data.mnist_train()
        # the whole training set lives on the device once; each step gathers its batch inside jit
        x_all = jnp.asarray(images.astype(np.float32) / 255.0)
        t_all = jnp.asarray(labels.astype(np.int32))
        n = images.shape[0]

        def normal(*shape):  # the book's init: N(0, 0.01²) weights, zero biases
            return jnp.asarray(0.01 * rng.standard_normal(shape, dtype=np.float32))

        if workload == "mlp":
            params = {"W1": normal(784, 50), "b1": jnp.zeros(50, jnp.float32),
                      "W2": normal(50, 10), "b2": jnp.zeros(10, jnp.float32)}
            shape = (-1, 784)

            def predict(p, x):  # Affine, ReLU, Affine
                h = jax.nn.relu(x @ p["W1"] + p["b1"])
                return h @ p["W2"] + p["b2"]
        elif workload == "deep":
            # the book's DeepConvNet: six 3×3 convolutions (the fourth pad 2), a 2×2 pool after
            # every second, Affine 1024×50, ReLU, dropout 0.5, Affine 50×10, dropout 0.5; He init
            convs = [(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]
            params, c = {}, 1
            for i, (fn, pad) in enumerate(convs, 1):
                params["W%d" % i] = jnp.asarray(np.sqrt(2.0 / (c * 9)) * rng.standard_normal(
                    (fn, c, 3, 3), dtype=np.float32))
                params["b%d" % i] = jnp.zeros(fn, jnp.float32)
                c = fn
            params["W7"] = jnp.asarray(np.sqrt(2.0 / 1024) * rng.standard_normal(
                (1024, 50), dtype=np.float32))
            params["b7"] = jnp.zeros(50, jnp.float32)
            params["W8"] = jnp.asarray(np.sqrt(2.0 / 50) * rng.standard_normal(
                (50, 10), dtype=np.float32))
            params["b8"] = jnp.zeros(10, jnp.float32)
            shape = (-1, 28, 28, 1)

            def pool(h):  # 2×2 max pool as a reshape and max (see the conv net below)
                n, hh, ww, cc = h.shape
                return h.reshape(n, hh // 2, 2, ww // 2, 2, cc).max(axis=(2, 4))

            def predict(p, x, key=None):
                h = x
                for i, (_, pad) in enumerate(convs, 1):
                    h = jax.lax.conv_general_dilated(
                        h, p["W%d" % i], (1, 1), [(pad, pad), (pad, pad)],
                        dimension_numbers=("NHWC", "OIHW", "NHWC"))
                    h = jax.nn.relu(h + p["b%d" % i])
                    if i % 2 == 0:
                        h = pool(h)
                h = h.transpose(0, 3, 1, 2).reshape(h.shape[0], -1)  # 64·4·4, C,H,W
                h = jax.nn.relu(h @ p["W7"] + p["b7"])
                if key is not None:  # training: dropout 0.5 after each Affine, as the book
                    k1, k2 = jax.random.split(key)
                    h = h * jax.random.bernoulli(k1, 0.5, h.shape)
                y = h @ p["W8"] + p["b8"]
                if key is not None:
                    y = y * jax.random.bernoulli(k2, 0.5, y.shape)
                return y
        else:
            params = {"W1": normal(30, 1, 5, 5), "b1": jnp.zeros(30, jnp.float32),
                      "W2": normal(4320, 100), "b2": jnp.zeros(100, jnp.float32),
                      "W3": normal(100, 10), "b3": jnp.zeros(10, jnp.float32)}
            # XLA's CPU convolution is channels-last: the batch goes in as NHWC (a reshape, with
            # one channel) and the activations are put back in C,H,W order before the Affine, so
            # the parameters keep the book's layout (W1: 30×1×5×5, W2 rows in C,H,W order)
            shape = (-1, 28, 28, 1)

            def predict(p, x):  # Conv 5×5 stride 1 pad 0, ReLU, Pool 2×2/2, Affine, ReLU, Affine
                h = jax.lax.conv_general_dilated(x, p["W1"], (1, 1), "VALID",
                                                 dimension_numbers=("NHWC", "OIHW", "NHWC"))
                h = jax.nn.relu(h + p["b1"])  # N×24×24×30
                # 2×2 max pool, stride 2, as a reshape and max: its gradient is much cheaper on
                # XLA CPU than reduce_window's (select-and-scatter). Ties share the gradient
                # instead of going to the first maximum; after the ReLU they are all-zero windows,
                # whose gradient the ReLU zeroes either way.
                h = h.reshape(h.shape[0], 12, 2, 12, 2, 30).max(axis=(2, 4))
                h = h.transpose(0, 3, 1, 2).reshape(h.shape[0], -1)  # 30·12·12 = 4320, C,H,W
                h = jax.nn.relu(h @ p["W2"] + p["b2"])
                return h @ p["W3"] + p["b3"]

        def loss_fn(p, x, t, key=None):  # the book's SoftmaxWithLoss: mean -log(y_t + 1e-7)
            y = jax.nn.softmax(predict(p, x, key) if key is not None else predict(p, x), axis=-1)
            return -jnp.mean(jnp.log(y[jnp.arange(t.shape[0]), t] + 1e-7))

        if workload == "mlp":
            state = params

            def update(p, g):  # SGD, lr 0.1
                return jax.tree.map(lambda w, dw: w - 0.1 * dw, p, g)
        else:
            # the book's Adam (lr 0.001, beta1 0.9, beta2 0.999) with the bias correction
            # folded into the learning rate, as in numpy_nets.py; state: params, m, v, iter
            def zeros():
                return jax.tree.map(jnp.zeros_like, params)
            state = (params, zeros(), zeros(), jnp.zeros((), jnp.float32))

            def update(s, g):
                p, m, v, it = s
                lr, beta1, beta2 = 0.001, 0.9, 0.999
                it = it + 1
                lr_t = lr * jnp.sqrt(1.0 - beta2 ** it) / (1.0 - beta1 ** it)
                m = jax.tree.map(lambda m, g: m + (1 - beta1) * (g - m), m, g)
                v = jax.tree.map(lambda v, g: v + (1 - beta2) * (g * g - v), v, g)
                p = jax.tree.map(lambda w, m, v: w - lr_t * m / (jnp.sqrt(v) + 1e-7), p, m, v)
                return p, m, v, it

        def params_of(s):
            return s if workload == "mlp" else s[0]

        # the old state is donated: XLA may update the parameters and moments in place
        @functools.partial(jax.jit, donate_argnums=0)
        def train_step(s, x_all, t_all, idx):
            x, t = x_all[idx].reshape(shape), t_all[idx]
            if workload == "deep":  # a fresh dropout mask per step
                grads = jax.grad(loss_fn)(params_of(s), x, t,
                                          jax.random.fold_in(jax.random.key(0), s[3].astype(int)))
            else:
                grads = jax.grad(loss_fn)(params_of(s), x, t)
            return update(s, grads)

        def step(s):  # 100 indices drawn with replacement, like torch.randint in torch_nets.py
            return train_step(s, x_all, t_all, rng.integers(0, n, 100, dtype=np.int32))

        # correctness check on a fixed batch (the first 1000 training images), outside timing
        x_eval, t_eval = x_all[:1000].reshape(shape), t_all[:1000]
        eval_loss = jax.jit(loss_fn)
        loss0 = float(eval_loss(params_of(state), x_eval, t_eval))

        for _ in range(min(5, steps)):  # the first call compiles
            state = step(state)
        jax.block_until_ready(state)
        t0 = time.perf_counter()
        for _ in range(steps):
            state = step(state)
        jax.block_until_ready(state)  # each step needs the previous one's parameters
        dt = time.perf_counter() - t0
        result = {"steps_per_sec": steps / dt}

        loss1 = float(eval_loss(params_of(state), x_eval, t_eval))
        if workload == "mlp":
            assert math.isfinite(loss1) and loss1 < loss0, (
                "mlp loss did not go down: %g -> %g" % (loss0, loss1))
    result.update({"runner": "jax-%dt" % threads, "workload": workload})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
