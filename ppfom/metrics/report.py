"""Text table of the reconstruction metrics (``tools/main.py --evaluate-only``)."""

COLUMNS = (('l1', 'L1', '{:.4f}'), ('akd', 'AKD px', '{:.2f}'), ('aed', 'AED', '{:.3f}'),
           ('missing', 'missing', '{:.3f}'), ('psnr', 'PSNR dB', '{:.2f}'), ('ssim', 'SSIM', '{:.3f}'))
OVERALL = {'l1': 'reconstruction_l1', 'static_l1': 'static_baseline_l1'}


def _cell(fmt, value, static, piecewise=None, with_piecewise=False):
    text = '-' if value is None else fmt.format(value)
    text = f"{text} ({'-' if static is None else fmt.format(static)})"
    if with_piecewise:
        text += f" [{'-' if piecewise is None else fmt.format(piecewise)}]"
    return text


def format_metrics(metrics):
    """One row per clip and an ``overall`` row; each cell is ``model (static baseline)``, and
    ``model (static baseline) [piecewise]`` when the metrics hold the ``piecewise`` reference.

    ``metrics``: the dict of :func:`ppfom.metrics.summarize` (face columns only when present).
    """
    cols = [c for c in COLUMNS if c[0] == 'l1' or c[0] in metrics]
    piece = 'piecewise_l1' in metrics
    rows = [['clip', 'frames'] + [f"{title} (static){' [piecewise]' if piece else ''}"
                                  for _, title, _ in cols]]
    for clip in metrics['per_video']:
        rows.append([clip['name'], str(clip['frames'])] + [
            _cell(fmt, clip.get(key), clip.get('static_' + key), clip.get('piecewise_' + key),
                  piece) for key, _, fmt in cols])
    rows.append(['overall', str(metrics['num_frames'])] + [
        _cell(fmt, metrics.get(OVERALL.get(key, key)),
              metrics.get(OVERALL.get('static_' + key, 'static_' + key)),
              metrics.get('piecewise_' + key), piece)
        for key, _, fmt in cols])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return '\n'.join('  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
