"""Entry points for ``paddle.hub.load`` (PaddleHub-style hub of this repository).

    import paddle
    predictor = paddle.hub.load('ppfom/ppfom', 'first_order', source='github')   # or a local clone:
    predictor = paddle.hub.load('/path/to/ppfom', 'first_order', source='local', model='vox256')
    predictor.run('photo.png', 'driving.mp4')

Each entry takes :class:`ppfom.apps.FirstOrderPredictor`'s arguments.
"""
dependencies = ['paddle', 'numpy', 'scipy', 'cv2', 'imageio_ffmpeg', 'yaml', 'munch', 'tqdm']


def first_order(**kwargs):
    """``FirstOrderPredictor(**kwargs)``: the bundled model unless ``model``/``weight_path`` say
    otherwise (``model='vox256'`` for PaddleGAN's VoxCeleb model, downloaded once)."""
    from ppfom.apps import FirstOrderPredictor
    return FirstOrderPredictor(**kwargs)


def networks(model=None, config=None, weight_path=None):
    """``(kp_detector, generator)`` of a zoo model (Paddle layers in eval mode), for callers that
    run the networks themselves; see :func:`ppfom.models.networks.load_networks`."""
    from ppfom.apps.model_loading import resolve_model
    from ppfom.models.networks import load_networks
    resolved = resolve_model(model=model, config=config, weight_path=weight_path)
    return load_networks(resolved.model_cfg, resolved.weight_path)
