"""Draw the detections of validation / test keyframes on their raw frames."""
import copy
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmaction.datasets.transforms import SampleAVAFrames
from mmaction.evaluation.functional.ava_utils import read_labelmap
from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.visualization import Visualizer

__all__ = ['EVADVisualizationHook', 'ava_class_names', 'load_keyframe']


def ava_class_names(dataset) -> Optional[List[str]]:
    """Names of an AVA-style dataset's score columns ``1..num_classes - 1``.

    Column ``j`` is label id ``j``, or ``custom_classes[j]`` when the dataset keeps a subset
    (mmaction's ``AVADataset`` prepends 0 to ``custom_classes``). Names come from the dataset's
    ``label_file`` (AVA's pbtxt); ids missing from it are called ``'class <id>'``.

    Returns:
        list[str] | None: ``num_classes - 1`` names, or None for a dataset without
        ``num_classes``.
    """
    num_classes = getattr(dataset, 'num_classes', None)
    if not num_classes:
        return None
    names = {}
    label_file = getattr(dataset, 'label_file', None)
    if label_file and osp.isfile(label_file):
        with open(label_file) as f:
            names = {item['id']: item['name'] for item in read_labelmap(f)[0]}
    ids = getattr(dataset, 'custom_classes', None) or list(range(num_classes))
    return [names.get(i, f'class {i}') for i in ids[1:num_classes]]


