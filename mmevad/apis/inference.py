"""Run EVAD on frames and videos: ``init_detector``, ``detect_clip``, ``detect_video``.

EVAD finds the persons itself (no person detector). Clips are sampled, resized and normalised by
the config's own test pipeline and data preprocessor (:mod:`.clip_sampling`), and detections go
through ``model.test_step``, the path of ``tools/test.py``; boxes come back in pixels of the
frames given.
"""
import copy
import logging
import os.path as osp
import re
import warnings
from pathlib import Path
from typing import Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.utils import ProgressBar
from torch import nn

from mmevad.datasets.label_maps import LabelMap, load_label_map
from mmevad.utils import load_checkpoint_strictly, load_config, resolve_device
from .clip_sampling import KeyframeClipPipeline, KeyframeStream
from .results import KeyframeDetections

__all__ = [
    'init_detector', 'detect_clip', 'detect_video', 'iter_video_detections', 'open_video',
    'VideoSource'
]

ConfigLike = Union[str, Path, Config]
Frames = Union[np.ndarray, Sequence[np.ndarray]]


def init_detector(config: ConfigLike,
                  checkpoint: Optional[str] = None,
                  device: str = 'cpu',
                  cfg_options: Optional[dict] = None) -> nn.Module:
    """Build an EVAD model from its config and load a checkpoint, strictly.

    Args:
        config (str | Path | Config): config file or loaded config.
        checkpoint (str, optional): the trained weights. Every weight of the model must be in
            it with its shape and it must hold no other: a mismatch stops with
            :class:`mmevad.utils.CheckpointMismatchError` naming the keys and the likely cause.
            None keeps the random initial weights (with a warning). Defaults to None.
        device (str): ``'cpu'``, ``'cuda'``, ``'cuda:1'``... Defaults to ``'cpu'``.
        cfg_options (dict, optional): overrides merged into the config, e.g.
            ``{'model.person_score_thr': 0.5}``.

    Returns:
        nn.Module: the model in eval mode on ``device``, with ``model.cfg`` the config.

    Raises:
        ValueError: ``device`` names a GPU this machine does not have (checked before the
            model is built, see :func:`mmevad.utils.resolve_device`).
    """
    device = resolve_device(device)
    cfg = load_config(config, cfg_options)
    if 'model' not in cfg:
        raise ValueError('the config has no model; pass an EVAD config (configs/evad/*.py)')
    import mmevad  # noqa: F401  (registers the modules, as custom_imports does for the runner)
    from mmaction.registry import MODELS

    model_cfg = copy.deepcopy(cfg.model)
    # Pre-trained backbone weights are a training start; the checkpoint replaces them (and
    # without one they would be a file the user may not have).
    for part in (model_cfg, model_cfg.get('backbone', {})):
        if isinstance(part.get('init_cfg'), dict) and part.init_cfg.get('type') == 'Pretrained':
            part.init_cfg = None
    model = MODELS.build(model_cfg)
    if checkpoint is None:
        warnings.warn('init_detector: no checkpoint, the model keeps random weights')
        # mmengine logs every parameter's initialiser at INFO; a user of the API does not
        # need those hundreds of lines
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)
        try:
            model.init_weights()
        finally:
            logger.setLevel(level)
    else:
        load_checkpoint_strictly(model, checkpoint, map_location='cpu')
    model.cfg = cfg
    model.to(device)
    model.eval()
    return model


def _label_map(model: nn.Module, label_map: Union[None, str, LabelMap]) -> LabelMap:
    """The label map given, else the config's ``label_map``, else AVA v2.2."""
    if isinstance(label_map, LabelMap):
        return label_map
    if label_map is None:
        label_map = getattr(model, 'cfg', Config()).get('label_map')
    return load_label_map(label_map)


def _check_model(model: nn.Module) -> None:
    if not isinstance(getattr(model, 'cfg', None), (Config, ConfigDict)):
        raise TypeError('the model has no .cfg config; build it with mmevad.apis.init_detector')


