"""Box arithmetic of the action branch: RoI extension (docs/algorithm.md#roi-extension) and the
AVAMetric box frame."""
from typing import Sequence, Tuple

import torch
from torch import Tensor

from mmevad.structures import clip_bboxes

__all__ = ['extend_bboxes', 'bboxes_to_unit']


def extend_bboxes(bboxes: Tensor, img_shape: Tuple[int, int],
                  extension: Sequence[float] = (0.4, 0.2)) -> Tensor:
    """Enlarge boxes about their centre, then clip them to the image
    (docs/algorithm.md#roi-extension).

    With ``extension = (sx, sy)`` and the inclusive-pixel sizes ``bw = x2 - x1 + 1``,
    ``bh = y2 - y1 + 1``, a box becomes ``(x1 - sx*bw/2, y1 - sy*bh/2, x2 + sx*bw/2,
    y2 + sy*bh/2)`` (``(0.4, 0.2)``: 40 % wider, 20 % taller), clipped to
    ``[0, w - 1] x [0, h - 1]``. ``(0, 0)`` only clips.

    Args:
        bboxes (Tensor): ``(P, 4)`` pixel xyxy boxes of the resized, unpadded clip.
        img_shape (tuple[int, int]): ``(h, w)`` of that clip.
        extension (Sequence[float]): ``(sx, sy)`` total relative enlargement of width and
            height. Defaults to ``(0.4, 0.2)``.

    Returns:
        Tensor: ``(P, 4)`` new boxes; ``bboxes`` is not modified.
    """
    sx, sy = extension
    x1, y1, x2, y2 = bboxes.unbind(-1)
    dx = sx * (x2 - x1 + 1) / 2
    dy = sy * (y2 - y1 + 1) / 2
    return clip_bboxes(torch.stack((x1 - dx, y1 - dy, x2 + dx, y2 + dy), dim=-1), img_shape)


def bboxes_to_unit(bboxes: Tensor, img_meta: dict) -> Tensor:
    """Map pixel boxes of the model input to the ``[0, 1]`` frame that ``AVAMetric`` reads.

    Boxes are kept inside ``[0, w] x [0, h]`` of ``img_meta['img_shape']``, the bounds of the
    ``[0, 1]`` frame, and divided by it. This is no image clip: a proposal read from a file may end
    at ``w`` and keeps it, and ``EVAD`` clips its boxes to the last pixel ``w - 1`` before
    (``clip_bboxes``, docs/algorithm.md#test-output). If the pipeline recorded them, a horizontal
    ``flip`` (mmaction ``Flip``: ``x' = w - x``) and a ``crop_quadruple`` ``(x, y, w, h)`` are
    undone, as mmaction2's ``BBoxHeadAVA`` does, but on a new tensor.

    Args:
        bboxes (Tensor): ``(P, 4)`` pixel xyxy boxes.
        img_meta (dict): the data sample's metainfo; needs ``img_shape``.

    Returns:
        Tensor: ``(P, 4)`` xyxy boxes in ``[0, 1]``.
    """
    h, w = img_meta['img_shape']
    x1, y1, x2, y2 = bboxes.unbind(-1)
    x1, x2 = x1.clamp(0, w), x2.clamp(0, w)
    y1, y2 = y1.clamp(0, h), y2.clamp(0, h)
    if img_meta.get('flip', False):
        x1, x2 = w - x2, w - x1
    unit = torch.stack((x1 / w, y1 / h, x2 / w, y2 / h), dim=-1)
    crop = img_meta.get('crop_quadruple')
    if crop is not None:
        cx, cy, cw, ch = (float(v) for v in crop)
        unit = unit * unit.new_tensor([cw, ch, cw, ch]) + unit.new_tensor([cx, cy, cx, cy])
    return unit
