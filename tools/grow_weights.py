"""Initialise a model from the weights of a smaller one of the same family (a warm start).

Every tensor of the old weights is copied into the leading slice of the new model's tensor of the
same name; what the old weights lack (new input channels, a new output channel, new buffers) is
zero, or the new model's own initial value for tensors the old weights do not have at all. Made
for adding candidate motions to a dense motion network (``mesh_motion``: its hourglass takes the
new candidate's channels last, and its mask head gains a last output): zero weights on the new
inputs leave the old model's function unchanged except for the new softmax channel. Also for a
larger frame size (``configs/firstorder_talk128.yaml`` from the 64 px weights): every learnt tensor
is copied, buffers whose shape follows the config (the anti-alias kernel) are the new model's.

    python tools/grow_weights.py -c configs/firstorder_talk.yaml --weights old.pdparams --out new.pdparams

Writes ``{'kp_detector', 'generator'[, 'discriminator']}`` (what ``tools/main.py --load`` reads).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

import numpy as np  # noqa: E402
import paddle  # noqa: E402

from ppfom.models.networks import build_networks  # noqa: E402
from ppfom.utils.checkpoint import atomic_save, load_fomm_state  # noqa: E402
from ppfom.utils.config import get_config  # noqa: E402
from ppfom.utils.safe_pickle import load_pdparams  # noqa: E402


def grow(new_state, old_state, own=()):
    """``{name: array}`` of the new shapes, old values in the leading slices. Tensors named in
    ``own`` (buffers the config determines, e.g. an anti-alias kernel whose size follows the
    dense motion's ``scale_factor``) keep the new model's value when their shape changed. Raises
    ``ValueError`` for an old tensor larger than the new one in some axis, or of another rank."""
    out, grown = {}, []
    for name, target in new_state.items():
        target = np.asarray(target)
        if name not in old_state:
            out[name] = target
            grown.append(f'{name} (new)')
            continue
        old = np.asarray(old_state[name])
        if old.shape == target.shape:
            out[name] = old
            continue
        if name in own:
            out[name] = target
            grown.append(f'{name} {old.shape} -> {target.shape} (the new config\'s own value)')
            continue
        if old.ndim != target.ndim or any(o > t for o, t in zip(old.shape, target.shape)):
            raise ValueError(f'{name}: old shape {old.shape} does not fit in {target.shape}')
        value = np.zeros(target.shape, target.dtype)
        value[tuple(slice(0, s) for s in old.shape)] = old
        out[name] = value
        grown.append(f'{name} {old.shape} -> {target.shape}')
    return out, grown


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('-c', '--config', required=True, help='the new model\'s YAML')
    parser.add_argument('--weights', required=True, help='the old weights (.pdparams)')
    parser.add_argument('--out', required=True, help='where to write the grown weights')
    args = parser.parse_args(argv)
    cfg = get_config(args.config)
    kp_detector, generator = build_networks(cfg.model)
    old = load_fomm_state(args.weights)
    result = {}
    for part, layer in (('kp_detector', kp_detector), ('generator', generator)):
        new = {k: v.numpy() for k, v in layer.state_dict().items()}
        buffers = {name for name, _ in layer.named_buffers()}
        result[part], grown = grow(new, old[part], own=buffers)
        for line in grown:
            print(f'{part}.{line}')
    raw = load_pdparams(args.weights, return_numpy=True)
    if isinstance(raw, dict) and isinstance(raw.get('discriminator'), dict):
        result['discriminator'] = raw['discriminator']
    atomic_save({k: {n: paddle.to_tensor(v) for n, v in part.items()}
                   for k, part in result.items()}, args.out)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