def load_keyframe(dataset, index: int) -> np.ndarray:
    """The raw keyframe of sample ``index`` of an AVA-style dataset, as the model sees it.

    The dataset's own pipeline runs up to the transform that decodes frames (``RawFrameDecode``
    for AVA's extracted frames, a video decoder otherwise) with ``SampleAVAFrames`` reduced to
    the clip's centre frame, so no second copy of the frame-index arithmetic exists here and
    no resize is applied.

    Returns:
        np.ndarray: ``(H, W, 3)`` RGB uint8 frame at the resolution stored on disk.
    """
    results = copy.deepcopy(dataset.get_data_info(index))
    for transform in dataset.pipeline.transforms:
        if isinstance(transform, SampleAVAFrames):
            # the clip's centre frame only (the keyframe), sampled as the clip is
            transform = SampleAVAFrames(clip_len=1, frame_interval=1, test_mode=True)
        results = transform(results)
        if 'imgs' in results:
            imgs = results['imgs']
            return np.asarray(imgs[len(imgs) // 2])
    raise ValueError(
        f'the pipeline of {type(dataset).__name__} never decodes frames (no transform sets '
        f"'imgs'), so the keyframe of sample {index} cannot be drawn")


@HOOKS.register_module()
class EVADVisualizationHook(Hook):
    """Draw EVAD's detections of validation and test keyframes, as mmdet's
    ``DetVisualizationHook`` does for images.

    MMAction2's ``VisualizationHook`` does not fit detection samples: it draws the network's
    resized input clip as a video with classification labels. This hook draws each keyframe's
    raw frame (full resolution) with the visualizer's
    :meth:`~mmevad.visualization.EVADLocalVisualizer.add_datasample`: the ground truth left,
    the predictions right.

    The keyframe is read by :func:`load_keyframe` with the dataset's own pipeline, so the
    drawn frame is the keyframe the model saw, before any resize. The sample is found by its
    ``img_key`` metainfo (``'<video_id>,<timestamp>'``, kept by ``PackActionInputs``).

    Args:
        draw (bool): draw at all. Defaults to False.
        interval (int): draw every ``interval``-th sample of a validation or test run.
            Defaults to 50.
        score_thr (float): smallest action score drawn. Defaults to 0.5.
        show (bool): show each image in a window (backends are then skipped, as in mmdet).
            Defaults to False.
        wait_time (float): seconds each shown image stays. Defaults to 0.
        test_out_dir (str, optional): in testing, write each drawn keyframe to
            ``<test_out_dir>/<video_id>_<timestamp>.jpg`` (a relative path is relative to the
            working directory). Without it, test images go to the visualizer's backends, as
            validation images always do. Defaults to None.
    """

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 score_thr: float = 0.5,
                 show: bool = False,
                 wait_time: float = 0.,
                 test_out_dir: Optional[str] = None) -> None:
        if interval < 1:
            raise ValueError(f'interval must be a positive number of samples, got {interval}')
        self._visualizer: Visualizer = Visualizer.get_current_instance()
        self.draw = draw
        self.interval = interval
        self.score_thr = score_thr
        self.show = show
        self.wait_time = wait_time
        self.test_out_dir = test_out_dir
        if show:
            # the drawn images are only shown, not stored (mmdet's behaviour)
            self._visualizer._vis_backends = {}
        self._sample_count = 0
        self._index_of_key: Dict[int, Dict[str, int]] = {}

    def _check_visualizer(self) -> None:
        from mmevad.visualization import EVADLocalVisualizer
        if not isinstance(self._visualizer, EVADLocalVisualizer):
            raise TypeError(
                f'EVADVisualizationHook draws with EVADLocalVisualizer, but the runner\'s '
                f'visualizer is a {type(self._visualizer).__name__}; set '
                f"visualizer = dict(type='EVADLocalVisualizer', ...) in the config")

    def before_val_epoch(self, runner: Runner) -> None:
        self._sample_count = 0

    def before_test_epoch(self, runner: Runner) -> None:
        self._sample_count = 0

    def after_val_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence) -> None:
        self._draw_samples(runner, runner.val_dataloader.dataset, outputs, out_dir=None,
                           step=runner.iter)

    def after_test_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence) -> None:
        self._draw_samples(runner, runner.test_dataloader.dataset, outputs,
                           out_dir=self.test_out_dir, step=0)

    def _draw_samples(self, runner: Runner, dataset, outputs: Sequence,
                      out_dir: Optional[str], step: int) -> None:
        if not self.draw:
            return
        self._check_visualizer()
        if 'classes' not in (self._visualizer.dataset_meta or {}):
            classes = ava_class_names(dataset)
            if classes is not None:
                self._visualizer.dataset_meta = {
                    **(self._visualizer.dataset_meta or {}), 'classes': classes}
        for data_sample in outputs:
            index = self._sample_count
            self._sample_count += 1
            if index % self.interval:
                continue
            img_key = data_sample.metainfo.get('img_key')
            if img_key is None:
                raise KeyError(
                    "EVADVisualizationHook finds a sample's keyframe by its 'img_key' metainfo "
                    "('<video_id>,<timestamp>'); keep it in PackActionInputs' meta_keys")
            image = self.load_keyframe(dataset, img_key)
            name = img_key.replace(',', '_')
            out_file = None
            if out_dir is not None:
                os.makedirs(out_dir, exist_ok=True)
                out_file = osp.join(out_dir, f'{name}.jpg')
            self._visualizer.add_datasample(
                name,
                image,
                data_sample=data_sample,
                show=self.show,
                wait_time=self.wait_time,
                out_file=out_file,
                pred_score_thr=self.score_thr,
                step=step if out_dir is None else index)

    def load_keyframe(self, dataset, img_key: str) -> np.ndarray:
        """The raw ``(H, W, 3)`` RGB keyframe of the sample ``img_key`` of ``dataset``."""
        return load_keyframe(dataset, self._sample_index(dataset, img_key))

    def _sample_index(self, dataset, img_key: str) -> int:
        index_of_key = self._index_of_key.get(id(dataset))
        if index_of_key is None:
            if not hasattr(dataset, 'get_data_info'):
                raise TypeError(
                    f'EVADVisualizationHook reads keyframes from an AVA-style dataset whose '
                    f'get_data_info(i) has an img_key (mmaction AVADataset); got '
                    f'{type(dataset).__name__}')
            # data infos only (no pipeline): mmengine may hold data_list serialized
            index_of_key = {
                dataset.get_data_info(i).get('img_key'): i for i in range(len(dataset))}
            self._index_of_key[id(dataset)] = index_of_key
        if img_key not in index_of_key:
            raise KeyError(f'img_key {img_key!r} is not in the {type(dataset).__name__} the '
                           f'runner evaluates')
        return index_of_key[img_key]
