"""Face enhancers: one interface over GFPGAN v1.3/v1.4 and GPEN-512.

An enhancer restores a batch of face crops: ``enhancer.enhance(faces)`` takes float32 RGB
``(N, 3, H, W)`` in ``[0, 1]`` (numpy or Paddle; any ``N``, any square ``H == W``) and returns the
same shape, type and range. Internally every crop is resized to the network's resolution (512:
bicubic up, area down), restored in chunks of ``batch_size`` in ``[-1, 1]``, clamped and resized
back (area down, bicubic up).

Alignment expectations. Both networks were trained on FFHQ-style crops: one upright face, centred,
eyes roughly level a little above the middle, the face (chin to forehead) filling about half to
two thirds of the square, some hair and background around it. No landmark warping is done here:
the crops are used as given. FOMM's square face crops (a detected box enlarged by a margin, no
stretching, ``--image_size`` 256 or 512) are close to that framing, so they go in directly.
Tilted (more than ~20 degrees), strongly off-centre, cut-off or tiny-in-crop faces come back less
improved and can be hallucinated into an FFHQ-like pose; crop tighter or looser rather than pass
such crops. Pure enhancement cannot add detail the crop does not have: it sharpens and cleans
FOMM's blur, and it can change identity slightly; blend with the original when that matters.

Weights. Without ``weight_path`` the enhancer downloads its published weights once into the
cache (:mod:`ppfom.utils.download`); offline that fails with one line naming the file, the URL
and ``--enhancer_weights``. GFPGAN's official weights are a PyTorch ``.pth``: pass it directly
(read without torch by :mod:`ppfom.utils.torch_pickle`) or convert it once with
``python tools/convert_gfpgan.py GFPGANv1.4.pth GFPGANv1.4.pdparams``.
"""
import os

import numpy as np
import paddle
import paddle.nn.functional as F

from ...utils.checkpoint import describe_mismatch
from ...utils.download import DownloadError, cache_root, get_path_from_url
from ...utils.registry import ENHANCERS
from ...utils.safe_pickle import WeightsReadError, load_pdparams
from .gfpganv1_clean import GFPGANv1Clean, gfpgan_torch_to_paddle
from .gpen import GPEN

GFPGAN_URL = 'https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.4.pth'
GPEN_URL = 'https://paddlegan.bj.bcebos.com/models/GPEN-512.pdparams'
TORCH_SUFFIXES = ('.pth', '.pt', '.pth.tar', '.tar')


class EnhancerWeightsError(ValueError):
    """Enhancer weights that cannot be read or do not fit the network (one-line message)."""


def check_and_load(layer, state, source, optional_prefixes=()):
    """Copy ``state`` (name -> array) into ``layer`` after an exact key and shape check.

    Keys of ``layer`` that start with one of ``optional_prefixes`` may be absent (they keep
    their current values). Raises :class:`EnhancerWeightsError` naming the first few missing,
    unexpected and mis-shaped keys.
    """
    problem = describe_mismatch(layer, state, optional_prefixes)
    if problem:
        raise EnhancerWeightsError(f'{source} does not fit {type(layer).__name__}: {problem}')
    expected = layer.state_dict()
    layer.set_state_dict({k: np.asarray(state[k], dtype=np.float32) if k in state
                          else v for k, v in expected.items()})


def _load_pdparams(path):
    try:
        state = load_pdparams(path, return_numpy=True)
    except WeightsReadError as exc:
        raise EnhancerWeightsError(str(exc)) from exc
    if not isinstance(state, dict):
        raise EnhancerWeightsError(f'{path} holds a {type(state).__name__}, not a state dict')
    return state


def _load_torch(path):
    try:
        from ppfom.utils.torch_pickle import load_torch_checkpoint
    except ImportError as exc:
        raise EnhancerWeightsError(f'{path} is a PyTorch file and this ppfom cannot read .pth '
                                   '(ppfom.utils.torch_pickle missing); convert it where it '
                                   'can: python tools/convert_gfpgan.py IN.pth OUT.pdparams') \
            from exc
    return load_torch_checkpoint(path, data_only=True)


