"""Read PyTorch checkpoints (``.pth``, ``.pth.tar``) into numpy, without importing torch.

Two on-disk formats exist and both are supported:

- the zip format (``torch.save`` since PyTorch 1.6): a zip archive ``<name>/data.pkl`` whose
  pickle names tensor storages by persistent id ``('storage', StorageType, key, location, numel)``,
  the raw little-endian bytes of storage ``key`` being ``<name>/data/<key>``;
- the legacy format (PyTorch <= 1.5, e.g. the original FOMM ``vox-cpk.pth.tar`` saved with torch
  1.0): five consecutive pickles (magic number, protocol version, system info, the object whose
  storages are persistent ids ``('storage', StorageType, key, location, numel, view_metadata)``,
  the list of storage keys), then every storage as an int64 element count and its raw bytes, in
  the order of that list.

Tensors come back as ``numpy.ndarray`` (same dtype; bfloat16 becomes float32), containers as
``dict`` / ``collections.OrderedDict`` / ``list`` / ``tuple``. Only an allow-list of globals is
resolved, so no code from the file is ever run: any other class (``argparse.Namespace``, a
training-script object, ...) comes back as a :class:`PickledObject` that records its name and
state. Source: PyTorch ``torch/serialization.py`` (``_load``, ``_legacy_load``) and
``torch/_utils.py`` (``_rebuild_tensor_v2``).
"""
import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np

__all__ = ['load_torch_checkpoint', 'PickledObject', 'TorchCheckpointError']

LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c

_STORAGE_DTYPES = {
    'DoubleStorage': np.float64, 'FloatStorage': np.float32, 'HalfStorage': np.float16,
    'BFloat16Storage': 'bfloat16', 'LongStorage': np.int64, 'IntStorage': np.int32,
    'ShortStorage': np.int16, 'CharStorage': np.int8, 'ByteStorage': np.uint8,
    'BoolStorage': np.bool_,
}


class TorchCheckpointError(ValueError):
    """The file is not a PyTorch checkpoint this reader understands (message says why)."""


class PickledObject:
    """Stand-in for a pickled object of a class outside the allow-list.

    ``cls`` is ``'module.Name'``; ``args`` the constructor arguments; ``state`` what
    ``__setstate__`` received (often the object's ``__dict__``). Each unknown class gets its own
    subclass, so ``type(obj).__name__`` is the original class name.
    """
    cls = None

    def __new__(klass, *args, **kwargs):
        obj = object.__new__(klass)
        obj.args, obj.state = args, None
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f'PickledObject({self.cls})'


_STAND_INS = {}


def _stand_in(cls):
    if cls not in _STAND_INS:
        _STAND_INS[cls] = type(cls.rsplit('.', 1)[-1], (PickledObject,), {'cls': cls})
    return _STAND_INS[cls]


class _StorageType:
    def __init__(self, name):
        if name not in _STORAGE_DTYPES:
            raise TorchCheckpointError(f'unsupported tensor storage type torch.{name}')
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


class _Storage:
    """Raw bytes of one storage, filled in when they are read."""

    def __init__(self, storage_type, key):
        self.dtype, self.key, self.data = storage_type.dtype, key, None

    def array(self):
        if self.dtype == 'bfloat16':
            bits = np.frombuffer(self.data, dtype='<u2').astype(np.uint32) << 16
            return bits.view(np.float32)
        return np.frombuffer(self.data, dtype=np.dtype(self.dtype).newbyteorder('<'))


class _LazyTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialise(self):
        flat = self.storage.array()
        if not self.size:
            return np.array(flat[self.offset])
        if any(s == 0 for s in self.size):
            return np.zeros(self.size, dtype=flat.dtype)
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(flat[self.offset:], shape=self.size,
                                               strides=[s * item for s in self.stride])
        return np.ascontiguousarray(view).astype(flat.dtype.newbyteorder('='), copy=False)


