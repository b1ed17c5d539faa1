"""Make ``gpen64_ppgan210.npz``: the output of PaddleGAN's own GPEN (PyPI ``ppgan==2.1.0``,
``ppgan/models/generators/gpen.py``, the class behind ``GPEN-512.pdparams``) for a real face
crop, with seeded weights from :func:`gpen_test_weights` (tests/faceutils/test_gpen.py).

Run once, outside the test suite (needs the ppgan wheel, whose package ``__init__`` files import
``paddle.fluid``, gone from Paddle 3; the modules needed here are loaded without them)::

    pip download ppgan==2.1.0 --no-deps -d /tmp/ppgan && unzip -q /tmp/ppgan/*.whl -d /tmp/ppgan/src
    python tests/data/make_gpen_reference.py /tmp/ppgan/src

Configuration: ``GPEN(size=64, style_dim=64, n_mlp=2, channel_multiplier=1)`` (same code paths
as GPEN-512: 5 synthesis levels, concatenated encoder noise, FIR up/down-sampling). With
paddlepaddle 3.3.1 on CPU, ppfom's GPEN reproduced this output bit for bit, and also at the full
512 configuration (max |diff| 0.0 on a 512 face, checked once; too slow for the suite).
"""
import importlib
import os
import sys
import types

import numpy as np
import paddle

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONFIG = dict(size=64, style_dim=64, n_mlp=2, channel_multiplier=1)


def load_ppgan_gpen(src):
    """PaddleGAN's GPEN class from an unpacked ppgan wheel at ``src``."""
    for name in ('ppgan', 'ppgan.models', 'ppgan.models.generators',
                 'ppgan.models.discriminators', 'ppgan.modules', 'ppgan.utils'):
        module = types.ModuleType(name)  # a namespace without the package's __init__
        module.__path__ = [os.path.join(src, *name.split('.'))]
        sys.modules[name] = module
    sys.path.insert(0, src)
    stylegan = importlib.import_module('ppgan.models.generators.generator_styleganv2')
    sys.modules['ppgan.models.generators'].StyleGANv2Generator = stylegan.StyleGANv2Generator
    return importlib.import_module('ppgan.models.generators.gpen').GPEN


def main(src):
    sys.path.insert(0, ROOT)
    sys.path.insert(0, os.path.join(ROOT, 'tests', 'faceutils'))
    from test_gpen import gpen_test_weights
    paddle.set_grad_enabled(False)
    net = load_ppgan_gpen(src)(**CONFIG)
    net.eval()
    keys_and_shapes = [(k, list(v.shape)) for k, v in net.state_dict().items()]
    net.set_state_dict(gpen_test_weights(keys_and_shapes))
    from test_gpen import reference_face
    x = reference_face(os.path.join(ROOT, '..', 'shared', 'data'))
    out = net(paddle.to_tensor(x))[0].numpy()
    # the input is rebuilt from ../shared/data by the test: the photo is not ours to store
    np.savez_compressed(os.path.join(HERE, 'gpen64_ppgan210.npz'), output=out,
                        keys=np.array([k for k, _ in keys_and_shapes]))
    print('output mean %.4f std %.4f max|x| %.4f' % (out.mean(), out.std(), np.abs(out).max()))


if __name__ == '__main__':
    main(sys.argv[1])
