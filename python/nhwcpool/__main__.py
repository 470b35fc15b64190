"""Demo: replays the worked examples of the two lecture documents, then prints the config.

Run with ``python -m nhwcpool``.
"""

from __future__ import annotations

import numpy as np

import nhwcpool as P


def _grid(a: np.ndarray) -> str:
    if a.dtype.kind == "f" and np.all(a == np.round(a)):
        a = a.astype(np.int64)
    return "\n".join("    " + " ".join(f"{v:>5g}" for v in row) for row in a.tolist())


def _show(title: str, x: np.ndarray, out: np.ndarray, f: int, s: int, p: int = 0, *, kind: str) -> None:
    n = x.shape[0]
    size = (n + 2 * p - f) // s + 1
    print(f"== {title}")
    print(f"  {kind} pooling, f={f}, s={s}, p={p}; input {x.shape[0]}x{x.shape[1]}:")
    print(_grid(x))
    print(f"  output size floor((n + 2p - f)/s) + 1 = floor(({n} + {2 * p} - {f})/{s}) + 1 = {size}:")
    print(_grid(out))
    print()


def main() -> None:
    a = np.array([[1, 3, 2, 1], [2, 9, 1, 1], [1, 3, 2, 3], [5, 6, 1, 2]])
    _show("Lecture 1, max pooling (stated: 9, 2, 6, 3)", a, P.max_pool2d(a, 2, 2), 2, 2, kind="max")

    b = np.array([[1, 3, 2, 1, 3], [2, 9, 1, 1, 5], [1, 3, 2, 3, 2], [8, 3, 5, 1, 0], [5, 6, 1, 2, 9]])
    _show(
        "Lecture 1, max pooling f=3, s=1 (stated: 9 9 5 / 9 9 5 / 8 6 9)",
        b,
        P.max_pool2d(b, 3, 1),
        3,
        1,
        kind="max",
    )

    b2 = np.stack([b, b.T], axis=-1)  # 5x5x2: every channel is pooled on its own
    out2 = P.max_pool2d(b2, 3, 1)
    print("== Lecture 1, 5x5x2 -> 3x3x2 (channel 1 is the transpose of channel 0)")
    print(f"  input shape {b2.shape} -> output shape {out2.shape}")
    for ch in range(2):
        print(f"  channel {ch}:")
        print(_grid(out2[..., ch]))
    print()

    c = np.array([[1, 3, 2, 1], [2, 9, 1, 1], [1, 4, 2, 3], [5, 6, 1, 2]])
    _show(
        "Lecture 1, average pooling (stated: 3.75, 1.25, 4, 2)",
        c,
        P.avg_pool2d(c, 2, 2),
        2,
        2,
        kind="average",
    )

    g = np.random.default_rng(0).standard_normal((7, 7, 1000)).astype(np.float32)
    gp = P.global_avg_pool2d(g)
    ok = np.allclose(gp[0, 0], g.mean(axis=(0, 1)), rtol=1e-5, atol=1e-6)
    print("== Lecture 1, global average pooling deep in a network")
    print(f"  {g.shape} -> {gp.shape}; equals the mean of each channel's 7x7 plane: {ok}")
    print()

    d = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])
    _show("Lecture 2, max pooling (stated: 6 8 / 3 4)", d, P.max_pool2d(d, 2), 2, 2, kind="max")
    e = np.array([[7, 3, 5, 2], [8, 7, 1, 6], [4, 9, 3, 9], [0, 8, 4, 5]])
    _show(
        "Lecture 2, average pooling (stated: (7+3+8+7)/4 = 6.25 first)",
        e,
        P.avg_pool2d(e, 2),
        2,
        2,
        kind="average",
    )

    print("== Lecture 2, the Keras model's shapes with MaxPool2D() (pool 2, stride 2)")
    shape: tuple[int, ...] = (28, 28, 1)
    print(f"  input {shape}")
    for conv_filters in (3, 6):
        shape = (shape[0] - 4, shape[1] - 4, conv_filters)  # Conv2D(kernel_size=5), valid
        print(f"  Conv2D({conv_filters}, 5x5) -> {shape}")
        shape = P.output_shape(shape, 2)
        print(f"  MaxPool2D()     -> {shape}")
    flat = int(np.prod(shape))
    print(f"  Flatten -> {flat}; Dense(84) has 84 * ({flat} + 1) = {84 * (flat + 1):,} weights")
    print(f"  (without pooling: 20x20x6 = 2400 -> 84 * 2401 = {84 * 2401:,}); Dense(10): {10 * 85}")
    print()
    P.show_config()


if __name__ == "__main__":
    main()
