"""The one box clip of EVAD's pixel boxes (docs/algorithm.md#test-output,
docs/algorithm.md#roi-extension)."""
from typing import Sequence

import torch
from torch import Tensor

__all__ = ['clip_bboxes']


def clip_bboxes(bboxes: Tensor, img_shape: Sequence[int]) -> Tensor:
    """Clip pixel xyxy boxes to ``[0, w - 1] x [0, h - 1]``.

    EVAD's convention: pixel coordinates are inclusive, so the last pixel of a ``w``-wide clip is
    ``w - 1`` (mmdet's ``HorizontalBoxes.clip_`` stops at ``w``). Used for the localization head's
    test-time boxes and after the RoI extension.

    Args:
        bboxes (Tensor): ``(..., 4)`` pixel xyxy of the resized, unpadded clip.
        img_shape (Sequence[int]): ``(h, w, ...)`` of that clip.

    Returns:
        Tensor: ``(..., 4)`` clipped boxes; ``bboxes`` is not modified.
    """
    h, w = img_shape[:2]
    x1, y1, x2, y2 = bboxes.unbind(-1)
    return torch.stack((x1.clamp(0, w - 1), y1.clamp(0, h - 1), x2.clamp(0, w - 1),
                        y2.clamp(0, h - 1)), dim=-1)
