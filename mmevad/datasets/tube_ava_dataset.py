"""mmaction2's ``AVADataset`` for datasets annotated on every frame (UCF101-24, JHMDB-21,
MultiSports, your own tubes): see :class:`TubeAVADataset`."""
import os
import os.path as osp
import pickle
from typing import Dict, List, Optional

import numpy as np
from mmaction.datasets import AVADataset
from mmaction.registry import DATASETS

__all__ = ['TubeAVADataset']


@DATASETS.register_module()
class TubeAVADataset(AVADataset):
    """``AVADataset`` whose timestamps are frame numbers and whose clips stay inside each video.

    The CSVs of :func:`mmevad.datasets.convert_tubes_to_ava` (``video,frame,x1,y1,x2,y2,label,
    tube_id``, frames 1-based) are read by ``AVADataset`` with ``fps=1``, as mmaction2's
    MultiSports configs read theirs. What ``AVADataset`` cannot do for frame folders, and this
    class adds:

    - **Clips end at the video's own first and last frame.** ``AVADataset`` bounds every clip by
      one dataset-wide range, ``(timestamp_end - timestamp_start) * fps`` frames (AVA's
      15-minute clips); the tube datasets' videos have different lengths (JHMDB 15-40 frames,
      UCF101-24 and MultiSports hundreds), so ``SampleAVAFrames`` would read frame files past the
      end of a short video, or a frame 0 that does not exist. Here each sample gets the
      ``shot_info`` of its video, so frames beyond either end repeat the first or last frame.
      (mmaction2's MultiSports configs decode videos, where ``DecordInit``'s ``total_frames``
      does this.)
    - ``all_frames=True`` (for testing) also runs the frames of the listed videos that carry no
      box, with empty ground truth: the protocol of ACT and MOC on untrimmed UCF101-24, where a
      detection outside every tube is a false positive and video tubes may start and end
      anywhere. The default (False) runs the annotated frames only, as mmaction2's MultiSports
      configs do. On JHMDB-21 every frame is annotated, so both are the same.

    ``fps=1``, ``start_index=0`` and ``timestamp_start`` are set from ``first_frame_index``:
    frame ``t`` of a video is the file ``filename_tmpl.format(t - 1 + first_frame_index)``.

    Args:
        gt_file (str, optional): the ACT-style ground-truth pickle; its ``nframes`` gives each
            video's frame count. Without it, the files in each frame folder are counted.
        first_frame_index (int): file index of frame 1 (1 for ACT's ``00001.jpg`` and for
            ``img_00001.jpg``). Defaults to 1.
        all_frames (bool): also yield the unannotated frames of the listed videos. Defaults to
            False.
        **kwargs: ``AVADataset`` arguments (``ann_file``, ``pipeline``, ``label_file``,
            ``exclude_file``, ``num_classes`` = K + 1, ``data_prefix``, ``filename_tmpl``,
            ``test_mode``, ...). ``fps``, ``start_index``, ``timestamp_start`` and ``use_frames``
            are fixed by this class.
    """

    def __init__(self,
                 *args,
                 gt_file: Optional[str] = None,
                 first_frame_index: int = 1,
                 all_frames: bool = False,
                 **kwargs) -> None:
        fixed = [k for k in ('fps', 'start_index', 'timestamp_start', 'use_frames') if k in kwargs]
        if fixed:
            raise ValueError(f'TubeAVADataset sets {fixed} itself (timestamps are frame '
                             'numbers); set first_frame_index to the file index of frame 1')
        self.gt_file = gt_file
        self.first_frame_index = first_frame_index
        self.all_frames = all_frames
        self._nframes: Dict[str, int] = {}
        if gt_file is not None:
            with open(gt_file, 'rb') as f:
                self._nframes = {
                    k: int(v) for k, v in pickle.load(f, encoding='latin1')['nframes'].items()
                }
        super().__init__(
            *args,
            fps=1,
            start_index=0,
            # SampleAVAFrames centres the clip on file index fps * (t - timestamp_start)
            timestamp_start=1 - first_frame_index,
            use_frames=True,
            **kwargs)

    def num_frames(self, video_id: str, frame_dir: str) -> int:
        """Frames of a video: ``nframes`` of ``gt_file``, else the files in its folder."""
        if video_id not in self._nframes:
            if self.gt_file is not None:
                raise KeyError(f'video {video_id!r} of {self.ann_file} has no nframes entry in '
                               f'{self.gt_file}')
            if not osp.isdir(frame_dir):
                raise FileNotFoundError(f'no frame folder {frame_dir} for video {video_id!r}')
            self._nframes[video_id] = len(os.listdir(frame_dir))
        return self._nframes[video_id]

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        videos: Dict[str, str] = {}
        for info in data_list:
            videos.setdefault(info['video_id'], info['frame_dir'])
        shots = {
            video: (self.first_frame_index,
                    self.num_frames(video, frame_dir) + self.first_frame_index)
            for video, frame_dir in videos.items()
        }
        for info in data_list:
            info['shot_info'] = shots[info['video_id']]
        if not self.all_frames:
            return data_list
        annotated = {(info['video_id'], info['timestamp']) for info in data_list}
        for video, frame_dir in videos.items():
            for t in range(1, shots[video][1] - self.first_frame_index + 1):
                if (video, t) not in annotated:
                    data_list.append(self._unannotated_frame(video, frame_dir, t, shots[video]))
        data_list.sort(key=lambda info: (info['video_id'], info['timestamp']))
        return data_list

    def _unannotated_frame(self, video: str, frame_dir: str, t: int, shot: tuple) -> dict:
        ann = dict(
            gt_bboxes=np.zeros((0, 4), dtype=np.float64),
            gt_labels=np.zeros((0, self.num_classes), dtype=np.float32),
            entity_ids=np.zeros((0, ), dtype=np.int64))
        return dict(frame_dir=frame_dir, video_id=video, timestamp=t, img_key=f'{video},{t:04d}',
                    shot_info=shot, fps=self._FPS, ann=ann)
