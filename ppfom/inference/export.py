"""The export folder: the three programs of :mod:`ppfom.inference.programs` written with
``paddle.jit.save``, with their metadata (``ppfom_export.json``), and the cache of exports beside
the weights.

The work that depends on the source only is done once per source and each driving frame costs
only what must be recomputed. The driving keypoints fed to ``generator`` are already normalised
(relative/absolute motion and ``adapt_scale`` are decided by the caller at run time). The batch
size ``N`` is dynamic; the image size is fixed per export. The source inputs keep batch 1 and are
broadcast inside the program. Before tracing, the networks are rewritten for oneDNN
(:mod:`ppfom.inference.rewrites`).
"""
import copy
import hashlib
import json
import os

import paddle
import paddle.nn as nn
from paddle.static import InputSpec

from .. import __version__
from ..utils.atomic import building_folder
from ..utils.download import sha256sum
from ..utils.predictor import saved_program_files
from .programs import (FrameProgram, KeypointProgram, LandmarkKeypointProgram,
                       SourceEncoderProgram)
from .rewrites import export_friendly_ops, fold_batch_norm, use_subpixel_upsampling

EXPORT_FORMAT = 2          # bump when the programs' inputs/outputs change
META_FILE = 'ppfom_export.json'
PROGRAMS = ('kp_detector', 'source_encoder', 'generator')


class ExportError(ValueError):
    """An export folder that cannot be used (missing, corrupt, or made from other weights)."""


def takes_landmarks(kp_detector):
    """``True`` for keypoint detectors that read face landmarks ``(N, L, 2)`` instead of images
    (:class:`~ppfom.modules.landmark_keypoints.LandmarkKPDetector`)."""
    return bool(getattr(kp_detector, 'takes_landmarks', False))


def mesh_motion(generator):
    """``True`` for generators whose dense motion network also uses the landmark mesh's motion
    (``mesh_motion``; their frame program takes ``kp_source_landmarks`` and
    ``kp_driving_landmarks``)."""
    dense = getattr(generator, 'dense_motion_network', None)
    return bool(getattr(dense, 'mesh_motion', False))


def network_shapes(kp_detector, generator, image_size):
    """Fixed sizes of the programs' inputs: ``{'K', 'features' (C', h', w'), 'small' (3, h, w),
    'has_jacobian', 'num_landmarks'}`` (``num_landmarks``: ``L`` for a detector that reads
    landmarks, else ``None``), found by running the source encoder once on zeros."""
    h, w = image_size
    with paddle.no_grad(), export_friendly_ops():
        features = generator.encode_source(paddle.zeros([1, 3, h, w]))
        small = SourceEncoderProgram(generator)(paddle.zeros([1, 3, h, w]))[1]
    shapes = {'features': list(features.shape[1:]), 'small': list(small.shape[1:])}
    if takes_landmarks(kp_detector):        # measured keypoints: always with jacobians
        return {**shapes, 'K': int(kp_detector.num_kp), 'has_jacobian': True,
                'num_landmarks': int(kp_detector.weights.shape[1])}
    return {**shapes, 'K': int(kp_detector.kp.weight.shape[0]
                                if not isinstance(kp_detector.kp, nn.Sequential)
                                else kp_detector.kp[-1].weight.shape[0]),
            'has_jacobian': kp_detector.jacobian is not None, 'num_landmarks': None}


def _save(layer, specs, prefix):
    static = paddle.jit.to_static(layer, input_spec=specs, full_graph=True)
    paddle.jit.save(static, prefix)


def program_files(folder, name):
    """The files ``paddle.jit.save`` wrote for program ``name`` (model then params)."""
    return saved_program_files(os.path.join(folder, name))


