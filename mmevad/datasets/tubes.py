"""ACT-style tube ground truth (UCF101-24, JHMDB-21, MultiSports) to the files of mmaction2's
``AVADataset``.

The tube datasets ship one pickle (the format of ACT, MOC and MultiSports; what mmaction2's
``MultiSportsMetric`` reads)::

    labels        list[str]                       class names, label k = labels[k]
    gttubes       {video: {label: [tube, ...]}}   tube: (n, 5) float, rows (frame, x1, y1, x2, y2)
                                                  in pixels, frames 1-based and increasing
    nframes       {video: int}                    frames of the video
    train_videos  [[video, ...], ...]             one list per split
    test_videos   [[video, ...], ...]
    resolution    {video: (height, width)}

and a folder of frames per video. Every frame of a tube is annotated, so every such frame is a
keyframe here (AVADataset with ``fps=1``: a "timestamp" is a frame number), not one per second
as in AVA. :func:`convert_tubes_to_ava` writes, for one split:

- ``<prefix>_train.csv`` / ``<prefix>_val.csv``: ``video,frame,x1,y1,x2,y2,label + 1,tube_id``
  with the box divided by the frame size. Labels are written 1-based because mmevad's action
  head keeps AVA's layout (score column 0 unused); :class:`~mmevad.evaluation.TubeMAPMetric`
  maps them back to the 0-based labels of the pickle. ``tube_id`` numbers the tubes of a video.
- ``<prefix>_{train,val}_excluded_timestamps.csv``: empty (the tube datasets exclude nothing);
  list ``video,frame`` rows there to drop frames.
- ``<prefix>_action_list.pbtxt``: the label map (ids 1..K, the pickle's names).

The validation CSV holds every annotated frame of the test videos, as mmaction2's MultiSports
data preparation (``tools/data/multisports/parse_anno.py``) does; ``train_keyframe_stride`` can
thin out the training frames.
"""
import os
import os.path as osp
import pickle
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    'TubeAnnotationError', 'TubeAVAFiles', 'load_tube_annotations', 'check_tube_annotations',
    'split_videos', 'tube_rows', 'tube_label_map_text', 'check_frame_folders',
    'convert_tubes_to_ava'
]

REQUIRED_KEYS = ('labels', 'gttubes', 'nframes', 'train_videos', 'test_videos', 'resolution')


class TubeAnnotationError(ValueError):
    """A tube ground-truth pickle, or its frames, cannot be converted; the message names the
    video, label or tube and what to fix."""


@dataclass(frozen=True)
class TubeAVAFiles:
    """What :func:`convert_tubes_to_ava` wrote (absolute paths) and the counts.

    Attributes:
        ann_file_train, ann_file_val (str): the CSVs.
        exclude_file_train, exclude_file_val (str): the (empty) exclusion lists.
        label_file (str): the ``.pbtxt`` label map, ids 1..K.
        num_classes (int): K, the RoI head's ``num_classes`` (AVADataset takes K + 1).
        train_videos, val_videos (tuple[str]): the split's videos.
        train_rows, val_rows (int): CSV rows (one per box; each box has one label).
    """
    ann_file_train: str
    ann_file_val: str
    exclude_file_train: str
    exclude_file_val: str
    label_file: str
    num_classes: int
    train_videos: Tuple[str, ...]
    val_videos: Tuple[str, ...]
    train_rows: int
    val_rows: int


def load_tube_annotations(path: str) -> dict:
    """Read and check a tube ground-truth pickle (see the module docstring).

    Raises:
        TubeAnnotationError: a missing key or an inconsistent tube (see
            :func:`check_tube_annotations`).
    """
    if not osp.isfile(path):
        raise TubeAnnotationError(f'no tube ground-truth pickle at {path}')
    with open(path, 'rb') as f:
        # the ACT pickles of UCF101-24 / JHMDB were written by Python 2
        annos = pickle.load(f, encoding='latin1')
    check_tube_annotations(annos, source=path)
    return annos