def _as_frames(frames: Frames) -> Frames:
    """Check ``(T, H, W, 3)`` uint8 frames (an array or a list of ``(H, W, 3)`` arrays)."""
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f'frames must be a (T, H, W, 3) RGB array, got shape '
                             f'{frames.shape}')
        first = frames[0] if len(frames) else None
    else:
        frames = list(frames)
        first = frames[0] if frames else None
        for i, frame in enumerate(frames):
            if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[-1] != 3:
                raise ValueError(f'frame {i} is not an (H, W, 3) RGB array')
            if frame.shape != first.shape:
                raise ValueError(f'frame {i} has shape {frame.shape}, frame 0 has '
                                 f'{first.shape}; all frames must have one size')
    if first is None:
        raise ValueError('no frames given')
    if first.dtype != np.uint8:
        raise TypeError(f'frames must be uint8 RGB (0..255), got {first.dtype}')
    return frames


class _BackboneRecorder:
    """Keeps the backbone's outputs (``TokenPruningOutput``) of the forward passes run inside
    the ``with`` block, for the kept-token view."""

    def __init__(self, model: nn.Module, enabled: bool) -> None:
        self.model, self.enabled, self.outputs, self._handle = model, enabled, [], None

    def __enter__(self):
        if self.enabled:
            self._handle = self.model.backbone.register_forward_hook(
                lambda module, args, output: self.outputs.append(output))
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.remove()


def _detect_batch(model: nn.Module,
                  packed: List[dict],
                  keyframes: List[int],
                  image_size: Tuple[int, int],
                  labels: LabelMap,
                  fps: Optional[float] = None,
                  with_token_pruning: bool = False) -> List[KeyframeDetections]:
    """Run ``model.test_step`` on packed clips of one video and convert the detections."""
    with _BackboneRecorder(model, with_token_pruning) as recorder, torch.no_grad():
        samples = model.test_step(pseudo_collate(packed))
    h, w = image_size
    class_ids = labels.reported_ids
    results = []
    for b, (sample, key) in enumerate(zip(samples, keyframes)):
        pred = sample.pred_instances
        scores = pred.scores.float().cpu().numpy()
        if max(class_ids) >= scores.shape[1]:
            raise ValueError(f'the label map has action ids up to {max(class_ids)}, the model '
                             f'scores {scores.shape[1] - 1} classes; pass the label map of the '
                             f'dataset it was trained on')
        # the model's boxes are xyxy in [0, 1] of the frame (AVAMetric's layout): scale them to
        # the frames given, whatever size the pipeline resized them to
        bboxes = pred.bboxes.float().cpu().numpy() * np.array([w, h, w, h], np.float32)
        person = pred.person_scores.float().cpu().numpy() if 'person_scores' in pred \
            else np.ones(len(bboxes), np.float32)
        extras = {}
        if with_token_pruning:
            extras['token_pruning'] = recorder.outputs[-1]
            extras['batch_index'] = b
            # (3, T, H', W') -> (T, H', W', 3): the resized frames the backbone saw
            extras['clip'] = np.ascontiguousarray(
                packed[b]['inputs'].permute(1, 2, 3, 0).cpu().numpy())
        results.append(
            KeyframeDetections(
                frame_index=int(key),
                timestamp=None if fps is None else key / fps,
                bboxes=bboxes.astype(np.float32),
                person_scores=person.astype(np.float32),
                action_scores=scores[:, class_ids].astype(np.float32),
                class_ids=list(class_ids),
                class_names=[labels.name(c) for c in class_ids],
                image_size=(int(h), int(w)),
                extras=extras))
    return results


