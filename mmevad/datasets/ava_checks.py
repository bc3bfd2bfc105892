"""Checks of AVA-format data, shared by :class:`EVADAVADataset`, :class:`CheckedRawFrameDecode`
and ``tools/analysis_tools/check_dataset.py`` (one owner per check).

Ground-truth box rule (:func:`apply_box_rule`): AVA boxes are ``x1, y1, x2, y2`` normalised to
the frame. A box is

- kept as is when ``0 <= x1 < x2 <= 1`` and ``0 <= y1 < y2 <= 1``;
- **clipped** to ``[0, 1]`` when it reaches outside the frame but keeps a positive area inside
  (the official EVAD loader clips to the frame as well);
- **dropped** when a coordinate is not a finite number, when it is inverted (``x1 > x2`` or
  ``y1 > y2``: not guessed to be a swapped or ``x, y, w, h`` row) or when it has zero area
  inside the frame.

Every clipped or dropped box is counted and reported with examples (file and row); nothing is
changed silently.
"""
import contextlib
import math
import os
import os.path as osp
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'AVADataError', 'FrameDecodeError', 'AVARow', 'read_ava_csv', 'box_problem',
    'apply_box_rule', 'BoxReport', 'jpeg_problem', 'decode_frame', 'keyframe_frame_index'
]

BOX_DROPPED = ('non-finite', 'inverted', 'zero area')
BOX_CLIPPED = 'outside the frame'


class AVADataError(ValueError):
    """An AVA annotation file that cannot be used; the message names the file and the row."""


class FrameDecodeError(OSError):
    """A frame file that is missing, empty, truncated or not decodable; names the file."""


@dataclass(frozen=True)
class AVARow:
    """One parsed row of an AVA annotation CSV.

    Attributes:
        line (int): 1-based line number in the file.
        video_id (str): the video.
        timestamp (int): the keyframe (seconds, or frames for ``fps=1`` datasets).
        box (tuple[float]): ``x1, y1, x2, y2`` as written (normalised to the frame).
        action_id (int): the action id (a column of the label matrix).
        person_id (int): the entity id; -1 when the row has only 7 columns.
    """
    line: int
    video_id: str
    timestamp: int
    box: Tuple[float, float, float, float]
    action_id: int
    person_id: int


def read_ava_csv(path: str,
                 num_classes: Optional[int] = None,
                 errors: Optional[List[str]] = None) -> List[AVARow]:
    """Parse an AVA annotation CSV, refusing what mmaction's ``AVADataset`` would trip over.

    Args:
        path (str): ``video_id,timestamp,x1,y1,x2,y2,action_id[,person_id]`` per line.
        num_classes (int, optional): width of the label matrix; an action id must be below it
            (AVA: 81 columns, id 0 unused).
        errors (list[str], optional): if given, each problem is appended to it (and its row
            skipped) instead of raised, to list them all (check_dataset).

    Returns:
        list[AVARow]: the rows in file order (blank lines skipped).

    Raises:
        AVADataError: naming the file and line: an empty file, a row with the wrong number of
            columns or a value that is not a number, or an action id ``< 1`` or
            ``>= num_classes``.
    """
    def fail(message: str) -> None:
        if errors is None:
            raise AVADataError(message)
        errors.append(message)

    if not osp.isfile(path):
        fail(f'annotation file {path} does not exist')
        return []
    rows, num_lines = [], 0
    with open(path) as f:
        for line_no, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            num_lines += 1
            try:
                rows.append(_parse_row(path, line_no, line, num_classes))
            except AVADataError as e:
                fail(str(e))
    if not num_lines:
        fail(f'annotation file {path} has no rows: an AVA CSV lists '
             f'video_id,timestamp,x1,y1,x2,y2,action_id,person_id per line')
    return rows


def _parse_row(path: str, line_no: int, line: str, num_classes: Optional[int]) -> AVARow:
    where = f'{path}, line {line_no} ({line!r})'
    cols = line.split(',')
    if len(cols) not in (7, 8):
        raise AVADataError(f'{where}: {len(cols)} columns, expected 8 '
                           f'(video_id,timestamp,x1,y1,x2,y2,action_id,person_id)')
    try:
        timestamp = int(cols[1])
        box = tuple(float(v) for v in cols[2:6])
        action_id = int(cols[6])
        person_id = int(cols[7]) if len(cols) == 8 else -1
    except ValueError as e:
        raise AVADataError(f'{where}: not a number ({e})') from None
    if action_id < 1:
        raise AVADataError(f'{where}: action id {action_id}; AVA action ids start at 1')
    if num_classes is not None and action_id >= num_classes:
        raise AVADataError(
            f'{where}: action id {action_id} but the dataset has num_classes={num_classes} '
            f'label columns (ids 1..{num_classes - 1}); raise num_classes (81 for AVA) or '
            f'remove the row')
    return AVARow(line_no, cols[0], timestamp, box, action_id, person_id)


