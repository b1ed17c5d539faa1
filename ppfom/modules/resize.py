"""Resizing without ``F.interpolate``, for programs exported to Paddle Inference.

In Paddle 3.3 an exported (PIR) program that contains an interpolate op cannot run under oneDNN
("ConvertPirAttribute2RuntimeAttribute not support ArrayAttribute<DoubleAttribute>"). The
functions here give the same numbers as ``F.interpolate`` with ops every backend runs:

* :func:`upsample_nearest2x`: ``F.interpolate(x, scale_factor=2, mode='nearest')`` as
  reshape + concat + reshape (a copy; bit-exact);
* :func:`resize_bilinear`: ``F.interpolate(x, size, mode='bilinear', align_corners=False)`` as
  two matmuls with fixed interpolation matrices, one per axis (bilinear is separable);
* :func:`resize_nearest`: ``F.interpolate(x, size, mode='nearest')`` as two index gathers.

Only the batch size may be unknown (``-1``) when a program is traced; ``H`` and ``W`` of the input
must be fixed, which they are for an exported FOMM model (one image size per export).
"""
import functools

import numpy as np
import paddle


def _static_hw(x):
    h, w = int(x.shape[-2]), int(x.shape[-1])
    if h <= 0 or w <= 0:
        raise ValueError(f'resize needs a fixed height and width, got shape {list(x.shape)}; '
                         'export with a fixed image size')
    return h, w


def upsample_nearest2x(x):
    """Nearest-neighbour 2x upsampling.

    Args:
        x: ``(N, C, H, W)`` tensor (any float dtype); ``N`` may be dynamic.
    Returns:
        ``(N, C, 2H, 2W)``, ``out[..., i, j] = x[..., i // 2, j // 2]``: exactly
        ``F.interpolate(x, scale_factor=2, mode='nearest')`` (PaddleGAN's ``UpBlock2d``).
    """
    h, w = _static_hw(x)
    # concat, not expand: Paddle's oneDNN expand kernel is a reference broadcast multiply, ~100x
    # slower than this copy
    out = x.reshape([0, 0, h, 1, w, 1])
    out = paddle.concat([out, out], axis=5)
    out = paddle.concat([out, out], axis=3)
    return out.reshape([0, 0, 2 * h, 2 * w])


@functools.lru_cache(maxsize=64)
def bilinear_matrix(size_in, size_out):
    """``(size_out, size_in)`` float32 matrix ``A`` with ``A @ v`` = bilinear resize of ``v``.

    Half-pixel convention (``align_corners=False``, Paddle ``align_mode=0``, PyTorch default):
    output pixel ``i`` reads source coordinate ``max((i + 0.5) * size_in / size_out - 0.5, 0)``
    and mixes its two neighbours (the upper one clamped to the last pixel).
    """
    scale = size_in / size_out
    src = np.maximum((np.arange(size_out, dtype=np.float64) + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
    i1 = np.minimum(i0 + 1, size_in - 1)
    frac = src - i0
    mat = np.zeros((size_out, size_in), np.float64)
    rows = np.arange(size_out)
    np.add.at(mat, (rows, i0), 1.0 - frac)
    np.add.at(mat, (rows, i1), frac)
    return mat.astype(np.float32)


def resize_bilinear(x, size):
    """Bilinear resize with ``align_corners=False``.

    Args:
        x: ``(N, C, H, W)`` float tensor; ``N`` may be dynamic.
        size: ``(H_out, W_out)`` ints.
    Returns:
        ``(N, C, H_out, W_out)`` equal to ``F.interpolate(x, size=size, mode='bilinear',
        align_corners=False)`` up to float rounding (about 1e-7 relative), computed as
        ``A_h @ x @ A_w^T`` with :func:`bilinear_matrix`. ``x`` itself when the size is unchanged.
    Raises:
        ValueError: ``size`` is not two positive ints, or ``x`` has no fixed ``H``/``W``.
    """
    if len(size) != 2 or min(int(s) for s in size) <= 0:
        raise ValueError(f'size must be (height, width) with positive ints, got {size}')
    h, w = _static_hw(x)
    h_out, w_out = int(size[0]), int(size[1])
    if (h, w) == (h_out, w_out):
        return x
    out = x
    if w_out != w:
        a_w = paddle.to_tensor(bilinear_matrix(w, w_out).T.copy()).astype(x.dtype)
        out = paddle.matmul(out, a_w)                      # (N, C, H, W_out)
    if h_out != h:
        a_h = paddle.to_tensor(bilinear_matrix(h, h_out)).astype(x.dtype)
        out = paddle.matmul(a_h, out)                      # (N, C, H_out, W_out)
    return out


def nearest_index(size_in, size_out):
    """Source pixel of each output pixel of a nearest resize: ``floor(i * size_in / size_out)``
    (``align_corners=False``, as Paddle and PyTorch's ``mode='nearest'``)."""
    idx = np.floor(np.arange(size_out, dtype=np.float64) * (size_in / size_out)).astype(np.int64)
    return np.minimum(idx, size_in - 1)


def resize_nearest(x, size):
    """Nearest resize, equal to ``F.interpolate(x, size=size, mode='nearest')`` (bit-exact).

    Args:
        x: ``(N, C, H, W)`` tensor; ``N`` may be dynamic. size: ``(H_out, W_out)`` ints.
    Returns:
        ``(N, C, H_out, W_out)``, pixel ``(i, j)`` taken from :func:`nearest_index` rows/columns.
    Raises:
        ValueError: as :func:`resize_bilinear`.
    """
    if len(size) != 2 or min(int(s) for s in size) <= 0:
        raise ValueError(f'size must be (height, width) with positive ints, got {size}')
    h, w = _static_hw(x)
    h_out, w_out = int(size[0]), int(size[1])
    out = x
    if w_out != w:
        out = paddle.index_select(out, paddle.to_tensor(nearest_index(w, w_out)), axis=3)
    if h_out != h:
        out = paddle.index_select(out, paddle.to_tensor(nearest_index(h, h_out)), axis=2)
    return out
