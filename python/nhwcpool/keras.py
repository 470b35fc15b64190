"""Keras 3 pooling layers computed by nhwcpool.

Drop-in replacements for ``keras.layers.MaxPooling2D``, ``AveragePooling2D``,
``GlobalMaxPooling2D`` and ``GlobalAveragePooling2D`` with Keras's own arguments and defaults::

    import keras
    from nhwcpool.keras import MaxPool2D

    X = keras.layers.Input(shape=[28, 28, 1])
    H = keras.layers.Conv2D(3, kernel_size=5, activation="swish")(X)
    H = MaxPool2D()(H)
    ...

They run on the tensorflow, torch and jax backends (whichever ``KERAS_BACKEND`` selects), and
gradients flow through each backend's own mechanism:

* tensorflow: ``tf.numpy_function`` calling nhwcpool's NumPy forward, wrapped in
  ``tf.custom_gradient`` whose gradient calls :func:`nhwcpool.max_pool2d_backward` /
  :func:`nhwcpool.avg_pool2d_backward`. Works eagerly and inside ``tf.function`` (what
  ``model.fit`` compiles), not under XLA: the layers set ``supports_jit = False`` on this
  backend, so ``jit_compile="auto"`` (or ``True``, with Keras's warning) runs without XLA.
* torch: :mod:`nhwcpool.torch`'s custom operators (autograd through ``torch.library``).
  Keras's channels_last tensors (N, H, W, C) are permuted to an (N, C, H, W) view, which is
  channels_last in memory, so no copy is made.
* jax: :mod:`nhwcpool.jax`'s ``max_pool2d`` / ``avg_pool2d`` (``jax.custom_vjp``), usable
  under ``jax.jit``.

Semantics are Keras's: ``padding="same"`` places windows as TensorFlow does (the extra padded
row/column at the bottom/right) and average pooling divides by the number of real (unpadded)
cells. (Keras 3.15's own torch backend differs for average pooling when that padding is
asymmetric: it pads by replicating the edge and counts those cells; these layers give the
tensorflow/jax result on every backend.) On ties, max pooling's gradient goes to the first
maximum in row-major window order, also for the global layer (Keras's ``GlobalMaxPooling2D``
reduces with ``max``, whose gradient splits a tie evenly).

Inputs of dtype float16, float32 and float64 are pooled in that dtype; any other dtype
(bfloat16 under a mixed-precision policy, integers) is pooled in float32 and cast back.

Importing this module registers the layers with
``keras.saving.register_keras_serializable(package="nhwcpool")``, so a model saved with
``model.save("m.keras")`` loads back with ``keras.models.load_model("m.keras")`` once
``nhwcpool.keras`` has been imported. ``import nhwcpool`` alone never imports Keras. (A
tensorflow SavedModel from ``model.export`` holds ``tf.numpy_function`` nodes that call back into
the exporting process, so it cannot be served elsewhere.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from . import _api
from ._backward import avg_pool2d_backward, max_pool2d_backward

__all__ = [
    "AveragePooling2D",
    "AvgPool2D",
    "GlobalAveragePooling2D",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling2D",
    "MaxPool2D",
    "MaxPooling2D",
]

_NATIVE = ("float16", "float32", "float64")


# --------------------------------------------------------------------------------------------
# Argument checks (Keras's rules; messages name the argument)


def _tuple2(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, (bool, np.bool_)):
        msg = f"{name} must be an int or a tuple of 2 positive ints, got the bool {value!r}"
        raise TypeError(msg)
    if isinstance(value, (int, np.integer)):
        pair: tuple[Any, ...] = (value, value)
    else:
        try:
            pair = tuple(value)
        except TypeError:
            msg = f"{name} must be an int or a tuple of 2 positive ints, got {value!r}"
            raise TypeError(msg) from None
        if len(pair) != 2:
            msg = f"{name} must be an int or a tuple of 2 positive ints, got {len(pair)} values: {value!r}"
            raise ValueError(msg)
    out = []
    for v in pair:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            msg = f"{name} must be an int or a tuple of 2 positive ints, got {value!r}"
            raise TypeError(msg)
        if v < 1:
            msg = f"{name} values must be >= 1, got {value!r}"
            raise ValueError(msg)
        out.append(int(v))
    return out[0], out[1]


def _padding(padding: Any) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        msg = f"padding must be 'valid' or 'same', got {padding!r}"
        raise ValueError(msg)
    return padding.lower()


def _data_format(data_format: Any) -> str:
    if data_format is None:
        return str(keras.config.image_data_format())
    fmt = str(data_format).lower()
    if fmt not in ("channels_last", "channels_first"):
        msg = f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}"
        raise ValueError(msg)
    return fmt


def _keepdims(keepdims: Any) -> bool:
    if keepdims is True or keepdims is False:
        return keepdims
    if isinstance(keepdims, np.bool_):
        return bool(keepdims)
    msg = f"keepdims must be a bool, got {type(keepdims).__name__} {keepdims!r}"
    raise TypeError(msg)


def _out_len(n: int | None, k: int, s: int, padding: str) -> int | None:
    if n is None:
        return None
    if padding == "same":
        return (n - 1) // s + 1 if n > 0 else 0
    return (n - k) // s + 1 if n >= k else 0


def _same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's "same": total padding split with the extra cell at the end."""
    out = (n - 1) // s + 1 if n > 0 else 0
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


