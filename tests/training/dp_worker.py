"""Helper run by test_distributed.py (directly, or under ``paddle.distributed.launch``): trains
with :class:`ppfom.engine.Trainer` and saves this rank's parameters to ``OUT/rank<r>.npz``.

    python dp_worker.py CONFIG OUT [key=value ...]
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import paddle.distributed as dist  # noqa: E402

from ppfom.engine import Trainer  # noqa: E402
from ppfom.utils.config import get_config  # noqa: E402


def main():
    config, out, overrides = sys.argv[1], sys.argv[2], sys.argv[3:]
    trainer = Trainer(get_config(config, overrides), config, run_dir=os.path.join(out, 'run'))
    trainer.train()
    params = {f'{net}/{name}': p.numpy() for net, layer in trainer.model.nets.items()
              for name, p in layer.named_parameters()}
    np.savez(os.path.join(out, f'rank{dist.get_rank()}.npz'), **params)


if __name__ == '__main__':
    main()
