"""The official EVAD code as a ``benchmark_detector.py`` setting (``--official-root``), to time it
with the same protocol as mmevad.

The official code (https://github.com/MCG-NJU/EVAD, CC-BY-NC) is imported from a checkout at run
time, never copied here, and runs unmodified. It needs its own environment, because it needs
detectron2 (built from source; not on PyPI) and a torchvision whose compiled ops load, which
PyPI's torchvision wheels only do next to PyPI's CUDA build of torch (they fail to load with a
CPU-only torch). What this project used (README, "Speed"):

    python -m venv evad-official && . evad-official/bin/activate
    pip install torch==2.14.1 torchvision==0.29.1 fvcore iopath simplejson scipy pandas psutil \
        opencv-python-headless av pycocotools "timm==0.4.12"
    git clone https://github.com/facebookresearch/detectron2 && cd detectron2 && \
        python setup.py build_ext --inplace   # CPU-only ops when no CUDA toolkit is found
    PYTHONPATH=$PWD/detectron2 python tools/analysis_tools/benchmark_detector.py \
        --official-root /path/to/EVAD \
        /path/to/EVAD/projects/evad/configs/ViT_B_16x4.yaml \
        /path/to/EVAD/projects/evad/configs/ViT_B_16x4_KTP.yaml --threads 2

Two shims, both outside the official code: ``torchvision.ops._new_empty_tensor`` and
``torchvision.ops.misc._output_size`` are given placeholder values, because the official
``util/misc.py`` imports them when ``float(torchvision.__version__[:3]) < 0.7``, which is true
for torchvision 0.10 and later ("0.2" < 0.7); nothing calls them. The model is built with
``MODEL.DEVICE=cpu`` or ``cuda`` as asked.

The inputs match ``benchmark_detector.Setting``: a seeded ``N(0, 1)`` clip batch, and in training
two persons per clip at the same boxes with one action each. Eval runs the official
``forward`` in eval mode (person selection and box post-processing included, as ``model.predict``
in mmevad); train runs the loss dict's weighted sum and its backward, gradient checkpointing as the
official config sets it (``ViT.USE_CHECKPOINT``).
"""
import os.path as osp
import sys
import time


def _import_official(root: str):
    """``(get_cfg, add_evad_config, EVAD)`` from an official checkout at ``root``."""
    if not osp.isdir(osp.join(root, 'projects', 'evad', 'models')):
        raise SystemExit(f'--official-root {root} is not a checkout of the official EVAD code '
                         f'(no projects/evad/models in it)')
    try:
        import torchvision.ops
        import torchvision.ops.misc
    except ImportError:  # the official code needs it and says so when imported below
        pass
    else:
        for module, name in ((torchvision.ops, '_new_empty_tensor'),
                             (torchvision.ops.misc, '_output_size')):
            if not hasattr(module, name):
                setattr(module, name, None)  # see the module docstring
    for path in (root, osp.join(root, 'projects', 'evad')):
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        from models import EVAD, add_evad_config
        from slowfast.config.defaults import get_cfg
    except ImportError as error:
        raise SystemExit(f'cannot import the official EVAD code from {root}: {error}; see '
                         f'{osp.abspath(__file__)} for the environment it needs') from error
    return get_cfg, add_evad_config, EVAD


class OfficialSetting:
    """The official detector built from one of its yaml configs, with ``run()`` as
    ``benchmark_detector.Setting``."""

    def __init__(self, config: str, batch_size: int, mode: str, args) -> None:
        import torch
        if mode not in ('eval', 'train'):
            raise SystemExit(f'--official-root times eval and train, not {mode}')
        if args.amp or args.compile or args.portable_paths:
            raise SystemExit('--official-root runs the official code as released: no --amp, '
                             '--compile or --portable-paths')
        get_cfg, add_evad_config, EVAD = _import_official(args.official_root)
        cfg = get_cfg()
        add_evad_config(cfg)
        cfg.merge_from_file(config)
        cfg.MODEL.DEVICE = args.device
        cfg.NUM_GPUS = 1 if args.device == 'cuda' else 0
        self.mode = mode
        self.device = torch.device(args.device)
        self.model = EVAD(cfg).to(self.device)
        frames, height, width = args.shape
        generator = torch.Generator().manual_seed(0)
        clips = torch.randn(batch_size, 3, frames, height, width, generator=generator)
        # one pathway per clip, as the official loader's batches
        self.inputs = [[clip.to(self.device)] for clip in clips]
        boxes = [[0.1 * width, 0.2 * height, 0.4 * width, 0.9 * height],
                 [0.5 * width, 0.1 * height, 0.9 * width, 0.8 * height]]
        labels = [[0.] * cfg.MODEL.NUM_CLASSES for _ in boxes]
        labels[0][0] = labels[1][4] = 1.
        if mode == 'train':
            self.targets = ([dict(boxes=boxes)] * batch_size, [labels] * batch_size)
        else:
            self.targets = [dict(ori_height=height, ori_width=width, metadata=[[0, 902]])
                            for _ in range(batch_size)]

    def run(self) -> float:
        """One iteration; returns its wall time in seconds (its CPU time in ``last_cpu``)."""
        import torch
        self._sync()
        start = time.perf_counter()
        cpu_start = time.process_time()
        if self.mode == 'eval':
            self.model.eval()
            with torch.no_grad():
                self.model(self.inputs, self.targets)
        else:
            self.model.train()
            losses = self.model(self.inputs, self.targets)
            sum(losses.values()).backward()
            self.model.zero_grad(set_to_none=True)
        self._sync()
        self.last_cpu = time.process_time() - cpu_start
        return time.perf_counter() - start

    def _sync(self) -> None:
        import torch
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
