"""Training and evaluation loop for FOMM (PaddleGAN ``ppgan/engine/trainer.py`` arguments and
config layout; the training step follows the original ``train.py``).

Run folder (rank 0 writes it): ``log.txt``, ``config.yaml``, ``checkpoint_last.pdparams`` (full
state, for ``--resume``), ``weights_*.pdparams`` (``{'kp_detector', 'generator',
'discriminator'}``, for ``--load`` and the demo), ``metrics.json`` (evaluation), ``vdl/``
(VisualDL, when installed).
"""
import json
import os
import random
import signal
import time

import numpy as np
import paddle
import paddle.distributed as dist
import yaml

from ..datasets import build_dataloader, build_dataset
from ..metrics import evaluate_reconstruction
from ..models import build_model
from ..utils.checkpoint import CheckpointError, atomic_save, load_fomm_state
from ..utils.config import ConfigError, to_dict
from ..utils.logger import get_logger
from ..utils.safe_pickle import UnsafePickleError, load_pdparams

TOP_LEVEL_KEYS = ('epochs', 'total_iters', 'output_dir', 'seed', 'dataset', 'model',
                  'lr_scheduler', 'optimizer', 'log_config', 'validate', 'snapshot_config',
                  'reconstruction_params', 'animate_params', 'visualizer_params')
NETWORK_KEYS = ('common_params', 'generator', 'discriminator')
CHECKPOINT = 'checkpoint_last.pdparams'


def check_config(cfg):
    """Raise :class:`ConfigError` for unknown top-level keys or missing required sections."""
    unknown = sorted(set(cfg) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; allowed top-level keys: "
                          f"{', '.join(TOP_LEVEL_KEYS)}")
    if 'model' not in cfg:
        raise ConfigError("the config has no 'model' section")


def _diff(a, b, prefix='model'):
    """First differing key path between two nested dicts, or ``None``."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                return f'{prefix}.{key}'
            found = _diff(a[key], b[key], f'{prefix}.{key}')
            if found:
                return found
        return None
    return None if a == b else f'{prefix} ({a!r} vs {b!r})'


def network_config(cfg):
    """The architecture part of the ``model`` section (what a checkpoint must match)."""
    model = to_dict(cfg['model'])
    return {k: model.get(k) for k in NETWORK_KEYS}


def read_resume_checkpoint(path, cfg):
    """Read and check a ``checkpoint_last.pdparams`` for ``--resume`` against ``cfg``, before
    anything is written to the run folder.

    Returns the checkpoint's state (tensors). Raises :class:`CheckpointError` for a missing,
    corrupt or unsafe file, a weights-only file, or a checkpoint written with other networks.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f'resume file not found: {path}')
    try:
        state = load_pdparams(path)
    except UnsafePickleError as exc:
        raise CheckpointError(str(exc)) from exc
    except Exception as exc:
        raise CheckpointError(f'cannot read resume file {path} ({type(exc).__name__}); '
                              'it is corrupt or not a ppfom checkpoint') from exc
    if not isinstance(state, dict) or 'meta' not in state:
        raise CheckpointError(f'{path} is not a full training checkpoint (no optimiser state);'
                              ' use --load for weights-only files, --resume for '
                              f'{CHECKPOINT}')
    where = _diff(state['meta'].get('network_config'), network_config(cfg))
    if where:
        raise CheckpointError(f'{path} was trained with another model config (differs at '
                              f'{where}); resume with the config it was written with')
    return state


