"""Publishing files atomically: write to a temporary name beside the target, then rename; and
cleaning the temporary files that killed runs left behind.

A temporary file is ``.<target name>.<8 random chars><suffix>`` in the target's folder, held
under an exclusive ``flock`` for as long as its writer lives. A file of that pattern that no
process holds (its writer was killed) and that is older than :data:`STALE_AGE` seconds is
stale: :func:`clean_stale` deletes it.
"""
import contextlib
import os
import re
import tempfile
import time

try:
    import fcntl
except ImportError:  # Windows: no flock, but an open file cannot be deleted there either
    fcntl = None

STALE_AGE = 60.0  # seconds: younger temporary files may still be waiting for their lock


def publish(tmp_path, path):
    """Give ``tmp_path`` the permissions a new file would get (``mkstemp`` makes it private) and
    rename it to ``path`` (atomic on one file system: readers see the old file or the new one,
    never a half-written one)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    os.replace(tmp_path, path)


def locked_temp(path, suffix):
    """Create ``.<name of path>.XXXXXXXX<suffix>`` beside ``path`` and lock it; returns
    ``(fd, tmp_path)``. Keep ``fd`` open while writing; closing it (or the process dying)
    releases the lock."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix=suffix,
                               dir=folder)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd, tmp


def _temp_pattern(name=None, suffixes=None):
    name = re.escape(name) if name else r'.+'
    suffixes = '|'.join(re.escape(s) for s in suffixes) if suffixes else r'\.[A-Za-z0-9]+'
    return re.compile(rf'^\.{name}\.[A-Za-z0-9_]{{8}}({suffixes})$')


def is_held(path):
    """Whether a live process holds ``path``'s lock (a temporary file being written)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def temp_files(folder, name=None, suffixes=None):
    """Paths of ppfom temporary files in ``folder`` (for target ``name``, any when None)."""
    pattern = _temp_pattern(name, suffixes)
    with contextlib.suppress(FileNotFoundError):
        return [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if pattern.match(f)]
    return []


def clean_stale(folder, suffixes, max_age=STALE_AGE):
    """Delete the temporary files (``suffixes``, e.g. ``('.mp4',)``) of killed runs in
    ``folder``: unlocked and older than ``max_age`` seconds. Returns the deleted paths."""
    removed, now = [], time.time()
    for path in temp_files(folder, suffixes=suffixes):
        with contextlib.suppress(OSError):
            if now - os.path.getmtime(path) > max_age and not is_held(path):
                os.remove(path)
                removed.append(path)
    return removed


@contextlib.contextmanager
def building_folder(output_dir):
    """Write a folder atomically: yields a new temporary folder beside ``output_dir``; when the
    block ends without an error it replaces ``output_dir`` (an existing one is removed first),
    otherwise it is deleted. A killed writer never leaves a half-written ``output_dir``. If
    another process published ``output_dir`` meanwhile, its folder is kept and ours dropped."""
    import shutil
    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.' + os.path.basename(output_dir) + '.', dir=parent)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp made it private
        if os.path.isdir(output_dir):
            shutil.rmtree(output_dir, ignore_errors=True)
        try:
            os.replace(tmp, output_dir)
        except OSError:
            if not os.path.isdir(output_dir):   # not a concurrent writer's folder: a real error
                raise
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
