"""The synthetic videos as a tube dataset: every frame annotated, one action per tube, in the
ground-truth format of UCF101-24, JHMDB-21 and MultiSports (see :mod:`mmevad.datasets.tubes`).

Layout under ``out_dir`` (the layout of a downloaded tube dataset, before conversion)::

    rawframes/<video>/img_00001.jpg ...        every frame, 30 fps
    annotations/synthetic_tubes_GT.pkl         labels, gttubes, nframes, train/test_videos,
                                               resolution
    synthetic_tubes.json                       the parameters and counts (also a marker)

The scenes are those of :func:`~.generate.generate_synthetic_ava` (same figures, motion and
rendering), drawn from their own seeds. A figure's action at a frame is its movement then: stand,
walk, run or jump (labels 0-3; waving a hand is not a class here, so that each tube has one
action). A tube is a run of consecutive frames where the figure keeps its movement and at least
half of its box is inside the frame; its boxes are the tight boxes of the drawn figure, clipped
to the frame, in pixels.
"""
import json
import os
import os.path as osp
import pickle
import shutil
from dataclasses import asdict, dataclass
from typing import Dict, List, Tuple

import cv2
import numpy as np

from .motion import FigureTrack, simulate_distractor, simulate_figure
from .render import render_frames
from .scene import (FPS, JUMP, RUN, STAND, WALK, Figure, SceneConfig, frame_times, num_frames,
                    sample_scene)

__all__ = [
    'TUBE_LABELS', 'SyntheticTubeFiles', 'figure_tubes', 'generate_synthetic_tubes', 'tube_counts'
]

TUBE_MOVEMENTS = (STAND, WALK, RUN, JUMP)
TUBE_LABELS = ('stand', 'walk', 'run', 'jump')  # label k of the pickle = TUBE_MOVEMENTS[k]
MARKER = 'synthetic_tubes.json'
GT_NAME = 'synthetic_tubes_GT.pkl'
_SPLIT_CODES = dict(train=2, val=3)  # seed streams apart from generate_synthetic_ava's 0 / 1


@dataclass(frozen=True)
class SyntheticTubeFiles:
    """What :func:`generate_synthetic_tubes` wrote: the dataset's paths (absolute), labels and
    videos.

    Attributes:
        root (str): the output directory.
        data_root (str): the frame folders (``<data_root>/<video>/img_00001.jpg``).
        gt_file (str): the ACT-style ground-truth pickle.
        labels (tuple[str]): class names, label k = labels[k].
        train_videos, val_videos (tuple[str]): the videos of split 1.
        nframes (int): frames per video.
    """
    root: str
    data_root: str
    gt_file: str
    labels: Tuple[str, ...]
    train_videos: Tuple[str, ...]
    val_videos: Tuple[str, ...]
    nframes: int


def figure_tubes(figure: Figure, track: FigureTrack, seconds: int, height: int, width: int,
                 min_visible: float = 0.5) -> List[Tuple[int, np.ndarray]]:
    """The tubes of one figure.

    Args:
        figure (Figure): the figure (its action segments).
        track (FigureTrack): its simulation (boxes on every frame).
        seconds (int): annotated seconds of the video (the frame grid).
        height, width (int): frame size.
        min_visible (float): least fraction of the box inside the frame for a frame to count.

    Returns:
        list[tuple[int, np.ndarray]]: ``(label, tube)`` with ``tube`` ``(n, 5)`` float32 rows
        ``(frame, x1, y1, x2, y2)``, frames 1-based and consecutive, boxes in pixels clipped to
        the frame.
    """
    times = frame_times(seconds)
    labels = np.full(len(times), -1)
    for segment in figure.segments:
        inside = (times >= segment.start) & (times < segment.end)
        labels[inside] = TUBE_MOVEMENTS.index(segment.movement)
    size = np.array([width, height, width, height], dtype=np.float64)
    boxes = track.boxes
    clipped = np.clip(boxes, 0, size)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    visible = np.prod(np.maximum(clipped[:, 2:] - clipped[:, :2], 0), axis=1) / area
    labels[visible < min_visible] = -1
    tubes = []
    start = 0
    for k in range(1, len(labels) + 1):  # close a run where the label changes or at the end
        if k == len(labels) or labels[k] != labels[start]:
            if labels[start] >= 0:
                frames = np.arange(start, k) + 1
                tube = np.concatenate([frames[:, None], clipped[start:k]], axis=1)
                tubes.append((int(labels[start]), tube.astype(np.float32)))
            start = k
    return tubes


def _prepare(out_dir: str) -> None:
    if osp.isdir(out_dir) and os.listdir(out_dir):
        if not osp.isfile(osp.join(out_dir, MARKER)):
            raise ValueError(f'{out_dir} is not empty and holds no {MARKER} (it was not written '
                             'by generate_synthetic_tubes); pass an empty or new directory')
        for name in ('rawframes', 'annotations'):
            shutil.rmtree(osp.join(out_dir, name), ignore_errors=True)
        os.remove(osp.join(out_dir, MARKER))
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)


