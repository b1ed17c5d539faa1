"""Streaming video I/O: exact frames and fps, nothing published on failure."""
import os
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from ppfom.utils.video import VideoReader, VideoReadError, VideoWriter

from helpers import empty_file


def test_reader_streams_every_frame_in_batches(data_dir):
    reader = VideoReader(f'{data_dir}/videos/tpsmm_driving.mp4')
    assert reader.fps == 25.0 and reader.size == (410, 412) and reader.has_audio
    sizes = [len(b) for b in reader.batches(50)]
    assert sizes == [50, 50, 50, 19] and sum(sizes) == reader.frame_count == 169


def test_round_trip_keeps_frames_fps_and_odd_sizes(tmp_path):
    # smooth frames so that H.264 keeps them close; odd size exercises the padding
    base = np.linspace(0, 255, 37 * 51 * 3).reshape(37, 51, 3)
    frames = np.stack([np.roll(base, 3 * i, axis=1) for i in range(12)]).astype(np.uint8)
    path = str(tmp_path / 'clip.mp4')
    with VideoWriter(path, fps=29.97) as writer:
        writer.write(frames[:5])
        writer.write(frames[5])
        writer.write(frames[6:])
    reader = VideoReader(path)
    assert reader.frame_count == 12 and reader.fps == pytest.approx(29.97)
    assert not reader.has_audio
    decoded = np.concatenate(list(reader.batches(5)))
    assert decoded.shape == (12, 38, 52, 3)  # padded to even, never resized
    assert np.abs(decoded[:, :37, :51].astype(int) - frames).mean() < 3


def test_failure_inside_the_writer_leaves_no_file(tmp_path):
    path = tmp_path / 'result.mp4'
    path.write_bytes(b'previous result')
    with pytest.raises(RuntimeError):
        with VideoWriter(str(path), fps=25) as writer:
            writer.write(np.zeros((2, 32, 32, 3), np.uint8))
            raise RuntimeError('network failed mid-video')
    assert path.read_bytes() == b'previous result'
    assert os.listdir(tmp_path) == ['result.mp4']


def test_audio_is_muxed_from_the_driving_video(data_dir, tmp_path):
    source = f'{data_dir}/videos/lp_d2.mp4'
    path = str(tmp_path / 'with_audio.mp4')
    with VideoWriter(path, fps=30, audio_from=source) as writer:
        writer.write(np.zeros((16, 64, 64, 3), np.uint8))
    reader = VideoReader(path)
    assert reader.has_audio and reader.frame_count == 16


def test_reader_errors(tmp_path):
    with pytest.raises(VideoReadError, match='not found'):
        VideoReader(str(tmp_path / 'missing.mp4'))
    with pytest.raises(VideoReadError, match='empty'):
        VideoReader(empty_file(tmp_path, 'empty.mp4'))


@pytest.mark.parametrize('name,count', [('paddlegan_mona7s.mp4', 211), ('opencv_megamind.avi', 270)])
def test_variable_frame_rate_videos_decode_every_frame_once(data_dir, name, count):
    """ffmpeg's default for raw output duplicates frames of these files (212, 271)."""
    reader = VideoReader(f'{data_dir}/videos/{name}')
    assert reader.frame_count == count
    assert sum(len(b) for b in reader.batches(64)) == count


def test_result_streams_and_keeps_its_colours(tmp_path):
    """The index (moov) precedes the media data (+faststart), the stream is tagged BT.709 and
    saturated colours come back within a few levels (the conversion uses the tagged matrix)."""
    colours = np.array([[200, 30, 40], [20, 180, 60], [30, 40, 220], [250, 220, 10]], np.uint8)
    frame = np.concatenate([np.full((32, 32, 3), c, np.uint8) for c in colours], axis=1)
    path = str(tmp_path / 'colours.mp4')
    with VideoWriter(path, fps=25) as writer:
        writer.write(np.stack([frame] * 5))
    data = open(path, 'rb').read()
    assert 0 <= data.find(b'moov') < data.find(b'mdat')
    info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-hide_banner', '-i', path],
                          capture_output=True, text=True).stderr
    assert 'yuv420p(tv, bt709, progressive)' in info
    decoded = next(VideoReader(path).frames())
    for i, colour in enumerate(colours):
        assert np.abs(decoded[16, 32 * i + 16].astype(int) - colour).max() <= 4


def test_audio_is_trimmed_or_padded_to_the_video(tmp_path):
    """A 0.5 s tone under 1 s of video is padded with silence; a 3 s tone is cut to 1 s."""
    for seconds in (0.5, 3):
        tone = str(tmp_path / f'tone{seconds}.wav')
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-loglevel', 'error', '-f', 'lavfi',
                        '-i', f'sine=frequency=440:duration={seconds}', tone], check=True)
        path = str(tmp_path / f'with_tone{seconds}.mp4')
        with VideoWriter(path, fps=25, audio_from=tone, duration=1.0) as writer:
            writer.write(np.zeros((25, 32, 32, 3), np.uint8))
        info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-hide_banner', '-i', path, '-map',
                               '0:a', '-f', 'null', '-'], capture_output=True, text=True).stderr
        audio_time = [line for line in info.splitlines() if 'time=' in line][-1]
        seconds_out = audio_time.split('time=')[1].split()[0]
        h, m, s = seconds_out.split(':')
        assert abs(float(h) * 3600 + float(m) * 60 + float(s) - 1.0) < 0.05, audio_time
        assert VideoReader(path).frame_count == 25