def export_networks(kp_detector, generator, output_dir, image_size=(256, 256), info=None,
                    output_size=None):
    """Write the three programs and ``ppfom_export.json`` into ``output_dir``.

    Args:
        kp_detector, generator: the eager networks, with their weights loaded. A detector that
            reads landmarks (``takes_landmarks``) is exported as a ``landmarks`` ``(N, L, 2)``
            program.
        output_dir: folder to create (files inside are overwritten).
        image_size: ``(H, W)`` the networks run at.
        info: extra fields stored in the metadata (e.g. ``weights_sha256``, ``config``).
        output_size: ``(H_out, W_out)`` of the frames (default ``image_size``); larger sizes
            only for ``compose_deformed`` generators, composed from the source at that size
            (:meth:`OcclusionAwareGenerator.compose_at`).
    Returns:
        the metadata dict (also written to ``output_dir/ppfom_export.json``): image and output
        size, K, feature shapes, the sha256 of every file, ppfom/paddle versions and ``info``.
    Raises:
        ValueError: ``output_size`` other than ``image_size`` for a generator without
            ``compose_deformed``; ``compose_deformed`` without jacobians; a ``mesh_motion``
            generator without a detector that reads landmarks or without ``compose_deformed``.
    """
    image_size = (int(image_size[0]), int(image_size[1]))
    output_size = image_size if output_size is None else (int(output_size[0]),
                                                           int(output_size[1]))
    os.makedirs(output_dir, exist_ok=True)
    kp_detector = use_subpixel_upsampling(fold_batch_norm(copy.deepcopy(kp_detector).eval()))
    generator = use_subpixel_upsampling(fold_batch_norm(copy.deepcopy(generator).eval()))
    shapes = network_shapes(kp_detector, generator, image_size)
    k, has_jac = shapes['K'], shapes['has_jacobian']
    h, w = image_size

    def kp_specs(prefix, batch):
        specs = [InputSpec([batch, k, 2], 'float32', f'{prefix}_value')]
        if has_jac:
            specs.append(InputSpec([batch, k, 2, 2], 'float32', f'{prefix}_jacobian'))
        return specs

    src_kp, drv_kp = kp_specs('kp_source', 1), kp_specs('kp_driving', None)
    c, fh, fw = shapes['features']
    gen_specs = [InputSpec([1, fh * fw, c], 'float32', 'source_table'),
                 InputSpec([1] + shapes['small'], 'float32', 'source_small'),
                 src_kp[0], drv_kp[0]] + src_kp[1:] + drv_kp[1:]
    compose = bool(getattr(generator, 'compose_deformed', False))
    if output_size != image_size and not compose:
        raise ValueError(f'output size {list(output_size)} differs from the network size '
                         f'{list(image_size)}, which only compose_deformed generators can '
                         'render; export with output_size equal to image_size')
    if compose:
        if not has_jac:
            raise ValueError('exporting a compose_deformed generator needs keypoints with '
                             'jacobians (estimate_jacobian: true)')
        gen_specs.append(InputSpec([1, 3] + list(output_size), 'float32', 'source_image'))
    mesh = mesh_motion(generator)
    if mesh and not (shapes['num_landmarks'] and compose):
        raise ValueError('exporting a generator with mesh_motion needs a keypoint detector that '
                         'reads landmarks (LandmarkKPDetector) and compose_deformed')
    if mesh:
        gen_specs += [InputSpec([1, shapes['num_landmarks'], 2], 'float32', 'kp_source_landmarks'),
                      InputSpec([None, shapes['num_landmarks'], 2], 'float32',
                                'kp_driving_landmarks')]
    if shapes['num_landmarks']:
        kp_program = LandmarkKeypointProgram(kp_detector)
        kp_spec = InputSpec([None, shapes['num_landmarks'], 2], 'float32', 'landmarks')
    else:
        kp_program, kp_spec = KeypointProgram(kp_detector), InputSpec([None, 3, h, w], 'float32',
                                                                      'image')
    with export_friendly_ops():
        _save(kp_program, [kp_spec], os.path.join(output_dir, 'kp_detector'))
        _save(SourceEncoderProgram(generator), [InputSpec([1, 3, h, w], 'float32', 'source')],
              os.path.join(output_dir, 'source_encoder'))
        _save(FrameProgram(generator, has_jac, shapes['features'][1:], image_size, output_size),
              gen_specs, os.path.join(output_dir, 'generator'))
    files = {}
    for name in PROGRAMS:
        for path in program_files(output_dir, name):
            files[os.path.basename(path)] = sha256sum(path)
    meta = {'format': EXPORT_FORMAT, 'ppfom_version': __version__,
            'paddle_version': paddle.__version__, 'image_size': list(image_size),
            'output_size': list(output_size), 'num_kp': k, 'has_jacobian': has_jac,
            'compose_deformed': compose, 'takes_landmarks': bool(shapes['num_landmarks']),
            'num_landmarks': shapes['num_landmarks'], 'mesh_motion': mesh,
            'source_features': shapes['features'],
            'source_small': shapes['small'], 'files': files, **(info or {})}
    with open(os.path.join(output_dir, META_FILE), 'w', encoding='utf-8') as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    return meta


