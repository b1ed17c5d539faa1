"""Build the two FOMM inference networks from a ``model`` config and load their weights.

The ``model.generator`` section names ``FirstOrderGenerator`` (as PaddleGAN's YAMLs do): the
pair of networks, each built from its registry with the class its own section names
(``kp_detector_cfg.name``, default ``KPDetector``; ``generator_cfg.name``, default
``OcclusionAwareGenerator``), so PaddleGAN's YAMLs, which name neither, keep working.
"""
from ..modules.keypoint_detector import KPDetector  # noqa: F401  (fills KP_DETECTORS)
from ..modules.landmark_keypoints import LandmarkKPDetector  # noqa: F401  (fills KP_DETECTORS)
from ..utils.checkpoint import load_fomm_state, load_into
from ..utils.registry import GENERATORS
from .builder import build_generator, build_kp_detector
from .generators.occlusion_aware import OcclusionAwareGenerator  # noqa: F401  (fills GENERATORS)

DEFAULT_KP_DETECTOR = 'KPDetector'
DEFAULT_GENERATOR = 'OcclusionAwareGenerator'


def network_params(model_cfg):
    """``(kp_detector_kwargs, generator_kwargs)`` from a PaddleGAN-layout ``model`` config::

        model:
          common_params: {num_kp, num_channels, estimate_jacobian}
          generator:
            name: FirstOrderGenerator
            kp_detector_cfg: {name: KPDetector (default), ...}
            generator_cfg: {name: OcclusionAwareGenerator (default), ...}

    Each dict has ``name`` and the common parameters. Raises ``KeyError`` naming the missing
    section.
    """
    for key in ('common_params', 'generator'):
        if key not in model_cfg:
            raise KeyError(f"model config has no '{key}' section")
    common = dict(model_cfg['common_params'])
    gen = model_cfg['generator']
    for key in ('kp_detector_cfg', 'generator_cfg'):
        if key not in gen:
            raise KeyError(f"model.generator config has no '{key}' section")
    return ({'name': DEFAULT_KP_DETECTOR, **common, **gen['kp_detector_cfg']},
            {'name': DEFAULT_GENERATOR, **common, **gen['generator_cfg']})


@GENERATORS.register()
def FirstOrderGenerator(kp_detector_cfg, generator_cfg, common_params,  # noqa: N802 (YAML name)
                        inference=False, mobile_net=None):
    """The ``model.generator`` section: ``(kp_detector, generator)`` (see :func:`network_params`).

    Args:
        inference: PaddleGAN's border blend in the generator (off for the original behaviour).
        mobile_net: override the config's ``mobile_net`` flag (``None`` keeps it).
    """
    kp_args, gen_args = network_params({'common_params': common_params,
                                        'generator': {'kp_detector_cfg': kp_detector_cfg,
                                                      'generator_cfg': generator_cfg}})
    if mobile_net is not None:
        kp_args['mobile_net'] = gen_args['mobile_net'] = mobile_net
    gen_args['inference'] = inference
    return build_kp_detector(kp_args), build_generator(gen_args)


def build_networks(model_cfg, mobile_net=None, inference=False):
    """Return ``(kp_detector, generator)`` built from ``model_cfg`` (see :func:`network_params`).

    Args:
        mobile_net: override the config's ``mobile_net`` flag (``None`` keeps it).
        inference: PaddleGAN's border blend in the generator (off for the original behaviour).
    """
    network_params(model_cfg)  # the sections exist
    section = {'name': 'FirstOrderGenerator', **model_cfg['generator']}
    return build_generator(section, common_params=dict(model_cfg['common_params']),
                           inference=inference, mobile_net=mobile_net)


def load_networks(model_cfg, weight_path, inference=False):
    """Build ``(kp_detector, generator)`` for ``model_cfg``, load ``weight_path`` into them and
    put them in eval mode.

    Args:
        weight_path: a FOMM ``.pdparams`` (PaddleGAN layout, trainer checkpoint or converted).
        inference: PaddleGAN's border blend (the generator's ``inference`` flag).
    Raises:
        ppfom.utils.checkpoint.CheckpointError: unreadable weights, or weights that do not fit
            the config (strict: a missing or misshapen parameter).
    """
    kp_detector, generator = build_networks(model_cfg, inference=inference)
    state = load_fomm_state(weight_path)
    load_into(kp_detector, state['kp_detector'], 'kp_detector')
    load_into(generator, state['generator'], 'generator')
    return kp_detector.eval(), generator.eval()
