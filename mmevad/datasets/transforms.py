"""Thin subclasses of mmaction2's AVA loading transforms: the keyframe AVA defines, and frame
errors that name the file."""
import copy
import os.path as osp

import numpy as np
from mmaction.datasets.transforms import RawFrameDecode, SampleAVAFrames
from mmaction.registry import TRANSFORMS
from mmengine.fileio import FileClient

from .ava_checks import FrameDecodeError, decode_frame, keyframe_frame_index

__all__ = ['SampleAVAKeyframeClip', 'CheckedRawFrameDecode']


@TRANSFORMS.register_module()
class SampleAVAKeyframeClip(SampleAVAFrames):
    """mmaction's ``SampleAVAFrames`` centred on AVA's keyframe.

    AVA's frames are extracted at 30 fps from second 900 and numbered from 1, so second ``t``
    is frame file ``(t - 900) * 30 + 1`` (``img_00061.jpg`` for 902; list index
    ``(t - 900) * 30`` in the official EVAD / SlowFast loaders). ``SampleAVAFrames`` adds
    ``start_index`` twice and centres the clip on the next frame (``img_00062.jpg``), 1/30 s
    after the annotated boxes. This class puts the keyframe (:func:`keyframe_frame_index`) at
    clip position ``clip_len // 2``; everything else (offsets ``-clip_len // 2 * interval ..``,
    training jitter, clamping to ``shot_info`` / ``total_frames``, output keys) is
    ``SampleAVAFrames``'.

    Args:
        clip_len (int): frames per clip.
        frame_interval (int): temporal stride. Defaults to 2.
        test_mode (bool): no jitter. Defaults to False.
    """

    def transform(self, results: dict) -> dict:
        start_index = results.get('start_index', 0)
        if results.get('total_frames') is not None:
            shot_info = (0, results['total_frames'])
        else:
            shot_info = results['shot_info']
        # 0-based position of the keyframe among the frames (same as the official list index)
        center = keyframe_frame_index(results['timestamp'], results['timestamp_start'],
                                      results['fps'], 0)
        # same draw as SampleAVAFrames, so the random stream is consumed identically
        skip_offsets = np.random.randint(
            -self.frame_interval // 2, (self.frame_interval + 1) // 2, size=self.clip_len)
        frame_inds = self._get_clips(center, skip_offsets, shot_info)
        results['frame_inds'] = np.array(frame_inds, dtype=np.int32) + start_index
        results['clip_len'] = self.clip_len
        results['frame_interval'] = self.frame_interval
        results['num_clips'] = 1
        results['crop_quadruple'] = np.array([0, 0, 1, 1], dtype=np.float32)
        return results


@TRANSFORMS.register_module()
class CheckedRawFrameDecode(RawFrameDecode):
    """mmaction's ``RawFrameDecode`` whose RGB frame errors name the file and the sample.

    ``RawFrameDecode`` hands the bytes to ``mmcv.imfrombytes``: a zero-byte or undecodable file
    ends in an OpenCV assertion naming no file, a truncated JPEG may be decoded half grey
    without an error. Here each file goes through :func:`decode_frame` (missing, empty,
    truncated — no JPEG end marker —, not decodable) and a frame whose size differs from the
    clip's first is refused. Flow frames are left to ``RawFrameDecode``.

    Args:
        strict (bool): also refuse damage inside a JPEG that libjpeg papers over with a
            "Corrupt JPEG data" warning (see :func:`decode_frame`; it briefly redirects file
            descriptor 2 around each decode). Off by default; ``check_dataset.py`` always
            decodes strictly. Defaults to False.
        io_backend, decoding_backend, **kwargs: as ``RawFrameDecode``; ``decoding_backend``
            must be ``'cv2'``.
    """

    def __init__(self, strict: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.strict = strict

    def transform(self, results: dict) -> dict:
        if results['modality'] != 'RGB':
            return super().transform(results)
        if self.decoding_backend != 'cv2':
            raise ValueError(f"CheckedRawFrameDecode decodes with cv2; got decoding_backend="
                             f"{self.decoding_backend!r} (use RawFrameDecode for other backends)")
        if self.file_client is None:
            self.file_client = FileClient(self.io_backend, **self.kwargs)
        frame_inds = results['frame_inds']
        if frame_inds.ndim != 1:
            frame_inds = results['frame_inds'] = np.squeeze(frame_inds)
        offset = results.get('offset', 0)
        sample = f"{results.get('video_id', '?')},{results.get('timestamp', '?')}"
        decoded, imgs = {}, []
        for frame_idx in frame_inds:
            if frame_idx in decoded:  # each file read once, as RawFrameDecode does
                imgs.append(copy.deepcopy(decoded[frame_idx]))
                continue
            decoded[frame_idx] = self._read(
                results['frame_dir'], results['filename_tmpl'].format(frame_idx + offset), sample)
            imgs.append(decoded[frame_idx])
        shapes = {img.shape for img in imgs}
        if len(shapes) > 1:
            raise FrameDecodeError(f"clip {sample} in {results['frame_dir']}: frames of "
                                   f'different sizes {sorted(shapes)}; re-extract the video')
        results['imgs'] = imgs
        results['original_shape'] = results['img_shape'] = imgs[0].shape[:2]
        if 'gt_bboxes' in results:  # normalised -> pixels, as RawFrameDecode
            h, w = results['img_shape']
            scale = np.array([w, h, w, h])
            results['gt_bboxes'] = (results['gt_bboxes'] * scale).astype(np.float32)
            if results.get('proposals') is not None:
                results['proposals'] = (results['proposals'] * scale).astype(np.float32)
        return results

    def _read(self, directory: str, filename: str, sample: str) -> np.ndarray:
        path = osp.join(directory, filename)
        try:
            data = self.file_client.get(path)
        except FileNotFoundError:
            raise FrameDecodeError(
                f'frame {path} (clip {sample}) does not exist: the video has fewer frames '
                f'than the clip needs, or its frames were not extracted') from None
        try:
            return decode_frame(path, data, strict=self.strict)
        except FrameDecodeError as e:
            raise FrameDecodeError(f'{e} (clip {sample}); re-extract the frames of this '
                                   f'video or list the keyframe in the exclude_file') from None
