"""Known geometry of the generator: no motion warps the source onto itself."""
import numpy as np
import paddle

from ppfom.models.networks import build_networks

from helpers import load_fixture, original_to_paddlegan


def bilinear_sample(image, ys, xs):
    """Sample ``(C, H, W)`` at pixel coordinates (rows ``ys``, columns ``xs``), plain numpy."""
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, image.shape[1] - 1), np.minimum(x0 + 1, image.shape[2] - 1)
    wy, wx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = image[:, y0][:, :, x0] * (1 - wx) + image[:, y0][:, :, x1] * wx
    bottom = image[:, y1][:, :, x0] * (1 - wx) + image[:, y1][:, :, x1] * wx
    return top * (1 - wy) + bottom * wy


def compose_model(fixtures_dir, seed, resize_displacement=False):
    """Fixture A's inputs and a randomly initialised compose_deformed model of its config."""
    data, meta = load_fixture(fixtures_dir, 'A')
    cfg = original_to_paddlegan(meta['config']['model_params'])
    cfg['generator']['generator_cfg']['compose_deformed'] = True
    cfg['generator']['generator_cfg']['resize_displacement'] = resize_displacement
    paddle.seed(seed)
    kp_detector, generator = build_networks(cfg)
    return data, kp_detector.eval(), generator.eval()


def test_compose_deformed_with_no_motion_returns_the_source(fixtures_dir):
    data, kp_detector, generator = compose_model(fixtures_dir, seed=0)
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
    # The 32x32 identity field is resized to 128x128 bilinearly with half-pixel centres (as the
    # original does): output pixel j samples low-res position s = clip((j + .5) / 4 - .5, 0, 31),
    # i.e. source pixel s * 127 / 31 -- a zoom of 127/124 about the centre, not the identity.
    s_low = np.clip((np.arange(128) + 0.5) / 4 - 0.5, 0, 31) * 127 / 31
    expected = bilinear_sample(data['input/source'][0], s_low, s_low)
    np.testing.assert_allclose(out['deformed'].numpy()[0], expected, atol=1e-4)
    np.testing.assert_allclose(out['prediction'].numpy(), out['deformed'].numpy(), atol=1e-6)
    assert np.abs(out['decoded'].numpy() - data['input/source']).mean() > 0.05


def test_resize_displacement_makes_no_motion_the_identity(fixtures_dir):
    data, kp_detector, generator = compose_model(fixtures_dir, seed=0, resize_displacement=True)
    source = paddle.to_tensor(data['input/source'])
    driving = paddle.to_tensor(data['input/driving'])
    with paddle.no_grad():
        kp = kp_detector(source)
        out = generator(source, kp_driving=kp, kp_source=kp)
        # features (32 -> 32 here) and images (32 -> 128): no zoom, the source itself
        np.testing.assert_allclose(out['deformed'].numpy(), data['input/source'], atol=1e-5)
        big = paddle.nn.functional.interpolate(source, size=(256, 256), mode='bilinear')
        deformed_big = generator.deform_input(big, out['deformation'])
        np.testing.assert_allclose(deformed_big.numpy(), big.numpy(), atol=5e-5)
        # with motion, the grids differ by exactly the zoom (resizing is linear): warp an image
        # of its own coordinates (+ 10, so that zero padding outside the image shows), which
        # bilinear sampling reproduces, to read the grids
        ramp = paddle.to_tensor(10 + np.stack(np.meshgrid(np.linspace(-1, 1, 128),
                                                          np.linspace(-1, 1, 128)))[None],
                                'float32')
        deformation = generator(source, kp_driving=kp_detector(driving),
                                kp_source=kp)['deformation']
        ours = generator.deform_input(ramp, deformation).numpy()
        generator.resize_displacement = False
        fomm = generator.deform_input(ramp, deformation).numpy()
        zoom = ramp.numpy() - generator.deform_input(
            ramp, paddle.to_tensor(np.stack(np.meshgrid(np.linspace(-1, 1, 32),
                                                        np.linspace(-1, 1, 32)), -1)[None],
                                   'float32')).numpy()
    inside = np.all(np.abs(ours - 10) < 0.99, axis=1) & np.all(np.abs(fomm - 10) < 0.99, axis=1)
    assert inside.mean() > 0.3 and np.abs(zoom).max() > 0.01
    err = np.abs((ours - fomm) - zoom).max(axis=1)[inside]
    # (a few pixels where this random-weight motion folds sample across a clipped edge differ)
    assert (err < 1e-5).mean() > 0.995, (err < 1e-5).mean()


def test_compose_at_renders_the_same_motion_at_higher_resolution(fixtures_dir):
    data, kp_detector, generator = compose_model(fixtures_dir, seed=1)
    source = paddle.to_tensor(data['input/source'])
    driving = paddle.to_tensor(data['input/driving'])
    with paddle.no_grad():
        out = generator(source, kp_driving=kp_detector(driving), kp_source=kp_detector(source))
        same = generator.compose_at(out, source)
        big_source = paddle.nn.functional.interpolate(source, size=(256, 256), mode='bilinear')
        big = generator.compose_at(out, big_source)
    np.testing.assert_allclose(same.numpy(), out['prediction'].numpy(), atol=1e-6)
    assert big.shape == [1, 3, 256, 256]
    # the 2x rendering, brought back to 128, is the 128 rendering up to resampling blur
    small = paddle.nn.functional.interpolate(big, size=(128, 128), mode='area').numpy()
    assert np.abs(small - out['prediction'].numpy()).mean() < 0.02