def check_tube_annotations(annos: dict, source: str = 'the annotations') -> None:
    """Check what the converter and the metric rely on.

    Every tube must have a label in ``range(len(labels))``, increasing frame numbers in
    ``1..nframes`` of its video and boxes with ``x1 < x2``, ``y1 < y2`` that overlap the frame;
    every video of a split must have ``nframes``, ``resolution`` and an entry in ``gttubes``.

    Raises:
        TubeAnnotationError: naming the first problem found.
    """
    if not isinstance(annos, dict):
        raise TubeAnnotationError(f'{source} is a {type(annos).__name__}, not the dict of an '
                                  f'ACT-style ground-truth pickle (keys {REQUIRED_KEYS})')
    missing = [k for k in REQUIRED_KEYS if k not in annos]
    if missing:
        raise TubeAnnotationError(f'{source} lacks {missing}; an ACT-style ground-truth pickle '
                                  f'has the keys {REQUIRED_KEYS}')
    num_labels = len(annos['labels'])
    for video, tubes_by_label in annos['gttubes'].items():
        if video not in annos['nframes'] or video not in annos['resolution']:
            raise TubeAnnotationError(f'{source}: video {video!r} has tubes but no nframes or '
                                      'resolution entry')
        nframes = int(annos['nframes'][video])
        height, width = annos['resolution'][video]
        for label, tubes in tubes_by_label.items():
            if not (isinstance(label, (int, np.integer)) and 0 <= label < num_labels):
                raise TubeAnnotationError(
                    f'{source}: video {video!r} has tubes of label {label!r}, outside the '
                    f'{num_labels} labels (0..{num_labels - 1}) of annos["labels"]; fix the '
                    'label or add the class to "labels"')
            for i, tube in enumerate(tubes):
                _check_tube(np.asarray(tube, dtype=np.float64),
                            f'{source}: video {video!r}, label {label}, tube {i}', nframes,
                            width, height)
    for key in ('train_videos', 'test_videos'):
        for split, videos in enumerate(annos[key], start=1):
            for video in videos:
                if video not in annos['nframes'] or video not in annos['resolution']:
                    raise TubeAnnotationError(f'{source}: {key} of split {split} lists {video!r},'
                                              ' which has no nframes or resolution entry')


def _check_tube(tube: np.ndarray, where: str, nframes: int, width: float,
                height: float) -> None:
    if tube.ndim != 2 or tube.shape[1] != 5 or len(tube) == 0:
        raise TubeAnnotationError(f'{where} has shape {tube.shape}; a tube is (n, 5) rows '
                                  '(frame, x1, y1, x2, y2) with n >= 1')
    frames = tube[:, 0]
    if frames.min() < 1 or frames.max() > nframes:
        raise TubeAnnotationError(
            f'{where} spans frames {int(frames.min())}..{int(frames.max())}, outside the video '
            f'(nframes {nframes}, frames are 1-based); fix the tube or nframes')
    if (np.diff(frames) <= 0).any():
        raise TubeAnnotationError(f'{where}: frame numbers must increase, got '
                                  f'{frames.astype(int).tolist()}')
    boxes = tube[:, 1:]
    bad = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    outside = ((boxes[:, 0] >= width) | (boxes[:, 1] >= height) | (boxes[:, 2] <= 0) |
               (boxes[:, 3] <= 0))
    for name, mask in (('is empty (x2 <= x1 or y2 <= y1)', bad),
                       (f'lies outside the {int(width)}x{int(height)} frame', outside)):
        if mask.any():
            row = int(np.flatnonzero(mask)[0])
            raise TubeAnnotationError(f'{where}: the box {boxes[row].tolist()} of frame '
                                      f'{int(frames[row])} {name}; boxes are pixel x1, y1, x2, '
                                      'y2 of the frame given by "resolution" (height, width)')


def split_videos(annos: dict, split: int = 1) -> Tuple[List[str], List[str]]:
    """The train and test videos of a 1-based ``split`` (UCF101-24 and MultiSports have one,
    JHMDB-21 three)."""
    num_splits = len(annos['test_videos'])
    if not 1 <= split <= num_splits:
        raise TubeAnnotationError(f'split {split} requested; the annotations have {num_splits} '
                                  f'split(s), numbered 1..{num_splits}')
    return list(annos['train_videos'][split - 1]), list(annos['test_videos'][split - 1])


def tube_rows(annos: dict, videos: Sequence[str], keyframe_stride: int = 1,
              decimals: int = 4) -> List[str]:
    """AVA CSV rows (with newlines) of every annotated frame of ``videos``.

    Args:
        annos (dict): checked annotations.
        videos (Sequence[str]): videos to write, in this order.
        keyframe_stride (int): keep the frames whose number minus one is a multiple of this
            (1: every annotated frame).
        decimals (int): decimals of the normalised box corners. 4 keeps the rounding error
            under 0.1 pixel up to 1920 pixels (AVA's CSVs use 3). Defaults to 4.

    Returns:
        list[str]: ``video,frame,x1,y1,x2,y2,label + 1,tube_id`` sorted by video (as given),
        frame, tube; corners clipped to the frame, then divided by its width / height.
    """
    if keyframe_stride < 1:
        raise ValueError(f'keyframe_stride must be >= 1, got {keyframe_stride}')
    rows = []
    for video in videos:
        height, width = annos['resolution'][video]
        scale = np.array([width, height, width, height], dtype=np.float64)
        records = []
        tube_id = 0
        for label in sorted(annos['gttubes'].get(video, {})):
            for tube in annos['gttubes'][video][label]:
                tube = np.asarray(tube, dtype=np.float64)
                for frame, *box in tube:
                    if (int(frame) - 1) % keyframe_stride:
                        continue
                    box = np.clip(np.array(box), 0, scale) / scale
                    records.append((int(frame), tube_id, label, box))
                tube_id += 1
        for frame, tube_id, label, box in sorted(records, key=lambda r: r[:2]):
            corners = ','.join(f'{v:.{decimals}f}' for v in box)
            rows.append(f'{video},{frame},{corners},{label + 1},{tube_id}\n')
    return rows