class FaceEnhancer:
    """Base class: resizing, batching, range handling around a ``(N, 3, S, S)`` ``[-1, 1]`` net.

    Subclasses set ``self.net`` (a ``paddle.nn.Layer`` in eval mode), ``self.size`` (S) and
    implement :meth:`restore`.
    """

    size = 512

    def __init__(self, batch_size=4):
        if int(batch_size) < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.batch_size = int(batch_size)

    def restore(self, x):
        """``x`` Paddle ``(n, 3, S, S)`` in ``[-1, 1]`` -> restored ``(n, 3, S, S)`` (unclamped)."""
        raise NotImplementedError

    @staticmethod
    def _resize(x, size):
        if x.shape[-1] == size:
            return x
        if x.shape[-1] > size:  # shrinking: area averaging does not alias
            return F.interpolate(x, size=[size, size], mode='area')
        return F.interpolate(x, size=[size, size], mode='bicubic', align_corners=False)

    def enhance(self, faces):
        """Restore a batch of square face crops.

        Args:
            faces: float32 RGB ``(N, 3, H, W)`` in ``[0, 1]``, ``H == W`` (any ``N >= 0`` and
                size), as a numpy array or a Paddle tensor. See the module docstring for the
                framing the networks expect.
        Returns:
            the restored crops, same shape, dtype float32, range ``[0, 1]``, and the same type
            (numpy in, numpy out).
        Raises:
            ValueError: wrong shape, non-square crops, non-float data or values outside
                ``[0, 1]`` (e.g. uint8 0..255 images: divide by 255 first).
        """
        is_numpy = isinstance(faces, np.ndarray)
        if not is_numpy and not isinstance(faces, paddle.Tensor):
            raise ValueError(f'faces must be a numpy array or a paddle Tensor, '
                             f'got {type(faces).__name__}')
        shape = list(faces.shape)
        if len(shape) != 4 or shape[1] != 3 or shape[2] != shape[3] or shape[2] < 1:
            raise ValueError(f'faces must be (N, 3, H, H) square RGB crops, got shape {shape}')
        dtype = str(faces.dtype)
        if 'float' not in dtype:
            raise ValueError(f'faces must be float in [0, 1], got dtype {dtype}; for uint8 '
                             'images use faces.astype(np.float32) / 255')
        if shape[0] == 0:
            return faces
        x = paddle.to_tensor(faces, dtype='float32') if is_numpy else faces.astype('float32')
        lo, hi = float(x.min()), float(x.max())
        if lo < -1e-3 or hi > 1 + 1e-3 or not np.isfinite(lo + hi):
            raise ValueError(f'faces must be in [0, 1], got values in [{lo:.4g}, {hi:.4g}]; '
                             'divide 0..255 images by 255')
        out = []
        with paddle.no_grad():
            for start in range(0, shape[0], self.batch_size):
                chunk = self._resize(x[start:start + self.batch_size].clip(0, 1), self.size)
                y = self.restore(chunk * 2 - 1)
                y = ((y.clip(-1, 1) + 1) / 2)
                out.append(self._resize(y, shape[2]).clip(0, 1))
        out = paddle.concat(out, axis=0) if len(out) > 1 else out[0]
        return out.numpy() if is_numpy else out

    __call__ = enhance


def _resolve(weight_path, url, sha256, hint=''):
    """A local weights path: ``weight_path`` if given (must exist), else the cached download."""
    if weight_path is not None:
        if not os.path.isfile(weight_path):
            raise FileNotFoundError(f'enhancer weights not found: {weight_path}; check '
                                    '--enhancer_weights')
        return weight_path
    try:
        return get_path_from_url(url, sha256=sha256, flag='--enhancer_weights')
    except DownloadError as exc:
        message = ' '.join(str(exc).split())  # one line, whatever the reason text holds
        raise DownloadError(message + hint) from None


