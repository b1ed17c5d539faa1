"""The FOMM training model: networks, losses and optimisers (original ``modules/model.py`` and
``train.py``; PaddleGAN ``ppgan/models/firstorder_model.py`` config layout).

Config (the ``model:`` section of ``configs/firstorder_*.yaml``)::

    model:
      name: FirstOrderModel
      common_params: {num_kp, num_channels, estimate_jacobian}
      generator: {name: FirstOrderGenerator, kp_detector_cfg: {...}, generator_cfg: {...}}
      discriminator: {name: FirstOrderDiscriminator, discriminator_cfg: {scales, sn, ...}}
      train_params:
        scales: [1, 0.5, 0.25, 0.125]          # image pyramid of the reconstruction losses
        transform_params: {sigma_affine, sigma_tps, points_tps}
        loss_weights: {perceptual: [5 weights], reconstruction_l1, equivariance_value,
                       equivariance_jacobian, generator_gan, discriminator_gan,
                       feature_matching: [one per discriminator block]}
        vgg19_weights: URL or path                # only read when perceptual weights are > 0
        micro_batches: 1                          # split each batch, accumulate gradients
        landmark_keypoints: [10 keypoint indices]  # keypoint pulled to each face anchor
"""
import contextlib

import numpy as np
import paddle
import paddle.nn as nn

from ..utils.registry import MODELS
from . import discriminators  # noqa: F401  (fills DISCRIMINATORS)
from .builder import build_discriminator
from .full_models import DiscriminatorFullModel, GeneratorFullModel, weight_total
from .networks import build_networks

LOSS_KEYS = ('perceptual', 'reconstruction_l1', 'mouth_l1', 'equivariance_value',
             'equivariance_jacobian',
             'generator_gan', 'discriminator_gan', 'feature_matching', 'keypoint_prior')
TRAIN_PARAM_KEYS = ('scales', 'transform_params', 'loss_weights', 'vgg19_weights', 'micro_batches',
                    'landmark_keypoints')
NETS = ('kp_detector', 'generator', 'discriminator')


def _check_keys(given, allowed, where):
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise KeyError(f"unknown key(s) {', '.join(unknown)} in {where}; allowed: "
                       f"{', '.join(allowed)}")


def build_lr_schedulers_and_optimizers(nets, lr_cfg, optim_cfg):
    """Adam per network with per-epoch multi-step decay (original ``train.py``).

    Args:
        nets: ``{'kp_detector': layer, 'generator': layer, 'discriminator': layer}``.
        lr_cfg: ``{lr_generator, lr_discriminator, lr_kp_detector, epoch_milestones, gamma}``.
        optim_cfg: ``{name: Adam, beta1: 0.5, beta2: 0.999}``.
    Returns ``(schedulers, optimizers)`` dicts keyed by network name.
    """
    lr_cfg = dict(lr_cfg)
    lr_cfg.pop('name', None)
    _check_keys(lr_cfg, ('lr_generator', 'lr_discriminator', 'lr_kp_detector', 'epoch_milestones',
                         'gamma'), 'lr_scheduler')
    optim_cfg = dict(optim_cfg or {})
    name = optim_cfg.pop('name', 'Adam')
    if name != 'Adam':
        raise ValueError(f"optimizer.name {name!r} is not supported; FOMM trains with 'Adam'")
    _check_keys(optim_cfg, ('beta1', 'beta2', 'epsilon', 'weight_decay'), 'optimizer')
    schedulers, optimizers = {}, {}
    for net, layer in nets.items():
        if layer is None or not layer.parameters():   # e.g. a keypoint detector that reads landmarks
            continue
        schedulers[net] = paddle.optimizer.lr.MultiStepDecay(
            learning_rate=float(lr_cfg.get(f'lr_{net}', 2e-4)),
            milestones=list(lr_cfg.get('epoch_milestones', [])) or [10 ** 9],
            gamma=float(lr_cfg.get('gamma', 0.1)))
        optimizers[net] = paddle.optimizer.Adam(
            learning_rate=schedulers[net], parameters=layer.parameters(),
            beta1=float(optim_cfg.get('beta1', 0.5)), beta2=float(optim_cfg.get('beta2', 0.999)),
            epsilon=float(optim_cfg.get('epsilon', 1e-8)),
            weight_decay=optim_cfg.get('weight_decay'))
    return schedulers, optimizers