# --------------------------------------------------------------------------------------------
# One pooling step on a 4-D tensor of the active backend.
#
# kernel/stride None means "the whole H x W plane, stride 1" (the global layers); the
# tensorflow path resolves it inside the NumPy call so it also works when H and W are
# unknown while the graph is built.


def _tf_pool(
    x: Any, mode: str, kernel: tuple[int, int] | None, stride: tuple[int, int] | None, padding: str
) -> Any:
    import tensorflow as tf  # noqa: PLC0415 - the bridge imports its framework lazily

    dtype = x.dtype
    static = x.shape
    if kernel is None:
        out_static = [static[0], 1, 1, static[3]]
    else:
        out_static = [
            static[0],
            _out_len(static[1], kernel[0], stride[0], padding),  # type: ignore[index]
            _out_len(static[2], kernel[1], stride[1], padding),  # type: ignore[index]
            static[3],
        ]

    def window(shape: tuple[int, ...]) -> tuple[tuple[int, int], tuple[int, int], str]:
        if kernel is None:
            return (int(shape[1]), int(shape[2])), (1, 1), "valid"
        return kernel, stride, padding  # type: ignore[return-value]

    if mode == "max":

        def forward(a: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
            k, s, p = window(a.shape)
            y, idx = _api.max_pool2d(a, k, s, p, return_indices=True)
            return y, idx

        @tf.custom_gradient  # type: ignore[untyped-decorator]
        def op(t: Any) -> Any:
            y, idx = tf.numpy_function(forward, [t], [dtype, tf.int64], stateful=False)
            y.set_shape(out_static)
            idx.set_shape(out_static)
            shape = tf.shape(t, out_type=tf.int64)

            def grad(g: Any) -> Any:
                def backward(
                    g_: np.ndarray[Any, Any], i_: np.ndarray[Any, Any], shp: np.ndarray[Any, Any]
                ) -> np.ndarray[Any, Any]:
                    gi: np.ndarray[Any, Any] = max_pool2d_backward(
                        np.ascontiguousarray(g_), i_, tuple(int(v) for v in shp), ignore_outside=True
                    )
                    return gi

                gx = tf.numpy_function(backward, [g, idx, shape], dtype, stateful=False)
                gx.set_shape(static)
                return gx

            return y, grad

    else:

        def forward_avg(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
            k, s, p = window(a.shape)
            return _api.avg_pool2d(a, k, s, p)

        @tf.custom_gradient  # type: ignore[untyped-decorator]
        def op(t: Any) -> Any:
            y = tf.numpy_function(forward_avg, [t], dtype, stateful=False)
            y.set_shape(out_static)
            shape = tf.shape(t, out_type=tf.int64)

            def grad(g: Any) -> Any:
                def backward(g_: np.ndarray[Any, Any], shp: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
                    in_shape = tuple(int(v) for v in shp)
                    k, s, p = window(in_shape)
                    gi: np.ndarray[Any, Any] = avg_pool2d_backward(
                        np.ascontiguousarray(g_), in_shape, k, s, p
                    )
                    return gi

                gx = tf.numpy_function(backward, [g, shape], dtype, stateful=False)
                gx.set_shape(static)
                return gx

            return y, grad

    return op(x)


def _torch_pool(
    x: Any,
    mode: str,
    kernel: tuple[int, int] | None,
    stride: tuple[int, int] | None,
    padding: str,
    channels_last: bool,
) -> Any:
    """x is (N, H, W, C) when channels_last, else (N, C, H, W); the result has the same form."""
    import torch.nn.functional as F  # noqa: PLC0415

    from . import torch as nt  # noqa: PLC0415

    t = x.permute(0, 3, 1, 2) if channels_last else x  # an NCHW-shaped view
    h, w = int(t.shape[2]), int(t.shape[3])
    if kernel is None:
        kernel, stride, padding = (h, w), (1, 1), "valid"
    assert stride is not None
    pad = (0, 0)
    if padding == "same":
        (pt, pb), (pl, pr) = _same_pads(h, kernel[0], stride[0]), _same_pads(w, kernel[1], stride[1])
        if pt == pb and pl == pr:
            pad = (pt, pl)
        elif mode == "max":
            # Asymmetric: the extra cell is at the bottom/right. Padded cells never win a max,
            # so pad explicitly with -inf (every window keeps at least one real cell).
            t = F.pad(t, (pl, pr, pt, pb), value=float("-inf"))
        else:
            # Average over the real cells only: sum over the zero-padded input divided by
            # the (constant) number of real cells per window.
            t = F.pad(t, (pl, pr, pt, pb), value=0.0)
            s = nt.avg_pool2d(t, kernel, stride, 0, divisor_override=1)
            counts = _same_counts(h, w, kernel, stride)
            y = s / _as_torch(counts, s)
            return y.permute(0, 2, 3, 1) if channels_last else y
    if mode == "max":
        y = nt.max_pool2d(t, kernel, stride, pad)
    else:
        y = nt.avg_pool2d(t, kernel, stride, pad, count_include_pad=False)
    return y.permute(0, 2, 3, 1) if channels_last else y


def _as_torch(a: np.ndarray[Any, Any], like: Any) -> Any:
    import torch  # noqa: PLC0415

    return torch.from_numpy(a).to(dtype=like.dtype, device=like.device)


def _same_counts(h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray[Any, Any]:
    """(Ho, Wo) number of real cells in each "same" window (float64)."""
    ones = np.ones((h, w), dtype=np.float64)
    c: np.ndarray[Any, Any] = _api.avg_pool2d(ones, kernel, stride, "same", divisor_override=1)
    return c


def _jax_pool(
    x: Any, mode: str, kernel: tuple[int, int] | None, stride: tuple[int, int] | None, padding: str
) -> Any:
    from . import jax as nj  # noqa: PLC0415

    if kernel is None:
        kernel, stride, padding = (int(x.shape[1]), int(x.shape[2])), (1, 1), "valid"
    if mode == "max":
        return nj.max_pool2d(x, kernel, stride, padding)
    return nj.avg_pool2d(x, kernel, stride, padding)


def _pool(
    inputs: Any,
    mode: str,
    kernel: tuple[int, int] | None,
    stride: tuple[int, int] | None,
    padding: str,
    data_format: str,
) -> Any:
    """Pool a 4-D backend tensor in Keras's layout; returns the same layout (global: 1x1)."""
    ops = keras.ops
    dtype = keras.backend.standardize_dtype(inputs.dtype)
    x = inputs if dtype in _NATIVE else ops.cast(inputs, "float32")
    backend = keras.backend.backend()
    channels_last = data_format == "channels_last"
    if backend == "torch":
        y = _torch_pool(x, mode, kernel, stride, padding, channels_last)
    else:
        fn: Callable[..., Any]
        if backend == "tensorflow":
            fn = _tf_pool
        elif backend == "jax":
            fn = _jax_pool
        else:
            msg = (
                f"nhwcpool.keras supports the tensorflow, torch and jax backends, "
                f"not {backend!r} (set KERAS_BACKEND)"
            )
            raise ValueError(msg)
        if not channels_last:
            x = ops.transpose(x, (0, 2, 3, 1))
        y = fn(x, mode, kernel, stride, padding)
        if not channels_last:
            y = ops.transpose(y, (0, 3, 1, 2))
    return y if dtype in _NATIVE else ops.cast(y, dtype)


# --------------------------------------------------------------------------------------------
# Layers


class _Pooling2D(keras.layers.Layer):  # type: ignore[misc]
    _mode = "max"

    def __init__(
        self,
        pool_size: Any = (2, 2),
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.pool_size = _tuple2(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _tuple2(strides, "strides")
        self.padding = _padding(padding)
        self.data_format = _data_format(data_format)
        self.input_spec = keras.layers.InputSpec(ndim=4)
        if keras.backend.backend() == "tensorflow":
            self.supports_jit = False  # tf.numpy_function cannot be compiled by XLA
        self.built = True  # no weights

    def call(self, inputs: Any) -> Any:
        return _pool(inputs, self._mode, self.pool_size, self.strides, self.padding, self.data_format)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        shape = tuple(input_shape)
        if len(shape) != 4:
            msg = f"{type(self).__name__} expects 4-D inputs, got the shape {shape}"
            raise ValueError(msg)
        hw = (1, 2) if self.data_format == "channels_last" else (2, 3)
        out = list(shape)
        for axis, k, s in zip(hw, self.pool_size, self.strides, strict=True):
            n = out[axis]
            o = _out_len(n, k, s, self.padding)
            if o is not None and o <= 0:
                msg = (
                    f"{type(self).__name__}: the output would be empty: input shape {shape}, "
                    f"pool_size={self.pool_size}, strides={self.strides}, padding={self.padding!r} "
                    f"(with padding='valid' each spatial size must be >= its pool size)"
                )
                raise ValueError(msg)
            out[axis] = o
        return tuple(out)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            {
                "pool_size": self.pool_size,
                "padding": self.padding,
                "strides": self.strides,
                "data_format": self.data_format,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="nhwcpool")
class MaxPooling2D(_Pooling2D):
    """Max pooling for 2-D spatial data, as ``keras.layers.MaxPooling2D``, computed by nhwcpool.

    Args:
        pool_size: int or tuple of 2 ints, window size. Default (2, 2).
        strides: int, tuple of 2 ints or None (then ``pool_size``).
        padding: "valid" (no padding) or "same" (output size ceil(n / stride), TensorFlow's
            placement; padded cells never win).
        data_format: "channels_last" (N, H, W, C) or "channels_first" (N, C, H, W); None means
            ``keras.config.image_data_format()``.
    """

    _mode = "max"


@keras.saving.register_keras_serializable(package="nhwcpool")
class AveragePooling2D(_Pooling2D):
    """Average pooling for 2-D spatial data, as ``keras.layers.AveragePooling2D``.

    Arguments as :class:`MaxPooling2D`; with ``padding="same"`` each window's mean is over its
    real (unpadded) cells only, as in Keras.
    """

    _mode = "average"


class _GlobalPooling2D(keras.layers.Layer):  # type: ignore[misc]
    _mode = "max"

    def __init__(
        self, data_format: str | None = None, keepdims: bool = False, name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.data_format = _data_format(data_format)
        self.keepdims = _keepdims(keepdims)
        self.input_spec = keras.layers.InputSpec(ndim=4)
        if keras.backend.backend() == "tensorflow":
            self.supports_jit = False
        self.built = True

    def call(self, inputs: Any) -> Any:
        # The whole plane as one window: forward and backward are the pooling kernels with
        # kernel (H, W) (max: gradient to the argmax; average: gradient / (H * W) everywhere).
        y = _pool(inputs, self._mode, None, None, "valid", self.data_format)
        if self.keepdims:
            return y
        return keras.ops.squeeze(y, axis=(1, 2) if self.data_format == "channels_last" else (2, 3))

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        shape = tuple(input_shape)
        if len(shape) != 4:
            msg = f"{type(self).__name__} expects 4-D inputs, got the shape {shape}"
            raise ValueError(msg)
        if self.data_format == "channels_last":
            return (shape[0], 1, 1, shape[3]) if self.keepdims else (shape[0], shape[3])
        return (shape[0], shape[1], 1, 1) if self.keepdims else (shape[0], shape[1])

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


@keras.saving.register_keras_serializable(package="nhwcpool")
class GlobalMaxPooling2D(_GlobalPooling2D):
    """Global max pooling (max over H x W per channel), as ``keras.layers.GlobalMaxPooling2D``.

    Args:
        data_format: "channels_last" or "channels_first"; None means
            ``keras.config.image_data_format()``.
        keepdims: keep the spatial axes with length 1 (default False: output (N, C)).
    """

    _mode = "max"


@keras.saving.register_keras_serializable(package="nhwcpool")
class GlobalAveragePooling2D(_GlobalPooling2D):
    """Global average pooling (mean over H x W per channel), as
    ``keras.layers.GlobalAveragePooling2D``. Arguments as :class:`GlobalMaxPooling2D`."""

    _mode = "average"


# Keras's aliases
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
