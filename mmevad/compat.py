"""The one place where mmevad mends defects of the OpenMMLab stack it runs on.

Each fix is applied only when its defect is present, is scoped to the upstream module that has the
defect (no global monkey-patching of torch or numpy), names the upstream issue, and says which
upstream version makes it unnecessary. ``apply_all()`` runs from ``mmevad/__init__.py`` before any
``mmaction.models`` import, so ``custom_imports = dict(imports=['mmevad'])`` is enough.

Fixes:

* ``mmaction2 1.2.0`` wheel lacks ``mmaction/models/localizers/drn`` (open-mmlab/mmaction2#2714):
  ``import mmaction.models`` raises ``ModuleNotFoundError`` and no mmaction model (AVA heads
  included) gets registered. We register a stand-in ``DRN`` that explains the problem if used.
  Fixed by installing mmaction2 from source; not fixed in any release.
* ``mmengine<=0.10.7`` with ``torch>=2.6``: mmengine calls ``torch.load`` without
  ``weights_only``; torch 2.6 made ``weights_only=True`` the default, so Runner checkpoints (which
  pickle ``HistoryBuffer`` and NumPy scalars) fail to load in ``tools/test.py``, ``--resume`` and
  ``load_from`` (open-mmlab/mmengine#1655). mmengine's checkpoint loaders get a ``torch`` whose
  ``load`` defaults to ``weights_only=False`` (what mmengine main does since #1670, unreleased).
* ``NumPy>=2`` removed ``np.NAN`` / ``np.Inf``, which mmaction2 1.2.0 still uses: the AVA
  evaluation returns ``np.NAN`` for a detected class without ground truth
  (``ava_evaluation/metrics.py``), and ``mmaction.utils.frame_extract`` uses ``np.Inf``. Those
  modules get a ``numpy`` that still has the two aliases.
* ``mmengine<=0.10.7`` distributed runs assume CUDA: the pytorch launcher calls
  ``torch.cuda.set_device`` and the Runner wraps the model in DDP with ``device_ids=[local_rank]``,
  so ``tools/dist_train.sh`` cannot run CPU processes (gloo). Where CUDA is unavailable,
  mmengine's launcher gets a ``torch.cuda.set_device`` that does nothing, and the Runner a DDP
  wrapper that leaves ``device_ids`` unset for a CPU model, as PyTorch requires. No release fixes it.
* ``mmaction2<=1.2.0`` ``AVAMetric`` writes its temporary ``AVA_<time>_result.csv`` into the
  working directory and deletes it only when the evaluation succeeds (a failed evaluation leaves
  it behind; two evaluations started in the same second share it), and a model whose class count
  differs from the metric's ``num_classes`` stops at a bare ``assert`` in ``bbox2result``. The
  registry's ``AVAMetric`` becomes a subclass that writes the file into a temporary directory
  removed in any case and names the two class counts. No release fixes it.
* ``mmaction2 1.2.0`` links video tubes (``multisports_utils.link_tubes``, used by
  ``MultiSportsMetric`` for video-mAP) from frame detections that all carry the score of the last
  detection of the whole test set: ``Dataset.get_vid_dets`` reads ``frm_det[3]``, a leftover loop
  variable, instead of ``frm_dets[3]``. Tubes are then ranked, and boxes suppressed, by one
  shared score. ``multisports_utils`` gets a ``Dataset`` whose ``get_vid_dets`` keeps each
  detection's own score (the code of the MultiSports authors does). Not fixed in any release.
* ``NumPy>=2.4`` no longer converts a one-element 1-D array with ``int()`` (deprecated since
  1.25), which ``multisports_utils.iou3dt_voc`` does to find where two tubes overlap in time:
  every video-mAP computation raises ``TypeError``. ``multisports_utils`` gets an
  ``iou3dt_voc`` that selects the overlapping frames with a mask (same result).
"""
import importlib
import importlib.util
import inspect
import os.path as osp
import sys
import tempfile
import types
from collections import defaultdict
from typing import Callable, Dict, List

import numpy as np
import torch
from mmengine.utils import digit_version

__all__ = ['apply_all', 'applied_fixes']

# names of the fixes that were needed and applied in this process, for logs and tests
_APPLIED: List[str] = []


class _ModuleWithOverrides(types.ModuleType):
    """A stand-in for a module that reads every attribute from the wrapped module except a few
    overridden ones. Given to one upstream module as its ``np`` / ``torch`` global, it changes what
    that module sees and nothing else."""

    def __init__(self, wrapped: types.ModuleType, overrides: Dict[str, object]):
        super().__init__(wrapped.__name__, wrapped.__doc__)
        self.__dict__.update(overrides)
        self.__dict__['_wrapped_module'] = wrapped

    def __getattr__(self, name):  # only called for attributes not overridden
        return getattr(self.__dict__['_wrapped_module'], name)


