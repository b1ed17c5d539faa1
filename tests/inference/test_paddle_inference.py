"""Exported programs and the Paddle Inference backend against the eager networks.

The networks carry the reference fixtures' seeded weights (../shared/fixtures, small widths);
the frames are real (../shared/data).
"""
import json
import os

import cv2
import numpy as np
import paddle
import pytest

from ppfom.inference import EagerBackend
from ppfom.inference.export import (ExportError, export_cache_dir, export_networks,
                                    read_export_meta)
from ppfom.utils.download import sha256sum as sha256_file
from ppfom.inference.paddle_inference import (PaddleInferenceBackend,
                                              PrecisionNotSupportedError, cpu_supports_bf16,
                                              load_inference_backend)
from ppfom.models.networks import build_networks
from ppfom.modules.motion_transfer import normalize_kp
from ppfom.utils.checkpoint import load_into, torch_to_paddle_state

SIZE = {'A': (128, 128), 'C': (128, 256)}


def fixture_model(fixtures_dir, name):
    """(model_cfg, kp_detector, generator, fixture arrays) with the fixture's weights."""
    data = np.load(os.path.join(fixtures_dir, f'fomm_fixture_{name}.npz'))
    with open(os.path.join(fixtures_dir, f'fomm_fixture_{name}.json')) as f:
        params = json.load(f)['config']['model_params']
    cfg = {'common_params': params['common_params'],
           'generator': {'kp_detector_cfg': params['kp_detector_params'],
                         'generator_cfg': params['generator_params']}}
    kp_detector, generator = build_networks(cfg)
    for net_name, net in (('kp_detector', kp_detector), ('generator', generator)):
        prefix = net_name + '/'
        load_into(net, torch_to_paddle_state({k[len(prefix):]: data[k] for k in data.files
                                              if k.startswith(prefix)}), net_name)
        net.eval()
    return cfg, kp_detector, generator, data


def real_frames(data_dir, size, count=3):
    """Source photo and the first ``count`` frames of a real driving video, (N, 3, H, W)."""
    h, w = size

    def prep(bgr):
        rgb = cv2.cvtColor(cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA),
                           cv2.COLOR_BGR2RGB)
        return rgb.transpose(2, 0, 1).astype(np.float32) / 255.0

    source = prep(cv2.imread(os.path.join(data_dir, 'images', 'tpsmm_source.png')))[None]
    capture = cv2.VideoCapture(os.path.join(data_dir, 'videos', 'tpsmm_driving.mp4'))
    frames = []
    for _ in range(count):
        ok, frame = capture.read()
        assert ok, 'tpsmm_driving.mp4 has fewer frames than expected'
        frames.append(prep(frame))
    capture.release()
    return source, np.stack(frames)


def animate(backend, source, frames, batch):
    """The predictor's loop: keypoints, relative motion with adapted scale, batches."""
    kp_source = backend.keypoints(source)
    backend.set_source(source, kp_source)
    kp_initial = None
    out = []
    for i in range(0, len(frames), batch):
        kp = backend.keypoints(frames[i:i + batch])
        kp_initial = kp_initial or {k: v[:1] for k, v in kp.items()}
        t = lambda d: {k: paddle.to_tensor(v) for k, v in d.items()}  # noqa: E731
        kp_norm = normalize_kp(t(kp_source), t(kp), t(kp_initial), adapt_movement_scale=True,
                               use_relative_movement=True, use_relative_jacobian=True)
        out.append(backend.animate({k: v.numpy() for k, v in kp_norm.items()}))
    return np.concatenate(out)


def randomise(net, seed):
    """Seeded weights with He-scaled convs and random batch-norm statistics (the default
    initialisation makes near-constant outputs that would hide mistakes); the anti-aliasing
    Gaussian kernels and the landmark mesh (triangles, border anchors) stay."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, value in net.state_dict().items():
        shape = value.shape
        if key.endswith('down.weight') or '.mesh_' in key:
            continue
        if key.endswith('_variance') or (len(shape) == 1 and key.endswith('norm.weight')):
            new = rng.uniform(0.5, 1.5, shape)
        elif len(shape) == 4:
            new = rng.normal(0, np.sqrt(2.0 / np.prod(shape[1:])), shape)
        else:
            new = rng.normal(0, 0.1, shape)
        state[key] = new.astype(np.float32)
    net.set_state_dict(state)


def psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2))


_EXPORTS = {}


def exported_fixture_model(fixtures_dir, tmp_path_factory, name):
    """Fixture ``name``'s networks and their export (made once per test session)."""
    if name not in _EXPORTS:
        _, kp_detector, generator, data = fixture_model(fixtures_dir, name)
        folder = str(tmp_path_factory.mktemp(f'export_{name}'))
        export_networks(kp_detector, generator, folder, SIZE[name])
        _EXPORTS[name] = (name, folder, kp_detector, generator, data)
    return _EXPORTS[name]


