"""Write a state dict in PyTorch's zip checkpoint format without torch (test helper).

``torch.load`` reads these files (checked once with torch 2.13 when this helper was written);
tests/data/tiny_*.pth, written by torch itself, check the reader independently.
"""
import contextlib
import io
import pickle
import sys
import types
import zipfile

import numpy as np

_STORAGE_NAMES = {np.dtype(np.float32): 'FloatStorage', np.dtype(np.float64): 'DoubleStorage',
                  np.dtype(np.int64): 'LongStorage'}


@contextlib.contextmanager
def _fake_torch():
    """Importable stand-ins for the torch globals the pickle names (restored afterwards)."""
    saved = {name: sys.modules.get(name) for name in ('torch', 'torch._utils')}
    torch_mod, utils_mod = types.ModuleType('torch'), types.ModuleType('torch._utils')
    for storage in _STORAGE_NAMES.values():
        setattr(torch_mod, storage, type(storage, (), {'__module__': 'torch', '__qualname__': storage}))

    def _rebuild_tensor_v2(*args):
        raise RuntimeError('stand-in only')
    _rebuild_tensor_v2.__module__ = 'torch._utils'
    _rebuild_tensor_v2.__qualname__ = '_rebuild_tensor_v2'
    utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch_mod._utils = utils_mod
    sys.modules.update({'torch': torch_mod, 'torch._utils': utils_mod})
    try:
        yield torch_mod, utils_mod
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod


class _Tensor:
    def __init__(self, array, key, storage_cls, rebuild):
        self.array, self.key, self.storage_cls, self.rebuild = array, key, storage_cls, rebuild

    def __reduce__(self):
        import collections
        shape = self.array.shape
        strides = tuple(s // self.array.itemsize for s in self.array.strides)
        return self.rebuild, (_StorageRef(self), 0, shape, strides, False, collections.OrderedDict())


class _StorageRef:
    def __init__(self, tensor):
        self.tensor = tensor


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            t = obj.tensor
            return ('storage', t.storage_cls, t.key, 'cpu', t.array.size)
        return None


def save_torch_zip(state, path, archive='archive'):
    """Save ``{name: numpy array}`` (float32/float64/int64) as a torch zip ``.pth`` file."""
    import collections
    with _fake_torch() as (torch_mod, utils_mod):
        tensors, payload = collections.OrderedDict(), {}
        for i, (name, value) in enumerate(state.items()):
            arr = np.require(value, requirements='C')
            storage_cls = getattr(torch_mod, _STORAGE_NAMES[arr.dtype])
            tensors[name] = _Tensor(arr, str(i), storage_cls, utils_mod._rebuild_tensor_v2)
            payload[str(i)] = arr.astype(arr.dtype.newbyteorder('<')).tobytes()
        buf = io.BytesIO()
        _Pickler(buf, protocol=2).dump(tensors)
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as zf:
        zf.writestr(f'{archive}/data.pkl', buf.getvalue())
        zf.writestr(f'{archive}/byteorder', 'little')
        for key, data in payload.items():
            zf.writestr(f'{archive}/data/{key}', data)
        zf.writestr(f'{archive}/version', '3\n')