@MODELS.register()
class FirstOrderModel:
    """FOMM for training: builds the networks and losses from the config and runs one training
    iteration (:meth:`train_iter`), as the original ``train.py`` does.

    Args (the keys of the ``model:`` config section):
        common_params: ``num_kp``, ``num_channels``, ``estimate_jacobian``.
        generator: ``{kp_detector_cfg, generator_cfg}`` (``name`` is informational).
        discriminator: ``{discriminator_cfg: {...}}`` (:class:`FirstOrderDiscriminator`); it is
            built always (so checkpoints have it) and trained only when
            ``loss_weights.generator_gan`` != 0.
        train_params: see the module docstring.
    Raises ``KeyError`` for unknown ``train_params`` / ``loss_weights`` keys and
    :class:`~ppfom.models.losses.perceptual.PerceptualWeightsError` when the perceptual loss is on
    and the VGG19 weights are missing.

    Deviations from PaddleGAN (which follows neither here), all as in the original: Adam betas
    (0.5, 0.999); learning-rate milestones counted in epochs; the jacobian head keeps the
    identity initialisation of :class:`KPDetector` (PaddleGAN re-initialises it).
    """

    def __init__(self, common_params, generator, train_params, discriminator=None):
        train_params = dict(train_params)
        _check_keys(train_params, TRAIN_PARAM_KEYS, 'model.train_params')
        if 'scales' not in train_params or 'loss_weights' not in train_params:
            raise KeyError("model.train_params needs 'scales' and 'loss_weights'")
        _check_keys(train_params['loss_weights'], LOSS_KEYS, 'model.train_params.loss_weights')
        self.train_params = train_params
        self.loss_weights = train_params['loss_weights']
        self.micro_batches = int(train_params.get('micro_batches', 1))
        self.kp_detector, self.generator = build_networks(
            {'common_params': common_params, 'generator': generator})
        discriminator = dict(discriminator or {})
        disc_cfg = {'name': discriminator.get('name', 'FirstOrderDiscriminator'),
                    **(discriminator.get('discriminator_cfg') or {'scales': [1]})}
        self.discriminator = build_discriminator(disc_cfg, num_kp=common_params['num_kp'],
                                                 num_channels=common_params['num_channels'])
        self.use_gan = weight_total(self.loss_weights.get('generator_gan', 0)) != 0
        self.generator_full = GeneratorFullModel(self.kp_detector, self.generator,
                                                 self.discriminator, train_params)
        self.discriminator_full = DiscriminatorFullModel(self.discriminator, train_params,
                                                         common_params['num_channels'])
        self.gen_runner, self.disc_runner = self.generator_full, self.discriminator_full
        self.optimizers, self.schedulers = {}, {}

    # -- set-up ---------------------------------------------------------------------------
    @property
    def nets(self):
        return {'kp_detector': self.kp_detector, 'generator': self.generator,
                'discriminator': self.discriminator}

    def setup_optimizers(self, lr_cfg, optim_cfg):
        """Create Adam optimisers and per-epoch schedulers (see
        :func:`build_lr_schedulers_and_optimizers`)."""
        nets = dict(self.nets)
        if not self.use_gan:
            nets['discriminator'] = None
        self.schedulers, self.optimizers = build_lr_schedulers_and_optimizers(nets, lr_cfg,
                                                                              optim_cfg)

    def data_parallel(self, sync_bn=False):
        """Wrap the two full models in ``paddle.DataParallel`` (call after
        ``paddle.distributed.init_parallel_env()``). ``sync_bn`` converts BatchNorm to
        SyncBatchNorm first (GPU only)."""
        if sync_bn:
            self.kp_detector = nn.SyncBatchNorm.convert_sync_batchnorm(self.kp_detector)
            self.generator = nn.SyncBatchNorm.convert_sync_batchnorm(self.generator)
            self.generator_full.kp_extractor = self.kp_detector
            self.generator_full.generator = self.generator
        self.gen_runner = paddle.DataParallel(self.generator_full, find_unused_parameters=True)
        if self.use_gan:
            self.disc_runner = paddle.DataParallel(self.discriminator_full)

    def train(self):
        for net in self.nets.values():
            net.train()

    def eval(self):
        for net in self.nets.values():
            net.eval()

    def step_schedulers(self):
        """Advance the learning rates by one epoch (original: ``scheduler.step()`` per epoch)."""
        for scheduler in self.schedulers.values():
            scheduler.step()

    # -- training -------------------------------------------------------------------------
    def _no_sync(self, runner, last):
        if last or not isinstance(runner, paddle.DataParallel):
            return contextlib.nullcontext()
        return runner.no_sync()

    def train_iter(self, batch):
        """One iteration on ``batch`` (``source``, ``driving`` ``(N, 3, H, W)``, ``seed`` ``(N,)``,
        optional ``source_landmarks`` / ``driving_landmarks`` ``(N, M, 2)``):
        generator + keypoint detector step, then (with a GAN loss) a discriminator step.
        The batch is processed in ``micro_batches`` chunks whose gradients are averaged.
        Returns ``{loss name: float}`` (weighted, averaged over the chunks)."""
        if not self.optimizers:
            raise RuntimeError('call setup_optimizers() before train_iter()')
        n = batch['source'].shape[0]
        m = self.micro_batches
        if n % m:
            raise ValueError(f'batch of {n} cannot be split into micro_batches={m}')
        chunks = [slice(i * n // m, (i + 1) * n // m) for i in range(m)]
        seeds = batch.get('seed')
        seeds = None if seeds is None else np.asarray(seeds)
        logs, saved = {}, []
        for i, part in enumerate(chunks):
            with self._no_sync(self.gen_runner, i == m - 1):
                landmarks = [None if batch.get(k) is None else batch[k][part]
                             for k in ('source_landmarks', 'driving_landmarks')]
                losses, generated = self.gen_runner(batch['source'][part], batch['driving'][part],
                                                    None if seeds is None else seeds[part],
                                                    *landmarks)
                total = paddle.add_n(list(losses.values())) / m
                total.backward()
            for key, value in losses.items():
                logs[key] = logs.get(key, 0.0) + float(value) / m
            saved.append((generated['prediction'].detach(),
                          generated['kp_driving']['value'].detach()))
        for net in ('generator', 'kp_detector'):
            if net in self.optimizers:
                self.optimizers[net].step()
                self.optimizers[net].clear_grad()
        self.discriminator.clear_gradients()
        if self.use_gan:
            for i, (part, (prediction, kp_value)) in enumerate(zip(chunks, saved)):
                with self._no_sync(self.disc_runner, i == m - 1):
                    losses = self.disc_runner(batch['driving'][part], prediction, kp_value)
                    (losses['disc_gan'] / m).backward()
                logs['disc_gan'] = logs.get('disc_gan', 0.0) + float(losses['disc_gan']) / m
            self.optimizers['discriminator'].step()
            self.optimizers['discriminator'].clear_grad()
        return logs

    # -- inference ------------------------------------------------------------------------
    def keypoints(self, frames, landmarks=None):
        """Keypoints of ``frames`` ``(N, 3, H, W)``, or of their ``landmarks`` ``(N, 468, 2)`` when
        the keypoint detector reads landmarks (``ValueError`` when they are missing)."""
        if getattr(self.kp_detector, 'takes_landmarks', False):
            if landmarks is None:
                raise ValueError("this model's keypoint detector reads face landmarks: give them "
                                 '(dataset landmarks_dir, tools/make_landmarks.py)')
            return self.kp_detector(paddle.to_tensor(landmarks, dtype='float32'))
        return self.kp_detector(frames)

    @paddle.no_grad()
    def reconstruct(self, video, landmarks=None, chunk=16):
        """FOMM's reconstruction protocol (original ``reconstruction.py``): source = frame 0, every
        frame re-driven with absolute keypoints.

        Args:
            video: ``(T, 3, H, W)`` float32 tensor in ``[0, 1]``.
            landmarks: ``(T, 468, 2)`` in ``[-1, 1]``, for a keypoint detector that reads them.
        Returns ``(T, 3, H, W)`` predictions. The networks are put in eval mode.
        """
        self.eval()
        source = video[:1]
        kp_source = self.keypoints(source, None if landmarks is None else landmarks[:1])
        features = self.generator.encode_source(source)
        out = []
        for start in range(0, video.shape[0], chunk):
            driving = video[start:start + chunk]
            t = driving.shape[0]
            kp_driving = self.keypoints(
                driving, None if landmarks is None else landmarks[start:start + chunk])
            kp_src = {k: v.expand([t] + list(v.shape[1:])) for k, v in kp_source.items()}
            pred = self.generator(source.expand([t] + list(source.shape[1:])), kp_driving=kp_driving,
                                  kp_source=kp_src,
                                  source_features=features.expand([t] + list(features.shape[1:])))
            out.append(pred['prediction'])
        return paddle.concat(out, axis=0)

    @paddle.no_grad()
    def reconstruct_pair(self, source, driving, source_landmarks=None, driving_landmarks=None):
        """Animate ``source`` with ``driving`` (absolute keypoints); ``(N, 3, H, W)`` each (and
        their landmarks ``(N, 468, 2)`` for a keypoint detector that reads them)."""
        kp_source = self.keypoints(source, source_landmarks)
        kp_driving = self.keypoints(driving, driving_landmarks)
        return self.generator(source, kp_driving=kp_driving, kp_source=kp_source)['prediction']

    # -- state ----------------------------------------------------------------------------
    def weights(self):
        """Weights-only state ``{'kp_detector': ..., 'generator': ..., 'discriminator': ...}``
        (the layout :func:`ppfom.utils.checkpoint.load_fomm_state` reads)."""
        return {name: net.state_dict() for name, net in self.nets.items()}

    def _portable_optimizer_state(self, name):
        """Optimiser state keyed ``<parameter path>::<accumulator>`` instead of Paddle's
        process-dependent unique names (``conv2d_12.w_0_moment1_0``), so it loads in any process."""
        by_unique = {p.name: path for path, p in self.nets[name].named_parameters()}
        out = {}
        for key, value in self.optimizers[name].state_dict().items():
            if key == 'LR_Scheduler':
                out[key] = value
                continue
            unique = next((u for u in by_unique if key.startswith(u + '_')), None)
            if unique is None:
                raise KeyError(f'optimizer_{name}: state {key} belongs to no {name} parameter')
            out[f'{by_unique[unique]}::{key[len(unique) + 1:]}'] = value
        return out

    def _set_portable_optimizer_state(self, name, state):
        to_unique = {path: p.name for path, p in self.nets[name].named_parameters()}
        converted = {}
        for key, value in state.items():
            if '::' in key:
                path, suffix = key.split('::', 1)
                if path not in to_unique:
                    raise KeyError(f'optimizer_{name}: the checkpoint has state for {path}, '
                                   f'which the {name} of this config does not have')
                key = f'{to_unique[path]}_{suffix}'
            converted[key] = value
        self.optimizers[name].set_state_dict(converted)

    def state_dict(self):
        """Networks, optimisers and schedulers (for ``--resume``)."""
        state = self.weights()
        for name in self.optimizers:
            state[f'optimizer_{name}'] = self._portable_optimizer_state(name)
        for name, sched in self.schedulers.items():
            state[f'scheduler_{name}'] = sched.state_dict()
        return state

    def set_state_dict(self, state):
        """Load :meth:`state_dict` (or :meth:`weights`) output; checks networks against the
        config (:func:`ppfom.utils.checkpoint.load_into`).

        Returns the names of the optimisers the state has no entry for (e.g. the discriminator's
        when a run without GAN loss is resumed with one): they start fresh."""
        from ..utils.checkpoint import load_into
        for name, net in self.nets.items():
            if name in state:
                load_into(net, state[name], name)
        fresh = []
        for name in self.optimizers:
            key = f'optimizer_{name}'
            if key in state:
                self._set_portable_optimizer_state(name, state[key])
                if f'scheduler_{name}' in state:
                    self.schedulers[name].set_state_dict(state[f'scheduler_{name}'])
            else:
                fresh.append(name)
        return fresh
