"""The ``ppfom`` logger: one line per record, to stderr and optionally to a file."""
import logging
import os
import sys

_FORMAT = '[%(asctime)s] %(name)s %(levelname)s: %(message)s'


class _LogFileHandler(logging.FileHandler):
    """A log file that, once it cannot be written (full disk), says so in one console line and
    stops, instead of printing a traceback for every record."""

    failed = False

    def handleError(self, record):
        if not self.failed:
            self.failed = True
            exc = sys.exc_info()[1]
            reason = getattr(exc, 'strerror', None) or exc
            print(f'warning: cannot write the log file {self.baseFilename} ({reason}); logging '
                  'to the console only', file=sys.stderr)

    def emit(self, record):
        if not self.failed:
            super().emit(record)


def get_logger(name='ppfom', output=None, rank=0):
    """Return the logger ``name`` (configured once).

    Args:
        output: a log file path, or a folder (``log.txt`` inside it). Only rank 0 writes to the
            console and the file; other ranks log warnings and errors only.
    """
    logger = logging.getLogger(name)
    if not getattr(logger, '_ppfom_configured', False):
        logger.setLevel(logging.INFO if rank == 0 else logging.WARNING)
        logger.propagate = False
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt='%H:%M:%S'))
        logger.addHandler(handler)
        logger._ppfom_configured = True
    if output and rank == 0:
        path = os.path.join(output, 'log.txt') if not output.endswith(('.txt', '.log')) else output
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if not any(getattr(h, 'baseFilename', None) == os.path.abspath(path)
                   for h in logger.handlers):
            handler = _LogFileHandler(path)
            handler.setFormatter(logging.Formatter(_FORMAT))
            logger.addHandler(handler)
    return logger
