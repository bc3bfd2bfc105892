import os.path as osp
from collections import defaultdict
from typing import List

from mmaction.datasets import AVADataset
from mmaction.registry import DATASETS
from mmengine.logging import MMLogger

from .ava_checks import AVADataError, BoxReport, apply_box_rule, read_ava_csv

__all__ = ['EVADAVADataset']


@DATASETS.register_module()
class EVADAVADataset(AVADataset):
    """mmaction2's ``AVADataset`` that validates its annotation files.

    Same arguments, data infos and samples as ``AVADataset``. Differences:

    - a malformed annotation file is an :class:`~mmevad.datasets.ava_checks.AVADataError`
      naming the file and line (``AVADataset`` says ``need at least one array to
      concatenate`` for an empty file, and an ``IndexError`` naming no row for an action id
      ``>= num_classes``), and so is a malformed exclude file;
    - ground-truth boxes follow the rule of :mod:`mmevad.datasets.ava_checks` — outside the
      frame: clipped to it; inverted, zero-area or non-finite: dropped (a keyframe left without
      boxes is left out) — and every clipped or dropped row is counted and logged once, with
      examples, when the dataset is built (``box_report`` keeps the counts). ``AVADataset``
      keeps them, and training then ignored the unusable ones without a word;
    - in ``test_mode``, inverted boxes are an error before inference: ``AVAMetric`` reads the
      same file and would fail on them after the whole test run, naming no row.
    """

    def load_data_list(self) -> List[dict]:
        """The data infos of ``AVADataset.load_data_list``, from validated rows (it is
        re-implemented because its rows carry no line numbers to report)."""
        check_ids = self.num_classes if self.custom_classes is None else None
        rows = read_ava_csv(self.ann_file, num_classes=check_ids)
        shot_info = (0, (self.timestamp_end - self.timestamp_start) * self._FPS) \
            if self.use_frames else None
        self.box_report = report = BoxReport(self.ann_file)
        records, keyframes = defaultdict(list), set()
        for row in rows:
            label = row.action_id
            if self.custom_classes is not None:
                if label not in self.custom_classes:
                    continue
                label = self.custom_classes.index(label)
            img_key = f'{row.video_id},{row.timestamp:04d}'
            keyframes.add(img_key)
            box, problem = apply_box_rule(row.box)
            if problem is not None:
                report.add(row, problem)
            if box is None:
                continue
            records[img_key].append(
                dict(video_id=row.video_id, timestamp=row.timestamp, entity_box=box,
                     label=label, entity_id=row.person_id, shot_info=shot_info))
        if not keyframes:
            raise AVADataError(f'no row of {self.ann_file} has an action id in custom_classes='
                               f'{self.custom_classes[1:]}')
        report.dropped_keyframes = len(keyframes) - len(records)
        if self.test_mode and report.counts['inverted']:
            raise AVADataError(
                f'{report.summary()}. AVAMetric reads this file and cannot score inverted '
                f'boxes (x1 > x2 or y1 > y2): fix these rows before testing')
        if report:
            MMLogger.get_current_instance().warning(report.summary())

        data_list = []
        for img_key, img_records in records.items():
            video_id, timestamp = img_key.split(',')
            bboxes, labels, entity_ids = self.parse_img_record(img_records)
            frame_dir = video_id
            if self.data_prefix['img'] is not None:
                frame_dir = osp.join(self.data_prefix['img'], video_id)
            info = dict(frame_dir=frame_dir, video_id=video_id, timestamp=int(timestamp),
                        img_key=img_key, shot_info=shot_info, fps=self._FPS,
                        ann=dict(gt_bboxes=bboxes, gt_labels=labels, entity_ids=entity_ids))
            if not self.use_frames:
                info['filename'] = info.pop('frame_dir')
            data_list.append(info)
        return data_list

    def filter_data(self) -> List[dict]:
        """``AVADataset.filter_data`` after checking that every line of the exclude file is
        ``video_id,timestamp`` (it fails on others with an unpacking error naming nothing)."""
        if self.exclude_file is not None:
            with open(self.exclude_file) as f:
                for line_no, line in enumerate(f, start=1):
                    cols = line.strip().split(',')
                    if len(cols) != 2 or not cols[1].strip().isdigit():
                        raise AVADataError(f'{self.exclude_file}, line {line_no} ({line.strip()!r})'
                                           f': expected video_id,timestamp')
        return super().filter_data()