@pytest.fixture(scope='module', params=['A', 'C'])
def exported(request, fixtures_dir, tmp_path_factory):
    return exported_fixture_model(fixtures_dir, tmp_path_factory, request.param)


def test_export_matches_eager_networks(exported):
    """Fixture inputs, absolute and normalised motion: every program within 1e-4 of eager."""
    name, folder, kp_detector, generator, data = exported
    backend = PaddleInferenceBackend(folder, 'fp32', threads=2, batch_size=2)
    eager = EagerBackend(kp_detector, generator)
    source = data['input/source']
    driving = np.concatenate([data['input/driving'], data['input/driving_initial'], source])
    for images in (source, driving):
        ours, ref = backend.keypoints(images), eager.keypoints(images)
        for key in ('value', 'jacobian'):
            assert np.abs(ours[key] - ref[key]).max() < 1e-4, key
    kp_source, kp_driving = eager.keypoints(source), eager.keypoints(driving)
    backend.set_source(source, kp_source)
    eager.set_source(source, kp_source)
    t = lambda d: {k: paddle.to_tensor(v) for k, v in d.items()}  # noqa: E731
    kp_norm = normalize_kp(t(kp_source), t(kp_driving), t(eager.keypoints(driving[1:2])),
                           adapt_movement_scale=True, use_relative_movement=True,
                           use_relative_jacobian=True)
    for kp in (kp_driving, {k: v.numpy() for k, v in kp_norm.items()}):
        ours, ref = backend.animate(kp), eager.animate(kp)      # 3 frames: a full and a part batch
        assert ours.shape == ref.shape == (3, 3) + SIZE[name]
        assert np.abs(ours - ref).max() < 1e-4
    # and the fixture's own reference prediction (original PyTorch FOMM, absolute motion)
    ours = backend.animate({'value': data['out/kp_driving/value'],
                            'jacobian': data['out/kp_driving/jacobian']})
    assert np.abs(ours - data['out/prediction']).max() < 5e-3


def test_inference_backend_same_frames_as_eager_on_real_video(exported, data_dir):
    name, folder, kp_detector, generator, _ = exported
    source, frames = real_frames(data_dir, SIZE[name])
    ref = animate(EagerBackend(kp_detector, generator), source, frames, batch=2)
    ours = animate(PaddleInferenceBackend(folder, 'fp32', threads=2, batch_size=2), source,
                   frames, batch=2)
    # the whole pipeline: keypoints differ from eager by summation order (~1e-5, folded batch
    # norms, sub-pixel up blocks), which the relative motion carries into the frames
    err = np.abs(ours - ref)
    assert err.max() < 1e-3 and err.mean() < 1e-5, (err.max(), err.mean())
    assert ref.std() > 0.05  # real pictures, not a flat output


def test_bf16_close_to_eager_or_clear_error(exported, data_dir):
    name, folder, kp_detector, generator, _ = exported
    if not cpu_supports_bf16():
        with pytest.raises(PrecisionNotSupportedError, match='AVX512-BF16 or AMX-BF16'):
            PaddleInferenceBackend(folder, 'bf16')
        return
    source, frames = real_frames(data_dir, SIZE[name])
    ref = animate(EagerBackend(kp_detector, generator), source, frames, batch=2)
    ours = animate(PaddleInferenceBackend(folder, 'bf16', threads=2, batch_size=2), source,
                   frames, batch=2)
    assert psnr(ours, ref) >= 35.0, psnr(ours, ref)


def test_bad_input_is_refused(exported):
    name, folder, *_ = exported
    backend = PaddleInferenceBackend(folder, 'fp32', threads=1)
    with pytest.raises(ValueError, match='exported size'):
        backend.keypoints(np.zeros((1, 3, 64, 64), np.float32))
    with pytest.raises(RuntimeError, match='set_source'):
        backend.animate({'value': np.zeros((1, 10, 2), np.float32),
                         'jacobian': np.zeros((1, 10, 2, 2), np.float32)})
    with pytest.raises(ValueError, match='precision'):
        PaddleInferenceBackend(folder, 'fp16')


