"""Run a small convolutional TFLite graph as a Paddle layer.

Used for MediaPipe's BlazeFace *full-range* model, an FPN-style network of 91 convolutions whose
graph is the only description MediaPipe publishes, and for MediaPipe's FaceMesh landmark model.
Instead of restating them by hand, the converter (:func:`graph_spec_from_tflite`) records the
operators in order (JSON-able dicts) with the weights in Paddle layout, and
:class:`TFLiteGraphNet` replays them with Paddle ops, NCHW inside.

Supported operators: CONV_2D, DEPTHWISE_CONV_2D (VALID/SAME padding, stride, dilation, fused
RELU/RELU6), PAD (constant zeros), ADD, MAX_POOL_2D, RESIZE_BILINEAR, DEPTH_TO_SPACE, RESHAPE,
CONCATENATION, RELU, PRELU (per-channel slopes); DEQUANTIZE and DENSIFY of weights are folded at
conversion time. The short-range model also runs this way (a test compares it with the
hand-written :class:`BlazeFace`).
"""
import json
import os

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .reader import read_tflite

_CONSTANT_OPS = ('DEQUANTIZE', 'DENSIFY')


def _same_padding(size, kernel, stride, dilation):
    """TF "SAME": output ``ceil(size / stride)``, the extra padding goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def graph_spec_from_tflite(source):
    """Read a TFLite model into ``(spec, weights)`` for :class:`TFLiteGraphNet`.

    ``spec`` is a JSON-able dict: ``input`` (tensor id and NHWC shape), ``outputs`` (tensor ids)
    and ``ops`` (one dict per operator with ``op``, ``inputs``, ``output`` and its options);
    ``weights`` maps ``'op<j>.weight'`` / ``'op<j>.bias'`` to float32 arrays in Paddle layout
    (``[out, in / groups, kh, kw]``) and ``'op<j>.alpha'`` to the ``[C]`` slopes of a PRELU.
    Raises ``ValueError`` for an operator this runner does not implement.
    """
    model = read_tflite(source)
    shapes = {t.index: list(t.shape) for t in model.tensors}
    (inp,) = model.inputs
    spec = {'input': [inp, shapes[inp]], 'outputs': list(model.outputs), 'ops': [],
            'description': model.description}
    weights = {}
    for j, op in enumerate(model.ops):
        if op.op in _CONSTANT_OPS:
            continue
        entry = {'op': op.op, 'output': op.outputs[0], 'out_shape': shapes[op.outputs[0]]}
        o = op.options
        if op.op in ('CONV_2D', 'DEPTHWISE_CONV_2D'):
            kernel, bias = model.constant(op.inputs[1]), model.constant(op.inputs[2])
            _, h, w, _ = shapes[op.inputs[0]]
            kh, kw = kernel.shape[1:3]
            if op.op == 'CONV_2D':
                weights[f'op{j}.weight'] = kernel.transpose(0, 3, 1, 2)
                groups = 1
            else:
                if o['depth_multiplier'] != 1:
                    raise ValueError('depthwise convolutions with a depth multiplier are not supported')
                weights[f'op{j}.weight'] = kernel.transpose(3, 0, 1, 2)
                groups = kernel.shape[3]
            weights[f'op{j}.bias'] = bias
            entry['weight_shape'] = list(weights[f'op{j}.weight'].shape)
            pad = [0, 0, 0, 0]
            if o['padding'] == 'SAME':
                pad = [*_same_padding(h, kh, o['stride'][0], o['dilation'][0]),
                       *_same_padding(w, kw, o['stride'][1], o['dilation'][1])]
            entry.update(inputs=[op.inputs[0]], param=f'op{j}', stride=list(o['stride']),
                         dilation=list(o['dilation']), pad=pad, groups=groups,
                         activation=o['activation'])
        elif op.op == 'PAD':
            paddings = model.constant(op.inputs[1]).astype(int)
            if paddings[0].any() or paddings[3, 0]:
                raise ValueError('PAD of the batch axis or before the channels is not supported')
            entry.update(inputs=[op.inputs[0]], pad=[int(v) for v in paddings[1:3].reshape(-1)],
                         channel_pad=int(paddings[3, 1]))
        elif op.op == 'ADD':
            entry.update(inputs=list(op.inputs), activation=o['activation'])
        elif op.op == 'MAX_POOL_2D':
            if o['padding'] != 'VALID' and (shapes[op.inputs[0]][1] % o['stride'][0]
                                            or shapes[op.inputs[0]][2] % o['stride'][1]):
                raise ValueError('SAME max-pooling of odd sizes is not supported')
            entry.update(inputs=[op.inputs[0]], filter=list(o['filter']), stride=list(o['stride']),
                         activation=o['activation'])
        elif op.op == 'RESIZE_BILINEAR':
            entry.update(inputs=[op.inputs[0]], align_corners=o['align_corners'],
                         half_pixel_centers=o['half_pixel_centers'])
        elif op.op == 'DEPTH_TO_SPACE':
            entry.update(inputs=[op.inputs[0]], block_size=o['block_size'])
        elif op.op == 'RESHAPE':
            entry.update(inputs=[op.inputs[0]])
        elif op.op == 'CONCATENATION':
            entry.update(inputs=list(op.inputs), axis=o['axis'], activation=o['activation'])
        elif op.op == 'RELU':
            entry.update(inputs=[op.inputs[0]])
        elif op.op == 'PRELU':   # x if x >= 0 else alpha * x, alpha per channel
            alpha = model.constant(op.inputs[1])
            channels = shapes[op.inputs[0]][-1]
            if alpha.size != channels or any(d != 1 for d in alpha.shape[:-1]):
                raise ValueError(f'PRELU slopes of shape {alpha.shape} are not per-channel')
            weights[f'op{j}.alpha'] = alpha.reshape(channels)
            entry.update(inputs=[op.inputs[0]], param=f'op{j}', channels=channels)
        else:
            raise ValueError(f'TFLite operator {op.op} is not supported by the graph runner')
        spec['ops'].append(entry)
    return spec, {k: np.ascontiguousarray(v, np.float32) for k, v in weights.items()}


def _activate(x, activation):
    if activation == 'RELU':
        return F.relu(x)
    if activation == 'RELU6':
        return F.relu6(x)
    if activation == 'RELU_N1_TO_1':
        return paddle.clip(x, -1.0, 1.0)
    return x


class TFLiteGraphNet(nn.Layer):
    """A TFLite graph (see :func:`graph_spec_from_tflite`) as a Paddle layer.

    ``forward(x)``: ``x`` ``(N, C, H, W)`` float32 (the model's NHWC input, transposed) -> list of
    the graph's outputs, in its own (NHWC-based) layout: e.g. ``(N, 2304, 16)`` and
    ``(N, 2304, 1)`` for BlazeFace full-range. 4-D tensors are kept NCHW inside and turned back to
    NHWC before a RESHAPE, CONCATENATION on the channel axis or an output, so flattening orders
    match TFLite's.
    """

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.convs = nn.LayerDict()
        self.prelus = nn.LayerDict()
        for op in spec['ops']:
            if op['op'] in ('CONV_2D', 'DEPTHWISE_CONV_2D'):
                self.convs[op['param']] = _Conv(op)
            elif op['op'] == 'PRELU':
                self.prelus[op['param']] = _PReLU(op['channels'])

    def forward(self, x):
        values = {self.spec['input'][0]: x}
        for op in self.spec['ops']:
            kind = op['op']
            args = [values[i] for i in op['inputs']]
            if kind in ('CONV_2D', 'DEPTHWISE_CONV_2D'):
                y = self.convs[op['param']](args[0])
            elif kind == 'PAD':
                top, bottom, left, right = op['pad']
                y = F.pad(args[0], [left, right, top, bottom]) if any(op['pad']) else args[0]
                if op.get('channel_pad'):
                    n, _, h, w = y.shape
                    y = paddle.concat([y, paddle.zeros([n, op['channel_pad'], h, w], y.dtype)], 1)
            elif kind == 'ADD':
                y = _activate(args[0] + args[1], op['activation'])
            elif kind == 'RELU':
                y = F.relu(args[0])
            elif kind == 'PRELU':
                y = self.prelus[op['param']](args[0])
            elif kind == 'MAX_POOL_2D':
                y = _activate(F.max_pool2d(args[0], op['filter'], op['stride']), op['activation'])
            elif kind == 'RESIZE_BILINEAR':
                h, w = op['out_shape'][1:3]
                y = F.interpolate(args[0], size=[h, w], mode='bilinear',
                                  align_corners=op['align_corners'],
                                  align_mode=0 if op['half_pixel_centers'] else 1)
            elif kind == 'DEPTH_TO_SPACE':
                b = op['block_size']
                n, c, h, w = args[0].shape
                y = args[0].reshape([n, b, b, c // (b * b), h, w]).transpose([0, 3, 4, 1, 5, 2])
                y = y.reshape([n, c // (b * b), h * b, w * b])
            elif kind == 'RESHAPE':
                t = args[0]
                if t.ndim == 4:
                    t = t.transpose([0, 2, 3, 1])
                y = t.reshape([t.shape[0]] + op['out_shape'][1:])
            elif kind == 'CONCATENATION':
                axis = op['axis']
                if args[0].ndim == 4:   # NHWC axis -> NCHW axis
                    axis = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1}[axis]
                y = _activate(paddle.concat(args, axis=axis), op['activation'])
            values[op['output']] = y
        outs = []
        for i in self.spec['outputs']:
            t = values[i]
            outs.append(t.transpose([0, 2, 3, 1]) if t.ndim == 4 else t)
        return outs


class _Conv(nn.Layer):
    """CONV_2D / DEPTHWISE_CONV_2D with TFLite's explicit (possibly asymmetric) padding."""

    def __init__(self, op):
        super().__init__()
        self.op = op
        zeros = nn.initializer.Constant(0.0)
        self.weight = self.create_parameter(op['weight_shape'], default_initializer=zeros)
        self.bias = self.create_parameter([op['weight_shape'][0]], default_initializer=zeros)

    def forward(self, x):
        # the (possibly asymmetric) padding goes to the convolution itself: [top, bottom, left,
        # right] zeros, as TFLite's SAME; a separate pad op costs a copy of the feature map
        weight, bias, groups = self.weight, self.bias, self.op['groups']
        n, c, h, w = x.shape
        fold = groups > 1 and groups == c and n > 1 and paddle.in_dynamic_mode()
        if fold:
            # Paddle's CPU depthwise kernel slows down far more than linearly with the batch
            # (measured 50x for 8 crops of 96x96x16); the batch folded into the channels is the
            # same sum per channel and scales linearly
            x = x.reshape([1, n * c, h, w])
            weight, bias, groups = paddle.tile(weight, [n, 1, 1, 1]), paddle.tile(bias, [n]), n * c
        y = F.conv2d(x, weight, bias, stride=self.op['stride'], padding=list(self.op['pad']),
                     dilation=self.op['dilation'], groups=groups)
        if fold:
            y = y.reshape([n, c, y.shape[2], y.shape[3]])
        return _activate(y, self.op['activation'])


class _PReLU(nn.Layer):
    """TFLite PRELU with one slope per channel (NCHW): ``x if x >= 0 else alpha * x``."""

    def __init__(self, channels):
        super().__init__()
        self.alpha = self.create_parameter([channels], default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x):
        return F.prelu(x, self.alpha, data_format='NCHW')


def build_graph_net(spec, weights):
    """A :class:`TFLiteGraphNet` in eval mode with ``weights`` (``'op<j>.weight'`` ...) loaded.

    Raises ``ValueError`` when the weights do not fit the graph.
    """
    net = TFLiteGraphNet(spec)
    state = {f"{'prelus' if k.endswith('.alpha') else 'convs'}.{k}": v for k, v in weights.items()}
    own = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    bad = sorted(set(own) ^ set(state)) + [k for k in own if k in state and own[k] != state[k].shape]
    if bad:
        raise ValueError(f'weights do not fit the TFLite graph: {bad[:4]}')
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    net.eval()
    return net


def load_graph_net(path, what='TFLite model'):
    """A :class:`TFLiteGraphNet` from a ``.tflite`` file or its conversion (an ``.npz`` of the
    weights plus a ``graph`` entry holding the JSON spec, as ``tools/convert_blazeface_tflite.py``
    writes for the full-range model).

    Raises:
        FileNotFoundError: no such file (the message names ``what``).
        ValueError: an ``.npz`` without a ``graph`` entry, an unsupported operator, or weights that
            do not fit the graph.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    if path.endswith('.tflite'):
        spec, weights = graph_spec_from_tflite(path)
    else:
        with np.load(path) as z:
            if 'graph' not in z.files:
                raise ValueError(f'{path} is not a converted {what} (no graph entry)')
            spec = json.loads(str(z['graph']))
            weights = {k: z[k].astype(np.float32) for k in z.files if k != 'graph'}
    return build_graph_net(spec, weights)
