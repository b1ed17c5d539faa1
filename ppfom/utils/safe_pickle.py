"""Read ``paddle.save`` files (``.pdparams``, trainer checkpoints) without running code from them.

``paddle.load`` unpickles with Python's full unpickler: a crafted ``.pdparams`` can name any
callable (``os.system``, ``subprocess.Popen`` ...) and have it called while loading. Weights are
data, so :func:`load_pdparams` reads the same files through an unpickler that resolves only an
allow-list of globals: containers (``dict``, ``OrderedDict``, ``list``, ``tuple``, ``set``),
numpy arrays, dtypes and scalars, and Paddle's ``GeneratorState`` (the RNG state a trainer
checkpoint keeps; rebuilt from its saved state, no callable involved). Any other global is
refused with :class:`UnsafePickleError` before anything is called. What happens after the
unpickling is what ``paddle.load`` does (big-parameter slices joined, the name table dropped,
arrays turned into tensors unless ``return_numpy``), so real files load bit-identically.

Source: ``paddle/framework/io.py`` (``_pickle_save``: tensors are saved as ``(tuple, ((name,
ndarray),))``, DenseTensors as ``(eval, ('data', {'data': ndarray}))``; ``_legacy_load``,
``_pack_loaded_dict``, ``_parse_load_result``).
"""
import collections
import os
import pickle

import numpy as np

__all__ = ['load_pdparams', 'WeightsReadError', 'UnsafePickleError', 'SafeUnpickler']


class WeightsReadError(ValueError):
    """A weights file that cannot be read (corrupt, truncated, not a ``paddle.save`` file); the
    one-line message names the file and what to do."""


class UnsafePickleError(WeightsReadError):
    """The file asks the unpickler for something that is not data (a function or class outside
    the allow-list); nothing of it was called. The message names the file and the global."""


def _numpy_reconstruct(*args):
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct(*args)


def _numpy_scalar(dtype, data=None):
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError('numpy scalar of a non-numeric dtype')
    return scalar(dtype, data) if data is not None else scalar(dtype)


def _dense_tensor_eval(expression, namespace=None, *unused):
    """``paddle.save`` writes a DenseTensor as ``eval('data', {'data': array})``: accept exactly
    that call (returning the array) and nothing else."""
    if expression == 'data' and isinstance(namespace, dict) and set(namespace) == {'data'} \
            and isinstance(namespace['data'], np.ndarray):
        return namespace['data']
    raise UnsafePickleError(_refusal('<pickle>', 'builtins.eval (with code)'))


def _generator_state():
    from paddle.base.libpaddle import GeneratorState
    return GeneratorState


_NUMPY_CORE = ('numpy.core.multiarray', 'numpy._core.multiarray')
_ALLOWED = {
    ('collections', 'OrderedDict'): lambda: collections.OrderedDict,
    ('builtins', 'tuple'): lambda: tuple,
    ('builtins', 'list'): lambda: list,
    ('builtins', 'dict'): lambda: dict,
    ('builtins', 'set'): lambda: set,
    ('builtins', 'frozenset'): lambda: frozenset,
    ('builtins', 'complex'): lambda: complex,
    ('builtins', 'slice'): lambda: slice,
    ('builtins', 'eval'): lambda: _dense_tensor_eval,
    ('numpy', 'ndarray'): lambda: np.ndarray,
    ('numpy', 'dtype'): lambda: np.dtype,
    ('paddle.base.libpaddle', 'GeneratorState'): _generator_state,
    ('paddle.fluid.libpaddle', 'GeneratorState'): _generator_state,
    ('paddle.fluid.core_avx', 'GeneratorState'): _generator_state,
}
for _core in _NUMPY_CORE:
    _ALLOWED[(_core, '_reconstruct')] = lambda: _numpy_reconstruct
    _ALLOWED[(_core, 'scalar')] = lambda: _numpy_scalar
_ALLOWED.update({('numpy.dtypes', n): (lambda n=n: getattr(np.dtypes, n))
                 for n in ('Float32DType', 'Float64DType', 'Float16DType', 'Int64DType',
                           'Int32DType', 'Int16DType', 'Int8DType', 'UInt8DType', 'BoolDType')
                 if hasattr(getattr(np, 'dtypes', None), n)})


def _refusal(path, what):
    return (f'{path} asks to run {what} while loading: refused (weights files may hold only '
            'arrays and containers); get the file from a trusted source')


class SafeUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` that resolves only the allow-listed globals above; anything else
    raises :class:`UnsafePickleError` (naming ``module.name`` and ``path``) before it is called.
    Persistent ids are refused too (``paddle.save`` never writes them)."""

    def __init__(self, file, path='<pickle>'):
        super().__init__(file, encoding='latin1')
        self.path = path

    def find_class(self, module, name):
        make = _ALLOWED.get((module, name))
        if make is None:
            raise UnsafePickleError(_refusal(self.path, f'{module}.{name}'))
        return make()

    def persistent_load(self, pid):
        raise UnsafePickleError(f'{self.path} holds a persistent id ({pid!r:.40}): refused, not '
                                'a paddle.save file')


NAME_TABLE = 'StructuredToParameterName@@'


def _join_big_slices(obj):
    """``paddle.save`` with protocol 2/3 splits arrays over 1 GiB; join them as paddle.load does."""
    info_key = 'UnpackBigParamInfor@@'  # sic, paddle's key
    if isinstance(obj, dict) and info_key in obj:
        for key, value in obj[info_key].items():
            obj[key] = np.concatenate([obj.pop(part) for part in value['slices']]).reshape(
                value['OriginShape'])
        obj.pop(info_key)
    return obj


def _tensor_tuples(obj):
    """Whether any ``(name, ndarray)`` pair (a saved tensor) is inside ``obj``."""
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], str) \
            and isinstance(obj[1], np.ndarray):
        return True
    if isinstance(obj, dict):
        return any(_tensor_tuples(v) for v in obj.values())
    if isinstance(obj, (list, tuple, set)):
        return any(_tensor_tuples(v) for v in obj)
    return False


def _convert(obj, is_tensor, to_tensor):
    if is_tensor(obj):
        return to_tensor(obj)
    if type(obj) in (dict, collections.OrderedDict):
        for key in list(obj):
            obj[key] = _convert(obj[key], is_tensor, to_tensor)
        return obj
    if type(obj) is list:
        return [_convert(v, is_tensor, to_tensor) for v in obj]
    if type(obj) is tuple:
        return tuple(_convert(v, is_tensor, to_tensor) for v in obj)
    if type(obj) is set:
        return {_convert(v, is_tensor, to_tensor) for v in obj}
    return obj


def load_pdparams(path, return_numpy=False):
    """``paddle.load(path, return_numpy=...)`` for a file written by ``paddle.save``, without
    executing anything from the file.

    Args:
        path: a ``.pdparams`` / ``.pdopt`` / trainer checkpoint.
        return_numpy: tensors as ``numpy.ndarray`` (True) or ``paddle.Tensor`` (False, as
            ``paddle.load``).
    Returns:
        The saved object: nested ``dict`` / ``OrderedDict`` / ``list`` / ``tuple`` of tensors
        (or arrays), numbers, strings and RNG states, equal to what ``paddle.load`` returns.
    Raises:
        FileNotFoundError: no such file.
        UnsafePickleError: the file names a global outside the allow-list (nothing was run).
        WeightsReadError: a corrupt or truncated file, or not a ``paddle.save`` file.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'no such weights file: {path}')
    try:
        with open(path, 'rb') as f:
            obj = SafeUnpickler(f, path).load()
    except UnsafePickleError as exc:
        raise UnsafePickleError(str(exc).replace('<pickle>', path, 1)) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, OverflowError, MemoryError, UnicodeDecodeError) as exc:
        raise WeightsReadError(f'cannot read weights {path} ({type(exc).__name__}): the file is '
                               'corrupt or not a .pdparams; download it again') from exc
    obj = _join_big_slices(obj)
    names = obj.pop(NAME_TABLE, None) if isinstance(obj, dict) else None
    if names is not None:  # paddle 2.0 state dict: only its top-level arrays are tensors
        for key, name in names.items():
            if isinstance(obj.get(key), np.ndarray) and not return_numpy:
                import paddle
                obj[key] = paddle.to_tensor(obj[key])
                obj[key].name = name
        return obj
    if _tensor_tuples(obj):  # tensors saved as (name, array) by paddle >= 2.1
        def is_tensor(o):
            return isinstance(o, tuple) and len(o) == 2 and isinstance(o[0], str) \
                and isinstance(o[1], np.ndarray)

        def to_tensor(o):
            if return_numpy:
                return o[1]
            import paddle
            t = paddle.to_tensor(o[1])
            t.name = o[0]
            return t
    else:  # paddle 2.0 files and DenseTensors: every array is a tensor
        def is_tensor(o):
            return isinstance(o, np.ndarray)

        def to_tensor(o):
            if return_numpy:
                return o
            import paddle
            return paddle.to_tensor(o)
    return _convert(obj, is_tensor, to_tensor)
