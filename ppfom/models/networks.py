"""Build the two FOMM inference networks from a model config."""
from ..modules.keypoint_detector import KPDetector
from .generators.occlusion_aware import OcclusionAwareGenerator


def network_params(model_cfg):
    """``(kp_detector_kwargs, generator_kwargs)`` from a PaddleGAN-layout ``model`` config::

        model:
          common_params: {num_kp, num_channels, estimate_jacobian}
          generator:
            kp_detector_cfg: {...}
            generator_cfg: {...}

    Raises ``KeyError`` naming the missing section.
    """
    for key in ('common_params', 'generator'):
        if key not in model_cfg:
            raise KeyError(f"model config has no '{key}' section")
    common = dict(model_cfg['common_params'])
    gen = model_cfg['generator']
    for key in ('kp_detector_cfg', 'generator_cfg'):
        if key not in gen:
            raise KeyError(f"model.generator config has no '{key}' section")
    return {**common, **gen['kp_detector_cfg']}, {**common, **gen['generator_cfg']}


def build_networks(model_cfg, mobile_net=None, inference=False):
    """Return ``(kp_detector, generator)`` built from ``model_cfg`` (see :func:`network_params`).

    Args:
        mobile_net: override the config's ``mobile_net`` flag (``None`` keeps it).
        inference: PaddleGAN's border blend in the generator (off for the original behaviour).
    """
    kp_args, gen_args = network_params(model_cfg)
    if mobile_net is not None:
        kp_args['mobile_net'] = gen_args['mobile_net'] = mobile_net
    gen_args['inference'] = inference
    return KPDetector(**kp_args), OcclusionAwareGenerator(**gen_args)