def detect_clip(model: nn.Module,
                frames: Frames,
                keyframe_index: Optional[int] = None,
                label_map: Union[None, str, LabelMap] = None,
                fps: Optional[float] = None,
                with_token_pruning: bool = False) -> KeyframeDetections:
    """Detect the persons of one keyframe and score their actions.

    The clip around the keyframe is sampled as the config's test pipeline samples AVA
    (``clip_len`` frames ``frame_interval`` apart, the first and last frame repeated beyond the
    borders), then resized, normalised and padded by the config's pipeline and data
    preprocessor.

    Args:
        model (nn.Module): from :func:`init_detector`.
        frames (np.ndarray | Sequence[np.ndarray]): ``(T, H, W, 3)`` uint8 **RGB** frames of
            any size, or a list of ``(H, W, 3)`` frames.
        keyframe_index (int, optional): the keyframe; defaults to the middle frame ``T // 2``.
            (To reproduce an AVA sample: EVAD configs' ``SampleAVAKeyframeClip`` centres the
            annotated second ``ts`` on the 0-based frame ``30 * (ts - 900)``; mmaction2's
            ``SampleAVAFrames`` one frame later, as it adds its ``start_index`` twice.)
        label_map (str | LabelMap, optional): action names; defaults to the config's
            ``label_map`` (AVA v2.2).
        fps (float, optional): frame rate, only to fill in ``timestamp``.
        with_token_pruning (bool): also return the backbone's ``TokenPruningOutput`` and the
            resized clip in ``extras`` (for the kept-token view). Defaults to False.

    Returns:
        KeyframeDetections: boxes in pixels of ``frames``, person and action scores.
    """
    _check_model(model)
    frames = _as_frames(frames)
    if keyframe_index is None:
        keyframe_index = len(frames) // 2
    if not 0 <= keyframe_index < len(frames):
        raise IndexError(f'keyframe_index {keyframe_index} is outside the {len(frames)} frames')
    packed = KeyframeClipPipeline(model.cfg)(frames, keyframe_index)
    return _detect_batch(model, [packed], [keyframe_index], tuple(frames[0].shape[:2]),
                         _label_map(model, label_map), fps, with_token_pruning)[0]


class VideoSource(NamedTuple):
    """An opened video: RGB frames (an iterator), frame rate, frame count (None for a live
    stream) and ``(height, width)`` (None until the first frame for a generic iterator)."""
    frames: Iterator[np.ndarray]
    fps: float
    num_frames: Optional[int]
    size: Optional[Tuple[int, int]]


def _capture_frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield mmcv.bgr2rgb(frame)
    finally:
        capture.release()


def open_video(video: Union[str, int, Frames, Iterable[np.ndarray]],
               fps: Optional[float] = None) -> VideoSource:
    """Open a video for :func:`detect_video`.

    Args:
        video: a video file or an ``http(s)://`` URL (read with ``mmcv.VideoReader``); a camera
            index (``0`` or ``'0'``) or another stream URL such as ``rtsp://`` (OpenCV's
            ``VideoCapture``, which ``mmcv.VideoReader`` wraps but only opens files and http
            URLs with); a ``(T, H, W, 3)`` uint8 RGB array, a list of frames or any iterator of
            frames (then ``fps`` is required).
        fps (float, optional): overrides the frame rate the file reports.

    Returns:
        VideoSource: frames in RGB.
    """
    if isinstance(video, (str, Path)) and not str(video).isdigit():
        video = str(video)
        if osp.isfile(video) or video.startswith(('http://', 'https://')):
            reader = mmcv.VideoReader(video)
            if not reader.opened:
                raise OSError(f'OpenCV cannot decode {video!r}')
            return VideoSource((mmcv.bgr2rgb(frame) for frame in reader), fps or reader.fps,
                               reader.frame_cnt, (reader.height, reader.width))
        if not re.match(r'^[a-z][a-z0-9+.-]*://', video):
            raise FileNotFoundError(f'video {video!r} does not exist (expected a video file, a '
                                    f'camera index or a stream URL)')
    if isinstance(video, (int, str)):
        capture = cv2.VideoCapture(int(video) if str(video).isdigit() else video)
        if not capture.isOpened():
            raise OSError(f'OpenCV cannot open the camera or stream {video!r}')
        stream_fps = fps or capture.get(cv2.CAP_PROP_FPS)
        if not stream_fps or stream_fps <= 0 or stream_fps > 1000:
            stream_fps = 30.
            warnings.warn(f'{video!r} reports no frame rate; assuming 30 fps')
        size = (int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)))
        return VideoSource(_capture_frames(capture), float(stream_fps), None, size)
    if fps is None:
        raise ValueError('frames given as an array or iterator need fps= (their frame rate), '
                         'to place keyframes every keyframe_interval_s seconds')
    if isinstance(video, np.ndarray) or isinstance(video, (list, tuple)):
        frames = _as_frames(video)
        return VideoSource(iter(frames), float(fps), len(frames), tuple(frames[0].shape[:2]))
    return VideoSource(iter(video), float(fps), None, None)


