"""BlazeFace (Bazarevsky et al., "BlazeFace: Sub-millisecond Neural Face Detection on Mobile GPUs",
2019), the front-camera / short-range model of MediaPipe, as a Paddle layer.

The layer names are those of PaddleGAN's ``ppgan/faceutils/face_detection/detection/blazeface/
net_blazeface.py`` (a port of hollance's BlazeFace-PyTorch), so PaddleGAN's ``blazeface.pdparams``
loads unchanged; MediaPipe's ``face_detection_short_range.tflite`` has the same topology and
converts with :func:`convert_blazeface_tflite`. TFLite's asymmetric "SAME" padding is reproduced
with explicit pads (1 before / 2 after for the first 5x5/2 conv, 0 / 2 before stride-2 depthwise
convs, whose last pad column is never read).
"""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..tflite import read_tflite


class BlazeBlock(nn.Layer):
    """Depthwise 3x3 + pointwise 1x1 conv with a residual; stride 2 halves the map.

    The residual is the input (2x2/2 max-pooled when ``stride == 2``) zero-padded at the *end* of
    the channel axis to ``out_channels``. ``forward``: ``(N, Cin, H, W)`` -> ``(N, Cout, H/s, W/s)``.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1):
        super().__init__()
        self.stride = stride
        self.channel_pad = out_channels - in_channels
        padding = 0 if stride == 2 else (kernel_size - 1) // 2
        self.convs = nn.Sequential(
            nn.Conv2D(in_channels, in_channels, kernel_size, stride=stride, padding=padding,
                      groups=in_channels),
            nn.Conv2D(in_channels, out_channels, 1))

    def forward(self, x):
        if self.stride == 2:
            h = F.pad(x, [0, 2, 0, 2])
            x = F.max_pool2d(x, 2, 2)
        else:
            h = x
        if self.channel_pad > 0:
            x = paddle.concat([x, paddle.zeros([x.shape[0], self.channel_pad] + x.shape[2:],
                                               x.dtype)], axis=1)
        return F.relu(self.convs(h) + x)


class BlazeFace(nn.Layer):
    """The BlazeFace short-range network (128x128 input, 896 anchors).

    ``forward(x)``: ``x`` ``(N, 3, 128, 128)`` float32 **RGB** in ``[-1, 1]`` -> ``(regressors,
    classificators)``: ``(N, 896, 16)`` (box ``dx, dy, w, h`` then 6 keypoints ``x, y``, in input
    pixels relative to the anchor) and ``(N, 896, 1)`` face logits. Anchor order: the 16x16
    stride-8 map with 2 anchors per cell, then the 8x8 stride-16 map with 6 per cell, row-major
    (y, x, anchor), as MediaPipe's ``SsdAnchorsCalculator``.
    """

    def __init__(self):
        super().__init__()
        self.backbone1 = nn.Sequential(
            nn.Conv2D(3, 24, 5, stride=2), nn.ReLU(),
            BlazeBlock(24, 24), BlazeBlock(24, 28), BlazeBlock(28, 32, stride=2),
            BlazeBlock(32, 36), BlazeBlock(36, 42), BlazeBlock(42, 48, stride=2),
            BlazeBlock(48, 56), BlazeBlock(56, 64), BlazeBlock(64, 72), BlazeBlock(72, 80),
            BlazeBlock(80, 88))
        self.backbone2 = nn.Sequential(
            BlazeBlock(88, 96, stride=2), BlazeBlock(96, 96), BlazeBlock(96, 96),
            BlazeBlock(96, 96), BlazeBlock(96, 96))
        self.classifier_8 = nn.Conv2D(88, 2, 1)
        self.classifier_16 = nn.Conv2D(96, 6, 1)
        self.regressor_8 = nn.Conv2D(88, 32, 1)
        self.regressor_16 = nn.Conv2D(96, 96, 1)

    def forward(self, x):
        n = x.shape[0]
        x = self.backbone1(F.pad(x, [1, 2, 1, 2]))       # (N, 88, 16, 16)
        h = self.backbone2(x)                            # (N, 96, 8, 8)

        def flat(t, k):
            return t.transpose([0, 2, 3, 1]).reshape([n, -1, k])
        cls = paddle.concat([flat(self.classifier_8(x), 1), flat(self.classifier_16(h), 1)], axis=1)
        reg = paddle.concat([flat(self.regressor_8(x), 16), flat(self.regressor_16(h), 16)], axis=1)
        return reg, cls


BLAZEFACE_SHAPES = {k: tuple(v.shape) for k, v in BlazeFace().state_dict().items()}


def convert_blazeface_tflite(source):
    """MediaPipe ``face_detection_short_range.tflite`` -> BlazeFace state dict (PaddleGAN names).

    Args:
        source: path or bytes of the ``.tflite`` file.
    Returns:
        ``{name: float32 array}`` in :class:`BlazeFace`'s (= PaddleGAN's) key order. The fp16
        weights are widened exactly; conv kernels ``[out, kh, kw, in]`` become ``[out, in, kh, kw]``
        and depthwise kernels ``[1, kh, kw, C]`` become ``[C, 1, kh, kw]``.
    Raises:
        ValueError: the model does not have BlazeFace's 33 backbone convs and 4 heads with the
            expected shapes (e.g. the full-range model, which is a different network).
    """
    model = read_tflite(source)
    convs = [op for op in model.ops if op.op in ('CONV_2D', 'DEPTHWISE_CONV_2D')]
    heads = {'classificator_8': 'classifier_8', 'classificator_16': 'classifier_16',
             'regressor_8': 'regressor_8', 'regressor_16': 'regressor_16'}
    backbone_keys = [k[:-len('.weight')] for k in BLAZEFACE_SHAPES
                     if k.endswith('.weight') and k.startswith('backbone')]
    names = [model.tensors[op.outputs[0]].name for op in convs]
    if len(convs) != len(backbone_keys) + 4 or sorted(set(names) & set(heads)) != sorted(heads):
        raise ValueError(f'not a BlazeFace short-range model ({model.description!r}): '
                         f'{len(convs)} convolutions (want {len(backbone_keys) + 4}, with the heads '
                         f'{", ".join(heads)}); the full-range model is a different network')
    state, backbone = {}, []
    for op in convs:
        out_name = model.tensors[op.outputs[0]].name
        kernel, bias = model.constant(op.inputs[1]), model.constant(op.inputs[2])
        if op.op == 'DEPTHWISE_CONV_2D':
            kernel = kernel.transpose(3, 0, 1, 2)
        else:
            kernel = kernel.transpose(0, 3, 1, 2)
        if out_name in heads:
            state[heads[out_name] + '.weight'], state[heads[out_name] + '.bias'] = kernel, bias
        else:
            backbone.append((kernel, bias))
    if len(backbone) != len(backbone_keys) or len(state) != 8:
        raise ValueError(f'not a BlazeFace short-range model: {len(backbone)} backbone convs '
                         f'(want {len(backbone_keys)}) and {len(state) // 2} heads (want 4)')
    for key, (kernel, bias) in zip(backbone_keys, backbone):
        state[key + '.weight'], state[key + '.bias'] = kernel, bias
    for key, shape in BLAZEFACE_SHAPES.items():
        if state[key].shape != shape:
            raise ValueError(f'not a BlazeFace short-range model: {key} is {state[key].shape}, '
                             f'want {shape}')
    return {k: np.ascontiguousarray(state[k], dtype=np.float32) for k in BLAZEFACE_SHAPES}