def test_export_tool_cache_corruption_and_mismatch(fixtures_dir, tmp_path):
    """tools/export_model.py writes an export; the backend finds it in its cache folder beside
    the weights and reuses it; a corrupt or foreign export is refused with a clear message."""
    import yaml

    from tools.export_model import main
    cfg, kp_detector, generator, _ = fixture_model(fixtures_dir, 'A')
    weights = str(tmp_path / 'model.pdparams')
    paddle.save({'kp_detector': kp_detector.state_dict(), 'generator': generator.state_dict()},
                weights)
    config = tmp_path / 'small.yaml'
    config.write_text(yaml.safe_dump({'model': cfg}))
    folder = export_cache_dir(weights, sha256_file(weights), cfg, SIZE['A'])
    assert folder.startswith(str(tmp_path / 'model.pdparams.export'))   # next to the weights
    main(['-c', str(config), '--load', weights, '--output_dir', folder, '--image_size', '128'])
    meta = read_export_meta(folder)
    assert meta['image_size'] == [128, 128] and meta['num_kp'] == 10
    try:
        import paddle2onnx  # noqa: F401
    except ImportError:
        with pytest.raises(SystemExit, match='pip install paddle2onnx'):
            main(['-c', str(config), '--load', weights, '--output_dir', str(tmp_path / 'onnx'),
                  '--format', 'onnx'])
    else:
        main(['-c', str(config), '--load', weights, '--output_dir', str(tmp_path / 'onnx'),
              '--format', 'onnx'])
        assert os.path.isfile(str(tmp_path / 'onnx' / 'generator.onnx'))

    stamp = os.path.getmtime(os.path.join(folder, 'generator.pdiparams'))
    backend = load_inference_backend(cfg, weights, 128, threads=1)      # reused, not rebuilt
    assert backend.model_dir == folder
    assert os.path.getmtime(os.path.join(folder, 'generator.pdiparams')) == stamp

    with open(os.path.join(folder, 'generator.pdiparams'), 'ab') as f:
        f.write(b'garbage')
    with pytest.raises(ExportError, match='corrupt.*generator.pdiparams.*rebuild_export'):
        load_inference_backend(cfg, weights, SIZE['A'], threads=1)
    fallback = load_inference_backend(cfg, weights, SIZE['A'], threads=1, fallback=True)
    assert isinstance(fallback, EagerBackend)
    rebuilt = load_inference_backend(cfg, weights, SIZE['A'], threads=1, rebuild=True)
    assert isinstance(rebuilt, PaddleInferenceBackend)
    read_export_meta(folder)                                             # valid again

    # an explicit export folder made from other weights
    other = str(tmp_path / 'other.pdparams')
    state = generator.state_dict()
    state['final.bias'] = state['final.bias'] + 1.0
    paddle.save({'kp_detector': kp_detector.state_dict(), 'generator': state}, other)
    with pytest.raises(ExportError, match='other weights'):
        load_inference_backend(cfg, other, SIZE['A'], export_dir=folder)
    assert export_cache_dir(other, sha256_file(other), cfg, SIZE['A']) != folder
    os.remove(os.path.join(folder, 'ppfom_export.json'))
    with pytest.raises(ExportError, match='corrupt'):
        PaddleInferenceBackend(folder)


def test_several_sources_match_eager(fixtures_dir, data_dir, tmp_path_factory):
    """Two sources (faces) animated together: source-major frames, as the eager backend."""
    _, folder, kp_detector, generator, _ = exported_fixture_model(fixtures_dir,
                                                                  tmp_path_factory, 'A')
    source, frames = real_frames(data_dir, SIZE['A'], count=3)
    sources = np.concatenate([source, frames[2:3, :, :, ::-1]])      # a second, mirrored face
    eager = EagerBackend(kp_detector, generator)
    kp_sources, kp = eager.keypoints(sources), eager.keypoints(frames)
    kp_all = {k: np.concatenate([v, v]) for k, v in kp.items()}      # F * N, source-major
    results = []
    for backend in (eager, PaddleInferenceBackend(folder, 'fp32', threads=2, batch_size=2)):
        backend.set_source(sources, kp_sources)
        results.append(backend.animate(kp_all))
    eager, ours = results
    assert ours.shape == (6, 3) + SIZE['A']
    assert np.abs(ours - eager).max() < 1e-4
    assert np.abs(ours[:3] - ours[3:]).max() > 0.05                  # the sources differ
    with pytest.raises(ValueError, match='split evenly'):
        backend.animate({k: v[:5] for k, v in kp_all.items()})
    with pytest.raises(ValueError, match='source_output=None'):
        backend.set_source(sources, kp_sources, source_output=np.zeros((2, 3, 256, 256)))


