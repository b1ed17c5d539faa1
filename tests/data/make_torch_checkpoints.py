"""Write the two small PyTorch checkpoints that test ppfom.utils.torch_pickle (run once, needs torch).

    python tests/data/make_torch_checkpoints.py      # writes tiny_zip.pth and tiny_legacy.pth here

Every tensor is a closed formula of ``arange`` so the test rebuilds the expected values with numpy
alone (see ``expected_tensors`` in tests/utils/test_torch_pickle.py). The checkpoint mimics the
layout of a training checkpoint: nested state dicts, a non-contiguous view sharing its storage,
several dtypes, a 0-d tensor, an ``nn.Parameter``, plain Python values and an argparse Namespace.
"""
import argparse
import collections
import os

import torch


def build():
    base = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) / 8 - 1.5
    state = collections.OrderedDict()
    state['conv.weight'] = base
    state['conv.bias'] = torch.tensor([0.5, -0.25, 3.0])
    state['view_t'] = base[1].t()                       # (4, 3), stride (1, 4), storage offset 12
    state['bn.num_batches_tracked'] = torch.tensor(7)   # 0-d int64
    state['half'] = (torch.arange(6, dtype=torch.float32) / 4).half()
    state['bf16'] = (torch.arange(5, dtype=torch.float32) - 2).bfloat16()
    state['double'] = torch.arange(4, dtype=torch.float64) * 0.1
    state['int32'] = torch.arange(-3, 3, dtype=torch.int32)
    state['uint8'] = torch.arange(250, 256, dtype=torch.uint8)
    state['bool'] = torch.tensor([True, False, True])
    state['empty'] = torch.zeros(0, 3)
    state['param'] = torch.nn.Parameter(torch.ones(2, 2) * 2)
    return {'generator': state,
            'kp_detector': {'kp.weight': torch.arange(6, dtype=torch.float32).reshape(3, 2)},
            'epoch': 99,
            'name': 'tiny',
            'args': argparse.Namespace(lr=0.5)}


if __name__ == '__main__':
    here = os.path.dirname(os.path.abspath(__file__))
    torch.save(build(), os.path.join(here, 'tiny_zip.pth'))
    torch.save(build(), os.path.join(here, 'tiny_legacy.pth'), _use_new_zipfile_serialization=False)