def _write_frames(frames, frame_dir: str, jpeg_quality: int) -> None:
    os.makedirs(frame_dir, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
    for k, frame in enumerate(frames, start=1):
        path = osp.join(frame_dir, f'img_{k:05d}.jpg')
        if not cv2.imwrite(path, frame, params):
            raise OSError(f'OpenCV could not write {path}')


def generate_synthetic_tubes(out_dir: str,
                             *,
                             num_train_videos: int = 12,
                             num_val_videos: int = 4,
                             seconds: int = 4,
                             height: int = 144,
                             width: int = 192,
                             seed: int = 0,
                             jpeg_quality: int = 90,
                             scene_config: SceneConfig = SceneConfig(exclude_fraction=0.)
                             ) -> SyntheticTubeFiles:
    """Generate a synthetic tube dataset (module docstring).

    Each video has ``30 * (seconds + 2) + 1`` frames (181 for 4 s) and 2-3 figures; the output
    is a deterministic function of the arguments, and a video depends only on ``(seed, split,
    index)`` and the frame size.

    Args:
        out_dir (str): output directory; empty, new, or an earlier output of this function
            (which is replaced).
        num_train_videos (int): training videos (``train_videos[0]``). Defaults to 12.
        num_val_videos (int): test videos (``test_videos[0]``). Defaults to 4.
        seconds (int): video length parameter of the scenes (see above). Defaults to 4.
        height, width (int): frame size. Default to 144 and 192.
        seed (int): random seed. Defaults to 0.
        jpeg_quality (int): JPEG quality of the frames. Defaults to 90.
        scene_config (SceneConfig): crowding and action statistics; by default the synthetic
            AVA defaults without excluded (flashed) frames.

    Returns:
        SyntheticTubeFiles: the written paths, labels and videos.
    """
    for name, value, minimum in (('num_train_videos', num_train_videos, 1),
                                 ('num_val_videos', num_val_videos, 1), ('seconds', seconds, 1),
                                 ('height', height, 48), ('width', width, 48)):
        if not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f'{name} must be an int >= {minimum}, got {value!r}')
    scene_config.validate()
    out_dir = osp.abspath(out_dir)
    _prepare(out_dir)
    data_root = osp.join(out_dir, 'rawframes')
    gttubes: Dict[str, Dict[int, List[np.ndarray]]] = {}
    videos: Dict[str, List[str]] = {}
    for split, n_videos in (('train', num_train_videos), ('val', num_val_videos)):
        videos[split] = []
        for index in range(n_videos):
            video = f'synth_tubes_{split}_{index:03d}'
            scene = sample_scene(
                np.random.default_rng([seed, _SPLIT_CODES[split], index, 0]), video, height,
                width, seconds, scene_config)
            tracks = [simulate_figure(f, seconds, width) for f in scene.figures]
            distractors = [
                simulate_distractor(d, seconds, width, height) for d in scene.distractors
            ]
            _write_frames(render_frames(scene, tracks, distractors), osp.join(data_root, video),
                          jpeg_quality)
            tubes: Dict[int, List[np.ndarray]] = {}
            for figure, track in zip(scene.figures, tracks):
                for label, tube in figure_tubes(figure, track, seconds, height, width):
                    tubes.setdefault(label, []).append(tube)
            gttubes[video] = tubes
            videos[split].append(video)
    all_videos = videos['train'] + videos['val']
    nframes = num_frames(seconds)
    annos = dict(
        labels=list(TUBE_LABELS),
        gttubes=gttubes,
        nframes={v: nframes for v in all_videos},
        train_videos=[videos['train']],
        test_videos=[videos['val']],
        resolution={v: (height, width) for v in all_videos})
    gt_file = osp.join(out_dir, 'annotations', GT_NAME)
    with open(gt_file, 'wb') as f:
        pickle.dump(annos, f, protocol=4)
    counts = {
        split: dict(
            videos=len(vs),
            tubes=sum(len(t) for v in vs for t in gttubes[v].values()),
            boxes=sum(len(tube) for v in vs for t in gttubes[v].values() for tube in t))
        for split, vs in videos.items()
    }
    metadata = dict(
        generator='mmevad.datasets.synthetic_ava.tubes', seed=seed, seconds=seconds,
        height=height, width=width, fps=FPS, nframes=nframes, jpeg_quality=jpeg_quality,
        labels=list(TUBE_LABELS), scene_config=asdict(scene_config), splits=counts)
    with open(osp.join(out_dir, MARKER), 'w') as f:
        json.dump(metadata, f, indent=2)
        f.write('\n')
    return SyntheticTubeFiles(
        root=out_dir,
        data_root=data_root,
        gt_file=gt_file,
        labels=TUBE_LABELS,
        train_videos=tuple(videos['train']),
        val_videos=tuple(videos['val']),
        nframes=nframes)


def tube_counts(gt_file: str) -> Dict[str, int]:
    """Tubes per label name of a ground-truth pickle (a quick look at class balance)."""
    with open(gt_file, 'rb') as f:
        annos = pickle.load(f)
    counts = {name: 0 for name in annos['labels']}
    for tubes in annos['gttubes'].values():
        for label, items in tubes.items():
            counts[annos['labels'][label]] += len(items)
    return counts
