"""Resolve which FOMM model to run (name, config, weights) and build its networks."""
import os
from dataclasses import dataclass
from typing import Optional

import paddle

from ..models.networks import load_networks, network_params
from ..utils.config import load_config
from ..utils.download import get_path_from_url
from ..utils.model_zoo import config_path, get_model_spec, weights_path
from . import defaults


@dataclass
class ResolvedModel:
    """What will run: the ``model`` config section, the weights file, the default output size
    and the size the networks must run at (None: the output size)."""
    model_cfg: dict
    weight_path: str
    output_size: int
    network_size: Optional[int]
    name: str


def default_model_name():
    """The default model (``defaults.MODEL``: the bundled talking-face model)."""
    return defaults.MODEL


def _is_mobile(model_cfg):
    kp_args, gen_args = network_params(model_cfg)
    return bool(kp_args.get('mobile_net') or gen_args.get('mobile_net'))


def config_network_size(cfg, name='the config'):
    """The side the networks of a ``compose_deformed`` model run at: the frames they were
    trained on (``dataset.test.frame_shape``, else ``dataset.train.frame_shape``); ``None`` for
    every other model (its networks run at the output resolution).

    Raises ``ValueError`` when a ``compose_deformed`` config gives no frame shape (the networks'
    resolution cannot be known, and running them at the output's gives wrong motion).
    """
    _, gen_args = network_params(cfg.model)
    if not gen_args.get('compose_deformed'):
        return None
    for phase in ('test', 'train'):
        shape = (cfg.get('dataset') or {}).get(phase, {}).get('frame_shape')
        if shape:
            return int(shape[0])
    raise ValueError(f'{name} composes above its networks\' resolution (compose_deformed) but '
                     'gives no dataset.test.frame_shape: add the frame shape it was trained on')


def resolve_model(model=None, config=None, weight_path=None, image_size=None, mobile_net=False):
    """Decide the config, weights and resolution from the PaddleGAN-style flags.

    Precedence: ``model`` (a zoo name) > ``--mobile_net`` (vox-mobile) > ``image_size == 512``
    (vox512) > the default model. ``config`` replaces the zoo config, ``weight_path`` the zoo
    weights (then nothing is downloaded). The networks run at the zoo entry's ``network_size``,
    or with ``config`` at :func:`config_network_size` (``None``: at ``image_size``).

    Raises:
        ValueError: ``--mobile_net`` with a non-mobile config (or the reverse is asked by name),
            an unknown model name, an unsupported image size.
        ppfom.utils.download.DownloadError: the weights must be downloaded and cannot be.
    """
    if model is None:
        if mobile_net:
            model = 'vox-mobile'
        elif image_size == 512:
            model = 'vox512'
        elif weight_path is not None and config is None:
            model = 'vox256'
        else:
            model = default_model_name()
    spec = get_model_spec(model)
    if image_size is None:
        image_size = spec.image_size
    if image_size <= 0 or image_size % 64:
        raise ValueError(f'--image_size {image_size} is not supported: use a multiple of 64 '
                         '(256 or 512 for the published models)')
    full_cfg = load_config(config or config_path(spec.config))
    model_cfg = full_cfg.model
    if mobile_net and not _is_mobile(model_cfg):
        raise ValueError(f'--mobile_net needs a mobile config, but {config or spec.config} is not '
                         'one; use configs/firstorder_vox_mobile_256.yaml or drop --mobile_net')
    if weight_path is None:
        if spec.bundled:
            weight_path = weights_path(spec.bundled)
        else:
            weight_path = get_path_from_url(spec.url, sha256=spec.sha256, flag='--weight_path')
    network_size = spec.network_size if config is None else config_network_size(full_cfg, config)
    if network_size == image_size:
        network_size = None
    return ResolvedModel(model_cfg, os.path.abspath(weight_path), image_size, network_size, model)


BACKENDS = defaults.BACKEND_CHOICES


def make_backend(resolved, backend=defaults.BACKEND, precision=defaults.PRECISION, threads=None,
                 rebuild=False, fallback=False):
    """The backend that runs ``resolved``'s networks (see :mod:`ppfom.inference`).

    Args:
        backend: ``eager`` (dynamic graph), ``inference`` (exported programs through Paddle
            Inference, oneDNN on CPU; exported on first use and cached beside the weights) or
            ``auto`` (inference). Models rendered above their networks' resolution (the bundled
            model: ``compose_deformed``, networks at ``network_size``) are exported with the
            output size as well.
        precision: ``fp32``, ``bf16`` or ``auto``: bf16 on CPUs with native bf16, else fp32; fp32
            for models whose networks run below the output size (the bundled model's 64 px
            networks: bf16 measured no faster there, ``benchmarks/bench_bundled.py``, and 0.14
            off at worst); inference only.
        threads: CPU threads of the inference backend (default: Paddle's).
        rebuild: export again. fallback: use eager when the export is unusable (logged).
    Raises:
        ValueError: an unknown backend or precision.
        PrecisionNotSupportedError: ``bf16`` on a CPU without it.
    """
    from ..inference import EagerBackend
    if backend not in BACKENDS:
        raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
    if backend == 'eager':
        return EagerBackend(*load_networks(resolved.model_cfg, resolved.weight_path))
    from ..inference.paddle_inference import cpu_supports_bf16, load_inference_backend
    device = 'gpu' if paddle.device.get_device().startswith('gpu') else 'cpu'
    if precision == 'auto':
        small = resolved.network_size and resolved.network_size < resolved.output_size
        precision = 'bf16' if device == 'cpu' and cpu_supports_bf16() and not small else 'fp32'
    return load_inference_backend(resolved.model_cfg, resolved.weight_path,
                                  resolved.network_size or resolved.output_size,
                                  precision=precision, threads=threads, device=device,
                                  rebuild=rebuild, fallback=fallback,
                                  output_size=resolved.output_size)
