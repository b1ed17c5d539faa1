"""A minimal reader of TensorFlow Lite model files (FlatBuffers), enough to extract weights.

Reads the tensors (name, shape, type, constant data) and the operators (op name, input and output
tensor indices) of the first subgraph, following ``tensorflow/lite/schema/schema.fbs``. No
TensorFlow, ``tflite`` or ``flatbuffers`` package is needed. Sparse tensors (``DENSIFY`` inputs) are
decoded to dense arrays (:func:`densify`, TFLite's ``FormatConverter`` without block maps).
"""
import struct
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

# schema.fbs TensorType -> numpy dtype (the types that appear in model weights)
_TENSOR_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64,
                 7: np.int16, 9: np.int8, 10: np.float64}
# schema.fbs BuiltinOperator codes of the ops found in face detection and landmark models
_OP_NAMES = {0: 'ADD', 2: 'CONCATENATION', 3: 'CONV_2D', 4: 'DEPTHWISE_CONV_2D', 5: 'DEPTH_TO_SPACE',
             6: 'DEQUANTIZE', 17: 'MAX_POOL_2D', 19: 'RELU', 22: 'RESHAPE', 23: 'RESIZE_BILINEAR',
             34: 'PAD', 54: 'PRELU', 124: 'DENSIFY'}


class _Table:
    """A FlatBuffers table at byte position ``pos`` of ``buf``."""

    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from('<i', buf, pos)[0]
        self.vt_size = struct.unpack_from('<H', buf, self.vtable)[0]

    def _field(self, index):
        slot = 4 + 2 * index
        if slot >= self.vt_size:
            return None
        off = struct.unpack_from('<H', self.buf, self.vtable + slot)[0]
        return self.pos + off if off else None

    def scalar(self, index, fmt, default=0):
        p = self._field(index)
        return default if p is None else struct.unpack_from('<' + fmt, self.buf, p)[0]

    def _target(self, index):
        p = self._field(index)
        return None if p is None else p + struct.unpack_from('<I', self.buf, p)[0]

    def table(self, index):
        p = self._target(index)
        return None if p is None else _Table(self.buf, p)

    def vector(self, index):
        """``(start, length)`` of a vector field, or ``(None, 0)``."""
        p = self._target(index)
        if p is None:
            return None, 0
        return p + 4, struct.unpack_from('<I', self.buf, p)[0]

    def tables(self, index):
        start, n = self.vector(index)
        return [_Table(self.buf, start + 4 * j + struct.unpack_from('<I', self.buf, start + 4 * j)[0])
                for j in range(n)]

    def ints(self, index, fmt='i'):
        start, n = self.vector(index)
        return list(struct.unpack_from(f'<{n}{fmt}', self.buf, start)) if n else []

    def bytes(self, index):
        start, n = self.vector(index)
        return self.buf[start:start + n] if n else b''

    def string(self, index):
        return self.bytes(index).decode('utf-8')


@dataclass
class TFLiteTensor:
    index: int
    name: str
    shape: tuple
    dtype: Optional[type]
    data: Optional[np.ndarray]   # constant tensors only, with ``shape``
    sparse: bool = False


@dataclass
class TFLiteOp:
    op: str
    inputs: List[int]
    outputs: List[int]
    options: dict = field(default_factory=dict)


_ACTIVATIONS = {0: None, 1: 'RELU', 2: 'RELU_N1_TO_1', 3: 'RELU6'}
_PADDING = {0: 'SAME', 1: 'VALID'}


def _options(name, table):
    """The builtin options of the ops the face models use (schema.fbs field order)."""
    if table is None:
        return {}
    if name == 'CONV_2D':
        return {'padding': _PADDING[table.scalar(0, 'b')], 'stride': (table.scalar(2, 'i'), table.scalar(1, 'i')),
                'activation': _ACTIVATIONS[table.scalar(3, 'b')],
                'dilation': (table.scalar(5, 'i', 1), table.scalar(4, 'i', 1))}
    if name == 'DEPTHWISE_CONV_2D':
        return {'padding': _PADDING[table.scalar(0, 'b')], 'stride': (table.scalar(2, 'i'), table.scalar(1, 'i')),
                'depth_multiplier': table.scalar(3, 'i'), 'activation': _ACTIVATIONS[table.scalar(4, 'b')],
                'dilation': (table.scalar(6, 'i', 1), table.scalar(5, 'i', 1))}
    if name == 'ADD':
        return {'activation': _ACTIVATIONS[table.scalar(0, 'b')]}
    if name == 'RESIZE_BILINEAR':
        return {'align_corners': bool(table.scalar(2, 'B')), 'half_pixel_centers': bool(table.scalar(3, 'B'))}
    if name == 'DEPTH_TO_SPACE':
        return {'block_size': table.scalar(0, 'i')}
    if name == 'MAX_POOL_2D':
        return {'padding': _PADDING[table.scalar(0, 'b')], 'stride': (table.scalar(2, 'i'), table.scalar(1, 'i')),
                'filter': (table.scalar(4, 'i'), table.scalar(3, 'i')), 'activation': _ACTIVATIONS[table.scalar(5, 'b')]}
    if name == 'CONCATENATION':
        return {'axis': table.scalar(0, 'i'), 'activation': _ACTIVATIONS[table.scalar(1, 'b')]}
    return {}


