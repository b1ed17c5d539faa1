"""The bundled model's shape through Paddle Inference: keypoints measured from FaceMesh landmarks
(``LandmarkKPDetector``), a ``compose_deformed`` + ``resize_displacement`` generator whose 64 px
networks render 256 px frames (``compose_at``), configs/firstorder_talk.yaml.

CI uses seeded random generator weights (the detector has none); set ``PPFOM_TALK_WEIGHTS`` to a
trained checkpoint (PaddleGAN layout: kp_detector + generator) to run the same checks on it too.
Landmarks come from a real FaceMesh run on a real photo and real driving frames (../shared/data).
"""
import os

import numpy as np
import paddle
import pytest

from ppfom.apps.model_loading import ResolvedModel, make_backend
from ppfom.faceutils.face_detection import build_detector
from ppfom.faceutils.face_landmarks import build_landmarker
from ppfom.inference import EagerBackend
from ppfom.inference.paddle_inference import (PaddleInferenceBackend,
                                              PrecisionNotSupportedError, cpu_supports_bf16,
                                              load_inference_backend)
from ppfom.models.networks import build_networks, load_networks
from ppfom.modules.motion_transfer import normalize_kp
from ppfom.utils.config import load_config

from test_paddle_inference import psnr, randomise, real_frames

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, 'configs', 'firstorder_talk.yaml')
NETWORK, OUTPUT = 64, 256
WEIGHTS = ['seeded'] + (['trained'] if os.environ.get('PPFOM_TALK_WEIGHTS') else [])


def to_unit(points, size):
    """FaceMesh pixels ``(..., 468, 3)`` of a ``size`` x ``size`` frame -> x, y in ``[-1, 1]``
    (FOMM's grid: pixel 0 at -1, pixel ``size - 1`` at 1)."""
    return (2 * points[..., :2] / (size - 1) - 1).astype(np.float32)


@pytest.fixture(scope='module')
def media(data_dir):
    """Real source and driving frames at the output size and the network size, with their
    FaceMesh landmarks in [-1, 1] (the same for both sizes: same framing)."""
    source, frames = real_frames(data_dir, (OUTPUT, OUTPUT), count=3)
    images = np.concatenate([source, frames])
    rgb = (images.transpose(0, 2, 3, 1) * 255).round().astype(np.uint8)
    landmarker, detector = build_landmarker('facemesh'), build_detector('blazeface', tiles=False)
    points = np.concatenate([landmarker.track(list(rgb[:1]), detector)[0],    # the photo
                             landmarker.track(list(rgb[1:]), detector)[0]])   # the clip
    assert np.isfinite(points).all(), 'FaceMesh lost the face in the test frames'
    landmarks = to_unit(points, OUTPUT)
    small = paddle.nn.functional.interpolate(paddle.to_tensor(images), size=(NETWORK, NETWORK),
                                             mode='area').numpy()
    return {'landmarks': landmarks, 'large': images, 'small': small}


@pytest.fixture(scope='module', params=WEIGHTS)
def talk_model(request, tmp_path_factory):
    """(resolved model, weights file, eager networks) of the talk config."""
    model_cfg = load_config(CONFIG).model
    folder = tmp_path_factory.mktemp(f'talk_{request.param}')
    if request.param == 'trained':
        weights = os.environ['PPFOM_TALK_WEIGHTS']
        kp_detector, generator = load_networks(model_cfg, weights)
    else:
        kp_detector, generator = build_networks(model_cfg)
        randomise(generator, 5)
        weights = str(folder / 'talk.pdparams')
        paddle.save({'kp_detector': kp_detector.state_dict(),
                     'generator': generator.state_dict()}, weights)
    kp_detector.eval()
    generator.eval()
    resolved = ResolvedModel(model_cfg, weights, OUTPUT, NETWORK, 'talk')
    return resolved, kp_detector, generator, str(folder / 'cache')


def run(backend, media, relative=True):
    """The predictor's loop on landmarks: keypoints, (relative) motion, frames at OUTPUT px."""
    landmarks = media['landmarks']
    kp_source = backend.keypoints(landmarks[:1])
    kp_driving = backend.keypoints(landmarks[1:])
    backend.set_source(media['small'][:1], kp_source, media['large'][:1])
    if relative:
        t = lambda d: {k: paddle.to_tensor(v) for k, v in d.items()}  # noqa: E731
        kp_driving = normalize_kp(t(kp_source), t(kp_driving),
                                  t({k: v[:1] for k, v in kp_driving.items()}),
                                  adapt_movement_scale=True, use_relative_movement=True,
                                  use_relative_jacobian=True)
        kp_driving = {k: v.numpy() for k, v in kp_driving.items()}
    return backend.animate(kp_driving)


_BACKENDS = {}


def inference_backend(talk_model, precision):
    """The talk model through Paddle Inference (exported once into the test's cache folder;
    one backend per model and precision)."""
    resolved, _, _, cache = talk_model
    key = (resolved.weight_path, precision)
    if key not in _BACKENDS:
        _BACKENDS[key] = load_inference_backend(resolved.model_cfg, resolved.weight_path,
                                                NETWORK, precision=precision, threads=2,
                                                cache_root=cache, output_size=OUTPUT)
    return _BACKENDS[key]


