"""Known geometry of the generator: no motion warps the source onto itself."""
import numpy as np
import paddle

from ppfom.models.networks import build_networks

from helpers import load_fixture, original_to_paddlegan


def test_compose_deformed_with_no_motion_returns_the_source(fixtures_dir):
    data, meta = load_fixture(fixtures_dir, 'A')
    cfg = original_to_paddlegan(meta['config']['model_params'])
    cfg['generator']['generator_cfg']['compose_deformed'] = True
    paddle.seed(0)
    kp_detector, generator = build_networks(cfg)
    kp_detector.eval()
    generator.eval()
    occlusion = generator.dense_motion_network.occlusion
    occlusion.weight.set_value(paddle.zeros(occlusion.weight.shape))
    occlusion.bias.set_value(paddle.full(occlusion.bias.shape, 30.0))  # everything visible
    source = paddle.to_tensor(data['input/source'])
    with paddle.no_grad():
        kp = kp_detector(source)
        out = generator(source, kp_driving=kp, kp_source=kp)
    # identical keypoints: every sparse motion is the identity, so is the dense one
    identity = np.stack(np.meshgrid(np.linspace(-1, 1, 32), np.linspace(-1, 1, 32)), -1)
    np.testing.assert_allclose(out['deformation'].numpy()[0], identity, atol=1e-5)
    # the 32x32 field is resized (bilinear, half-pixel) to 128: exact but for ~0.01 px inside,
    # and the outermost 2 px, which clamp to the border as in the original
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))
    err = np.abs(out['deformed'].numpy() - data['input/source'])[inner]
    assert err.mean() < 2e-3 and err.max() < 0.05
    np.testing.assert_allclose(out['prediction'].numpy(), out['deformed'].numpy(), atol=1e-6)
    assert np.abs(out['decoded'].numpy() - data['input/source']).mean() > 0.05