# ---------------------------------------------------------------------------------------------
# mmaction2 1.2.0 wheel without localizers/drn
# ---------------------------------------------------------------------------------------------
_DRN_MODULES = ('mmaction.models.localizers.drn', 'mmaction.models.localizers.drn.drn')


def mmaction_drn_missing() -> bool:
    """Whether the installed mmaction2 lacks the ``localizers/drn`` package its
    ``localizers/__init__.py`` imports (checked on disk: importing would fail)."""
    if any(name in sys.modules for name in _DRN_MODULES):
        return False
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return False
    package_dir = list(spec.submodule_search_locations)[0]
    localizers = osp.join(package_dir, 'models', 'localizers')
    if not osp.isfile(osp.join(localizers, '__init__.py')):
        return False
    with open(osp.join(localizers, '__init__.py')) as f:
        imports_drn = 'drn' in f.read()
    return imports_drn and not osp.isfile(osp.join(localizers, 'drn', 'drn.py'))


def _make_drn_standin() -> type:

    class DRN:
        """Stand-in for mmaction2's DRN localizer, missing from the 1.2.0 wheel."""

        def __init__(self, *args, **kwargs):
            raise ImportError(
                'DRN is missing from the mmaction2 1.2.0 wheel '
                '(open-mmlab/mmaction2#2714); mmevad registered this stand-in so the other '
                'mmaction models import. To use DRN, install mmaction2 from source: '
                'pip install "git+https://github.com/open-mmlab/mmaction2.git@v1.2.0"')

    return DRN


def stub_mmaction_drn() -> None:
    """Put ``mmaction.models.localizers.drn(.drn)`` into ``sys.modules`` so that
    ``import mmaction.models`` gets past the missing package."""
    package = types.ModuleType(_DRN_MODULES[0])
    package.__path__ = []  # a package, so that `from .drn.drn import DRN` resolves
    module = types.ModuleType(_DRN_MODULES[1])
    module.DRN = _make_drn_standin()
    package.drn = module
    sys.modules[_DRN_MODULES[0]] = package
    sys.modules[_DRN_MODULES[1]] = module
    # Register the stand-in under the real name once mmaction's registry exists, so a config
    # asking for DRN gets the explanation above instead of "DRN is not in the registry".
    from mmaction.registry import MODELS
    MODELS.register_module(name='DRN', module=module.DRN, force=True)


# ---------------------------------------------------------------------------------------------
# mmengine <= 0.10.7 + torch >= 2.6: weights_only
# ---------------------------------------------------------------------------------------------
# mmengine modules that call torch.load on checkpoints
_MMENGINE_CHECKPOINT_MODULES = ('mmengine.runner.checkpoint', 'mmengine.utils.dl_utils.hub')


def torch_load_defaults_to_weights_only() -> bool:
    return digit_version(torch.__version__) >= digit_version('2.6.0')


def mmengine_loads_without_weights_only() -> bool:
    """Whether mmengine's checkpoint loader calls ``torch.load`` without ``weights_only`` while
    torch defaults it to True."""
    if not torch_load_defaults_to_weights_only():
        return False
    source = inspect.getsource(importlib.import_module(_MMENGINE_CHECKPOINT_MODULES[0]))
    return 'weights_only' not in source


def _torch_load_full_pickle(load: Callable) -> Callable:

    def load_checkpoint_file(*args, **kwargs):
        # the behaviour of torch < 2.6, which mmengine <= 0.10.7 was written for
        kwargs.setdefault('weights_only', False)
        return load(*args, **kwargs)

    return load_checkpoint_file


def let_mmengine_load_full_checkpoints() -> None:
    torch_for_mmengine = _ModuleWithOverrides(
        torch, dict(load=_torch_load_full_pickle(torch.load)))
    for name in _MMENGINE_CHECKPOINT_MODULES:
        importlib.import_module(name).torch = torch_for_mmengine


# ---------------------------------------------------------------------------------------------
# NumPy 2: np.NAN / np.Inf in mmaction2 1.2.0
# ---------------------------------------------------------------------------------------------
_NUMPY_ALIAS_USERS = ('mmaction.evaluation.functional.ava_evaluation.metrics',
                      'mmaction.utils.misc')
_NUMPY_REMOVED_ALIASES = dict(NAN=np.nan, Inf=np.inf)


def numpy_lacks_removed_aliases() -> bool:
    return not all(hasattr(np, alias) for alias in _NUMPY_REMOVED_ALIASES)


def give_mmaction_numpy_aliases() -> None:
    numpy_with_aliases = _ModuleWithOverrides(np, _NUMPY_REMOVED_ALIASES)
    for name in _NUMPY_ALIAS_USERS:
        importlib.import_module(name).np = numpy_with_aliases


