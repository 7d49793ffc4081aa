"""The book's TwoLayerNet, SimpleConvNet and DeepConvNet in NumPy, written for this repository from the
behaviour of the book's `common/` code (layers with forward/backward, im2col/col2im,
Adam with the folded bias correction), so that bench/compare.sh can time what a reader of the
book would otherwise run.

Usage: python numpy_nets.py WORKLOAD DTYPE STEPS   (WORKLOAD: mlp | conv | deep | gemm; DTYPE: f64 | f32)
Prints one JSON object: {"runner": "numpy-f64", "workload": ..., "steps_per_sec": ...}.
"""
import json
import sys
import time

import numpy as np

import bench_data


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


class Dropout:
    def __init__(self, ratio, rng):
        self.ratio, self.rng = ratio, rng

    def forward(self, x):
        self.mask = self.rng.random(x.shape) > self.ratio
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx.reshape(*self.original_x_shape)


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class SoftmaxWithLoss:
    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        return cross_entropy_error(self.y, t)

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        return dx / batch_size


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    img = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w), dtype=input_data.dtype)
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            col[:, :, y, x, :, :] = img[:, :, y:y_max:stride, x:x_max:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    N, C, H, W = input_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1), dtype=col.dtype)
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x in range(filter_w):
            x_max = x + stride * out_w
            img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x, :, :]
    return img[:, :, pad:H + pad, pad:W + pad]


class Convolution:
    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b, self.stride, self.pad = W, b, stride, pad

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, C, H, W = x.shape
        out_h = 1 + (H + 2 * self.pad - FH) // self.stride
        out_w = 1 + (W + 2 * self.pad - FW) // self.stride
        col = im2col(x, FH, FW, self.stride, self.pad)
        col_W = self.W.reshape(FN, -1).T
        out = np.dot(col, col_W) + self.b
        self.x, self.col, self.col_W = x, col, col_W
        return out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)
        dcol = np.dot(dout, self.col_W.T)
        return col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad)


class Pooling:
    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = int(1 + (H - self.pool_h) / self.stride)
        out_w = int(1 + (W - self.pool_w) / self.stride)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        self.arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        self.x = x
        return out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)
        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size), dtype=dout.dtype)
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape(dout.shape + (pool_size,))
        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)


class Net:
    def __init__(self, layers, params):
        self.layers, self.params, self.last = layers, params, SoftmaxWithLoss()

    def gradient(self, x, t):
        for layer in self.layers:
            x = layer.forward(x)
        self.last.forward(x, t)
        dout = self.last.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        grads = {}
        i = 1
        for layer in self.layers:
            if hasattr(layer, "W"):
                grads["W%d" % i], grads["b%d" % i] = layer.dW, layer.db
                i += 1
        return grads


def two_layer_net(dtype, rng):
    p = {
        "W1": (0.01 * rng.standard_normal((784, 50))).astype(dtype), "b1": np.zeros(50, dtype),
        "W2": (0.01 * rng.standard_normal((50, 10))).astype(dtype), "b2": np.zeros(10, dtype),
    }
    return Net([Affine(p["W1"], p["b1"]), Relu(), Affine(p["W2"], p["b2"])], p)


def simple_conv_net(dtype, rng):
    p = {
        "W1": (0.01 * rng.standard_normal((30, 1, 5, 5))).astype(dtype), "b1": np.zeros(30, dtype),
        "W2": (0.01 * rng.standard_normal((4320, 100))).astype(dtype), "b2": np.zeros(100, dtype),
        "W3": (0.01 * rng.standard_normal((100, 10))).astype(dtype), "b3": np.zeros(10, dtype),
    }
    layers = [Convolution(p["W1"], p["b1"]), Relu(), Pooling(2, 2, stride=2),
              Affine(p["W2"], p["b2"]), Relu(), Affine(p["W3"], p["b3"])]
    return Net(layers, p)


def deep_conv_net(dtype, rng):
    # six 3×3 convolutions (pad 1, the fourth pad 2), pooling after every second, He init
    convs = [(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]
    p, layers, c = {}, [], 1
    for i, (fn, pad) in enumerate(convs, 1):
        p["W%d" % i] = (np.sqrt(2.0 / (c * 9)) * rng.standard_normal((fn, c, 3, 3))).astype(dtype)
        p["b%d" % i] = np.zeros(fn, dtype)
        layers += [Convolution(p["W%d" % i], p["b%d" % i], 1, pad), Relu()]
        if i % 2 == 0:
            layers.append(Pooling(2, 2, stride=2))
        c = fn
    p["W7"] = (np.sqrt(2.0 / 1024) * rng.standard_normal((1024, 50))).astype(dtype)
    p["b7"] = np.zeros(50, dtype)
    p["W8"] = (np.sqrt(2.0 / 50) * rng.standard_normal((50, 10))).astype(dtype)
    p["b8"] = np.zeros(10, dtype)
    layers += [Affine(p["W7"], p["b7"]), Relu(), Dropout(0.5, rng),
               Affine(p["W8"], p["b8"]), Dropout(0.5, rng)]
    return Net(layers, p)


class SGD:
    def __init__(self, lr):
        self.lr = lr

    def update(self, params, grads):
        for k in params:
            params[k] -= self.lr * grads[k]


class Adam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2, self.iter, self.m, self.v = lr, beta1, beta2, 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(v) for k, v in params.items()}
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        for k in params:
            self.m[k] += (1 - self.beta1) * (grads[k] - self.m[k])
            self.v[k] += (1 - self.beta2) * (grads[k] ** 2 - self.v[k])
            params[k] -= lr_t * self.m[k] / (np.sqrt(self.v[k]) + 1e-7)


def main():
    workload, dtype_name, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    dtype = np.float64 if dtype_name == "f64" else np.float32
    rng = np.random.default_rng(0)
    if workload == "gemm":
        a = rng.standard_normal((1024, 1024)).astype(np.float32)
        b = rng.standard_normal((1024, 1024)).astype(np.float32)
        np.dot(a, b)
        t0 = time.perf_counter()
        for _ in range(steps):
            np.dot(a, b)
        dt = time.perf_counter() - t0
        result = {"gflops": 2 * 1024 ** 3 * steps / dt / 1e9}
    else:
        images, labels = bench_data.mnist_train()
        # the book feeds float32 images (/255) and float64 parameters; the first np.dot upcasts
        x_all = images.astype(np.float32) / 255.0
        if workload == "mlp":
            net, opt, shape = two_layer_net(dtype, rng), SGD(0.1), (-1, 784)
        elif workload == "conv":
            net, opt, shape = simple_conv_net(dtype, rng), Adam(0.001), (-1, 1, 28, 28)
        else:
            net, opt, shape = deep_conv_net(dtype, rng), Adam(0.001), (-1, 1, 28, 28)
        n = images.shape[0]

        def step():
            mask = rng.choice(n, 100)
            grads = net.gradient(x_all[mask].reshape(shape), labels[mask])
            opt.update(net.params, grads)

        for _ in range(min(5, steps)):
            step()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        dt = time.perf_counter() - t0
        result = {"steps_per_sec": steps / dt}
    result.update({"runner": "numpy-" + dtype_name, "workload": workload})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
