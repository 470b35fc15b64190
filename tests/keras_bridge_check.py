"""Checks of nhwcpool.keras on one Keras backend (run by test_keras_bridge.py in a subprocess).

    KERAS_BACKEND=tensorflow|torch|jax python tests/keras_bridge_check.py

A Keras backend is fixed per process, so each backend gets its own run of this script; it
asserts many things in one process to pay the framework's import once. It prints one line per
group of checks and "ALL OK <backend>" at the end.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras
import nhwcpool.keras as nk
import reference as R

BACKEND = keras.backend.backend()
rng = np.random.default_rng(20)
LAST, FIRST = "channels_last", "channels_first"


def to_np(t):
    return keras.ops.convert_to_numpy(t)


def to_nhwc(a, fmt):
    return a if fmt == LAST else a.transpose(0, 2, 3, 1)


def from_nhwc(a, fmt):
    return a if fmt == LAST else np.ascontiguousarray(a.transpose(0, 3, 1, 2))


def value_and_grad(layer, x, w):
    """layer(x) and d/dx sum(layer(x) * w), through the backend's own autodiff."""
    if BACKEND == "tensorflow":
        import tensorflow as tf  # noqa: PLC0415 - only on this backend

        xt = tf.constant(x)

        @tf.function
        def f(xt):
            with tf.GradientTape() as tape:
                tape.watch(xt)
                y = layer(xt)
                loss = tf.reduce_sum(y * w)
            return y, tape.gradient(loss, xt)

        y, g = f(xt)
        return y.numpy(), g.numpy()
    if BACKEND == "torch":
        import torch  # noqa: PLC0415

        xt = torch.tensor(x, requires_grad=True)
        y = layer(xt)
        (y * torch.from_numpy(w)).sum().backward()
        return y.detach().numpy(), xt.grad.numpy()
    import jax  # noqa: PLC0415
    import jax.numpy as jnp  # noqa: PLC0415

    def loss(xj):
        return jnp.sum(layer(xj) * w)

    y = layer(jnp.asarray(x))
    g = jax.jit(jax.grad(loss))(jnp.asarray(x))
    return np.asarray(y), np.asarray(g)


def avg_reference(x, k, s, padding, fmt):
    """Keras's average pooling (TensorFlow's "same": padded cells not counted), plain NumPy."""
    y = R.avg_pool2d(to_nhwc(x, fmt).astype(np.float64), k, s, padding, count_include_pad=False)[0]
    return from_nhwc(y, fmt)


def avg_reference_grad(x_shape, k, s, padding, fmt, w):
    """A^T w for the linear map A = average pooling, one unit image at a time."""
    shape = x_shape if fmt == LAST else (x_shape[0], x_shape[2], x_shape[3], x_shape[1])
    _, h, wd, _ = shape
    wn = to_nhwc(w, fmt).astype(np.float64)
    g = np.zeros(shape)
    for yy in range(h):
        for xx in range(wd):
            e = np.zeros((1, h, wd, 1))
            e[0, yy, xx, 0] = 1.0
            a = R.avg_pool2d(e, k, s, padding, count_include_pad=False)[0]  # (1, Ho, Wo, 1)
            g[:, yy, xx, :] = np.einsum("ij,nijc->nc", a[0, :, :, 0], wn)
    return from_nhwc(g, fmt)


def same_is_symmetric(h, wd, k, s):
    return all((b == e) for b, e in (R.same_pads(h, k[0], s[0]), R.same_pads(wd, k[1], s[1])))