def box_problem(box: Sequence[float]) -> Optional[str]:
    """What is wrong with a normalised ``x1, y1, x2, y2`` box, or None.

    Returns:
        str | None: ``'non-finite'``, ``'inverted'``, ``'zero area'`` (also: no area left
        inside the frame) or ``'outside the frame'`` (clippable); checked in that order.
    """
    x1, y1, x2, y2 = box
    if not all(math.isfinite(v) for v in box):
        return 'non-finite'
    if x1 > x2 or y1 > y2:
        return 'inverted'
    if min(x2, 1.) <= max(x1, 0.) or min(y2, 1.) <= max(y1, 0.):
        return 'zero area'
    if min(box) < 0 or max(box) > 1:
        return BOX_CLIPPED
    return None


def apply_box_rule(box: Sequence[float]) -> Tuple[Optional[np.ndarray], Optional[str]]:
    """The module's box rule: ``(box to use or None if dropped, problem or None)``."""
    problem = box_problem(box)
    if problem in BOX_DROPPED:
        return None, problem
    return np.clip(np.asarray(box, dtype=np.float64), 0., 1.), problem


@dataclass
class BoxReport:
    """Counts and examples of the boxes :func:`apply_box_rule` clipped or dropped."""
    path: str
    counts: Counter = field(default_factory=Counter)
    examples: Dict[str, List[str]] = field(default_factory=dict)
    dropped_keyframes: int = 0
    max_examples: int = 3

    def add(self, row: AVARow, problem: str) -> None:
        self.counts[problem] += 1
        examples = self.examples.setdefault(problem, [])
        if len(examples) < self.max_examples:
            examples.append(f'line {row.line} ({row.video_id},{row.timestamp:04d}, '
                            f'box {", ".join(f"{v:g}" for v in row.box)})')

    def __bool__(self) -> bool:
        return bool(self.counts)

    def summary(self) -> str:
        """One paragraph: what was clipped and dropped, with examples."""
        parts = []
        for problem, n in sorted(self.counts.items()):
            action = 'clipped to the frame' if problem == BOX_CLIPPED else 'dropped'
            parts.append(f'{n} {problem} box rows {action}, e.g. '
                         f'{"; ".join(self.examples[problem])}')
        text = f'{self.path}: ' + '. '.join(parts)
        if self.dropped_keyframes:
            text += (f'. {self.dropped_keyframes} keyframes lost all their boxes and are left '
                     f'out')
        return text + ' (rule: mmevad/datasets/ava_checks.py)'


def jpeg_problem(data: bytes) -> Optional[str]:
    """What is structurally wrong with the bytes of a ``.jpg`` file, or None (cheap: no
    decoding). A JPEG starts with the SOI marker ``FFD8`` and ends with EOI ``FFD9``; a file cut
    short (an interrupted copy or extraction) has no EOI, and OpenCV would decode the part it
    has and fill the rest with grey without an error."""
    if len(data) == 0:
        return 'the file is empty (0 bytes)'
    if data[:2] != b'\xff\xd8':
        return 'not a JPEG (no FFD8 start marker)'
    if b'\xff\xd9' not in data[-16:].rstrip(b'\x00\r\n '):
        return 'truncated (no FFD9 end marker: the file was cut short)'
    return None


@contextlib.contextmanager
def _captured_stderr():
    """Collect what C libraries print on file descriptor 2 (libjpeg's warnings)."""
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        out = []
        try:
            yield out
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            out.append(tmp.read().decode(errors='replace'))


def decode_frame(path: str, data: bytes, strict: bool = False) -> np.ndarray:
    """Decode one RGB frame, or raise :class:`FrameDecodeError` naming ``path``.

    Args:
        path (str): the file the bytes came from (for the message; ``.jpg``/``.jpeg`` files
            get the structural check of :func:`jpeg_problem`).
        data (bytes): its content.
        strict (bool): also refuse a JPEG that libjpeg decodes with a "Corrupt JPEG data"
            warning (damage inside the file that it papers over). It redirects file
            descriptor 2 while decoding, so it is meant for offline checks (check_dataset),
            not for data loaders. Defaults to False.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB.
    """
    if path.lower().endswith(('.jpg', '.jpeg')):
        problem = jpeg_problem(data)
        if problem:
            raise FrameDecodeError(f'frame {path}: {problem}')
    elif len(data) == 0:
        raise FrameDecodeError(f'frame {path}: the file is empty (0 bytes)')
    buf = np.frombuffer(data, np.uint8)
    if strict:
        with _captured_stderr() as messages:
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if messages[0].strip():
            raise FrameDecodeError(f'frame {path}: corrupt data inside the file '
                                   f'({messages[0].strip().splitlines()[0]})')
    else:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise FrameDecodeError(f'frame {path}: OpenCV cannot decode it (corrupt or not an '
                               f'image)')
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def keyframe_frame_index(timestamp: float, timestamp_start: float, fps: float,
                         start_index: int) -> int:
    """File number of the frame that shows ``timestamp`` (AVA's keyframe).

    AVA's frames are extracted at ``fps`` from ``timestamp_start`` on and numbered from
    ``start_index``: frame ``start_index + k`` shows ``timestamp_start + k / fps``, so second
    902 of a 30 fps AVA video is ``img_00061.jpg`` (list index 60 in the official loaders).
    """
    return int(round((timestamp - timestamp_start) * fps)) + start_index