def iter_video_detections(model: nn.Module,
                          source: VideoSource,
                          keyframe_interval_s: float = 1.0,
                          batch_size: int = 1,
                          label_map: Union[None, str, LabelMap] = None,
                          with_token_pruning: bool = False) -> Iterator[KeyframeDetections]:
    """Detections of every keyframe of an opened video, in order, as soon as available.

    Frames are read once, keeping only those the pending clips need; ``batch_size`` keyframe
    clips go through the model together. See :func:`detect_video`.
    """
    _check_model(model)
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    labels = _label_map(model, label_map)
    stream = KeyframeStream(KeyframeClipPipeline(model.cfg), source.fps, keyframe_interval_s)
    size = [None]

    def checked(frames):
        for i, frame in enumerate(frames):
            if i == 0:
                if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
                    raise ValueError(f'frames must be (H, W, 3) uint8 RGB, got '
                                     f'{frame.shape} {frame.dtype}')
                size[0] = tuple(frame.shape[:2])
            yield frame

    packed, keys = [], []
    for key, data in stream(checked(source.frames)):
        packed.append(data)
        keys.append(key)
        if len(packed) == batch_size:
            yield from _detect_batch(model, packed, keys, size[0], labels, source.fps,
                                     with_token_pruning)
            packed, keys = [], []
    if packed:
        yield from _detect_batch(model, packed, keys, size[0], labels, source.fps,
                                 with_token_pruning)


def detect_video(model: nn.Module,
                 video: Union[str, int, Frames, Iterable[np.ndarray]],
                 keyframe_interval_s: float = 1.0,
                 batch_size: int = 1,
                 progress: bool = True,
                 fps: Optional[float] = None,
                 label_map: Union[None, str, LabelMap] = None) -> List[KeyframeDetections]:
    """Detect persons and actions at keyframes every ``keyframe_interval_s`` seconds.

    Keyframe ``j`` is the frame at ``(j + 1/2) * keyframe_interval_s`` seconds (AVA annotates
    one keyframe per second); each is detected as by :func:`detect_clip` on the whole video.

    Args:
        model (nn.Module): from :func:`init_detector`.
        video: a video file, URL, camera index, frame array, list or iterator (see
            :func:`open_video`).
        keyframe_interval_s (float): seconds between keyframes. Defaults to 1.
        batch_size (int): keyframe clips per forward pass. Defaults to 1.
        progress (bool): show mmengine's progress bar. Defaults to True.
        fps (float, optional): frame rate; required for arrays and iterators.
        label_map (str | LabelMap, optional): action names; defaults to the config's.

    Returns:
        list[KeyframeDetections]: one per keyframe, with ``timestamp`` in seconds.
    """
    source = open_video(video, fps)
    total = None
    if source.num_frames:
        total = KeyframeStream(KeyframeClipPipeline(model.cfg), source.fps,
                               keyframe_interval_s).num_keyframes(source.num_frames)
    bar = ProgressBar(total or 0) if progress else None
    results = []
    for result in iter_video_detections(model, source, keyframe_interval_s, batch_size,
                                        label_map):
        results.append(result)
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    return results