def check_pooling_layers():
    """Random shapes and options, both data formats: outputs and input gradients."""
    count = asymmetric = 0
    # fixed cases first: "same" with the extra padded cell at the bottom/right (2x2/s2 over
    # odd sizes, 4x4/s1) and Keras's defaults; then random ones
    fixed = [
        (LAST, "same", (2, 2), (2, 2), 5, 7, 2, 3),
        (FIRST, "same", (2, 2), (2, 2), 7, 5, 1, 2),
        (LAST, "same", (4, 3), (1, 1), 6, 6, 1, 2),
        (FIRST, "same", (2, 4), (3, 1), 9, 8, 2, 1),
        (LAST, "valid", (2, 2), (2, 2), 8, 9, 2, 3),
    ]
    for trial in range(len(fixed) + 12):
        if trial < len(fixed):
            fmt, padding, k, s, h, wd, n, c = fixed[trial]
        else:
            fmt = (LAST, FIRST)[trial % 2]
            padding = ("valid", "same")[(trial // 2) % 2]
            k = tuple(int(v) for v in rng.integers(1, 5, 2))
            s = tuple(int(v) for v in rng.integers(1, 4, 2))
            h, wd = (int(v) for v in rng.integers(max(k), 11, 2))
            n, c = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        asymmetric += padding == "same" and not same_is_symmetric(h, wd, k, s)
        shape = (n, h, wd, c) if fmt == LAST else (n, c, h, wd)
        x = rng.standard_normal(shape).astype("float32")  # no ties
        # positional arguments in Keras's order: pool_size, strides, padding, data_format
        for ours, theirs in (
            (nk.MaxPooling2D(k, s, padding, fmt), keras.layers.MaxPooling2D(k, s, padding, fmt)),
            (nk.AveragePooling2D(k, s, padding, fmt), keras.layers.AveragePooling2D(k, s, padding, fmt)),
        ):
            assert ours.compute_output_shape(shape) == theirs.compute_output_shape(shape)
            y_ref = to_np(theirs(x))
            w = rng.standard_normal(y_ref.shape).astype("float32")
            y, g = value_and_grad(ours, x, w)
            assert y.shape == y_ref.shape == ours.compute_output_shape(shape), (y.shape, y_ref.shape)
            assert y.dtype == np.float32
            if isinstance(ours, nk.MaxPooling2D):
                np.testing.assert_array_equal(y, y_ref)
                _, g_ref = value_and_grad(theirs, x, w)
                # overlapping windows add several gradients into a cell: the order of those
                # float additions may differ from the framework's (last bit)
                np.testing.assert_allclose(g, g_ref, rtol=1e-6, atol=1e-7)
                if s[0] >= k[0] and s[1] >= k[1]:
                    np.testing.assert_array_equal(g, g_ref)
            else:
                np.testing.assert_allclose(y, avg_reference(x, k, s, padding, fmt), rtol=3e-7, atol=3e-7)
                np.testing.assert_allclose(
                    g, avg_reference_grad(shape, k, s, padding, fmt, w), rtol=2e-6, atol=1e-6
                )
                # Keras 3.15's torch backend pads asymmetric "same" average windows by
                # replicating the edge and counts those cells; elsewhere Keras agrees.
                if not (BACKEND == "torch" and padding == "same" and not same_is_symmetric(h, wd, k, s)):
                    np.testing.assert_allclose(y, y_ref, rtol=3e-7, atol=3e-7)
                    _, g_ref = value_and_grad(theirs, x, w)
                    np.testing.assert_allclose(g, g_ref, rtol=2e-6, atol=1e-6)
            count += 1
    assert asymmetric >= 4
    print(
        f"pooling layers: {count} cases equal keras.layers (outputs and gradients; "
        f"{asymmetric} with asymmetric 'same' padding)",
        flush=True,
    )


def check_global_layers():
    count = 0
    for trial in range(8):
        fmt = (LAST, FIRST)[trial % 2]
        keepdims = bool((trial // 2) % 2)
        n, c, h, wd = (int(v) for v in rng.integers(1, 7, 4))
        shape = (n, h, wd, c) if fmt == LAST else (n, c, h, wd)
        x = rng.standard_normal(shape).astype("float32")
        for ours, theirs in (
            (nk.GlobalMaxPooling2D(fmt, keepdims), keras.layers.GlobalMaxPooling2D(fmt, keepdims)),
            (nk.GlobalAveragePooling2D(fmt, keepdims), keras.layers.GlobalAveragePooling2D(fmt, keepdims)),
        ):
            assert ours.compute_output_shape(shape) == theirs.compute_output_shape(shape)
            y_ref = to_np(theirs(x))
            w = rng.standard_normal(y_ref.shape).astype("float32")
            y, g = value_and_grad(ours, x, w)
            _, g_ref = value_and_grad(theirs, x, w)
            assert y.shape == y_ref.shape == ours.compute_output_shape(shape)
            if isinstance(ours, nk.GlobalMaxPooling2D):
                np.testing.assert_array_equal(y, y_ref)
                np.testing.assert_array_equal(g, g_ref)
            else:
                np.testing.assert_allclose(y, y_ref, rtol=3e-7, atol=3e-7)
                np.testing.assert_allclose(g, g_ref, rtol=1e-6, atol=1e-7)
            count += 1
    # a tie: the gradient goes to the first maximum (row-major), not split
    x = np.zeros((1, 2, 2, 1), "float32")
    _, g = value_and_grad(nk.GlobalMaxPooling2D(), x, np.ones((1, 1), "float32"))
    np.testing.assert_array_equal(g[0, :, :, 0], [[1, 0], [0, 0]])
    print(f"global layers: {count} cases equal keras.layers; ties go to the first maximum", flush=True)


def check_dtypes():
    x = rng.standard_normal((2, 7, 6, 3))
    # jax has float64 only with jax_enable_x64
    x64 = BACKEND != "jax" or keras.backend.standardize_dtype(keras.ops.ones(1, "float64").dtype) == "float64"
    dtypes = ("float64", "float16", "bfloat16")[0 if x64 else 1 :]
    for dtype in dtypes:
        # the input as the layer sees it, and NumPy references in float64
        xr = to_np(keras.ops.cast(keras.ops.cast(x, dtype), "float64"))
        for ours, theirs, ref in (
            (
                nk.MaxPooling2D(3, 2, "same", dtype=dtype),
                keras.layers.MaxPooling2D(3, 2, "same", dtype=dtype),
                R.max_pool2d(xr, 3, 2, "same")[0],
            ),
            (
                nk.AveragePooling2D(2, dtype=dtype),
                keras.layers.AveragePooling2D(2, dtype=dtype),
                R.avg_pool2d(xr, 2)[0],
            ),
            (
                nk.GlobalAveragePooling2D(dtype=dtype),
                keras.layers.GlobalAveragePooling2D(dtype=dtype),
                xr.mean(axis=(1, 2)),
            ),
        ):
            y, y_ref = ours(x), theirs(x)
            assert keras.backend.standardize_dtype(y.dtype) == dtype, (y.dtype, dtype)
            a = to_np(keras.ops.cast(y, "float64"))
            b = to_np(keras.ops.cast(y_ref, "float64"))
            # one rounding to the dtype
            eps = {"float64": 2.3e-16, "float16": 9.8e-4, "bfloat16": 7.9e-3}[dtype]
            np.testing.assert_allclose(a, ref, rtol=eps, atol=eps)
            # keras.layers' own float64 global mean on torch is only float32-accurate
            np.testing.assert_allclose(a, b, rtol=max(eps, 1e-6), atol=max(eps, 1e-6))
    print(f"dtypes: {', '.join(dtypes)} match keras.layers (bfloat16 pooled in float32)", flush=True)


def _raises(fn, exc, word):
    try:
        fn()
    except exc as e:
        message = str(e)
    else:
        message = f"no {exc.__name__} for {word}"
        raise AssertionError(message)
    assert word in message, (word, message)


def check_config_and_errors():
    layer = nk.MaxPool2D(pool_size=3, padding="SAME", name="p")
    cfg = layer.get_config()
    ref = keras.layers.MaxPool2D(pool_size=3, padding="same", name="p").get_config()
    assert cfg == ref, (cfg, ref)
    assert nk.MaxPool2D is nk.MaxPooling2D
    assert nk.AvgPool2D is nk.AveragePooling2D
    assert nk.AveragePooling2D.from_config(nk.AveragePooling2D(4, 1).get_config()).strides == (1, 1)
    g = nk.GlobalAveragePooling2D(data_format=FIRST, keepdims=True)
    assert (
        g.get_config()
        == keras.layers.GlobalAveragePooling2D(data_format=FIRST, keepdims=True, name=g.name).get_config()
    )
    d = nk.AveragePooling2D()
    assert (d.pool_size, d.strides, d.padding, d.data_format) == ((2, 2), (2, 2), "valid", LAST)
    bad = [
        (lambda: nk.MaxPooling2D(0), ValueError, "pool_size"),
        (lambda: nk.MaxPooling2D((2, 2, 2)), ValueError, "pool_size"),
        (lambda: nk.MaxPooling2D(2.5), TypeError, "pool_size"),
        (lambda: nk.MaxPooling2D(True), TypeError, "pool_size"),
        (lambda: nk.MaxPooling2D(2, strides=(1, 0)), ValueError, "strides"),
        (lambda: nk.AveragePooling2D(2, padding="full"), ValueError, "padding"),
        (lambda: nk.AveragePooling2D(2, padding=1), ValueError, "padding"),
        (lambda: nk.MaxPooling2D(data_format="nhwc"), ValueError, "data_format"),
        (lambda: nk.GlobalMaxPooling2D(keepdims="yes"), TypeError, "keepdims"),
        (lambda: nk.MaxPooling2D(5).compute_output_shape((1, 4, 4, 1)), ValueError, "empty"),
        (lambda: nk.MaxPooling2D(2)(np.zeros((2, 4, 4), "float32")), ValueError, "ndim"),
    ]
    for fn, exc, word in bad:
        _raises(fn, exc, word)
    # spatial sizes unknown when the model is built
    inp = keras.layers.Input(shape=(None, None, 3))
    out = nk.GlobalAveragePooling2D()(nk.AveragePooling2D(2, 1, "same")(nk.MaxPooling2D(3, 2)(inp)))
    model = keras.Model(inp, keras.layers.Dense(2)(out))
    model.compile(optimizer="sgd", loss="mse")
    for hw in ((9, 9), (12, 7)):
        model.fit(rng.standard_normal((4, *hw, 3)), np.zeros((4, 2)), verbose=0)
        assert model.predict(rng.standard_normal((3, *hw, 3)), verbose=0).shape == (3, 2)
    print("config equals keras.layers'; bad arguments raise; unknown H, W train", flush=True)


def check_save_load(tmp):
    inp = keras.layers.Input(shape=(11, 10, 4))
    h = nk.MaxPooling2D(3, 2, "same")(inp)
    h = nk.AvgPool2D(2, 1)(h)
    a = nk.GlobalMaxPooling2D(keepdims=True)(h)
    b = nk.GlobalAveragePooling2D()(h)
    t = keras.layers.Permute((3, 1, 2))(h)
    c = nk.MaxPool2D((2, 3), (1, 2), data_format=FIRST)(t)
    c = nk.GlobalAveragePooling2D(data_format=FIRST)(c)
    out = keras.layers.Concatenate()([keras.layers.Flatten()(a), b, c])
    model = keras.Model(inp, keras.layers.Dense(3)(out))
    x = rng.standard_normal((2, 11, 10, 4)).astype("float32")
    path = Path(tmp) / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(to_np(loaded(x)), to_np(model(x)))
    for l1, l2 in zip(model.layers, loaded.layers, strict=True):
        assert type(l1) is type(l2), (type(l1), type(l2))
        assert l1.get_config() == l2.get_config()
    assert sum(type(layer).__module__ == "nhwcpool.keras" for layer in loaded.layers) == 6
    print("save/load: model.save('m.keras') + keras.models.load_model round trip", flush=True)


def document_cnn(pool):
    keras.utils.set_random_seed(0)
    X = keras.layers.Input(shape=[28, 28, 1])
    H = keras.layers.Conv2D(3, kernel_size=5, activation="swish")(X)
    H = pool()(H)
    H = keras.layers.Conv2D(6, kernel_size=5, activation="swish")(H)
    H = pool()(H)
    H = keras.layers.Flatten()(H)
    H = keras.layers.Dense(84, activation="swish")(H)
    Y = keras.layers.Dense(10, activation="softmax")(H)
    model = keras.models.Model(X, Y)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.05),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def check_document_cnn():
    from sklearn.datasets import load_digits  # noqa: PLC0415

    digits = load_digits()
    # 8x8 -> 32x32 by repeating pixels, cropped to 28x28; 0..16 -> 0..1
    x = np.kron(digits.images[:160], np.ones((4, 4)))[:, 2:30, 2:30, None].astype("float32") / 16
    y = keras.utils.to_categorical(digits.target[:160], 10)
    theirs = document_cnn(keras.layers.MaxPool2D)
    ours = document_cnn(nk.MaxPool2D)
    initial = theirs.get_weights()
    ours.set_weights(initial)
    assert [lay.count_params() for lay in ours.layers if lay.count_params()] == [78, 456, 8148, 850]
    for model in (theirs, ours):
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)  # 5 SGD steps
    worst = 0.0
    for a, b in zip(theirs.get_weights(), ours.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
        worst = max(worst, float(np.max(np.abs(a - b))))
    assert all(
        np.max(np.abs(a - b)) > 1e-5 for a, b in zip(theirs.get_weights(), initial, strict=True)
    )  # it learned
    print(
        f"document CNN: 5 SGD steps give the same weights as keras.layers (max |diff| {worst:.2e})",
        flush=True,
    )


def main():
    import time  # noqa: PLC0415

    t0 = time.perf_counter()
    for check in (
        check_pooling_layers,
        check_global_layers,
        check_dtypes,
        check_config_and_errors,
        check_save_load,
        check_document_cnn,
    ):
        t = time.perf_counter()
        if check is check_save_load:
            with tempfile.TemporaryDirectory() as tmp:
                check(tmp)
        else:
            check()
        print(f"  ({check.__name__}: {time.perf_counter() - t:.1f} s)", flush=True)
    print(f"ALL OK {BACKEND} ({time.perf_counter() - t0:.1f} s after imports)")


if __name__ == "__main__":
    main()
