"""Build datasets and data loaders from the ``dataset:`` config section (PaddleGAN layout)."""
from paddle.io import DataLoader, DistributedBatchSampler

from ..utils.registry import DATASETS, build_from_config

LOADER_KEYS = ('batch_size', 'num_workers', 'use_shared_memory')


def build_dataset(cfg, **overrides):
    """Build the dataset named by ``cfg.name`` (loader keys ``batch_size`` etc. are ignored)."""
    cfg = {k: v for k, v in dict(cfg).items() if k not in LOADER_KEYS}
    cfg.update(overrides)
    return build_from_config(cfg, DATASETS)


class EpochBatchSampler(DistributedBatchSampler):
    """``DistributedBatchSampler`` (shuffled per epoch, split across ranks) whose indices are
    offset by ``epoch * len(dataset)``, so that the dataset's per-item randomness differs from
    epoch to epoch while staying independent of the worker and device that loads the item.
    ``skip_batches`` (reset after use) skips the first batches of the next pass (resuming
    mid-epoch)."""

    skip_batches = 0

    def __iter__(self):
        offset = self.epoch * len(self.dataset)
        skip, self.skip_batches = self.skip_batches, 0
        for i, batch in enumerate(super().__iter__()):
            if i >= skip:
                yield [int(j) + offset for j in batch]


def build_dataloader(cfg, world_size=1, rank=0, seed=0, shuffle=True):
    """Train loader: ``(dataset, loader, sampler)``; ``batch_size`` is per device (PaddleGAN).
    Call ``sampler.set_epoch(epoch)`` before each epoch."""
    dataset = build_dataset(cfg, seed=seed)
    sampler = EpochBatchSampler(dataset, batch_size=int(cfg.get('batch_size', 1)),
                                num_replicas=world_size, rank=rank, shuffle=shuffle,
                                drop_last=True)
    if len(sampler) == 0:
        raise ValueError(f'the train split has {len(dataset)} items, fewer than batch_size '
                         f"{cfg.get('batch_size')} x {world_size} device(s); lower batch_size or "
                         'raise num_repeats')
    workers = int(cfg.get('num_workers', 0))
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=workers,
                        use_shared_memory=bool(cfg.get('use_shared_memory', False)),
                        persistent_workers=workers > 0)
    return dataset, loader, sampler
