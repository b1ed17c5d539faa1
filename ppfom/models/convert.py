"""Conversion of the original PyTorch FOMM checkpoints to ppfom's ``.pdparams`` layout."""
import os

import numpy as np

from ..utils.checkpoint import (CheckpointError, atomic_save, check_state_dict,
                                torch_to_paddle_state)
from ..utils.config import load_config
from .networks import build_networks


def read_torch_checkpoint(path):
    """Read a PyTorch checkpoint into nested dicts of numpy arrays, with ppfom's torch-free,
    allow-listed reader (:mod:`ppfom.utils.torch_pickle`: nothing in the file is run).

    Raises :class:`CheckpointError` for a missing or unreadable file.
    """
    from ..utils.torch_pickle import load_torch_checkpoint
    if not os.path.isfile(path):
        raise CheckpointError(f'checkpoint not found: {path}')
    try:
        return load_torch_checkpoint(path, data_only=True)
    except Exception as exc:
        raise CheckpointError(f'cannot read {path} as a PyTorch checkpoint ({exc})') from exc


def convert_fomm_state(obj, path='<checkpoint>'):
    """``{'kp_detector', 'generator'[, 'discriminator']}`` torch state dicts -> Paddle names."""
    if not isinstance(obj, dict) or not all(isinstance(obj.get(k), dict)
                                            for k in ('kp_detector', 'generator')):
        found = ', '.join(sorted(map(str, obj))[:8]) if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path}: no 'kp_detector' and 'generator' state dicts (found: "
                              f'{found}); is this an original FOMM checkpoint?')
    return {k: torch_to_paddle_state(obj[k]) for k in ('kp_detector', 'generator',
                                                        'discriminator') if isinstance(obj.get(k), dict)}


def convert_fomm_checkpoint(src, dst, config):
    """Convert ``src`` (``.pth.tar``) to ``dst`` (``.pdparams``), checked against ``config``.

    Raises :class:`CheckpointError` if the weights do not fit the config's networks; ``dst``
    is written atomically and only after the check passed.
    """
    state = convert_fomm_state(read_torch_checkpoint(src), src)
    kp_detector, generator = build_networks(load_config(config).model)
    check_state_dict(kp_detector, state['kp_detector'], 'kp_detector')
    check_state_dict(generator, state['generator'], 'generator')
    atomic_save({k: {n: np.ascontiguousarray(v) for n, v in sd.items()} for k, sd in state.items()},
                dst)
    return dst