def test_auto_and_inference_backends_run_the_talk_model(talk_model):
    """``auto`` picks Paddle Inference for a model rendered above its networks' size."""
    resolved, *_ = talk_model
    for choice in ('auto', 'inference'):
        backend = make_backend(resolved, choice, precision='fp32')
        assert isinstance(backend, PaddleInferenceBackend), choice
        assert backend.takes_landmarks and backend.output_size == (OUTPUT, OUTPUT)
        assert backend.image_size == (NETWORK, NETWORK)
    assert make_backend(resolved, 'eager').takes_landmarks


def test_keypoints_from_landmarks_equal_eager(talk_model, media):
    _, kp_detector, generator, _ = talk_model
    ours = inference_backend(talk_model, 'fp32').keypoints(media['landmarks'])
    ref = EagerBackend(kp_detector, generator).keypoints(media['landmarks'])
    for key in ('value', 'jacobian'):
        assert ours[key].shape == ref[key].shape == (4, 17, 2) + (2,) * (key == 'jacobian')
        assert np.abs(ours[key] - ref[key]).max() < 1e-6, key
    # the landmarks are a real face: the keypoints spread over the frame and the mouth moves
    assert np.ptp(ref['value'][0], axis=0).min() > 0.5


@pytest.mark.parametrize('relative', [True, False])
def test_export_equals_eager_at_output_size(talk_model, media, relative):
    """Real landmarks, relative and absolute motion: 256 px frames within 1e-4 of eager."""
    _, kp_detector, generator, _ = talk_model
    ref = run(EagerBackend(kp_detector, generator), media, relative)
    ours = run(inference_backend(talk_model, 'fp32'), media, relative)
    assert ours.shape == ref.shape == (3, 3, OUTPUT, OUTPUT)
    err = np.abs(ours - ref)
    assert err.max() < 1e-4, err.max()
    # composed at 256 px from the large source: finer detail than a 64 px frame can hold
    blurred = paddle.nn.functional.interpolate(
        paddle.nn.functional.interpolate(paddle.to_tensor(ref), size=(NETWORK, NETWORK),
                                         mode='area'),
        size=(OUTPUT, OUTPUT), mode='bilinear').numpy()
    assert np.abs(ref - blurred).mean() > 5e-3


def test_known_large_motion_equals_eager(talk_model, media):
    """The source keypoints moved and sheared by seeded noise: same frames."""
    _, kp_detector, generator, _ = talk_model
    eager = EagerBackend(kp_detector, generator)
    kp_source = eager.keypoints(media['landmarks'][:1])
    rng = np.random.default_rng(1)
    kp_moved = {k: (v + rng.normal(0, 0.1, (3,) + v.shape[1:])).astype(np.float32)
                for k, v in kp_source.items()}
    frames = []
    for backend in (eager, inference_backend(talk_model, 'fp32')):
        backend.set_source(media['small'][:1], kp_source, media['large'][:1])
        frames.append(backend.animate(kp_moved))
    assert np.abs(frames[1] - frames[0]).max() < 1e-4
    assert np.abs(frames[0][1:] - frames[0][:1]).max() > 1e-2     # the motion shows


def test_bf16_close_to_eager_or_clear_error(talk_model, media):
    _, kp_detector, generator, _ = talk_model
    if not cpu_supports_bf16():
        with pytest.raises(PrecisionNotSupportedError, match='AVX512-BF16 or AMX-BF16'):
            inference_backend(talk_model, 'bf16')
        return
    ref = run(EagerBackend(kp_detector, generator), media)
    ours = run(inference_backend(talk_model, 'bf16'), media)
    assert ours.shape == (3, 3, OUTPUT, OUTPUT)
    assert psnr(ours, ref) >= 35.0, psnr(ours, ref)


def test_bad_input_is_refused(talk_model, media):
    backend = inference_backend(talk_model, 'fp32')
    with pytest.raises(ValueError, match='landmarks'):
        backend.keypoints(media['small'])                      # frames instead of landmarks
    kp = backend.keypoints(media['landmarks'][:1])
    with pytest.raises(ValueError, match='source_output'):
        backend.set_source(media['small'][:1], kp)             # the large source is missing
    with pytest.raises(ValueError, match='exported output size'):
        backend.set_source(media['small'][:1], kp, media['small'][:1])


def test_export_tool_writes_the_talk_model_at_its_output_size(talk_model, media, tmp_path):
    """``tools/export_model.py --image_size 64 --output_size 256``: the folder the backend loads
    renders 256 px frames equal to the eager model's."""
    import sys
    sys.path.insert(0, ROOT)
    from tools.export_model import main
    resolved, kp_detector, generator, _ = talk_model
    folder = str(tmp_path / 'export')
    main(['-c', CONFIG, '--load', resolved.weight_path, '--output_dir', folder,
          '--image_size', str(NETWORK), '--output_size', str(OUTPUT)])
    backend = PaddleInferenceBackend(folder)
    assert backend.meta['output_size'] == [OUTPUT, OUTPUT] and backend.meta['mesh_motion']
    eager = EagerBackend(kp_detector, generator)
    for run in (backend, eager):
        kp = run.keypoints(media['landmarks'])
        run.set_source(media['small'][:1], {k: v[:1] for k, v in kp.items()}, media['large'][:1])
    kp = backend.keypoints(media['landmarks'][1:])
    np.testing.assert_allclose(backend.animate(kp), eager.animate(kp), atol=1e-4)
    with pytest.raises(SystemExit, match='--output_size'):
        main(['-c', CONFIG, '--load', resolved.weight_path, '--output_dir', folder,
              '--output_size', '16'])
