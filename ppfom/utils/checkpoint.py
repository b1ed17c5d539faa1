"""Reading, checking and writing FOMM checkpoints.

Layouts understood by :func:`load_fomm_state`:
  * PaddleGAN's published weights (``vox-cpk.pdparams``, ``vox-cpk-512.pdparams``,
    ``vox-mobile.pdparams``): ``{'generator': {...}, 'kp_detector': {...}}``;
  * trainer checkpoints (PaddleGAN's ``*_checkpoint.pdparams`` with ``Gen_Full`` / ``kp_detector``
    / ``generator`` entries, and ppfom's own);
  * a ``.pdparams`` written by ``tools/convert_weights.py`` from the original PyTorch
    ``vox-cpk.pth.tar``.
"""
import os

import numpy as np
import paddle

from .atomic import clean_stale, locked_temp, publish
from .safe_pickle import WeightsReadError, load_pdparams

TORCH_TO_PADDLE_SUFFIX = {'running_mean': '_mean', 'running_var': '_variance'}
NETWORKS = ('kp_detector', 'generator')


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message says why."""


def torch_to_paddle_state(state):
    """Rename a PyTorch FOMM state dict to Paddle names.

    ``...running_mean`` -> ``..._mean``, ``...running_var`` -> ``..._variance``; the
    ``num_batches_tracked`` counters are dropped. Values are converted to float32 numpy arrays
    (conv weights share the OIHW layout, so no transpose is needed). Returns a new dict.
    """
    out = {}
    for key, value in state.items():
        prefix, _, last = key.rpartition('.')
        if last == 'num_batches_tracked':
            continue
        if last in TORCH_TO_PADDLE_SUFFIX:
            key = f'{prefix}.{TORCH_TO_PADDLE_SUFFIX[last]}'
        out[key] = np.asarray(value, dtype=np.float32)
    return out


def _strip_prefix(state, prefix):
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def split_fomm_state(obj, path='<checkpoint>'):
    """Pick the ``kp_detector`` and ``generator`` state dicts out of a loaded checkpoint object.

    Raises :class:`CheckpointError` when neither layout is found (the message lists the
    top-level keys that were there).
    """
    if not isinstance(obj, dict):
        raise CheckpointError(f'{path}: not a FOMM checkpoint (a {type(obj).__name__}, not a dict)')
    if all(isinstance(obj.get(n), dict) for n in NETWORKS):
        return {n: dict(obj[n]) for n in NETWORKS}
    if isinstance(obj.get('Gen_Full'), dict):  # PaddleGAN trainer checkpoint, full generator only
        full = obj['Gen_Full']
        return {'kp_detector': _strip_prefix(full, 'kp_extractor.'),
                'generator': _strip_prefix(full, 'generator.')}
    keys = ', '.join(sorted(map(str, obj))[:8])
    raise CheckpointError(f"{path}: no 'kp_detector' and 'generator' entries (found: {keys}); "
                          'is this a FOMM checkpoint?')


def load_fomm_state(path):
    """Read a FOMM checkpoint file into ``{'kp_detector': state, 'generator': state}``.

    Args:
        path: a ``.pdparams`` file (any layout listed in the module docstring).
    Raises:
        CheckpointError: missing or unreadable file, a PyTorch file (with the converter command to
            run), or no FOMM networks inside.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f'weights file not found: {path}; check --weight_path')
    if path.endswith(('.pth', '.pth.tar', '.tar', '.pt')):
        raise CheckpointError(f'{path} is a PyTorch checkpoint: convert it once with '
                              f'`python tools/convert_weights.py {path} OUT.pdparams` and pass '
                              'OUT.pdparams')
    try:
        obj = load_pdparams(path, return_numpy=True)
    except WeightsReadError as exc:
        raise CheckpointError(str(exc)) from exc
    return split_fomm_state(obj, path)


def describe_mismatch(layer, state, optional_prefixes=()):
    """What keeps ``state`` from loading into ``layer`` exactly, or None when it fits.

    ``layer`` is a ``paddle.nn.Layer`` or a dict of expected ``key -> shape``. Its keys starting
    with one of ``optional_prefixes`` may be absent. The description lists the first few
    missing, unexpected and mis-shaped keys, on one line.
    """
    if isinstance(layer, dict):
        expected = {k: tuple(v) for k, v in layer.items()}
    else:
        expected = {k: tuple(v.shape) for k, v in layer.state_dict().items()}
    missing = [k for k in expected if k not in state and not k.startswith(tuple(optional_prefixes))]
    unexpected = [k for k in state if k not in expected]
    misshaped = [f'{k} {tuple(np.shape(state[k]))} != {expected[k]}' for k in expected
                 if k in state and tuple(np.shape(state[k])) != expected[k]]
    parts = []
    for label, items in (('missing', missing), ('unexpected', unexpected),
                         ('wrong shape', misshaped)):
        if items:
            more = f' (+{len(items) - 5} more)' if len(items) > 5 else ''
            parts.append(f"{label}: {', '.join(items[:5])}{more}")
    return '; '.join(parts) or None


def check_state_dict(layer, state, name='model'):
    """Raise :class:`CheckpointError` unless ``state`` has exactly ``layer``'s keys and shapes.

    The message lists the first few missing, unexpected and mis-shaped keys: a checkpoint that
    does not match its config is an error, never a warning.
    """
    problem = describe_mismatch(layer, state)
    if problem:
        raise CheckpointError(f'{name} weights do not match the config: {problem}. Use the config '
                              'the weights were trained with (--config / --model / --mobile_net).')


def load_into(layer, state, name='model'):
    """Check (see :func:`check_state_dict`) and copy ``state`` into ``layer``."""
    check_state_dict(layer, state, name)
    layer.set_state_dict({k: np.asarray(v) for k, v in state.items()})


def atomic_save(obj, path):
    """``paddle.save`` to a temporary file beside ``path``, then rename: a killed process never
    leaves a half-written ``path`` (the previous file stays intact), and the temporary files of
    killed earlier saves in the folder are deleted (:func:`ppfom.utils.atomic.clean_stale`).

    Raises:
        CheckpointError: the file cannot be written (disk full, read-only folder); ``path``
            and its previous content are untouched and no temporary file is left.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    clean_stale(folder, ('.tmp',))
    fd, tmp = locked_temp(path, '.tmp')
    try:
        paddle.save(obj, tmp)
        publish(tmp, path)
    except OSError as exc:
        raise CheckpointError(f'cannot write {path} ({exc.strerror or exc}); free disk space or '
                              'pass another --output-dir; the previous checkpoint is intact') \
            from exc
    finally:
        os.close(fd)
        if os.path.exists(tmp):
            os.remove(tmp)
