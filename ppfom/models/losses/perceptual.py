"""Multi-scale VGG19 perceptual loss (paper Sec. 3.3; original ``Vgg19`` in ``modules/model.py``)."""
import os

import paddle
import paddle.nn as nn
from paddle.vision.models.vgg import cfgs, make_layers

from ...utils.download import DownloadError, get_path_from_url
from ...utils.safe_pickle import load_pdparams

# ImageNet VGG19 used by PaddleGAN (paddle.vision.models.vgg19(pretrained=True)).
VGG19_URL = 'https://paddle-hapi.bj.bcebos.com/models/vgg19.pdparams'
SLICES = ((0, 2), (2, 7), (7, 12), (12, 21), (21, 30))   # relu1_1 ... relu5_1 of vgg19.features
WEIGHTS_KEY = 'model.train_params.vgg19_weights'


class PerceptualWeightsError(FileNotFoundError):
    """ImageNet VGG19 weights are needed (``loss_weights.perceptual`` > 0) and not available."""


def resolve_vgg19_weights(path_or_url):
    """Local path of the VGG19 ``.pdparams`` (downloaded once when a URL is given).

    Raises :class:`PerceptualWeightsError` (one line: what is missing and the two ways out).
    """
    way_out = (f'download {VGG19_URL} and set {WEIGHTS_KEY}=PATH, or set '
               'model.train_params.loss_weights.perceptual to zeros (and use reconstruction_l1)')
    if path_or_url.startswith(('http://', 'https://', 'file://')):
        try:
            return get_path_from_url(path_or_url, flag=f'-o {WEIGHTS_KEY}=')
        except DownloadError as exc:
            raise PerceptualWeightsError(f'the perceptual loss needs ImageNet VGG19 weights and '
                                         f'they could not be fetched ({exc}); {way_out}') from None
    if not os.path.isfile(path_or_url):
        raise PerceptualWeightsError(f'the perceptual loss needs ImageNet VGG19 weights: '
                                     f'{path_or_url} does not exist; {way_out}')
    return path_or_url


class Vgg19(nn.Layer):
    """Frozen VGG19 feature extractor returning relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.

    ``forward(x)``: ``x`` ``(N, 3, H, W)`` RGB in ``[0, 1]`` (ImageNet mean/std normalisation is
    applied inside) -> list of 5 feature maps.

    Args:
        weights: path of a ``vgg19.pdparams`` (``paddle.vision`` layout, ``features.<i>.*`` keys),
            or ``None`` for random weights (tests only).
    """

    def __init__(self, weights=None):
        super().__init__()
        features = make_layers(cfgs['E'])  # vgg19.features, without the 120 M classifier
        if weights is not None:
            state = load_pdparams(weights)
            own = {k[len('features.'):]: v for k, v in state.items() if k.startswith('features.')}
            if not own:
                raise PerceptualWeightsError(f'{weights} has no VGG19 features.* weights; '
                                             f'use {VGG19_URL}')
            features.set_state_dict(own)
        layers = list(features.children())
        self.slices = nn.LayerList([nn.Sequential(*layers[a:b]) for a, b in SLICES])
        self.register_buffer('mean', paddle.to_tensor([0.485, 0.456, 0.406]).reshape([1, 3, 1, 1]),
                             persistable=False)
        self.register_buffer('std', paddle.to_tensor([0.229, 0.224, 0.225]).reshape([1, 3, 1, 1]),
                             persistable=False)
        for p in self.parameters():
            p.stop_gradient = True
        self.eval()

    def forward(self, x):
        out = (x - self.mean) / self.std
        feats = []
        for block in self.slices:
            out = block(out)
            feats.append(out)
        return feats


class PerceptualPyramidLoss(nn.Layer):
    """``sum_scale sum_i w_i * mean|VGG_i(G_scale) - VGG_i(D_scale)|`` (the driving features are
    detached), over pyramid dicts ``{'prediction_<scale>': (N, 3, h, w)}``.

    Args:
        weights: 5 layer weights (``loss_weights.perceptual``).
        vgg19_weights: local path or URL of ImageNet VGG19 (see :func:`resolve_vgg19_weights`).
    """

    def __init__(self, weights, vgg19_weights=VGG19_URL):
        super().__init__()
        if len(weights) != len(SLICES):
            raise ValueError(f'loss_weights.perceptual needs {len(SLICES)} weights (one per VGG19 '
                             f'layer), got {len(weights)}')
        self.weights = list(weights)
        self.vgg = Vgg19(resolve_vgg19_weights(vgg19_weights) if vgg19_weights else None)

    def forward(self, pyramid_generated, pyramid_real, scales):
        total = 0
        for scale in scales:
            key = f'prediction_{scale}'
            x_vgg = self.vgg(pyramid_generated[key])
            y_vgg = self.vgg(pyramid_real[key])
            for weight, a, b in zip(self.weights, x_vgg, y_vgg):
                if weight != 0:
                    total = total + weight * (a - b.detach()).abs().mean()
        return total
