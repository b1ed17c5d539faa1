"""Publishing files atomically: write to a temporary name beside the target, then rename."""
import os


def publish(tmp_path, path):
    """Give ``tmp_path`` the permissions a new file would get (``mkstemp`` makes it private) and
    rename it to ``path`` (atomic on one file system: readers see the old file or the new one,
    never a half-written one)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    os.replace(tmp_path, path)
