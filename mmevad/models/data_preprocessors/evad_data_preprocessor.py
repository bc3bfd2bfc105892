import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmaction.models.data_preprocessors import ActionDataPreprocessor
from mmaction.registry import MODELS
from mmaction.utils import SampleList
from torch import Tensor


@MODELS.register_module()
class EVADDataPreprocessor(ActionDataPreprocessor):
    """Normalise each clip, then zero-pad the batch to a common size divisible by 32.

    EVAD normalises *before* padding, so the padded area is 0 = the mean colour
    (docs/algorithm.md#batching); mmaction's ``ActionDataPreprocessor`` pads raw pixels first (pad
    -> -mean/std). The padded size is the batch maximum rounded up to ``pad_size_divisor``; each
    sample keeps its unpadded ``img_shape`` (the frame every box is expressed in) and gets
    ``pad_shape`` and ``batch_input_shape``.

    EVAD configs use mean 114.75 / std 57.375 on all channels (0.45 / 0.225 on the 0-1 scale, the
    PySlowFast defaults the released models were trained with, docs/official_behaviours.md#d12).

    Input checks: ``std`` must be positive and finite, ``pad_size_divisor`` a positive int (the
    detector checks that it is a multiple of its largest feature stride, see
    :class:`~mmevad.models.detectors.EVAD`). A batch holding NaN or Inf raises a ``ValueError``
    naming each bad clip's ``video_id`` and ``timestamp`` (training and testing alike: such a
    clip gives NaN losses or NaN predictions that the metric would score). The check costs one
    ``isfinite`` reduction per floating-point batch; integer (decoded JPEG) clips cannot hold
    NaN, so they skip it.

    Args:
        mean (Sequence[float]): per-channel mean, RGB. Defaults to (114.75,) * 3.
        std (Sequence[float]): per-channel std, RGB. Defaults to (57.375,) * 3.
        to_rgb (bool): reverse the channel order first (for BGR inputs). Defaults to False.
        pad_size_divisor (int): padded height and width are multiples of it. Defaults to 32.
        pad_value (float): value of the padded area, after normalisation. Defaults to 0.
    """

    def __init__(self,
                 mean: Sequence[float] = (114.75, 114.75, 114.75),
                 std: Sequence[float] = (57.375, 57.375, 57.375),
                 to_rgb: bool = False,
                 pad_size_divisor: int = 32,
                 pad_value: float = 0.) -> None:
        bad_std = [v for v in std if not (math.isfinite(v) and v > 0)]
        if bad_std:
            raise ValueError(f'EVADDataPreprocessor: std={tuple(std)} must be positive and finite '
                             f'(it divides the pixels); EVAD uses std=(57.375,) * 3 on 0-255 '
                             f'pixels')
        if isinstance(pad_size_divisor, bool) or not isinstance(pad_size_divisor, int) \
                or pad_size_divisor < 1:
            raise ValueError(f'EVADDataPreprocessor: pad_size_divisor must be a positive int, got '
                             f'{pad_size_divisor!r}; use a multiple of the largest feature '
                             f'stride (32 for EVAD)')
        super().__init__(mean=mean, std=std, to_rgb=to_rgb, format_shape='NCTHW')
        self.pad_size_divisor = pad_size_divisor
        self.pad_value = pad_value

    def preprocess(self,
                   inputs: Union[List[Tensor], Tensor],
                   data_samples: SampleList,
                   training: bool = False) -> Tuple[Tensor, SampleList]:
        """Args:
            inputs (list[Tensor] | Tensor): clips ``(3, T, H_i, W_i)`` (any dtype), or a batch.
            data_samples (list[ActionDataSample]): one per clip.

        Returns:
            tuple: ``(B, 3, T, Hp, Wp)`` float32 batch and the data samples.
        """
        clips = list(inputs.unbind(0)) if isinstance(inputs, Tensor) else list(inputs)
        floating_input = any(clip.is_floating_point() for clip in clips)
        for i, clip in enumerate(clips):
            if clip.dim() != 4 or clip.shape[0] != 3:
                raise ValueError(
                    f'clip {i} has shape {tuple(clip.shape)}; EVADDataPreprocessor takes '
                    f"(3, T, H, W) clips: use FormatShape(input_format='NCTHW', collapse=True)")
            if self.to_rgb:
                clip = clip.flip(0)
            clips[i] = (clip.float() - self.mean) / self.std
        # pad H and W only (mmengine's stack_batch would round T up to the divisor as well)
        divisor = self.pad_size_divisor
        pad_h = -(-max(clip.shape[-2] for clip in clips) // divisor) * divisor
        pad_w = -(-max(clip.shape[-1] for clip in clips) // divisor) * divisor
        batch = torch.stack([
            F.pad(clip, (0, pad_w - clip.shape[-1], 0, pad_h - clip.shape[-2]),
                  value=self.pad_value) for clip in clips
        ])
        if floating_input and not bool(torch.isfinite(batch).all()):
            raise ValueError(_non_finite_message(batch, data_samples))
        if data_samples is not None:
            pad_shape = tuple(batch.shape[-2:])
            for data_sample, clip in zip(data_samples, clips):
                data_sample.set_metainfo(dict(pad_shape=pad_shape, batch_input_shape=pad_shape))
                if 'img_shape' not in data_sample:
                    data_sample.set_metainfo(dict(img_shape=tuple(clip.shape[-2:])))
        return batch, data_samples


def _non_finite_message(batch: Tensor, data_samples: Optional[SampleList]) -> str:
    """Name every clip of ``batch`` ``(B, 3, T, H, W)`` that holds NaN or Inf (failure path
    only, so the per-clip work costs nothing on good batches)."""
    bad = (~torch.isfinite(batch.flatten(1))).sum(1)
    names = []
    for i in bad.nonzero().flatten().tolist():
        meta = data_samples[i].metainfo if data_samples is not None else {}
        where = ', '.join(f'{k}={meta[k]!r}' for k in ('video_id', 'timestamp') if k in meta)
        names.append(f'clip {i} ({where or "no video_id/timestamp in its metainfo"}): '
                     f'{bad[i].item()} NaN/Inf values')
    return ('EVADDataPreprocessor: non-finite pixels in ' + '; '.join(names) +
            '. Check the frames or video of that sample (tools/analysis_tools/check_dataset.py '
            'checks a whole dataset), or leave it out with the exclude_file')