def _numpy_reconstruct(*args):
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct(*args)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *unused):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages, path='<checkpoint>', data_only=False):
        super().__init__(file, encoding='latin1')
        self.storages = storages  # key -> _Storage, shared with the caller
        self.path, self.data_only = path, data_only

    def find_class(self, module, name):
        if module == 'collections' and name in ('OrderedDict', 'Counter'):
            return getattr(collections, name)
        if module == 'torch._utils' and name in ('_rebuild_tensor_v2', '_rebuild_tensor'):
            return _rebuild_tensor
        if module == 'torch._utils' and name in ('_rebuild_parameter',
                                                 '_rebuild_parameter_with_state'):
            return _rebuild_parameter
        if module == 'torch' and name.endswith('Storage'):
            return _StorageType(name)
        if module == 'torch' and name == 'Size':
            return tuple
        if module in ('numpy.core.multiarray', 'numpy._core.multiarray') and name == 'scalar':
            return lambda dtype, data: np.frombuffer(data, dtype=dtype)[0]
        if module == 'numpy' and name == 'dtype':
            return np.dtype
        if module in ('numpy.core.multiarray', 'numpy._core.multiarray') and name == '_reconstruct':
            return _numpy_reconstruct
        if module == 'numpy' and name == 'ndarray':
            return np.ndarray
        if module == 'builtins' and name in ('set', 'frozenset', 'slice', 'complex', 'range'):
            return getattr(__import__('builtins'), name)
        if self.data_only:
            raise TorchCheckpointError(
                f'{self.path} asks to run {module}.{name} while loading: refused (weights files '
                'may hold only tensors and containers); get the file from a trusted source')
        return _stand_in(f'{module}.{name}')

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == 'storage'):
            raise TorchCheckpointError(f'unknown persistent id {pid!r} in the pickle')
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise TorchCheckpointError(f'storage {key} has an unknown type {storage_type!r}')
        if len(pid) > 5 and pid[5] is not None:
            raise TorchCheckpointError('storage views (legacy view_metadata) are not supported')
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type, key)
        return self.storages[key]


def _materialise(obj):
    if isinstance(obj, _LazyTensor):
        return obj.materialise()
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, _materialise(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _materialise(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialise(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialise(v) for v in obj)
    if isinstance(obj, PickledObject):
        obj.args = _materialise(obj.args)
        obj.state = _materialise(obj.state)
    return obj


def _load_zip(path, data_only):
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith('data.pkl') and n.count('/') == 1]
        if not pkl:
            raise TorchCheckpointError(f'{path} is a zip file without <name>/data.pkl: '
                                       'not a PyTorch checkpoint')
        prefix = pkl[0][:-len('data.pkl')]
        if prefix + 'byteorder' in names and zf.read(prefix + 'byteorder') != b'little':
            raise TorchCheckpointError(f'{path} was saved on a big-endian machine: not supported')
        storages = {}
        obj = _Unpickler(io.BytesIO(zf.read(pkl[0])), storages, path, data_only).load()
        for key, storage in storages.items():
            storage.data = zf.read(f'{prefix}data/{key}')
    return obj


def _load_legacy(path, data_only):
    with open(path, 'rb') as f:
        try:
            magic = pickle.load(f)
        except Exception as exc:  # noqa: BLE001 - any failure means "not a torch file"
            raise TorchCheckpointError(f'{path} is neither a zip nor a legacy PyTorch checkpoint '
                                       f'({exc.__class__.__name__})') from exc
        if magic != LEGACY_MAGIC_NUMBER:
            raise TorchCheckpointError(f'{path} is not a PyTorch checkpoint (bad magic number)')
        protocol = pickle.load(f)
        if protocol != 1001:
            raise TorchCheckpointError(f'{path}: unsupported legacy protocol version {protocol}')
        pickle.load(f)  # sys info: endianness and type sizes
        storages = {}
        obj = _Unpickler(f, storages, path, data_only).load()
        keys = pickle.load(f)
        for key in keys:
            key = str(key)
            storage = storages[key]
            head = f.read(8)
            if len(head) != 8:
                raise TorchCheckpointError(f'{path} is truncated (storage {key})')
            (numel,) = struct.unpack('<q', head)
            nbytes = numel * (2 if storage.dtype == 'bfloat16' else np.dtype(storage.dtype).itemsize)
            storage.data = f.read(nbytes)
            if len(storage.data) != nbytes:
                raise TorchCheckpointError(f'{path} is truncated (storage {key})')
    return obj


def load_torch_checkpoint(path, data_only=False):
    """Load a file written by ``torch.save`` and return its object with numpy arrays for tensors.

    Args:
        path: a ``.pth`` / ``.pth.tar`` / ``.pt`` file, zip (torch >= 1.6) or legacy (torch <= 1.5).
        data_only: refuse any global outside the allow-list (what weights loaders use: weights
            are data); otherwise such classes come back as inert :class:`PickledObject`.
    Returns:
        The saved object: typically a (nested) ``dict`` / ``OrderedDict`` of ``str`` to
        ``numpy.ndarray`` (C-contiguous, the tensor's dtype and shape; bfloat16 -> float32).
    Raises:
        FileNotFoundError: no such file.
        TorchCheckpointError: not a PyTorch checkpoint, a feature this reader lacks (storage
            views, big-endian files, unknown storage types), or (``data_only``) a global outside
            the allow-list, refused before anything is called.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'no checkpoint file {path}')
    obj = _load_zip(path, data_only) if zipfile.is_zipfile(path) else _load_legacy(path, data_only)
    return _materialise(obj)
