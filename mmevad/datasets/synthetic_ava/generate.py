"""Write a synthetic dataset in the genuine AVA v2.2 layout, readable by mmaction2's
``AVADataset`` and scored by ``AVAMetric``.

Layout under ``out_dir`` (the AVA layout of ``data/ava``)::

    rawframes/<video_id>/img_00001.jpg ...          30 fps, frame k shows 900 + (k - 1) / 30 s
    annotations/ava_{train,val}_v2.2.csv            video_id,0902,x1,y1,x2,y2,action_id,person_id
    annotations/ava_{train,val}_excluded_timestamps_v2.2.csv      video_id,0905
    annotations/ava_action_list_v2.2_synthetic.pbtxt              the classes used, real AVA ids
    annotations/ava_dense_proposals_{train,val}.synthetic.pkl     optional person proposals
    synthetic_ava.json                               the parameters and counts (also a marker)

Train and val are split by video: different video ids and independent random draws. Each video
is drawn from its own generator seeded with ``(seed, split, index)``, so it does not depend on how
many other videos are generated.
"""
import json
import os
import os.path as osp
import pickle
import shutil
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from .motion import annotate_keyframes, sample_proposals, simulate_distractor, simulate_figure
from .render import render_frames
from .scene import (ACTION_NAMES, CLASS_IDS, FIRST_KEYFRAME, FPS, TIMESTAMP_START, Scene,
                    SceneConfig, frame_index, keyframe_timestamps, num_frames, sample_scene)

__all__ = ['SyntheticAVAFiles', 'generate_synthetic_ava', 'label_map_text', 'simulate_video']

MARKER = 'synthetic_ava.json'
FORMAT_VERSION = 1
_SPLITS = ('train', 'val')


@dataclass(frozen=True)
class SyntheticAVAFiles:
    """What :func:`generate_synthetic_ava` wrote: the dataset's paths (absolute), classes and
    videos, ready for mmaction2 configs.

    Attributes:
        root (str): the output directory.
        data_root (str): the rawframes directory: ``data_prefix=dict(img=data_root)``.
        ann_file_train (str): ``ava_train_v2.2.csv``.
        ann_file_val (str): ``ava_val_v2.2.csv``.
        exclude_file_train (str): ``ava_train_excluded_timestamps_v2.2.csv``.
        exclude_file_val (str): ``ava_val_excluded_timestamps_v2.2.csv``.
        label_file (str): the ``.pbtxt`` label map of the classes used.
        proposal_file_train (str, optional): train proposals ``.pkl``; None without proposals.
        proposal_file_val (str, optional): val proposals ``.pkl``; None without proposals.
        class_ids (tuple[int]): AVA action ids used (columns of the 81-wide score matrix).
        class_names (tuple[str]): their AVA names.
        train_video_ids (tuple[str]): train videos.
        val_video_ids (tuple[str]): val videos.
    """
    root: str
    data_root: str
    ann_file_train: str
    ann_file_val: str
    exclude_file_train: str
    exclude_file_val: str
    label_file: str
    proposal_file_train: Optional[str]
    proposal_file_val: Optional[str]
    class_ids: Tuple[int, ...]
    class_names: Tuple[str, ...]
    train_video_ids: Tuple[str, ...]
    val_video_ids: Tuple[str, ...]


def label_map_text(class_ids=CLASS_IDS) -> str:
    """AVA label map (``.pbtxt``) text for the given action ids, in the format of
    ``ava_action_list_v2.2_for_activitynet_2019.pbtxt`` that ``read_labelmap`` parses."""
    return ''.join(f'item {{\n  name: "{ACTION_NAMES[i]}"\n  id: {i}\n}}\n' for i in class_ids)


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f'{name} must be an int, got {type(value).__name__} {value!r}')
    if value < minimum:
        raise ValueError(f'{name} must be >= {minimum}, got {value}')


def _prepare_out_dir(out_dir: str) -> None:
    """Create ``out_dir``, or clear a previous synthetic dataset in it; refuse other content."""
    if osp.isdir(out_dir) and os.listdir(out_dir):
        if not osp.isfile(osp.join(out_dir, MARKER)):
            raise ValueError(f'{out_dir} is not empty and holds no {MARKER} (it was not written '
                             'by generate_synthetic_ava); pass an empty or new directory')
        for name in ('rawframes', 'annotations'):
            shutil.rmtree(osp.join(out_dir, name), ignore_errors=True)
        os.remove(osp.join(out_dir, MARKER))
    os.makedirs(out_dir, exist_ok=True)