def tube_label_map_text(labels: Sequence[str]) -> str:
    """AVA label map (``.pbtxt``) with ids 1..K for the 0-based ``labels``."""
    return ''.join(f'item {{\n  name: "{name}"\n  id: {i}\n}}\n'
                   for i, name in enumerate(labels, start=1))


def check_frame_folders(annos: dict, videos: Sequence[str], frame_root: str,
                        filename_tmpl: str = 'img_{:05}.jpg', start_index: int = 1) -> None:
    """Check that every video has a frame folder with its first and last frame.

    Args:
        frame_root (str): folder holding ``<video>/`` frame folders (AVADataset's
            ``data_prefix.img``).
        filename_tmpl (str): frame file name of a frame index. Defaults to ``'img_{:05}.jpg'``.
        start_index (int): file index of frame 1. Defaults to 1.

    Raises:
        TubeAnnotationError: naming the first video whose folder or frames are missing.
    """
    for video in videos:
        folder = osp.join(frame_root, video)
        if not osp.isdir(folder):
            raise TubeAnnotationError(
                f'no frame folder for video {video!r}: {folder} does not exist; extract the '
                f'frames there (or pass the right frame root)')
        last = int(annos['nframes'][video])
        for index in (start_index, last - 1 + start_index):
            path = osp.join(folder, filename_tmpl.format(index))
            if not osp.isfile(path):
                raise TubeAnnotationError(
                    f'video {video!r} has {last} frames but {path} is missing; check the '
                    f'frame file names (filename_tmpl={filename_tmpl!r}, frame 1 = index '
                    f'{start_index})')


def convert_tubes_to_ava(gt_file: str,
                         out_dir: str,
                         prefix: str,
                         split: int = 1,
                         frame_root: Optional[str] = None,
                         filename_tmpl: str = 'img_{:05}.jpg',
                         start_index: int = 1,
                         train_keyframe_stride: int = 1) -> TubeAVAFiles:
    """Write the AVADataset files of one split of a tube dataset (module docstring).

    Args:
        gt_file (str): the ACT-style ground-truth pickle.
        out_dir (str): where to write (created if needed).
        prefix (str): file name prefix, e.g. ``'ucf101_24_split1'``.
        split (int): 1-based split. Defaults to 1.
        frame_root (str, optional): if given, check that every video of the split has its
            frames there (see :func:`check_frame_folders`).
        filename_tmpl (str): frame file names, for the check. Defaults to ``'img_{:05}.jpg'``.
        start_index (int): file index of frame 1, for the check. Defaults to 1.
        train_keyframe_stride (int): keep every n-th annotated training frame. Defaults to 1.

    Returns:
        TubeAVAFiles: the written paths and counts.
    """
    annos = load_tube_annotations(gt_file)
    train_videos, val_videos = split_videos(annos, split)
    if frame_root is not None:
        check_frame_folders(annos, train_videos + val_videos, frame_root, filename_tmpl,
                            start_index)
    out_dir = osp.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    paths: Dict[str, str] = {}
    counts = {}
    for split_name, videos, stride in (('train', train_videos, train_keyframe_stride),
                                       ('val', val_videos, 1)):
        rows = tube_rows(annos, videos, stride)
        paths[f'ann_file_{split_name}'] = osp.join(out_dir, f'{prefix}_{split_name}.csv')
        paths[f'exclude_file_{split_name}'] = osp.join(
            out_dir, f'{prefix}_{split_name}_excluded_timestamps.csv')
        with open(paths[f'ann_file_{split_name}'], 'w') as f:
            f.writelines(rows)
        open(paths[f'exclude_file_{split_name}'], 'w').close()
        counts[f'{split_name}_rows'] = len(rows)
    label_file = osp.join(out_dir, f'{prefix}_action_list.pbtxt')
    with open(label_file, 'w') as f:
        f.write(tube_label_map_text(annos['labels']))
    return TubeAVAFiles(
        label_file=label_file,
        num_classes=len(annos['labels']),
        train_videos=tuple(train_videos),
        val_videos=tuple(val_videos),
        **paths,
        **counts)
