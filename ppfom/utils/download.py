"""Download-once weight cache (``~/.cache/ppfom``, or ``$PPFOM_HOME``) with checksums; files a
PaddleGAN user already has in PaddleGAN's cache (``~/.cache/ppgan``) are used where they are."""
import hashlib
import os
import tempfile
import urllib.error
import urllib.request

from tqdm import tqdm

from .atomic import publish
from .logger import get_logger


# sha256 of every file ppfom downloads, by file name: None where no checksum is published (those
# files are used unchecked, and the log says so). GFPGANv1.4.pth: TencentARC's v1.3.0 release.
KNOWN_SHA256 = {
    'vox-cpk.pdparams': None,
    'vox-cpk-512.pdparams': None,
    'vox-mobile.pdparams': None,
    's3fd_paddle.pdparams': None,
    'GPEN-512.pdparams': None,
    'GFPGANv1.4.pth': 'e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad',
}
PADDLEGAN_CACHE = os.path.join('~', '.cache', 'ppgan')  # PaddleGAN's WEIGHTS_HOME


class DownloadError(RuntimeError):
    """A file could not be fetched or failed its checksum; the message names the file, the URL
    and the flag that takes a local copy."""


def cache_root():
    """Folder where downloaded weights live: ``$PPFOM_HOME`` or ``~/.cache/ppfom``."""
    return os.path.expanduser(os.environ.get('PPFOM_HOME', os.path.join('~', '.cache', 'ppfom')))


def paddlegan_cache_root():
    """PaddleGAN's weight cache, ``~/.cache/ppgan``: its downloads keep the URL's file name."""
    return os.path.expanduser(PADDLEGAN_CACHE)


def find_cached(url, sha256=None, folder=None):
    """The local copy of ``url`` in ppfom's cache, else in PaddleGAN's, or None.

    A copy counts when its sha256 matches (or none is known: then it is used unchecked).
    """
    name = os.path.basename(urllib.request.urlparse(url).path)
    sha256 = sha256 or KNOWN_SHA256.get(name)
    for root in (folder or cache_root(), paddlegan_cache_root()):
        path = os.path.join(root, name)
        if os.path.isfile(path) and (sha256 is None or sha256sum(path) == sha256):
            return path
    return None


def sha256sum(path, chunk=1 << 20):
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()


def get_path_from_url(url, sha256=None, folder=None, flag='--weight_path', timeout=30):
    """Return the local path of ``url``, downloading it into the cache the first time.

    A copy in ppfom's cache or in PaddleGAN's (:func:`find_cached`) is reused when its checksum
    matches (or no checksum is known). The download goes to a temporary file that is renamed only
    after the checksum passed, so an interrupted or corrupt download never poisons the cache.

    Args:
        url: ``http(s)://`` or ``file://`` URL.
        sha256: expected hex digest; default: :data:`KNOWN_SHA256` of the file name (None:
            unchecked, logged).
        folder: cache folder (default :func:`cache_root`).
        flag: the command-line flag that takes a local file instead, named in errors.
    Raises:
        DownloadError: no network, HTTP error or checksum mismatch (one line, names the file,
            the URL and ``flag``).
    """
    folder = folder or cache_root()
    name = os.path.basename(urllib.request.urlparse(url).path)
    path = os.path.join(folder, name)
    sha256 = sha256 or KNOWN_SHA256.get(name)
    cached = find_cached(url, sha256, folder)
    if cached is not None:
        return cached
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + name, suffix='.part', dir=folder)
    os.close(fd)
    get_logger().info('downloading %s to %s', url, path)
    try:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, 'wb') as out:
                total = int(response.headers.get('Content-Length') or 0) or None
                with tqdm(total=total, unit='B', unit_scale=True, desc=name,
                          disable=total is None) as bar:
                    for block in iter(lambda: response.read(1 << 20), b''):
                        out.write(block)
                        bar.update(len(block))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, 'reason', exc)
            raise DownloadError(f'cannot download {name} from {url} ({reason}); download it by hand '
                                f'and pass it with {flag} PATH') from exc
        if sha256 is None:
            get_logger().warning('%s has no published checksum: downloaded unchecked', name)
        else:
            got = sha256sum(tmp)
            if got != sha256:
                raise DownloadError(f'{name} from {url} failed its checksum (sha256 {got[:12]}... '
                                    f'!= {sha256[:12]}...); download it again or pass a good copy '
                                    f'with {flag} PATH')
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