def read_export_meta(folder, check_files=True):
    """Read and verify an export folder's metadata.

    Raises:
        ExportError: no folder, no or unreadable ``ppfom_export.json``, another export format,
            a missing program file, or (``check_files``) a file whose sha256 differs from the one
            recorded at export time (a corrupt or edited export).
    """
    rebuild = 'delete the folder (or pass --rebuild_export) to export again'
    if not os.path.isdir(folder):
        raise ExportError(f'no exported model at {folder}; export it with tools/export_model.py')
    path = os.path.join(folder, META_FILE)
    try:
        with open(path, encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError) as exc:
        raise ExportError(f'export folder {folder} is corrupt ({META_FILE}: {exc}); '
                          f'{rebuild}') from exc
    if meta.get('format') != EXPORT_FORMAT:
        raise ExportError(f'export folder {folder} has format {meta.get("format")}, this ppfom '
                          f'reads format {EXPORT_FORMAT}; {rebuild}')
    for name, digest in sorted(meta.get('files', {}).items()):
        file = os.path.join(folder, name)
        if not os.path.isfile(file):
            raise ExportError(f'export folder {folder} is corrupt ({name} is missing); {rebuild}')
        if check_files and sha256sum(file) != digest:
            raise ExportError(f'export folder {folder} is corrupt ({name} changed since export); '
                              f'{rebuild}')
    if len(meta.get('files', {})) != 2 * len(PROGRAMS):
        raise ExportError(f'export folder {folder} is corrupt (file list incomplete); {rebuild}')
    return meta


def config_digest(model_cfg, image_size, border_blend=False, output_size=None):
    """sha256 of the model config (canonical JSON), image and output size (default: the image
    size), ``border_blend``, export format, ppfom and Paddle versions: part of the cache key."""
    text = json.dumps({'model': _plain(model_cfg), 'image_size': list(image_size),
                       'output_size': list(output_size or image_size),
                       'border_blend': bool(border_blend), 'format': EXPORT_FORMAT,
                       'ppfom': __version__, 'paddle': paddle.__version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def export_cache_dir(weights_path, weights_sha256, model_cfg, image_size, cache_root=None,
                     border_blend=False, output_size=None):
    """Where the export of these weights is cached:
    ``<cache_root or the weights' folder>/<weights name>.export/<16 hex of the key>``, the key
    being the sha256 of the weights file, the model config, the image and output size
    (precision is chosen when the programs are loaded, so fp32 and bf16 share one export)."""
    key = hashlib.sha256((weights_sha256 + config_digest(model_cfg, image_size, border_blend,
                                                         output_size)).encode())
    root = cache_root or os.path.dirname(os.path.abspath(weights_path))
    return os.path.join(root, os.path.basename(weights_path) + '.export', key.hexdigest()[:16])


def export_from_weights(model_cfg, weights_path, output_dir, image_size=(256, 256),
                        weights_sha256=None, border_blend=False, output_size=None):
    """Build the networks of ``model_cfg``, load ``weights_path`` and export them to
    ``output_dir`` atomically (written to a temporary folder beside it, then renamed: a killed
    export never leaves a half-written folder). ``border_blend``: the generator's ``inference``
    flag (PaddleGAN's border blend); ``output_size``: see :func:`export_networks`. Returns the
    metadata."""
    from ..models.networks import load_networks

    weights_sha256 = weights_sha256 or sha256sum(weights_path)
    kp_detector, generator = load_networks(model_cfg, weights_path, inference=border_blend)
    with building_folder(output_dir) as tmp:
        meta = export_networks(kp_detector, generator, tmp, image_size,
                               info={'weights_sha256': weights_sha256,
                                     'weights_file': os.path.basename(weights_path),
                                     'border_blend': bool(border_blend),
                                     'config_sha256': config_digest(model_cfg, image_size,
                                                                    border_blend, output_size)},
                               output_size=output_size)
    return meta