def simulate_video(seed: int, split: str, index: int, height: int, width: int, seconds: int,
                   scene_config: SceneConfig = SceneConfig()) -> Tuple[Scene, list, list]:
    """The scene and simulated tracks of one video of :func:`generate_synthetic_ava` (same
    arguments; ``split`` is ``'train'`` or ``'val'``, ``index`` the video's number in it).

    Returns:
        tuple: the :class:`Scene`, its figure tracks and its distractor tracks; ``FigureTrack``
        ``boxes[k]`` is the tight pixel box of a figure as drawn on frame file ``k + 1``.
    """
    video_id = f'synth_{split}_{index:03d}'
    scene = sample_scene(np.random.default_rng([seed, _SPLITS.index(split), index, 0]),
                         video_id, height, width, seconds, scene_config)
    figure_tracks = [simulate_figure(f, scene.seconds, scene.width) for f in scene.figures]
    distractor_tracks = [
        simulate_distractor(d, scene.seconds, scene.width, scene.height)
        for d in scene.distractors
    ]
    return scene, figure_tracks, distractor_tracks


def _write_video(scene: Scene, figure_tracks: list, distractor_tracks: list, frame_dir: str,
                 jpeg_quality: int,
                 proposal_rng: Optional[np.random.Generator]) -> Tuple[list, dict]:
    """Render and write one simulated video; return its keyframe annotations and proposals."""
    os.makedirs(frame_dir, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
    for k, frame in enumerate(render_frames(scene, figure_tracks, distractor_tracks), start=1):
        path = osp.join(frame_dir, f'img_{k:05d}.jpg')
        if not cv2.imwrite(path, frame, params):
            raise OSError(f'OpenCV could not write {path}')
    people = annotate_keyframes(scene, figure_tracks)
    proposals = {}
    if proposal_rng is not None:
        size = np.array([scene.width, scene.height] * 2, dtype=np.float64)
        for ts in keyframe_timestamps(scene.seconds):
            k = frame_index(ts)
            dis_boxes = np.array([tr.boxes[k] for tr in distractor_tracks]).reshape(-1, 4)
            at_ts = [p for p in people if p.timestamp == ts]
            proposals[f'{scene.video_id},{ts:04d}'] = sample_proposals(
                proposal_rng, at_ts, dis_boxes / size)
    return people, proposals


def _csv_rows(video_id: str, people, excluded) -> List[str]:
    rows = []
    for p in people:
        if p.timestamp in excluded:
            continue  # excluded keyframes carry no ground truth (see AVAMetric's gt_count)
        x1, y1, x2, y2 = p.box
        for label in p.labels:
            rows.append(f'{video_id},{p.timestamp:04d},{x1:.3f},{y1:.3f},{x2:.3f},{y2:.3f},'
                        f'{label},{p.person_id}\n')
    return rows


def generate_synthetic_ava(out_dir: str,
                           *,
                           num_train_videos: int = 12,
                           num_val_videos: int = 4,
                           seconds: int = 10,
                           height: int = 144,
                           width: int = 192,
                           seed: int = 0,
                           with_proposals: bool = True,
                           jpeg_quality: int = 90,
                           scene_config: SceneConfig = SceneConfig()) -> SyntheticAVAFiles:
    """Generate a synthetic AVA-format spatio-temporal action detection dataset.

    Videos show 2-3 stick figures of varying size on textured backgrounds with moving
    non-person shapes. Each figure stands, walks, runs or jumps, and may wave a hand while
    standing or walking (AVA ids 12, 14, 10, 7, 69); actions last 2-5 s. One frame does not
    tell the action: a standing figure holds a frozen frame of a walk, run or jump, possibly
    with a raised arm. A keyframe's labels are what the figure does during most of the +-1 s
    around it; its box is the tight box of the drawn figure at the keyframe.

    The output is a deterministic function of the arguments (same seed, same bytes). The
    default (12 + 4 videos of 10 annotated seconds at 192x144, 5776 JPEG frames, 46 MB) takes
    about 6 s of CPU time, mostly JPEG encoding. A video's content depends only on
    ``(seed, split, index)`` and the frame size, so adding training videos leaves the
    validation videos unchanged.

    Args:
        out_dir (str): output directory; must be empty, new, or hold an earlier output of this
            function (which is replaced).
        num_train_videos (int): training videos. Defaults to 12.
        num_val_videos (int): validation videos. Defaults to 4.
        seconds (int): annotated keyframes per video (902, 903, ...). Defaults to 10.
        height (int): frame height in pixels. Defaults to 144.
        width (int): frame width in pixels. Defaults to 192.
        seed (int): random seed. Defaults to 0.
        with_proposals (bool): also write person proposal pickles (for two-stage detectors
            such as mmdet's FastRCNN). Defaults to True.
        jpeg_quality (int): JPEG quality of the frames. Defaults to 90.
        scene_config (SceneConfig): crowding and action statistics. Defaults to the documented
            default.

    Returns:
        SyntheticAVAFiles: the written paths, classes and video ids.
    """
    _check_int('num_train_videos', num_train_videos, 1)
    _check_int('num_val_videos', num_val_videos, 1)
    _check_int('seconds', seconds, 1)
    _check_int('height', height, 48)
    _check_int('width', width, 48)
    _check_int('seed', seed, 0)
    _check_int('jpeg_quality', jpeg_quality, 1)
    if jpeg_quality > 100:
        raise ValueError(f'jpeg_quality must be <= 100, got {jpeg_quality}')
    scene_config.validate()

    out_dir = osp.abspath(out_dir)
    _prepare_out_dir(out_dir)
    data_root = osp.join(out_dir, 'rawframes')
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    paths: Dict[str, Optional[str]] = {}
    video_ids: Dict[str, Tuple[str, ...]] = {}
    counts: Dict[str, dict] = {}
    for split_code, (split, n_videos) in enumerate(zip(_SPLITS,
                                                       (num_train_videos, num_val_videos))):
        rows, excluded_rows, proposals, ids = [], [], {}, []
        n_keyframes = n_boxes = 0
        for index in range(n_videos):
            scene, figure_tracks, distractor_tracks = simulate_video(
                seed, split, index, height, width, seconds, scene_config)
            video_id = scene.video_id
            proposal_rng = np.random.default_rng([seed, split_code, index, 1]) \
                if with_proposals else None
            people, video_proposals = _write_video(scene, figure_tracks, distractor_tracks,
                                                   osp.join(data_root, video_id), jpeg_quality,
                                                   proposal_rng)
            excluded = set(scene.excluded_timestamps)
            rows += _csv_rows(video_id, people, excluded)
            excluded_rows += [f'{video_id},{ts:04d}\n' for ts in scene.excluded_timestamps]
            proposals.update(video_proposals)
            ids.append(video_id)
            kept = [p for p in people if p.timestamp not in excluded]
            n_keyframes += len({p.timestamp for p in kept})
            n_boxes += len(kept)
        paths[f'ann_file_{split}'] = osp.join(ann_dir, f'ava_{split}_v2.2.csv')
        paths[f'exclude_file_{split}'] = osp.join(ann_dir,
                                                  f'ava_{split}_excluded_timestamps_v2.2.csv')
        with open(paths[f'ann_file_{split}'], 'w') as f:
            f.writelines(rows)
        with open(paths[f'exclude_file_{split}'], 'w') as f:
            f.writelines(excluded_rows)
        paths[f'proposal_file_{split}'] = None
        if with_proposals:
            paths[f'proposal_file_{split}'] = osp.join(
                ann_dir, f'ava_dense_proposals_{split}.synthetic.pkl')
            with open(paths[f'proposal_file_{split}'], 'wb') as f:
                pickle.dump(proposals, f, protocol=4)
        video_ids[split] = tuple(ids)
        counts[split] = dict(
            videos=len(ids),
            keyframes=n_keyframes,
            boxes=n_boxes,
            csv_rows=len(rows),
            excluded=len(excluded_rows))

    label_file = osp.join(ann_dir, 'ava_action_list_v2.2_synthetic.pbtxt')
    with open(label_file, 'w') as f:
        f.write(label_map_text())
    metadata = dict(
        generator='mmevad.datasets.synthetic_ava',
        format_version=FORMAT_VERSION,
        seed=seed,
        seconds=seconds,
        height=height,
        width=width,
        fps=FPS,
        timestamp_start=TIMESTAMP_START,
        first_keyframe=FIRST_KEYFRAME,
        frames_per_video=num_frames(seconds),
        jpeg_quality=jpeg_quality,
        with_proposals=with_proposals,
        scene_config=asdict(scene_config),
        classes={str(i): ACTION_NAMES[i] for i in CLASS_IDS},
        splits={s: dict(video_ids=list(video_ids[s]), **counts[s]) for s in _SPLITS})
    with open(osp.join(out_dir, MARKER), 'w') as f:  # relative content only: byte-reproducible
        json.dump(metadata, f, indent=2)
        f.write('\n')
    return SyntheticAVAFiles(
        root=out_dir,
        data_root=data_root,
        label_file=label_file,
        class_ids=CLASS_IDS,
        class_names=tuple(ACTION_NAMES[i] for i in CLASS_IDS),
        train_video_ids=video_ids['train'],
        val_video_ids=video_ids['val'],
        **paths)
