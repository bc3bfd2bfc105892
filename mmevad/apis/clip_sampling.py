"""Clips around keyframes of in-memory frames, through the config's own test pipeline.

:class:`KeyframeClipPipeline` runs the ``test_dataloader`` pipeline of an EVAD config (AVA's
``SampleAVAFrames`` -> ``RawFrameDecode`` -> ``Resize`` -> ``FormatShape`` -> ``PackActionInputs``)
on frames held in memory: the decode step becomes mmaction2's ``ArrayDecode``, and the sampler
receives a keyframe index instead of an AVA timestamp. Every other step is the config's, so the
clip (frames, edge repetition, size) is the one ``tools/test.py`` feeds the model.

:class:`KeyframeStream` feeds a stream of frames (a video file, a camera) through that pipeline
with a bounded buffer: it yields each keyframe's clip as soon as its last frame has arrived.
"""
import copy
from collections import deque
from typing import Deque, Iterable, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
from mmaction.utils import get_str_type
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

__all__ = ['KeyframeClipPipeline', 'KeyframeStream', 'keyframe_index_of']

Frames = Union[np.ndarray, Sequence[np.ndarray]]


class KeyframeClipPipeline:
    """The config's test pipeline applied to frames in memory around a keyframe.

    Args:
        cfg (Config): an EVAD config; its ``test_dataloader.dataset.pipeline`` must sample with
            ``SampleAVAFrames`` or a subclass (``SampleAVAKeyframeClip`` in EVAD configs).

    Attributes:
        clip_len (int): frames per clip.
        frame_interval (int): frames between two sampled frames.
        frames_before (int): how far before the keyframe the clip starts, in frames.
        frames_after (int): how far after the keyframe the clip's last frame is, in frames.
    """

    def __init__(self, cfg: Union[Config, ConfigDict]) -> None:
        try:
            pipeline_cfg = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
        except AttributeError as error:
            raise ValueError('the config has no test_dataloader.dataset.pipeline; pass an EVAD '
                             'config (configs/evad/*.py)') from error
        init_default_scope(cfg.get('default_scope', 'mmaction'))
        samplers = [t for t in pipeline_cfg if _is_ava_sampler(t['type'])]
        if len(samplers) != 1:
            raise ValueError(
                f'the test pipeline must sample its clip with exactly one SampleAVAFrames or '
                f'subclass (mmevad\'s SampleAVAKeyframeClip in EVAD configs); found '
                f"{len(samplers)} in {[get_str_type(t['type']) for t in pipeline_cfg]}")
        self.clip_len = int(samplers[0]['clip_len'])
        self.frame_interval = int(samplers[0].get('frame_interval', 2))
        if not samplers[0].get('test_mode', False):
            raise ValueError('the test pipeline samples with test_mode=False, '
                             'i.e. with random frame offsets; set test_mode=True')
        self.frames_before = (self.clip_len // 2) * self.frame_interval
        self.frames_after = ((self.clip_len + 1) // 2 - 1) * self.frame_interval
        # As mmaction2's ActionRecogInferencer does for array inputs: every decode step reads
        # the array instead of files, and no video-opening step is needed.
        steps = []
        for step in pipeline_cfg:
            name = get_str_type(step['type'])
            if 'Init' in name:
                continue
            steps.append(dict(type='ArrayDecode') if 'Decode' in name else step)
        self.transforms = Compose(steps)

    def __call__(self,
                 frames: Frames,
                 keyframe_index: int,
                 total_frames: Optional[int] = None,
                 first_index: int = 0) -> dict:
        """Sample, decode, resize and pack the clip of one keyframe.

        Args:
            frames (np.ndarray | Sequence[np.ndarray]): RGB uint8 frames ``(H, W, 3)``, frame
                ``first_index + i`` of the video at position ``i``; must hold every frame the
                clip reads (see :class:`KeyframeStream`).
            keyframe_index (int): 0-based index of the keyframe in the video.
            total_frames (int, optional): frames in the whole video, where the sampler repeats
                the edge frame; defaults to ``first_index + len(frames)``.
            first_index (int): video index of ``frames[0]``. Defaults to 0.

        Returns:
            dict: ``inputs`` ``(3, clip_len, H', W')`` uint8 (the config's ``FormatShape``)
            and ``data_samples`` (``ActionDataSample`` with ``img_shape`` of the resized clip),
            ready for ``pseudo_collate`` and ``model.test_step``.
        """
        if total_frames is None:
            total_frames = first_index + len(frames)
        if not 0 <= keyframe_index < total_frames:
            raise IndexError(f'keyframe index {keyframe_index} is outside the video\'s '
                             f'{total_frames} frames')
        lowest = max(keyframe_index - self.frames_before, 0)
        if lowest < first_index:
            raise IndexError(f'the clip of keyframe {keyframe_index} starts at frame {lowest}, '
                             f'before the first frame held ({first_index})')
        # The AVA samplers put the keyframe at fps * (timestamp - timestamp_start) (+ start_index,
        # which mmaction's SampleAVAFrames adds twice) and clip every index to
        # [0, total_frames - 1], i.e. repeat the edge frames: with fps 1, timestamp = keyframe
        # index and start index 0 both sample around our keyframe.
        # ArrayDecode then reads array[index + offset].
        results = dict(
            array=frames,
            modality='RGB',
            total_frames=int(total_frames),
            start_index=0,
            offset=-int(first_index),
            fps=1,
            timestamp=int(keyframe_index),
            timestamp_start=0)
        return self.transforms(results)


def _is_ava_sampler(transform_type) -> bool:
    """Whether a pipeline step samples AVA clips: mmaction's ``SampleAVAFrames`` or a subclass
    (mmevad's ``SampleAVAKeyframeClip``)."""
    from mmaction.datasets.transforms import SampleAVAFrames
    from mmaction.registry import TRANSFORMS
    cls = TRANSFORMS.get(transform_type) if isinstance(transform_type, str) else transform_type
    return isinstance(cls, type) and issubclass(cls, SampleAVAFrames)


def keyframe_index_of(j: int, fps: float, interval_s: float) -> int:
    """Index of keyframe ``j``: at time ``(j + 1/2) * interval_s``, the middle of the interval
    whose frames show its detections."""
    return int(round((j + 0.5) * interval_s * fps))


class KeyframeStream:
    """Yield the clip of every keyframe of a frame stream as soon as it is complete.

    Keyframe ``j`` is the frame :func:`keyframe_index_of` ``(j, fps, keyframe_interval_s)``.
    Its clip is packed when frame ``keyframe + frames_after`` arrives (or the stream ends: the
    sampler then repeats the last frame, as for the end of an AVA video). Only the frames the
    pending clips can still read are kept: at most ``frames_before + frames_after + 1 +
    keyframe spacing`` frames.

    Args:
        pipeline (KeyframeClipPipeline): the config's pipeline.
        fps (float): frames per second of the stream.
        keyframe_interval_s (float): seconds between keyframes. Defaults to 1 (AVA's rate).
    """

    def __init__(self, pipeline: KeyframeClipPipeline, fps: float,
                 keyframe_interval_s: float = 1.0) -> None:
        if not fps > 0:
            raise ValueError(f'fps must be positive, got {fps}')
        if not keyframe_interval_s > 0:
            raise ValueError(f'keyframe_interval_s must be positive, got {keyframe_interval_s}')
        if keyframe_interval_s * fps < 1:
            raise ValueError(f'keyframe_interval_s={keyframe_interval_s} is shorter than a '
                             f'frame at {fps} fps; use at least {1 / fps:.3f} s')
        self.pipeline = pipeline
        self.fps = float(fps)
        self.interval_s = float(keyframe_interval_s)
        self.max_buffered = 0  # the most frames held at once (the buffer bound, for tests)

    def keyframe(self, j: int) -> int:
        return keyframe_index_of(j, self.fps, self.interval_s)

    def num_keyframes(self, total_frames: int) -> int:
        """Keyframes of a video of ``total_frames`` frames."""
        j = 0
        while self.keyframe(j) < total_frames:
            j += 1
        return j

    def __call__(self, frames: Iterable[np.ndarray]) -> Iterator[Tuple[int, dict]]:
        """Args:
            frames (Iterable[np.ndarray]): RGB uint8 ``(H, W, 3)`` frames, all of one size.

        Yields:
            tuple[int, dict]: the keyframe's index and its packed clip
            (:meth:`KeyframeClipPipeline.__call__`).
        """
        before, after = self.pipeline.frames_before, self.pipeline.frames_after
        buffer: Deque[np.ndarray] = deque()
        first = 0  # video index of buffer[0]
        j, count, shape = 0, 0, None
        for frame in frames:
            if shape is None:
                shape = frame.shape
            elif frame.shape != shape:
                raise ValueError(f'frame {count} has shape {frame.shape}, the first had '
                                 f'{shape}; a video keeps one frame size')
            buffer.append(frame)
            count += 1
            self.max_buffered = max(self.max_buffered, len(buffer))
            while self.keyframe(j) + after < count:
                key = self.keyframe(j)
                yield key, self.pipeline(list(buffer), key, total_frames=count, first_index=first)
                j += 1
            # drop what no pending clip reads (the next keyframe's clip starts at key - before)
            while buffer and first < self.keyframe(j) - before:
                buffer.popleft()
                first += 1
        while self.keyframe(j) < count:
            key = self.keyframe(j)
            yield key, self.pipeline(list(buffer), key, total_frames=count, first_index=first)
            j += 1