# ---------------------------------------------------------------------------------------------
# mmengine <= 0.10.7: distributed runs assume CUDA
# ---------------------------------------------------------------------------------------------
def mmengine_distributed_needs_cuda() -> bool:
    """Whether mmengine's pytorch launcher would call ``torch.cuda.set_device`` on a machine
    without CUDA."""
    if torch.cuda.is_available():
        return False
    from mmengine.dist import utils as dist_utils
    return 'torch.cuda.set_device(local_rank)' in inspect.getsource(
        dist_utils._init_dist_pytorch)


def _cpu_tolerant_ddp() -> type:
    from mmengine.model import MMDistributedDataParallel

    class CPUTolerantDistributedDataParallel(MMDistributedDataParallel):
        """mmengine's DDP wrapper; ``device_ids`` is dropped for a CPU model (PyTorch rejects
        ``device_ids`` unless the module is on a single GPU)."""

        def __init__(self, module, device_ids=None, **kwargs):
            on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
            super().__init__(module=module, device_ids=None if on_cpu else device_ids, **kwargs)

    return CPUTolerantDistributedDataParallel


def let_mmengine_distribute_on_cpu() -> None:
    from mmengine.dist import utils as dist_utils
    from mmengine.runner import runner as runner_module
    cuda_without_devices = _ModuleWithOverrides(
        torch.cuda, dict(set_device=lambda device: None))
    dist_utils.torch = _ModuleWithOverrides(torch, dict(cuda=cuda_without_devices))
    runner_module.MMDistributedDataParallel = _cpu_tolerant_ddp()


# ---------------------------------------------------------------------------------------------
# mmaction2 <= 1.2.0: AVAMetric's result file in the working directory, bare class-count assert
# ---------------------------------------------------------------------------------------------
_AVA_METRIC_MODULE = 'mmaction.evaluation.metrics.ava_metric'


def ava_metric_writes_into_working_dir() -> bool:
    module = importlib.import_module(_AVA_METRIC_MODULE)
    return "f'AVA_{time_now}_result.csv'" in inspect.getsource(module.AVAMetric.compute_metrics)


def _safe_ava_metric(base: type) -> type:
    module = importlib.import_module(_AVA_METRIC_MODULE)

    class AVAMetric(base):
        """mmaction2's ``AVAMetric`` (same arguments and results) with its temporary result
        CSV in a private temporary directory, removed whether or not the evaluation succeeds,
        and a clear error when the predicted class count differs from ``num_classes``."""

        def process(self, data_batch, data_samples) -> None:
            for data_sample in data_samples:
                scores = data_sample['pred_instances']['scores']
                columns = scores.shape[-1] if scores.dim() == 2 else None
                if columns != self.num_classes:
                    raise ValueError(
                        f'AVAMetric(num_classes={self.num_classes}) got action scores of shape '
                        f'{tuple(scores.shape)} for video {data_sample.get("video_id")} at '
                        f'timestamp {data_sample.get("timestamp")}: the model predicts '
                        f'{columns} columns (its num_classes + 1, column 0 unused). Set the '
                        f'evaluator\'s num_classes to {columns} (val_evaluator / '
                        f'test_evaluator.num_classes) or build the model with the num_classes '
                        f'the checkpoint was trained with')
            super().process(data_batch, data_samples)

        def compute_metrics(self, results: list) -> dict:
            with tempfile.TemporaryDirectory(prefix='mmevad_ava_') as tmp_dir:
                result_file = osp.join(tmp_dir, 'AVA_result.csv')
                module.results2csv(results, result_file, self.custom_classes)
                return module.ava_eval(
                    result_file,
                    self.options[0],
                    self.label_file,
                    self.ann_file,
                    self.exclude_file,
                    ignore_empty_frames=True,
                    custom_classes=self.custom_classes)

    AVAMetric.__module__ = __name__
    return AVAMetric


def register_safe_ava_metric() -> None:
    module = importlib.import_module(_AVA_METRIC_MODULE)
    from mmaction.registry import METRICS
    METRICS.register_module(name='AVAMetric', module=_safe_ava_metric(module.AVAMetric),
                            force=True)


# ---------------------------------------------------------------------------------------------
# mmaction2 1.2.0: tube linking with the last detection's score
# ---------------------------------------------------------------------------------------------
_MULTISPORTS_UTILS = 'mmaction.evaluation.functional.multisports_utils'


def mmaction_links_tubes_with_one_score() -> bool:
    """Whether ``multisports_utils.Dataset.get_vid_dets`` scores every detection with the loop
    variable ``frm_det`` left over from its first loop."""
    dataset = importlib.import_module(_MULTISPORTS_UTILS).Dataset
    return 'frm_det[3]' in inspect.getsource(dataset.get_vid_dets)