@ENHANCERS.register(name='gfpgan')
class GFPGANEnhancer(FaceEnhancer):
    """GFPGAN v1.4 (default weights) / v1.3 face restoration (:class:`GFPGANv1Clean`).

    Args:
        weight_path: ``.pdparams`` (Paddle layout, from ``tools/convert_gfpgan.py``) or the
            official ``GFPGANv1.3.pth`` / ``GFPGANv1.4.pth``. ``None``: use the converted copy in
            the cache, else download ``url`` and convert it once (needs network).
        batch_size: crops per network call.
        randomize_noise: ``False`` (default here) uses the checkpoint's fixed noise maps, so the
            same crop always gives the same result and video frames do not flicker; ``True``
            draws fresh noise every call, as the official ``GFPGANer.enhance`` does.
        url, sha256: where the default weights come from (``sha256=None``: not checked).
        out_size, num_style_feat, channel_multiplier, narrow, num_mlp: the architecture
            (defaults = the v1.3/v1.4 release); other values only for tests and new trainings.
    Raises:
        DownloadError: no weights offline (one line: file, URL, ``--enhancer_weights`` and the
            conversion command). FileNotFoundError: ``weight_path`` missing.
        EnhancerWeightsError: the file does not fit the network.
    """

    def __init__(self, weight_path=None, batch_size=4, randomize_noise=False, url=GFPGAN_URL,
                 sha256=None, out_size=512, num_style_feat=512, channel_multiplier=2, narrow=1,
                 num_mlp=8):
        super().__init__(batch_size)
        self.randomize_noise = bool(randomize_noise)
        self.size = out_size
        name = os.path.basename(url)
        stem = name.rsplit('.', 1)[0]
        if weight_path is None:
            converted = os.path.join(cache_root(), stem + '.pdparams')
            if name.endswith(TORCH_SUFFIXES) and os.path.isfile(converted):
                weight_path = converted
        hint = (f' ({name} is a PyTorch file: pass it as it is, or convert it once with `python '
                f'tools/convert_gfpgan.py {name} {stem}.pdparams` and pass {stem}.pdparams)'
                if name.endswith(TORCH_SUFFIXES) else '')
        path = _resolve(weight_path, url, sha256, hint)
        if path.endswith(TORCH_SUFFIXES):
            state = gfpgan_torch_to_paddle(_load_torch(path))
            if weight_path is None:  # a fresh download: keep the converted copy
                from ...utils.checkpoint import atomic_save
                atomic_save(state, os.path.join(os.path.dirname(path), stem + '.pdparams'))
        else:
            state = _load_pdparams(path)
        with paddle.LazyGuard():  # no random init: every parameter is loaded next
            self.net = GFPGANv1Clean(out_size=out_size, num_style_feat=num_style_feat,
                                     channel_multiplier=channel_multiplier, narrow=narrow,
                                     num_mlp=num_mlp)
        check_and_load(self.net, state, path)
        self.net.eval()
        self.weight_path = path

    def restore(self, x):
        return self.net(x, return_rgb=False, randomize_noise=self.randomize_noise)[0]


@ENHANCERS.register(name='gpen')
class GPENEnhancer(FaceEnhancer):
    """GPEN-512 face restoration (:class:`GPEN`, PaddleGAN's ``GPEN-512.pdparams``; what
    PaddleGAN's ``--face_enhancement`` runs). Deterministic (its noise is its encoder features).

    Args:
        weight_path: a ``.pdparams`` in PaddleGAN's GPEN layout (the ``generator.noises.*``
            buffers may be absent; they are unused). ``None``: download ``url`` once.
        batch_size: crops per network call.
        url, sha256: where the default weights come from.
        size, style_dim, n_mlp, channel_multiplier, narrow: the architecture (defaults =
            GPEN-512); other values only for tests.
    Raises:
        DownloadError (offline, one line), FileNotFoundError, EnhancerWeightsError.
    """

    def __init__(self, weight_path=None, batch_size=4, url=GPEN_URL, sha256=None, size=512,
                 style_dim=512, n_mlp=8, channel_multiplier=2, narrow=1):
        super().__init__(batch_size)
        self.size = size
        path = _resolve(weight_path, url, sha256)
        if path.endswith(TORCH_SUFFIXES):
            raise EnhancerWeightsError(f'{path} is a PyTorch file; GPEN takes PaddleGAN\'s '
                                       'GPEN-512.pdparams')
        state = _load_pdparams(path)
        with paddle.LazyGuard():  # no random init: every parameter is loaded next
            self.net = GPEN(size=size, style_dim=style_dim, n_mlp=n_mlp,
                            channel_multiplier=channel_multiplier, narrow=narrow)
        check_and_load(self.net, state, path, optional_prefixes=('generator.noises.',))
        self.net.eval()
        self.weight_path = path

    def restore(self, x):
        return self.net(x)