@pytest.mark.parametrize('variant', ['compose_border', 'mobile', 'no_jacobian',
                                     'motion_full_res'])
def test_generator_variants_match_eager(fixtures_dir, data_dir, tmp_path, variant):
    """ppfom's compose_deformed + resize_displacement generator with PaddleGAN's border blend
    (fixture weights), a dense motion network at the frame's own resolution (``scale_factor 1``:
    no downsampling, the source itself goes to it),
    PaddleGAN's mobile networks and zeroth-order keypoints (small widths, seeded weights)."""
    if variant == 'compose_border':
        cfg, kp_detector, generator, _ = fixture_model(fixtures_dir, 'A')
        cfg['generator']['generator_cfg']['compose_deformed'] = True
        cfg['generator']['generator_cfg']['resize_displacement'] = True   # the bundled model's
        kp_detector, generator = build_networks(cfg, inference=True)
        _, kp_ref, gen_ref, _ = fixture_model(fixtures_dir, 'A')
        kp_detector.set_state_dict(kp_ref.state_dict())
        generator.set_state_dict(gen_ref.state_dict())
    elif variant == 'motion_full_res':
        cfg, kp_ref, gen_ref, _ = fixture_model(fixtures_dir, 'A')
        cfg['generator']['generator_cfg']['dense_motion_params']['scale_factor'] = 1
        kp_detector, generator = build_networks(cfg)
        kp_detector.set_state_dict(kp_ref.state_dict())
        generator.set_state_dict({k: v for k, v in gen_ref.state_dict().items()
                                  if not k.startswith('dense_motion_network.down.')})
    elif variant == 'no_jacobian':                     # fixture weights without the jacobian head
        cfg, kp_ref, gen_ref, _ = fixture_model(fixtures_dir, 'A')
        cfg['common_params']['estimate_jacobian'] = False
        kp_detector, generator = build_networks(cfg)
        kp_detector.set_state_dict({k: v for k, v in kp_ref.state_dict().items()
                                    if not k.startswith('jacobian.')})
        generator.set_state_dict(gen_ref.state_dict())
    else:
        cfg = {'common_params': {'num_kp': 10, 'num_channels': 3, 'estimate_jacobian': True},
               'generator': {
                   'kp_detector_cfg': {'temperature': 0.1, 'block_expansion': 16,
                                       'max_features': 64, 'scale_factor': 0.25,
                                       'num_blocks': 5, 'mobile_net': True},
                   'generator_cfg': {'block_expansion': 16, 'max_features': 64,
                                     'num_down_blocks': 2, 'num_bottleneck_blocks': 2,
                                     'estimate_occlusion_map': True, 'mobile_net': True,
                                     'dense_motion_params': {'block_expansion': 16,
                                                             'max_features': 64,
                                                             'num_blocks': 5,
                                                             'scale_factor': 0.25}}}}
        kp_detector, generator = build_networks(cfg)
        randomise(kp_detector, 3)
        randomise(generator, 4)
    kp_detector.eval()
    generator.eval()
    export_networks(kp_detector, generator, str(tmp_path), SIZE['A'])
    source, frames = real_frames(data_dir, SIZE['A'], count=2)
    ref = animate(EagerBackend(kp_detector, generator), source, frames, batch=2)
    ours = animate(PaddleInferenceBackend(str(tmp_path), 'fp32', threads=2, batch_size=2),
                   source, frames, batch=2)
    err = np.abs(ours - ref)
    assert err.max() < 1e-3 and err.mean() < 1e-5, (err.max(), err.mean())
    # and a known, large motion: the source keypoints moved and sheared
    rng = np.random.default_rng(0)
    eager = EagerBackend(kp_detector, generator)
    inference = PaddleInferenceBackend(str(tmp_path), 'fp32', threads=2)
    kp_source = eager.keypoints(source)
    kp_moved = {k: v + rng.normal(0, 0.1, (3,) + v.shape[1:]) for k, v in kp_source.items()}
    kp_moved = {k: v.astype(np.float32) for k, v in kp_moved.items()}
    frames = []
    for backend in (eager, inference):
        backend.set_source(source, kp_source)
        frames.append(backend.animate(kp_moved))
    assert np.abs(frames[1] - frames[0]).max() < 1e-4
    if variant != 'mobile':   # (random decoder weights barely respond to the motion)
        assert np.abs(frames[0][1:] - frames[0][:1]).max() > 1e-2   # the motion shows