def _dataset_with_own_scores(base: type) -> type:

    class Dataset(base):
        """mmaction2's tube-linking input, each detection with its own score."""

        def get_vid_dets(self) -> dict:
            """Per test video, frame (1-based) and label: ``(n, 5)`` rows x1, y1, x2, y2, score
            from the ``(N, 8)`` frame detections (video index, frame, label, score, box)."""
            self.vid_frm_det = defaultdict(list)
            for det in self.frm_alldets:
                self.vid_frm_det[self.video_list[int(det[0])]].append(det)
            self.vid_det = dict()
            for video, dets in self.vid_frm_det.items():
                rows = defaultdict(list)
                for det in dets:
                    rows[int(det[1]), int(det[2])].append([*det[-4:], det[3]])
                self.vid_det[video] = {
                    frame: {
                        label: np.array(rows[frame, label]).reshape(-1, 5)
                        for label in range(len(self.labels))
                    }
                    for frame in range(1, self.nframes[video] + 1)
                }
            return self.vid_det

    return Dataset


def let_mmaction_link_tubes_with_their_scores() -> None:
    module = importlib.import_module(_MULTISPORTS_UTILS)
    module.Dataset = _dataset_with_own_scores(module.Dataset)


# ---------------------------------------------------------------------------------------------
# NumPy >= 2.4: int() of a one-element array in mmaction2 1.2.0's iou3dt_voc
# ---------------------------------------------------------------------------------------------
def numpy_refuses_int_of_1d_array_in_iou3dt() -> bool:
    try:
        int(np.array([1]))
        return False
    except TypeError:
        iou3dt = importlib.import_module(_MULTISPORTS_UTILS).iou3dt_voc
        return 'int(np.where(' in inspect.getsource(iou3dt)


def _iou3dt_voc(iou3d_voc: Callable) -> Callable:

    def iou3dt_voc(b1, b2, spatialonly=False, temporalonly=False):
        """Spatio-temporal IoU of two tubes, ``(n, 5)`` rows (frame, x1, y1, x2, y2) with
        increasing frames: the mean box IoU over the frames both cover, times the temporal
        IoU (``tmax - tmin`` over the union, as mmaction2 / MultiSports compute it)."""
        tmin = max(b1[0, 0], b2[0, 0])
        tmax = min(b1[-1, 0], b2[-1, 0])
        if tmax < tmin:
            return 0.0
        temporal_inter = tmax - tmin
        temporal_union = max(b1[-1, 0], b2[-1, 0]) - min(b1[0, 0], b2[0, 0])
        if temporalonly:
            return temporal_inter / temporal_union
        tube1 = b1[(b1[:, 0] >= tmin) & (b1[:, 0] <= tmax)]
        tube2 = b2[(b2[:, 0] >= tmin) & (b2[:, 0] <= tmax)]
        return iou3d_voc(tube1, tube2) * (1. if spatialonly else temporal_inter / temporal_union)

    return iou3dt_voc


def give_mmaction_iou3dt_without_int_of_array() -> None:
    module = importlib.import_module(_MULTISPORTS_UTILS)
    module.iou3dt_voc = _iou3dt_voc(module.iou3d_voc)


# ---------------------------------------------------------------------------------------------
_FIXES = (
    ('mmaction2-1.2.0-wheel-without-drn', mmaction_drn_missing, stub_mmaction_drn),
    ('mmengine-torch.load-weights_only', mmengine_loads_without_weights_only,
     let_mmengine_load_full_checkpoints),
    ('numpy2-removed-NAN-Inf', numpy_lacks_removed_aliases, give_mmaction_numpy_aliases),
    ('mmengine-distributed-needs-cuda', mmengine_distributed_needs_cuda,
     let_mmengine_distribute_on_cpu),
    ('mmaction2-AVAMetric-result-file-in-working-dir', ava_metric_writes_into_working_dir,
     register_safe_ava_metric),
    ('mmaction2-1.2.0-link-tubes-one-score', mmaction_links_tubes_with_one_score,
     let_mmaction_link_tubes_with_their_scores),
    ('numpy2.4-int-of-array-in-iou3dt_voc', numpy_refuses_int_of_1d_array_in_iou3dt,
     give_mmaction_iou3dt_without_int_of_array),
)


def apply_all() -> None:
    """Apply every fix whose defect is present in this environment (idempotent)."""
    for name, defect_present, fix in _FIXES:
        if name not in _APPLIED and defect_present():
            fix()
            _APPLIED.append(name)


def applied_fixes() -> List[str]:
    """Names of the fixes applied in this process."""
    return list(_APPLIED)
