"""``EVADInferencer``: run EVAD on a video and draw / save what it finds.

Built on mmengine's ``BaseInferencer`` (the pattern of mmdet's ``DetInferencer`` and mmaction2's
``ActionRecogInferencer``): ``_init_model`` / ``_init_pipeline`` / ``_init_visualizer`` set it up,
``visualize`` draws detections on frames, ``postprocess`` turns them into JSON. A video is one
input whose keyframes are detected in a stream (:func:`~mmevad.apis.iter_video_detections`), so
``__call__`` runs the video loop itself instead of mmengine's one-batch-per-input loop: frames
wait in a bounded buffer until their keyframe's detections arrive, then are drawn with them
(held until the next keyframe) and written.
"""
import json
import os
import os.path as osp
import time
from collections import deque
from datetime import datetime
from typing import Deque, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
from mmaction.registry import INFERENCERS
from mmengine.config import Config
from mmengine.infer import BaseInferencer
from mmengine.utils import ProgressBar

from mmevad.datasets.label_maps import LabelMap
from .clip_sampling import KeyframeClipPipeline, KeyframeStream
from .inference import _label_map, init_detector, iter_video_detections, open_video
from .results import KeyframeDetections

__all__ = ['EVADInferencer']


@INFERENCERS.register_module()
class EVADInferencer(BaseInferencer):
    """Detect actors and their actions in videos with EVAD; draw and save the results.

    Args:
        model (str | Config): config file or config of an EVAD model.
        weights (str, optional): checkpoint, loaded strictly (see
            :func:`~mmevad.apis.init_detector`); None keeps random weights. Defaults to None.
        device (str, optional): ``'cpu'``, ``'cuda'``...; None picks mmengine's default
            (a GPU when there is one). Defaults to None.
        label_map (str, optional): action names (``'ava_v2.2'`` or a label map file); defaults
            to the config's ``label_map``.
        scope (str): registry scope. Defaults to ``'mmaction'``.
        show_progress (bool): show a progress bar over keyframes. Defaults to True.

    Example:
        >>> inferencer = EVADInferencer('configs/evad/<config>.py', 'evad.pth')
        >>> out = inferencer('video.mp4', out_video='out.mp4', out_json='out.json')
        >>> out['predictions'][0]['persons'][0]['actions'][0]['name']
    """

    visualize_kwargs: set = {'action_thr', 'person_thr', 'max_labels'}
    postprocess_kwargs: set = {'out_json', 'meta'}

    def __init__(self,
                 model: Union[str, Config],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 label_map: Optional[str] = None,
                 scope: str = 'mmaction',
                 show_progress: bool = True) -> None:
        super().__init__(model=model, weights=weights, device=device, scope=scope,
                         show_progress=show_progress)
        self.label_map: LabelMap = _label_map(self.model, label_map)

    # ------------------------------------------------------------------ set-up (BaseInferencer)
    def _init_model(self, cfg: Config, weights: Optional[str], device: str = 'cpu'):
        """Strict loading, eval mode (:func:`~mmevad.apis.init_detector`)."""
        return init_detector(cfg if isinstance(cfg, Config) else Config(cfg), weights, device)

    def _init_pipeline(self, cfg: Config) -> KeyframeClipPipeline:
        return KeyframeClipPipeline(cfg)

    def _init_visualizer(self, cfg: Config):
        # the detection visualizer whatever the config's runtime names (mmaction's default
        # ActionVisualizer draws no boxes)
        from mmevad.visualization import EVADLocalVisualizer
        name = f'evad_inferencer_{datetime.now().timestamp()}'
        return EVADLocalVisualizer(name=name)

    # ------------------------------------------------------------------ drawing and results
    def visualize(self,
                  inputs: Sequence[np.ndarray],
                  preds: Sequence[Optional[KeyframeDetections]],
                  action_thr: float = 0.5,
                  person_thr: float = 0.,
                  max_labels: int = 3,
                  **kwargs) -> List[np.ndarray]:
        """Draw on each frame the detections of its keyframe.

        Args:
            inputs (Sequence[np.ndarray]): ``(H, W, 3)`` uint8 RGB frames.
            preds (Sequence[KeyframeDetections | None]): for each frame, the detections to show
                (None: the frame is returned unchanged).
            action_thr (float): smallest action score drawn. Defaults to 0.5.
            person_thr (float): persons below this person score are not drawn. Defaults to 0.
            max_labels (int): actions listed per person. Defaults to 3.

        Returns:
            list[np.ndarray]: drawn ``(H, W, 3)`` uint8 RGB frames.
        """
        drawn, overlays = [], {}
        for frame, det in zip(inputs, preds):
            if det is None:
                drawn.append(frame)
                continue
            # frames that hold one keyframe's detections share one drawing of them: a
            # matplotlib render per frame would cost several times the detection
            if id(det) not in overlays:
                keep = det.person_scores >= person_thr
                overlays[id(det)] = self.visualizer.draw_actor_overlay(
                    frame.shape[:2], det.bboxes[keep], det.action_scores[keep],
                    det.class_names, person_scores=det.person_scores[keep],
                    action_thr=action_thr, max_labels=max_labels)
            drawn.append(self.visualizer.blend_overlay(frame, overlays[id(det)]))
        return drawn

    def postprocess(self,
                    preds: Sequence[KeyframeDetections],
                    visualization: Optional[List[np.ndarray]] = None,
                    return_datasamples: bool = False,
                    out_json: Optional[str] = None,
                    action_thr: float = 0.,
                    person_thr: float = 0.,
                    meta: Optional[dict] = None,
                    **kwargs) -> dict:
        """JSON-ready predictions, written to ``out_json`` if given.

        Returns:
            dict: ``predictions`` (one dict per keyframe: ``frame_index``, ``timestamp``,
            ``persons`` with ``bbox`` pixel xyxy, ``person_score`` and ``actions`` ``id`` /
            ``name`` / ``score``), ``visualization`` and what ``meta`` holds (video, fps,
            size...). With ``return_datasamples`` the :class:`KeyframeDetections` themselves.
        """
        result = dict(meta or {})
        result['classes'] = {str(i): self.label_map.name(i) for i in self.label_map.reported_ids}
        result['predictions'] = list(preds) if return_datasamples else [
            p.to_dict(action_thr=action_thr, person_thr=person_thr) for p in preds]
        if out_json:
            os.makedirs(osp.dirname(osp.abspath(out_json)), exist_ok=True)
            with open(out_json, 'w') as f:
                json.dump(dict(result, predictions=[
                    p.to_dict(action_thr=action_thr, person_thr=person_thr) for p in preds]),
                          f, indent=1)
        result['visualization'] = visualization
        return result

    def draw_kept_tokens(self, det: KeyframeDetections) -> np.ndarray:
        """The kept-token view of one keyframe's clip (rows: blocks that prune; columns:
        temporal slots); needs ``with_token_pruning`` results."""
        from mmevad.visualization import draw_kept_tokens, pruning_stage_masks
        output = det.extras['token_pruning']
        blocks, masks = pruning_stage_masks(output, sample=det.extras['batch_index'])
        if not masks:
            raise ValueError('this model prunes no token (all keep rates are 1): there is no '
                             'kept-token view to draw')
        # the tokens cover the padded clip: show the padding as the backbone saw it (the mean
        # colour, 0 after normalisation) so that the grid ends at the frame's edges
        patch = self.model.backbone.patch_size
        clip = det.extras['clip']
        _, grid_h, grid_w = output.grid
        # the normalisation buffer lives on the model's device: numpy needs it on the CPU
        mean = self.model.data_preprocessor.mean.detach().cpu().numpy().reshape(-1)
        padded = np.empty((clip.shape[0], grid_h * patch, grid_w * patch, 3), np.uint8)
        padded[:] = mean.round().clip(0, 255).astype(np.uint8)
        padded[:, :clip.shape[1], :clip.shape[2]] = clip
        return draw_kept_tokens(
            padded, masks, output.grid, patch_size=patch,
            row_labels=[f'after block {b}' for b in blocks],
            title=f'kept tokens, keyframe {det.frame_index}')

    # ------------------------------------------------------------------ the video loop
    def __call__(self,
                 video: Union[str, int, np.ndarray, Iterable[np.ndarray]],
                 out_video: Optional[str] = None,
                 out_json: Optional[str] = None,
                 keyframe_interval_s: float = 1.0,
                 batch_size: int = 1,
                 action_thr: float = 0.5,
                 person_thr: Optional[float] = None,
                 max_labels: int = 3,
                 kept_tokens_dir: Optional[str] = None,
                 show: bool = False,
                 fps: Optional[float] = None,
                 max_frames: Optional[int] = None,
                 return_datasamples: bool = False) -> dict:
        """Detect, draw and save one video.

        Args:
            video: a video file, stream URL or camera index, or frames with ``fps`` (see
                :func:`~mmevad.apis.open_video`).
            out_video (str, optional): mp4 to write: every input frame with the persons and top
                actions of its keyframe drawn (held until the next keyframe).
            out_json (str, optional): JSON file of the predictions.
            keyframe_interval_s (float): seconds between keyframes. Defaults to 1.
            batch_size (int): keyframe clips per forward pass (1 for live input: a batch waits
                for its last keyframe). Defaults to 1.
            action_thr (float): smallest action score drawn and saved. Defaults to 0.5.
            person_thr (float, optional): the model's person threshold (its
                ``person_score_thr``); persons below it are neither drawn nor saved (also when
                no one reaches it, where EVAD itself keeps every proposal). Defaults to the
                config's.
            max_labels (int): actions drawn per person. Defaults to 3.
            kept_tokens_dir (str, optional): save each keyframe's kept-token view here.
            show (bool): display the drawn frames in a window (OpenCV). Defaults to False.
            fps (float, optional): frame rate of frame arrays / iterators.
            max_frames (int, optional): stop after this many frames (e.g. for a camera).
            return_datasamples (bool): return :class:`KeyframeDetections` instead of dicts.

        Returns:
            dict: see :meth:`postprocess`, plus ``num_frames``, ``num_keyframes``, ``seconds``
            (wall time of the whole loop, drawing and writing included) and
            ``max_pending_frames`` (the most frames that waited for their keyframe at once).
        """
        if person_thr is not None:
            self.model.person_score_thr = float(person_thr)
        shown_thr = float(self.model.person_score_thr)
        source = open_video(video, fps)
        frames: Iterator[np.ndarray] = source.frames
        if max_frames is not None:
            frames = (f for i, f in zip(range(max_frames), frames))
        spacing = keyframe_interval_s * source.fps  # frames per keyframe interval
        pending: Deque[Tuple[int, np.ndarray]] = deque()

        max_pending = 0

        def tapped(frames):
            nonlocal max_pending
            for i, frame in enumerate(frames):
                pending.append((i, frame))
                max_pending = max(max_pending, len(pending))
                yield frame

        total_keyframes = 0
        if source.num_frames and max_frames is None:
            total_keyframes = KeyframeStream(self.pipeline, source.fps,
                                             keyframe_interval_s).num_keyframes(
                                                 source.num_frames)
        bar = ProgressBar(total_keyframes) if self.show_progress else None
        writer = None
        preds: List[KeyframeDetections] = []
        num_written = 0
        start = time.perf_counter()

        def emit(upto_interval: Optional[int], det: Optional[KeyframeDetections]) -> None:
            """Draw and write the pending frames of intervals <= upto_interval (all if None)."""
            nonlocal writer, num_written
            batch = []
            while pending and (upto_interval is None
                               or int(pending[0][0] // spacing) <= upto_interval):
                batch.append(pending.popleft()[1])
            if not batch:
                return
            drawn = self.visualize(batch, [det] * len(batch), action_thr=action_thr,
                                   person_thr=shown_thr, max_labels=max_labels)
            for image in drawn:
                if out_video:
                    if writer is None:
                        writer = _open_writer(out_video, source.fps, image.shape[:2])
                    writer.write(mmcv.rgb2bgr(image))
                if show:
                    cv2.imshow('EVAD', mmcv.rgb2bgr(image))
                    cv2.waitKey(1)
                num_written += 1

        try:
            for j, det in enumerate(
                    iter_video_detections(self.model, source._replace(frames=tapped(frames)),
                                          keyframe_interval_s, batch_size, self.label_map,
                                          with_token_pruning=bool(kept_tokens_dir))):
                if kept_tokens_dir:
                    os.makedirs(kept_tokens_dir, exist_ok=True)
                    view = self.draw_kept_tokens(det)
                    mmcv.imwrite(mmcv.rgb2bgr(view),
                                 osp.join(kept_tokens_dir, f'keyframe_{det.frame_index:06d}.png'))
                    det.extras = {}  # do not keep every clip in memory
                preds.append(det)
                emit(j, det)
                if bar is not None:
                    bar.update()
            # frames after the last keyframe's interval (undrawn if the video had no keyframe)
            emit(None, preds[-1] if preds else None)
        finally:
            if writer is not None:
                writer.release()
            if show:
                cv2.destroyAllWindows()
        if bar is not None:
            print()
        seconds = time.perf_counter() - start
        height, width = (preds[0].image_size if preds else (source.size or (None, None)))
        meta = dict(
            video=video if isinstance(video, (str, int)) else None,
            fps=source.fps,
            height=height,
            width=width,
            num_frames=num_written,
            keyframe_interval_s=keyframe_interval_s,
            num_keyframes=len(preds))
        result = self.postprocess(preds, None, return_datasamples, out_json=out_json,
                                  action_thr=action_thr, person_thr=shown_thr, meta=meta)
        result['seconds'] = seconds
        result['max_pending_frames'] = max_pending
        return result


def _open_writer(path: str, fps: float, size: Tuple[int, int]) -> cv2.VideoWriter:
    """An mp4 (MPEG-4 part 2, which every OpenCV build writes) of ``size = (H, W)`` frames."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, (size[1], size[0]))
    if not writer.isOpened():
        raise OSError(f'OpenCV cannot write {path!r}; use an .mp4 path in a writable folder')
    return writer
