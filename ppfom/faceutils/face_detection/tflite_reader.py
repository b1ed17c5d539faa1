"""A minimal reader of TensorFlow Lite model files (FlatBuffers), enough to extract weights.

Reads the tensors (name, shape, type, constant data) and the operators (op name, input and output
tensor indices) of the first subgraph, following ``tensorflow/lite/schema/schema.fbs``. No
TensorFlow, ``tflite`` or ``flatbuffers`` package is needed. Sparse tensors (``DENSIFY`` inputs) are
reported with ``sparse=True`` and no data.
"""
import struct
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

# schema.fbs TensorType -> numpy dtype (the types that appear in model weights)
_TENSOR_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64,
                 7: np.int16, 9: np.int8, 10: np.float64}
# schema.fbs BuiltinOperator codes of the ops found in face detection models
_OP_NAMES = {0: 'ADD', 2: 'CONCATENATION', 3: 'CONV_2D', 4: 'DEPTHWISE_CONV_2D', 5: 'DEPTH_TO_SPACE',
             6: 'DEQUANTIZE', 17: 'MAX_POOL_2D', 19: 'RELU', 22: 'RESHAPE', 23: 'RESIZE_BILINEAR',
             34: 'PAD', 124: 'DENSIFY'}


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
        if t.data is None:
            op = self.producer(tensor_index)
            if op is None or op.op != 'DEQUANTIZE':
                raise ValueError(f'tensor {t.name} is not a constant')
            t = self.tensors[op.inputs[0]]
            if t.data is None:
                raise ValueError(f'tensor {t.name} has no dense data (sparse={t.sparse})')
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
        if raw and dtype is not None and not sparse:
            data = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder('<')).reshape(shape)
        tensors.append(TFLiteTensor(i, t.string(3), shape, dtype, data, sparse))
    ops = [TFLiteOp(codes[op.scalar(0, 'I')], op.ints(1), op.ints(2)) for op in graph.tables(3)]
    return TFLiteModel(model.string(3), tensors, ops, graph.ints(1), graph.ints(2))
