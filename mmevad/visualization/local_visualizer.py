"""Draw EVAD's actor detections: every person's box with its top actions."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmaction.registry import VISUALIZERS
from mmengine.dist import master_only
from mmengine.structures import InstanceData
from mmengine.visualization import Visualizer

__all__ = ['EVADLocalVisualizer', 'PERSON_PALETTE']

ArrayLike = Union[np.ndarray, torch.Tensor]

# One colour per person (RGB), cycled: saturated hues that stay apart from each other and from
# skin and sky tones, so neighbouring actors are told apart at a glance.
PERSON_PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40))

# Pixels of text per pixel of the frame's short side, and the smallest text (in pixels) that
# stays legible: a 240-pixel frame gets 9-pixel text, a 1080-pixel one 38-pixel text.
TEXT_PER_SHORT_SIDE = 1 / 28
MIN_TEXT_PX = 9
MAX_TEXT_PX = 40
POINTS_PER_PX = 72 / 100  # matplotlib sizes text in points; mmengine's figure has 100 dpi


def _to_numpy(array: Optional[ArrayLike], dtype=np.float32) -> Optional[np.ndarray]:
    if array is None:
        return None
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    return np.asarray(array, dtype=dtype)


def _text_color(background: Sequence[int]) -> Tuple[int, int, int]:
    """Black on light backgrounds, white on dark ones (ITU-R BT.601 luma)."""
    r, g, b = background
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 else (255, 255, 255)


@VISUALIZERS.register_module()
class EVADLocalVisualizer(Visualizer):
    """Visualizer of EVAD's detections: each actor's box and its top action labels.

    Drawing goes through mmengine's :class:`~mmengine.visualization.Visualizer`
    (``draw_bboxes``, ``draw_texts``), as mmdet's ``DetLocalVisualizer`` does; images are RGB.
    :meth:`add_datasample` reads an mmaction ``ActionDataSample`` of the AVA path, so mmengine
    hooks (:class:`~mmevad.engine.hooks.EVADVisualizationHook`) and tools can call it.

    Args:
        name (str): instance name. Defaults to 'visualizer'.
        image (np.ndarray, optional): an RGB image to start with. Defaults to None.
        vis_backends (list[dict], optional): visualization backends. Defaults to None.
        save_dir (str, optional): directory of the backends' files. Defaults to None.
        palette (Sequence[tuple]): RGB colours of the persons, cycled. Defaults to
            :data:`PERSON_PALETTE`.
        line_width (float, optional): box line width in pixels; None scales it with the frame
            (1/200 of the short side, at least 2). Defaults to None.
        alpha (float): opacity of the boxes. Defaults to 0.9.
        max_labels (int): most actions listed per person by :meth:`add_datasample`.
            Defaults to 3.

    Note:
        ``dataset_meta['classes']`` (set by mmengine's loops from the dataset, or by hand)
        names the action score columns ``1..C`` of a data sample; without it they are called
        ``'class <column>'``.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[Dict]] = None,
                 save_dir: Optional[str] = None,
                 palette: Sequence[Tuple[int, int, int]] = PERSON_PALETTE,
                 line_width: Optional[float] = None,
                 alpha: float = 0.9,
                 max_labels: int = 3) -> None:
        super().__init__(name=name, image=image, vis_backends=vis_backends, save_dir=save_dir)
        if not palette:
            raise ValueError('palette must hold at least one RGB colour')
        self.palette = [tuple(int(c) for c in color) for color in palette]
        self.line_width = line_width
        self.alpha = alpha
        self.max_labels = max_labels
        self.dataset_meta: dict = {}

    # ------------------------------------------------------------------ drawing on one frame
    def draw_actor_detections(self,
                              image: np.ndarray,
                              bboxes: ArrayLike,
                              action_scores: ArrayLike,
                              class_names: Sequence[str],
                              person_scores: Optional[ArrayLike] = None,
                              action_thr: float = 0.5,
                              max_labels: int = 3,
                              show_scores: bool = True) -> np.ndarray:
        """Draw every person's box and its best actions above ``action_thr``.

        Each person gets a colour of the palette; its labels (``name score``, best first, at
        most ``max_labels``) sit in a filled box of that colour above the person's box (inside
        it when the box touches the top of the frame). A person without any action above the
        threshold gets its box and, if ``person_scores`` is given, only its person score.
        Text and lines scale with the frame's short side so that they stay legible from
        small (96 px) to large (1080 px) frames.

        Args:
            image (np.ndarray): ``(H, W, 3)`` RGB uint8 frame; not modified.
            bboxes (np.ndarray | Tensor): ``(N, 4)`` xyxy boxes in pixels of ``image``.
            action_scores (np.ndarray | Tensor): ``(N, C)`` action scores, column ``j`` for
                ``class_names[j]``.
            class_names (Sequence[str]): ``C`` names.
            person_scores (np.ndarray | Tensor, optional): ``(N,)`` person scores, shown
                first on each label as ``person 0.93``. Defaults to None.
            action_thr (float): smallest action score shown. Defaults to 0.5.
            max_labels (int): most actions listed per person. Defaults to 3.
            show_scores (bool): print the scores after the names (False for ground-truth
                labels). Defaults to True.

        Returns:
            np.ndarray: the drawn ``(H, W, 3)`` RGB uint8 image.
        """
        image = self._check_image(image)
        bboxes = _to_numpy(bboxes)
        action_scores = _to_numpy(action_scores)
        person_scores = _to_numpy(person_scores)
        num = self._check_detections(bboxes, action_scores, class_names, person_scores)

        self.set_image(image)
        if num == 0:
            return self.get_image()
        height, width = image.shape[:2]
        # boxes partly outside the frame are drawn where they are visible
        bboxes = bboxes.copy()
        bboxes[:, 0::2] = bboxes[:, 0::2].clip(0, width - 1)
        bboxes[:, 1::2] = bboxes[:, 1::2].clip(0, height - 1)
        bboxes[:, 2:] = np.maximum(bboxes[:, 2:], bboxes[:, :2])
        colors = [self.palette[i % len(self.palette)] for i in range(num)]
        line_px = self._line_px(height, width)
        self.draw_bboxes(bboxes, edge_colors=colors, line_widths=line_px * POINTS_PER_PX,
                         alpha=self.alpha)

        text_px = self._text_px(height, width)
        for i in range(num):
            lines = self._label_lines(action_scores[i], class_names, action_thr, max_labels,
                                      None if person_scores is None else person_scores[i],
                                      show_scores)
            if not lines:
                continue
            position, valign, halign = self._label_anchor(bboxes[i], lines, text_px, line_px,
                                                          height, width)
            self.draw_texts(
                '\n'.join(lines),
                np.array(position, dtype=np.float32),
                font_sizes=text_px * POINTS_PER_PX,
                colors=_text_color(colors[i]),
                vertical_alignments=valign,
                horizontal_alignments=halign,
                bboxes=dict(facecolor=tuple(c / 255 for c in colors[i]), alpha=0.85,
                            pad=0.25 * text_px * POINTS_PER_PX, edgecolor='none'))
        return self.get_image()

    def draw_actor_overlay(self,
                           image_shape: Tuple[int, int],
                           bboxes: ArrayLike,
                           action_scores: ArrayLike,
                           class_names: Sequence[str],
                           person_scores: Optional[ArrayLike] = None,
                           action_thr: float = 0.5,
                           max_labels: int = 3) -> np.ndarray:
        """The drawing of :meth:`draw_actor_detections` alone, to put on many frames.

        A video shows a keyframe's detections on every frame until the next keyframe; drawing
        them once and blending them onto each frame (:meth:`blend_overlay`) costs a few
        milliseconds per frame instead of a matplotlib render. The drawing is rendered on a
        black and on a white frame; their difference is its opacity.

        Args:
            image_shape (tuple[int, int]): ``(H, W)`` of the frames.
            others: as :meth:`draw_actor_detections`.

        Returns:
            np.ndarray: ``(H, W, 4)`` float32: the drawing's colour already multiplied by its
            opacity (RGB, 0..255) and its opacity (0..1).
        """
        height, width = image_shape[:2]
        renders = [
            self.draw_actor_detections(
                np.full((height, width, 3), value, np.uint8), bboxes, action_scores,
                class_names, person_scores, action_thr, max_labels).astype(np.float32)
            for value in (0, 255)
        ]
        on_black, on_white = renders
        alpha = (1 - (on_white - on_black) / 255).mean(-1, keepdims=True).clip(0, 1)
        return np.concatenate([on_black, alpha], -1)

    @staticmethod
    def blend_overlay(image: np.ndarray, overlay: np.ndarray) -> np.ndarray:
        """Put an overlay of :meth:`draw_actor_overlay` on an ``(H, W, 3)`` RGB uint8 frame.

        Returns:
            np.ndarray: ``(H, W, 3)`` RGB uint8, what :meth:`draw_actor_detections` draws on
            that frame (to rounding).
        """
        if overlay.shape[:2] != image.shape[:2]:
            raise ValueError(f'the overlay is {overlay.shape[:2]} but the frame is '
                             f'{image.shape[:2]}; draw the overlay for the frame size')
        blended = image.astype(np.float32) * (1 - overlay[..., 3:]) + overlay[..., :3]
        return blended.round().clip(0, 255).astype(np.uint8)

    @staticmethod
    def _check_image(image: np.ndarray) -> np.ndarray:
        if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3):
            raise ValueError(f'image must be an (H, W, 3) RGB array, got '
                             f'{getattr(image, "shape", type(image).__name__)}')
        return image.clip(0, 255).astype(np.uint8)

    @staticmethod
    def _check_detections(bboxes, action_scores, class_names, person_scores) -> int:
        if bboxes.ndim != 2 or bboxes.shape[1] != 4:
            raise ValueError(f'bboxes must be (N, 4) pixel xyxy, got shape {bboxes.shape}')
        num = bboxes.shape[0]
        if action_scores.ndim != 2 or action_scores.shape[0] != num:
            raise ValueError(f'action_scores must be (N, C) with N={num} boxes, got shape '
                             f'{action_scores.shape}')
        if action_scores.shape[1] != len(class_names):
            raise ValueError(
                f'action_scores has {action_scores.shape[1]} columns but {len(class_names)} '
                f'class names were given; pass one name per score column (for a data '
                f'sample, the columns after the unused column 0)')
        if person_scores is not None and person_scores.shape != (num, ):
            raise ValueError(f'person_scores must be (N,) with N={num}, got shape '
                             f'{person_scores.shape}')
        return num

    def _line_px(self, height: int, width: int) -> float:
        if self.line_width is not None:
            return float(self.line_width)
        return max(2., min(height, width) / 200)

    @staticmethod
    def _text_px(height: int, width: int) -> float:
        return float(np.clip(min(height, width) * TEXT_PER_SHORT_SIDE, MIN_TEXT_PX, MAX_TEXT_PX))

    @staticmethod
    def _label_lines(scores: np.ndarray, class_names: Sequence[str], action_thr: float,
                     max_labels: int, person_score: Optional[float],
                     show_scores: bool) -> List[str]:
        """``['person 0.93', 'stand 0.88', ...]``: the best actions above the threshold."""
        lines = [f'person {person_score:.2f}'] if person_score is not None else []
        order = np.argsort(-scores, kind='stable')[:max(max_labels, 0)]
        for j in order:
            if scores[j] < action_thr:
                break
            lines.append(f'{class_names[j]} {scores[j]:.2f}' if show_scores else class_names[j])
        return lines

    @staticmethod
    def _label_anchor(bbox: np.ndarray, lines: List[str], text_px: float, line_px: float,
                      height: int, width: int) -> Tuple[Tuple[float, float], str, str]:
        """Where the label block goes: above the box's top-left corner, inside the box when
        there is no room above, right-aligned when it would run off the right edge."""
        x1, y1, x2, _ = bbox
        block_h = len(lines) * text_px * 1.25 + text_px * 0.5
        block_w = max(len(line) for line in lines) * text_px * 0.6 + text_px * 0.5
        if y1 - block_h >= 0:
            y, valign = y1 - line_px, 'bottom'
        else:
            y, valign = y1 + line_px + text_px * 0.25, 'top'
        if x1 + block_w <= width:
            return (x1 + text_px * 0.25, y), valign, 'left'
        return (max(x2, block_w) - text_px * 0.25, y), valign, 'right'

    # ------------------------------------------------------------------ data samples
    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       pred_score_thr: float = 0.5) -> None:
        """Draw the ground truth and the predictions of one keyframe and save or show them.

        With both, the ground truth is on the left and the predictions on the right (as
        mmdet's ``DetLocalVisualizer``). If ``show``, the image is shown in a window; if
        ``out_file``, it is written there; otherwise it goes to the visualization backends.
        The drawn image is kept (:meth:`get_image`).

        Args:
            name (str): image identifier for the backends and the window.
            image (np.ndarray): ``(H, W, 3)`` RGB keyframe at any resolution (usually the raw
                frame).
            data_sample (ActionDataSample, optional): an AVA-path sample:
                ``pred_instances.bboxes`` ``(n, 4)`` xyxy in [0, 1] of the frame and
                ``pred_instances.scores`` ``(n, C + 1)`` with column 0 unused (EVAD's output,
                what ``AVAMetric`` reads), optionally ``pred_instances.person_scores`` ``(n,)``;
                ``gt_instances.bboxes`` ``(m, 4)`` in pixels of ``metainfo['img_shape']`` and
                ``gt_instances.labels`` ``(m, C + 1)`` multi-hot. Defaults to None.
            draw_gt (bool): draw the ground truth if the sample has it. Defaults to True.
            draw_pred (bool): draw the predictions if the sample has them. Defaults to True.
            show (bool): show the image in a window. Defaults to False.
            wait_time (float): seconds to show it. Defaults to 0.
            out_file (str, optional): write the image (format from the extension).
                Defaults to None.
            step (int): global step for the backends. Defaults to 0.
            pred_score_thr (float): smallest action score drawn. Defaults to 0.5.
        """
        image = self._check_image(image)
        panels = []
        if data_sample is not None:
            data_sample = data_sample.cpu()
            if draw_gt and 'gt_instances' in data_sample:
                panels.append(self._draw_gt(image, data_sample))
            if draw_pred and 'pred_instances' in data_sample:
                panels.append(self._draw_pred(image, data_sample.pred_instances, pred_score_thr))
        drawn = np.concatenate(panels, axis=1) if panels else image
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)

    def _class_names(self, num_classes: int) -> List[str]:
        """Names of the score columns ``1..num_classes`` (column 0 is unused)."""
        names = list(self.dataset_meta.get('classes') or [])
        if len(names) == num_classes:
            return names
        return [f'class {j}' for j in range(1, num_classes + 1)]

    def _draw_pred(self, image: np.ndarray, pred: InstanceData, thr: float) -> np.ndarray:
        height, width = image.shape[:2]
        bboxes = _to_numpy(pred.bboxes).reshape(-1, 4) * np.array(
            [width, height, width, height], dtype=np.float32)
        scores = _to_numpy(pred.scores)
        scores = scores.reshape(len(bboxes), -1)[:, 1:]
        person_scores = pred.get('person_scores', None)
        return self.draw_actor_detections(
            image, bboxes, scores, self._class_names(scores.shape[1]),
            person_scores=person_scores, action_thr=thr, max_labels=self.max_labels)

    def _draw_gt(self, image: np.ndarray, data_sample) -> np.ndarray:
        gt = data_sample.gt_instances
        height, width = image.shape[:2]
        bboxes = _to_numpy(gt.bboxes).reshape(-1, 4)
        # ground-truth boxes are in pixels of the (resized) network input
        in_h, in_w = data_sample.metainfo.get('img_shape', (height, width))[:2]
        bboxes = bboxes * np.array([width / in_w, height / in_h] * 2, dtype=np.float32)
        labels = _to_numpy(gt.labels) if 'labels' in gt else np.zeros((len(bboxes), 1))
        if labels.ndim == 1:  # class indices instead of multi-hot rows
            onehot = np.zeros((len(bboxes), int(labels.max(initial=0)) + 1), np.float32)
            onehot[np.arange(len(bboxes)), labels.astype(int)] = 1
            labels = onehot
        labels = labels.reshape(len(bboxes), -1)[:, 1:]
        return self.draw_actor_detections(
            image, bboxes, labels, self._class_names(labels.shape[1]), action_thr=0.5,
            max_labels=max(labels.shape[1], 1), show_scores=False)
