"""Crafted weights files that would create a file when unpickled by a full unpickler (test
helper). Each payload names a different callable; none of them may ever run."""
import builtins
import io
import os
import pickle
import struct
import subprocess
import zipfile

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c


class Payload:
    """Unpickles as ``call(*args)``."""

    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def payloads(marker):
    """``{name: object}``: each one creates ``marker`` when a full unpickler loads it."""
    return {
        'os.system': Payload(os.system, f'touch {marker}'),
        'builtins.exec': Payload(builtins.exec, f"open({marker!r}, 'w').close()"),
        'builtins.eval': Payload(builtins.eval, f"open({marker!r}, 'w').close()"),
        'subprocess.Popen': Payload(subprocess.Popen, ['touch', marker]),
        'builtins.open': Payload(builtins.open, marker, 'w'),
    }


def fomm_like(payload):
    """A FOMM-shaped state with real arrays and the payload hidden in one entry."""
    return {'kp_detector': {'down.weight': np.ones((2, 3), np.float32), 'x': payload},
            'generator': {'first.conv.weight': np.zeros((4,), np.float32)}}


def write_pdparams(path, obj):
    """As ``paddle.save`` writes (pickle protocol 4)."""
    with open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=4)
    return str(path)


def write_torch_zip(path, obj):
    buf = io.BytesIO()
    pickle.dump(obj, buf, protocol=2)
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr('archive/data.pkl', buf.getvalue())
        zf.writestr('archive/byteorder', 'little')
        zf.writestr('archive/version', '3\n')
    return str(path)


def write_torch_legacy(path, obj):
    with open(path, 'wb') as f:
        for part in (LEGACY_MAGIC_NUMBER, 1001, {'little_endian': True}):
            pickle.dump(part, f, protocol=2)
        pickle.dump(obj, f, protocol=2)
        pickle.dump([], f, protocol=2)
        f.write(struct.pack('<q', 0))
    return str(path)
