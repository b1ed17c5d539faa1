"""Animate a photo live: a camera (or a video played as one) drives it in real time.

    python applications/tools/live-demo.py --source_image IMG --camera 0 --window --relative
    python applications/tools/live-demo.py --source_image IMG --driving_video VID --window \
        --record out.mp4

Outputs: an OpenCV window (--window; keys: r = take the reference pose again, q / Esc = quit),
a virtual camera for video-call apps (--virtual_camera, pip install "ppfom[live]") and a
recording (--record). Model, detector, backend and motion flags are first-order-demo.py's.
"""
import argparse
import importlib.util
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..'))

_spec = importlib.util.spec_from_file_location('first_order_demo',
                                               os.path.join(HERE, 'first-order-demo.py'))
file_demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(file_demo)

WINDOW = 'ppfom live'
RESET_KEYS = (ord('r'), ord('x'))
QUIT_KEYS = (ord('q'), 27)
UNUSED_FLAGS = ('output', 'filename', 'no_audio', 'audio', 'example', 'batch_size', 'find_best_frame',
                'best_frame')


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     parents=[file_demo.build_parser()], add_help=False,
                                     conflict_handler='resolve')
    for action in parser._actions:
        if action.dest in UNUSED_FLAGS:  # file-demo flags with no meaning live
            action.help = argparse.SUPPRESS
    parser.add_argument('-h', '--help', action='help', help='show this help and exit')
    driving = parser.add_mutually_exclusive_group(required=True)
    driving.add_argument('--camera', type=int, default=None, help='OpenCV camera index (0, 1, ...)')
    driving.add_argument('--driving_video', default=None,
                         help='a video played at its own frame rate as if it were a camera')
    parser.add_argument('--fps', type=float, default=None,
                        help='play --driving_video at this rate instead of its own')
    parser.add_argument('--loop', action='store_true', help='play --driving_video again at its end')
    parser.add_argument('--window', action='store_true', help='show the result in a window')
    parser.add_argument('--virtual_camera', action='store_true',
                        help='send the result to a virtual camera (pip install "ppfom[live]")')
    parser.add_argument('--record', default=None, help='also record the result to this video')
    parser.add_argument('--duration', type=float, default=None, help='stop after this many seconds')
    parser.add_argument('--no_readout', action='store_true',
                        help='no fps / latency text on the window')
    return parser


def check_display():
    """One-line error instead of Qt aborting the process when there is no screen (Linux)."""
    if sys.platform.startswith('linux') and not (os.environ.get('DISPLAY')
                                                 or os.environ.get('WAYLAND_DISPLAY')):
        raise OSError('--window needs a display (DISPLAY is not set); use --record FILE or '
                      '--virtual_camera on a machine without a screen')


def open_window(image):
    """Open the window (a plain one: the image only, no Qt toolbar or status bar, at the
    image's own size) showing ``image`` (RGB), before the animation threads start."""
    import cv2
    cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
    cv2.imshow(WINDOW, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    cv2.waitKey(1)


def show_window(live, readout, deadline=None):
    """The window loop (main thread): newest delivered frame, readout, keys. Returns when the
    input ends, at ``deadline`` (``time.monotonic()``), on q / Esc, or when the window is
    closed."""
    import cv2
    from ppfom.apps.live import draw_readout
    shown = None
    while live.running and (deadline is None or time.monotonic() < deadline):
        frame = live.latest
        if frame is not None and frame is not shown:
            shown = frame
            lines = ([live.stats.readout()] if readout else []) + ([frame.status]
                                                                  if frame.status else [])
            cv2.imshow(WINDOW, cv2.cvtColor(draw_readout(frame.image, lines), cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(5) & 0xFF
        if key in RESET_KEYS:
            live.request_reset()
        elif key in QUIT_KEYS or (shown is not None
                                  and cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1):
            break
        if live.error is not None:
            break
    cv2.destroyAllWindows()


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not (args.window or args.virtual_camera or args.record):
        parser.error('choose an output: --window, --virtual_camera and/or --record FILE')
    from ppfom.apps import FirstOrderPredictor
    from ppfom.apps.live import (CameraSource, FileSource, LiveAnimator, Recorder,
                                 VirtualCamera)
    from ppfom.utils.download import DownloadError
    from ppfom.utils.logger import get_logger
    logger = get_logger()
    sinks, closers, live = [], [], None
    try:
        if args.window:
            check_display()
        kwargs = file_demo.predictor_kwargs(args)
        kwargs.update(batch_size=1, progress=False, find_best_frame=False, best_frame=None)
        predictor = FirstOrderPredictor(**kwargs)
        live = LiveAnimator(predictor, args.source_image)
        source = (CameraSource(args.camera) if args.camera is not None
                  else FileSource(args.driving_video, fps=args.fps, loop=args.loop))
        height, width = live.still.shape[:2]
        if args.record:
            recorder = Recorder(args.record, fps=source.fps)
            sinks.append(recorder)
            closers.append(recorder)
        if args.virtual_camera:
            camera = VirtualCamera(width, height, fps=source.fps)
            sinks.append(camera)
            closers.append(camera)
        logger.info('live from %s at %.2f fps (%dx%d out)%s', source.name, source.fps, width,
                    height, '; keys: r = new reference pose, q = quit' if args.window else '')
        if args.window:
            open_window(live.still)
        live.start(source, sinks)
        started = time.monotonic()
        last_log = started
        while live.running:
            remaining = None if args.duration is None else args.duration - (time.monotonic()
                                                                             - started)
            if remaining is not None and remaining <= 0:
                break
            if args.window:
                show_window(live, not args.no_readout,
                            None if remaining is None else time.monotonic() + remaining)
                break
            live.wait(timeout=min(1.0, remaining) if remaining is not None else 1.0)
            if time.monotonic() - last_log >= 5:
                last_log = time.monotonic()
                logger.info('live: %s', live.stats.readout())
        live.wait(timeout=0)
    except KeyboardInterrupt:
        pass
    except (ValueError, OSError, KeyError, DownloadError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f'error: {message}', file=sys.stderr)
        return 2
    finally:
        if live is not None:
            live.stop()
        for closer in closers:
            closer.close()
    stats = live.stats
    median, p95 = stats.latency()
    print(f'delivered {stats.delivered} of {stats.captured} frames '
          f'({100 * stats.dropped_share():.0f}% dropped), latency median {1000 * median:.0f} ms, '
          f'p95 {1000 * p95:.0f} ms' + (f'; recorded {args.record}' if args.record else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