class Trainer:
    """Trains or evaluates the model described by ``cfg`` (a munch from
    :func:`ppfom.utils.config.get_config`).

    Args:
        cfg: the config. Sections used: ``model``, ``dataset.train``/``dataset.test``,
            ``lr_scheduler``, ``optimizer``, ``epochs``, ``total_iters`` (optional stop),
            ``output_dir``, ``log_config`` (``interval``, ``visiual_interval``), ``snapshot_config``
            (``interval`` in epochs, ``interval_iters`` in iterations), ``validate``
            (``interval`` in iterations, ``num_videos``, ``max_frames``).
        config_path: file the config came from (its name names the run folder).
        seed: global seed (``--seed``; default ``cfg.seed`` or 0).
        run_dir: use this run folder instead of a new ``output_dir/<config>-<time>``.
        evaluate_only: skip building the optimisers and the train loader.
    Data parallel: under ``paddle.distributed.launch`` with more than one process, the networks
    are wrapped in ``paddle.DataParallel`` (SyncBatchNorm on GPU; plain per-device BatchNorm on
    CPU) and each rank reads its share of every batch (``batch_size`` is per device). Only rank 0
    writes logs and checkpoints.
    """

    def __init__(self, cfg, config_path='config.yaml', seed=None, run_dir=None,
                 evaluate_only=False):
        check_config(cfg)
        self.cfg = cfg
        self.world_size = dist.get_world_size()
        if self.world_size > 1:
            dist.init_parallel_env()
        self.rank = dist.get_rank()
        self.seed = int(seed if seed is not None else cfg.get('seed', 0) or 0)
        name = os.path.splitext(os.path.basename(config_path))[0]
        if run_dir is None:
            stamp = time.strftime('%Y%m%d-%H%M%S')
            run_dir = os.path.join(cfg.get('output_dir', 'output_dir'), f'{name}-{stamp}')
        self.run_dir = run_dir
        if self.rank == 0:
            os.makedirs(run_dir, exist_ok=True)
            with open(os.path.join(run_dir, 'config.yaml'), 'w') as f:
                yaml.safe_dump(to_dict(cfg), f, sort_keys=False)
        self.logger = get_logger(output=run_dir if self.rank == 0 else None, rank=self.rank)
        random.seed(self.seed)
        np.random.seed(self.seed)
        paddle.seed(self.seed)
        self.model = build_model(to_dict(cfg['model']))
        self.epoch = 0          # epochs completed
        self.iteration = 0      # iterations completed (global)
        self.iter_in_epoch = 0  # iterations completed in the current epoch
        self._stop = False
        self.stopped_by = None  # the signal (SIGINT / SIGTERM) that stopped train(), if any
        self.vdl = None
        if evaluate_only:
            return
        self.model.setup_optimizers(to_dict(cfg.get('lr_scheduler') or {}),
                                    to_dict(cfg.get('optimizer') or {}))
        if 'dataset' not in cfg or 'train' not in cfg['dataset']:
            raise ConfigError("the config has no 'dataset.train' section")
        self.train_cfg = to_dict(cfg['dataset']['train'])
        prior = self.model.loss_weights.get('keypoint_prior', 0)
        if prior and not self.train_cfg.get('landmarks_dir'):
            raise ConfigError('model.train_params.loss_weights.keypoint_prior needs face '
                              'landmarks: set dataset.train.landmarks_dir (written by '
                              'tools/make_landmarks.py)')
        self.dataset, self.loader, self.sampler = build_dataloader(
            self.train_cfg, self.world_size, self.rank, seed=self.seed)
        self.iters_per_epoch = len(self.sampler)
        self.epochs = int(cfg.get('epochs', 1))
        total = cfg.get('total_iters')
        self.total_iters = min(int(total), self.epochs * self.iters_per_epoch) if total \
            else self.epochs * self.iters_per_epoch
        if self.world_size > 1:
            sync_bn = paddle.is_compiled_with_cuda() and paddle.get_device().startswith('gpu')
            self.model.data_parallel(sync_bn=sync_bn)
        if self.rank == 0:
            try:
                from visualdl import LogWriter
                self.vdl = LogWriter(logdir=os.path.join(run_dir, 'vdl'))
            except ImportError:
                self.vdl = None

    # -- checkpoints ----------------------------------------------------------------------
    def checkpoint_state(self):
        state = self.model.state_dict()
        state['meta'] = {'epoch': self.epoch, 'iteration': self.iteration,
                         'iter_in_epoch': self.iter_in_epoch, 'seed': self.seed,
                         'world_size': self.world_size, 'network_config': network_config(self.cfg),
                         'rng': {'numpy': np.random.get_state(), 'python': random.getstate(),
                                 'paddle': paddle.get_rng_state()}}
        return state

    def save(self, reason):
        """Write ``checkpoint_last.pdparams`` and ``weights_iter_<N>.pdparams`` (rank 0 only),
        each atomically (temporary file + rename)."""
        if self.rank != 0:
            return
        atomic_save(self.checkpoint_state(), os.path.join(self.run_dir, CHECKPOINT))
        weights = os.path.join(self.run_dir, f'weights_iter_{self.iteration:07d}.pdparams')
        atomic_save(self.model.weights(), weights)
        self.logger.info('saved %s and %s (%s; epoch %d, iteration %d)', CHECKPOINT,
                         os.path.basename(weights), reason, self.epoch, self.iteration)

    def resume(self, path, state=None):
        """Restore networks, optimisers, schedulers, counters and RNG states from a
        ``checkpoint_last.pdparams`` (``state``: what :func:`read_resume_checkpoint` returned
        for it, read again when None). Raises :class:`CheckpointError` as that function."""
        if state is None:
            state = read_resume_checkpoint(path, self.cfg)
        meta = state['meta']
        fresh = self.model.set_state_dict(state)
        self.epoch, self.iteration = int(meta['epoch']), int(meta['iteration'])
        for name in fresh:  # e.g. the GAN loss was switched on for this session
            for _ in range(self.epoch):
                self.model.schedulers[name].step()
            self.logger.warning('%s has no %s optimiser state: it starts fresh (lr %.2e)', path,
                                name, self.model.schedulers[name].get_lr())
        self.iter_in_epoch = int(meta['iter_in_epoch'])
        rng = meta['rng']
        np.random.set_state(rng['numpy'])
        random.setstate(rng['python'])
        paddle.set_rng_state(rng['paddle'])
        if self.world_size != int(meta.get('world_size', 1)):
            self.logger.warning('resuming a %s-device run on %d devices: the batch order after '
                                'this point differs from the original run',
                                meta.get('world_size'), self.world_size)
        self.logger.info('resumed from %s at epoch %d, iteration %d', path, self.epoch,
                         self.iteration)

    def load(self, path):
        """Load network weights only (``--load``): any layout
        :func:`ppfom.utils.checkpoint.load_fomm_state` reads; a discriminator when present."""
        state = load_fomm_state(path)
        raw = load_pdparams(path, return_numpy=True)
        if isinstance(raw, dict) and isinstance(raw.get('discriminator'), dict):
            state['discriminator'] = raw['discriminator']
        self.model.set_state_dict(state)
        self.logger.info('loaded weights from %s', path)

    # -- training -------------------------------------------------------------------------
    def _on_signal(self, signum, frame):
        if self._stop:
            raise KeyboardInterrupt if signum == signal.SIGINT else SystemExit(128 + signum)
        self._stop, self.stopped_by = True, signum
        self.logger.warning('%s: finishing this iteration, saving a checkpoint and stopping '
                            '(%s again to quit without saving)',
                            'interrupted' if signum == signal.SIGINT else 'terminated',
                            'press Ctrl-C' if signum == signal.SIGINT else 'signal')

    def _lr(self):
        return {k: float(s.get_lr()) for k, s in self.model.schedulers.items()}

    def _log_images(self, batch):
        """VisualDL image grid: source | driving | prediction of the first item."""
        self.model.eval()
        with paddle.no_grad():
            landmarks = [batch[k][:1] if batch.get(k) is not None else None
                         for k in ('source_landmarks', 'driving_landmarks')]
            pred = self.model.reconstruct_pair(batch['source'][:1], batch['driving'][:1],
                                               *landmarks)
        self.model.train()
        row = paddle.concat([batch['source'][:1], batch['driving'][:1], pred], axis=3)[0]
        self.vdl.add_image('train/source_driving_prediction',
                           (row.transpose([1, 2, 0]).numpy() * 255).astype('uint8'),
                           self.iteration)

    def train(self):
        """Train until ``epochs`` (or ``total_iters``) is reached, or SIGINT (Ctrl-C) / SIGTERM:
        then the current iteration ends, a checkpoint is saved and :attr:`stopped_by` is the
        signal number (a second signal quits at once, without saving)."""
        log_cfg = self.cfg.get('log_config') or {}
        log_every = int(log_cfg.get('interval', 10))
        visual_every = int(log_cfg.get('visiual_interval', log_cfg.get('visual_interval', 0)) or 0)
        snap = self.cfg.get('snapshot_config') or {}
        snap_epochs = int(snap.get('interval', 1) or 0)
        snap_iters = int(snap.get('interval_iters', 0) or 0)
        val = self.cfg.get('validate') or {}
        val_every = int(val.get('interval', 0) or 0)
        batch_size = int(self.train_cfg.get('batch_size', 1)) * self.world_size
        if self.iteration >= self.total_iters:
            self.logger.info('nothing to do: iteration %d >= %d', self.iteration, self.total_iters)
            return
        old_handlers = {s: signal.signal(s, self._on_signal)
                        for s in (signal.SIGINT, signal.SIGTERM)} if self._main_thread() else {}
        self.logger.info('training %d iterations (%d per epoch, batch %d on %d device(s)) in %s',
                         self.total_iters, self.iters_per_epoch, batch_size, self.world_size,
                         self.run_dir)
        self.model.train()
        t_start, n_start = time.time(), self.iteration
        try:
            while self.iteration < self.total_iters and not self._stop:
                self.sampler.set_epoch(self.epoch)
                self.sampler.skip_batches = self.iter_in_epoch  # resumed mid-epoch
                for batch in self.loader:
                    t0 = time.time()
                    losses = self.model.train_iter(batch)
                    self.iteration += 1
                    self.iter_in_epoch += 1
                    bad = [k for k, v in losses.items() if not np.isfinite(v)]
                    if bad:
                        self.save('non-finite loss')
                        raise FloatingPointError(f"loss {', '.join(bad)} is not finite at "
                                                 f'iteration {self.iteration}; lower the learning '
                                                 'rate or check the data')
                    if self.iteration % log_every == 0 or self.iteration == self.total_iters:
                        done = self.iteration - n_start
                        speed = done * batch_size / max(time.time() - t_start, 1e-9)
                        eta = (self.total_iters - self.iteration) * batch_size / max(speed, 1e-9)
                        lr = self._lr()
                        self.logger.info(
                            'epoch %d iter %d/%d | %s | lr %s | %.2f samples/s (%.2fs/iter) | '
                            'ETA %s', self.epoch, self.iteration, self.total_iters,
                            ' '.join(f'{k} {v:.4f}' for k, v in losses.items()),
                            ' '.join(f'{k}={v:.2e}' for k, v in lr.items()), speed,
                            time.time() - t0, time.strftime('%H:%M:%S', time.gmtime(eta)))
                        if self.vdl is not None:
                            for k, v in losses.items():
                                self.vdl.add_scalar(f'train/{k}', v, self.iteration)
                            for k, v in lr.items():
                                self.vdl.add_scalar(f'lr/{k}', v, self.iteration)
                            self.vdl.add_scalar('train/samples_per_s', speed, self.iteration)
                    if self.vdl is not None and visual_every and self.iteration % visual_every == 0:
                        self._log_images(batch)
                    if val_every and self.iteration % val_every == 0 and self.rank == 0:
                        self.validate()
                    if self.iteration >= self.total_iters or self._stop:
                        break
                    if snap_iters and self.iteration % snap_iters == 0:
                        self.save(f'every {snap_iters} iterations')
                if self.iter_in_epoch >= self.iters_per_epoch:
                    self.epoch += 1
                    self.iter_in_epoch = 0
                    self.model.step_schedulers()
                    if snap_epochs and self.epoch % snap_epochs == 0 \
                            and self.iteration < self.total_iters and not self._stop:
                        self.save(f'every {snap_epochs} epoch(s)')
            self.save('interrupted' if self._stop else 'end of training')
        finally:
            for signum, handler in old_handlers.items():
                signal.signal(signum, handler)
            if self.vdl is not None:
                self.vdl.close()

    @staticmethod
    def _main_thread():
        import threading
        return threading.current_thread() is threading.main_thread()

    # -- evaluation -----------------------------------------------------------------------
    def _test_dataset(self, **overrides):
        dataset_cfg = self.cfg.get('dataset') or {}
        if 'test' in dataset_cfg:
            test_cfg = to_dict(dataset_cfg['test'])
        elif 'train' in dataset_cfg:
            test_cfg = dict(to_dict(dataset_cfg['train']), phase='test')
        else:
            raise ConfigError("the config has no 'dataset.test' section")
        test_cfg['phase'] = 'test'
        for key in ('num_repeats', 'transforms', 'time_flip', 'id_sampling', 'cache_videos'):
            test_cfg.pop(key, None)
        test_cfg.update(overrides)
        return build_dataset(test_cfg)

    def validate(self):
        """Reconstruction L1 on the first ``validate.num_videos`` test clips (logged)."""
        val = self.cfg.get('validate') or {}
        dataset = self._test_dataset(**({'max_frames': val['max_frames']}
                                        if val.get('max_frames') else {}))
        metrics = evaluate_reconstruction(self.model.reconstruct, dataset,
                                          val.get('num_videos'))
        self.model.train()
        self.logger.info('validation at iteration %d: reconstruction L1 %.4f (static baseline '
                         '%.4f, ratio %.3f) on %d clips', self.iteration,
                         metrics['reconstruction_l1'], metrics['static_baseline_l1'],
                         metrics['ratio_to_static'] or float('nan'), metrics['num_videos'])
        self.logger.info('validation per clip (L1 / static): %s', ', '.join(
            f"{c['name']} {c['ratio_to_static'] or float('nan'):.3f}"
            for c in metrics['per_video']))
        if self.vdl is not None:
            self.vdl.add_scalar('val/reconstruction_l1', metrics['reconstruction_l1'],
                                self.iteration)
        return metrics

    def evaluate(self, face=True, max_frames=None):
        """FOMM reconstruction protocol on the test split; writes ``metrics.json`` and returns the
        metrics dict (see :func:`ppfom.metrics.summarize`). ``face``: also PSNR, SSIM, AKD, AED
        and missing (needs ``ppfom[eval]``); ``max_frames``: only the first frames of each clip.
        Also the ``piecewise`` reference (``piecewise_l1``, ...; :mod:`ppfom.metrics.references`)."""
        dataset = self._test_dataset(**({'max_frames': max_frames} if max_frames else {}))
        metrics = evaluate_reconstruction(self.model.reconstruct, dataset, face=face,
                                          references=True)
        metrics['iteration'] = self.iteration
        if self.rank == 0:
            for clip in metrics['per_video']:
                self.logger.info('%s: L1 %.4f, static baseline %.4f (ratio %.3f, %d frames)',
                                 clip['name'], clip['l1'], clip['static_l1'],
                                 clip['ratio_to_static'] or float('nan'), clip['frames'])
            path = os.path.join(self.run_dir, 'metrics.json')
            with open(path, 'w') as f:
                json.dump(metrics, f, indent=2)
            self.logger.info('wrote %s', path)
        return metrics