_INDEX_VECTORS = {1: 'i', 2: 'H', 3: 'B'}   # Int32Vector, Uint16Vector, Uint8Vector


def densify(shape, values, traversal_order, block_map, dim_metadata):
    """Dense array of a sparse TFLite tensor.

    Args:
        shape: the dense shape; values: the stored (non-zero) values in traversal order;
        traversal_order: order of the dimensions in storage; block_map: must be empty (block
        sparsity is not supported); dim_metadata: per traversal level, ``('DENSE', size)`` or
        ``('CSR', segments, indices)``.
    """
    if block_map:
        raise ValueError('block-sparse TFLite tensors are not supported')
    out = np.zeros(shape, values.dtype)
    coords = [0] * len(shape)
    counter = 0

    def visit(level, prev):
        nonlocal counter
        if level == len(traversal_order):
            out[tuple(coords)] = values[counter]
            counter += 1
            return
        meta = dim_metadata[level]
        dim = traversal_order[level]
        if meta[0] == 'DENSE':
            for i in range(meta[1]):
                coords[dim] = i
                visit(level + 1, prev * meta[1] + i)
        else:
            segments, indices = meta[1], meta[2]
            for j in range(segments[prev], segments[prev + 1]):
                coords[dim] = indices[j]
                visit(level + 1, j)

    visit(0, 0)
    if counter != len(values):
        raise ValueError(f'sparse tensor holds {len(values)} values, its index used {counter}')
    return out


def _sparsity(table):
    dims = []
    for dm in table.tables(2):
        if dm.scalar(0, 'b') == 0:
            dims.append(('DENSE', dm.scalar(1, 'i')))
        else:
            seg_fmt, idx_fmt = _INDEX_VECTORS[dm.scalar(2, 'B')], _INDEX_VECTORS[dm.scalar(4, 'B')]
            dims.append(('CSR', dm.table(3).ints(0, seg_fmt), dm.table(5).ints(0, idx_fmt)))
    return table.ints(0), table.ints(1), dims


@dataclass
class TFLiteModel:
    description: str
    tensors: List[TFLiteTensor]
    ops: List[TFLiteOp]
    inputs: List[int] = field(default_factory=list)
    outputs: List[int] = field(default_factory=list)

    def producer(self, tensor_index):
        """The op whose output is ``tensor_index`` (or ``None`` for inputs and constants)."""
        for op in self.ops:
            if tensor_index in op.outputs:
                return op
        return None

    def constant(self, tensor_index):
        """float32 value of a weight tensor, following a ``DEQUANTIZE`` from float16 if needed."""
        t = self.tensors[tensor_index]
        while t.data is None:   # follow DEQUANTIZE (fp16 -> fp32) and DENSIFY (sparse -> dense)
            op = self.producer(t.index)
            if op is None or op.op not in ('DEQUANTIZE', 'DENSIFY'):
                raise ValueError(f'tensor {t.name} is not a constant')
            t = self.tensors[op.inputs[0]]
        return t.data.astype(np.float32)


def read_tflite(source):
    """Parse a ``.tflite`` file (path or bytes) into a :class:`TFLiteModel`.

    Raises:
        ValueError: the data is not a TFLite flatbuffer (identifier ``TFL3`` missing).
    """
    buf = source if isinstance(source, (bytes, bytearray)) else open(source, 'rb').read()
    if len(buf) < 8 or buf[4:8] != b'TFL3':
        raise ValueError('not a TensorFlow Lite model (no TFL3 identifier)')
    model = _Table(buf, struct.unpack_from('<I', buf, 0)[0])
    codes = []
    for oc in model.tables(1):
        code = max(oc.scalar(0, 'b'), oc.scalar(3, 'i'))
        codes.append(_OP_NAMES.get(code, f'OP{code}'))
    buffers = [b.bytes(0) for b in model.tables(4)]
    graph = model.tables(2)[0]
    tensors = []
    for i, t in enumerate(graph.tables(0)):
        shape = tuple(t.ints(0))
        dtype = _TENSOR_TYPES.get(t.scalar(1, 'b'))
        raw = buffers[t.scalar(2, 'I')] if t.scalar(2, 'I') < len(buffers) else b''
        sparse = t.table(6) is not None
        data = None
        if raw and dtype is not None:
            data = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder('<'))
            data = densify(shape, data, *_sparsity(t.table(6))) if sparse else data.reshape(shape)
        tensors.append(TFLiteTensor(i, t.string(3), shape, dtype, data, sparse))
    ops = []
    for op in graph.tables(3):
        name = codes[op.scalar(0, 'I')]
        ops.append(TFLiteOp(name, op.ints(1), op.ints(2), _options(name, op.table(4))))
    return TFLiteModel(model.string(3), tensors, ops, graph.ints(1), graph.ints(2))
