"""S3FD against face-alignment 1.5 (../shared/fixtures/s3fd_fixture.*, recipe weights, torch 2.13)."""
import os
import runpy

import numpy as np
import paddle
import pytest

from ppfom.faceutils.face_detection import SFDDetector, build_detector
from ppfom.faceutils.face_detection.s3fd import S3FD, preprocess
from ppfom.faceutils.face_detection.sfd_detector import (
    S3FD_SHAPES, convert_s3fd_state_dict, decode_s3fd, load_s3fd_weights, nms_s3fd,
    postprocess_s3fd, softmax_face_prob)
from ppfom.utils.torch_pickle import load_torch_checkpoint

from torch_format import save_torch_zip

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGES = ('astronaut320', 'multi480')
ATOL = 1e-4     # suggested by the fixture (thread noise 8.5e-6)


def raw_maps(npz, name):
    return [npz[f'{name}/raw_{kind}{i}'] for i in range(1, 7) for kind in ('cls', 'reg')]


def test_paddlegan_layout(fixtures_dir):
    """Parameter names and shapes are PaddleGAN's (s3fd_paddle.pdparams loads unchanged)."""
    rows = [line.split(None, 1) for line in open(os.path.join(fixtures_dir, 'paddlegan_keys',
                                                              'param_names_s3fd.txt'))
            if line.strip() and not line.startswith('#')]
    assert [(k, tuple(eval(s))) for k, s in rows] == list(S3FD_SHAPES.items())


@pytest.mark.parametrize('name', IMAGES)
def test_network_parity(s3fd_fixture, sfd_detector, name):
    npz = s3fd_fixture[0]
    x = preprocess(npz[f'{name}/image_rgb_u8'][None])
    np.testing.assert_array_equal(x, npz[f'{name}/net_input'])
    net = sfd_detector.net
    assert isinstance(net, S3FD)
    with paddle.no_grad():
        out = [o.numpy() for o in net(paddle.to_tensor(x))]
    for got, want in zip(out, raw_maps(npz, name)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=1e-4)


@pytest.mark.parametrize('name', IMAGES + ('synthetic',))
def test_decode_and_nms_exact(s3fd_fixture, name):
    """On the stored maps, candidates, NMS order and final boxes match to <= 1e-9."""
    npz = s3fd_fixture[0]
    raw = raw_maps(npz, name)
    if name == 'synthetic':
        probs = [softmax_face_prob(raw[2 * i]) for i in range(6)]
    else:  # torch's softmax (its own exp) differs from numpy's by 1 ulp: decode torch's
        probs = [npz[f'{name}/softmax_cls{i}'][:, 1] for i in range(1, 7)]
        ours = [softmax_face_prob(raw[2 * i]) for i in range(6)]
        for a, b in zip(ours, probs):
            np.testing.assert_allclose(a, b, atol=2.5e-7, rtol=0)
    pre = decode_s3fd(probs, raw[1::2])
    want_pre = npz[f'{name}/pre_nms'][0]
    assert pre.shape == want_pre.shape
    np.testing.assert_allclose(pre, want_pre, atol=1e-9, rtol=0)
    keep = nms_s3fd(pre, 0.3)
    np.testing.assert_array_equal(keep, npz[f'{name}/nms_keep'])
    final = pre[keep]
    final = final[final[:, 4] > 0.5]
    np.testing.assert_allclose(final, npz[f'{name}/final'], atol=1e-9, rtol=0)
    # the full chain from the raw logits: same boxes, scores within the softmax ulp
    chain = postprocess_s3fd(raw)
    assert chain.shape == final.shape
    np.testing.assert_allclose(chain, final, atol=2.5e-7, rtol=0)


def test_all_background_gives_no_box(s3fd_fixture):
    npz = s3fd_fixture[0]
    raw = raw_maps(npz, 'synthetic')
    for i in range(0, 12, 2):
        raw[i] = np.zeros_like(raw[i])
        raw[i][:, 0], raw[i][:, 1] = 4.0, -4.0
    assert decode_s3fd([softmax_face_prob(raw[i]) for i in range(0, 12, 2)], raw[1::2]).shape == (0, 5)
    assert postprocess_s3fd(raw).shape == (0, 5)


def test_detector_end_to_end_and_downscale(s3fd_fixture, sfd_detector):
    npz = s3fd_fixture[0]
    image = npz['astronaut320/image_rgb_u8']
    want = npz['astronaut320/final']
    boxes = sfd_detector.detect(image)
    assert boxes.dtype == np.float32 and boxes.shape == want.shape
    np.testing.assert_allclose(boxes[:, :4], want[:, :4], atol=2e-3)
    np.testing.assert_allclose(boxes[:, 4], want[:, 4], atol=1e-4)
    # a 2x larger copy, detected on a copy shrunk back to 320 (area-average of 2x2 equal pixels
    # is exact), must give the same boxes in the big image's pixels
    big = np.repeat(np.repeat(image, 2, 0), 2, 1)
    sfd_detector.max_side = 320
    try:
        big_boxes = sfd_detector.detect(big)
    finally:
        sfd_detector.max_side = None
    np.testing.assert_allclose(big_boxes[:, :4], boxes[:, :4] * 2, atol=1e-3)


def test_build_from_config(s3fd_fixture):
    det = build_detector({'name': 'sfd', 'state_dict': s3fd_fixture[2], 'score_threshold': 0.9})
    assert isinstance(det, SFDDetector) and det.score_threshold == 0.9 and det.max_side == 640
    with pytest.raises(TypeError, match='no option'):
        build_detector('sfd', state_dict=s3fd_fixture[2], colour='blue')


def test_convert_torch_checkpoint_and_tool(s3fd_fixture, tmp_path):
    """A face-alignment style .pth (zip format, torch names) converts to the fixture weights, and
    the .pdparams the tool writes loads as PaddleGAN's s3fd_paddle.pdparams would."""
    weights = s3fd_fixture[2]
    pth = tmp_path / 's3fd-619a316812.pth'
    save_torch_zip(weights, str(pth))
    state = convert_s3fd_state_dict(load_torch_checkpoint(str(pth)))
    assert list(state) == list(S3FD_SHAPES)
    for key, value in weights.items():
        np.testing.assert_array_equal(state[key], value)
    out = tmp_path / 's3fd.pdparams'
    tool = runpy.run_path(os.path.join(ROOT, 'tools', 'convert_s3fd.py'))
    tool['main']([str(pth), str(out)])
    loaded = paddle.load(str(out), return_numpy=True)
    assert isinstance(loaded, dict) and list(loaded) == list(S3FD_SHAPES)   # flat, PaddleGAN's
    for path in (out, pth):   # what SFDDetector(weights=...) reads
        state = load_s3fd_weights(str(path))
        for key in ('conv1_1.weight', 'fc7.weight', 'conv3_3_norm.weight', 'conv7_2_mbox_loc.bias'):
            np.testing.assert_array_equal(state[key], weights[key])


def test_converter_rejects_other_weights():
    with pytest.raises(ValueError, match='missing'):
        convert_s3fd_state_dict({'conv1_1.weight': np.zeros((64, 3, 3, 3), np.float32)})
    with pytest.raises(FileNotFoundError, match='--detector_weights'):
        SFDDetector(weights='/nonexistent/s3fd.pdparams')
