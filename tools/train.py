"""Train a model from an mmengine config (MMAction2's tools/train.py flags).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|CKPT]] [--amp] [--no-validate]
        [--auto-scale-lr] [--seed N] [--diff-rank-seed] [--deterministic]
        [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner, find_latest_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint

import mmevad  # noqa: F401  (compat fixes, registers mmdet / mmaction / mmevad modules)
from mmevad.engine import StrictLoadHook
from mmevad.utils import adapt_dist_backend, parse_args_with_launcher


def parse_args():
    parser = argparse.ArgumentParser(description='Train a video action detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in the work dir '
        'when no path is given')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision training')
    parser.add_argument(
        '--no-validate', action='store_true', help='do not evaluate during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual total batch size '
        '(auto_scale_lr.base_batch_size in the config)')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument(
        '--diff-rank-seed', action='store_true', help='use a different seed on each rank')
    parser.add_argument(
        '--deterministic', action='store_true', help='deterministic cuDNN algorithms')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. train_cfg.max_epochs=2')
    return parse_args_with_launcher(parser)


def seed_of_resumed_run(cfg: Config) -> Optional[int]:
    """The random seed stored in the checkpoint ``--resume`` will read (None if unknown)."""
    path = cfg.get('load_from') or find_latest_checkpoint(cfg.work_dir)
    if not path or not osp.isfile(path):
        return None  # the Runner reports the missing checkpoint
    return _load_checkpoint(path, map_location='cpu').get('meta', {}).get('seed')


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge command-line arguments into the config."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        from mmengine.device import get_device
        if get_device() not in ('cuda', 'npu', 'mlu', 'musa'):
            # mmengine's AmpOptimWrapper would stop the build with a bare AssertionError
            raise SystemExit(f'--amp trains with mmengine\'s AmpOptimWrapper, which needs a GPU '
                             f'(CUDA, NPU, MLU or MUSA); this machine offers "{get_device()}". '
                             f'Drop --amp to train in float32.')
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp needs optim_wrapper.type OptimWrapper, but the config '
                             f'uses {wrapper}; set AmpOptimWrapper in the config instead')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    # the flags override the config's randomness (they were ignored when it had one)
    randomness = dict(seed=None, diff_rank_seed=False, deterministic=False)
    randomness.update(cfg.get('randomness') or {})
    if args.seed is not None:
        randomness['seed'] = args.seed
    randomness['diff_rank_seed'] |= args.diff_rank_seed
    randomness['deterministic'] |= args.deterministic
    cfg.randomness = randomness
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.get('resume') and cfg.randomness.get('seed') is None:
        # without a seed the Runner draws a new one, and the dataloader sampler (built before
        # the checkpoint is read) would shuffle differently from the interrupted run
        cfg.randomness.seed = seed_of_resumed_run(cfg)
    if args.no_validate:
        # after --cfg-options: nulling first would make e.g. val_dataloader.batch_size=2 a
        # merge into None (mmengine's TypeError)
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    return adapt_dist_backend(cfg)


def main():
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    runner = Runner.from_cfg(cfg)
    if cfg.get('resume'):
        # resuming continues the same model: every weight must come from the checkpoint
        # (load_from for fine-tuning stays lenient, e.g. for another num_classes)
        runner.register_hook(StrictLoadHook(), priority='VERY_LOW')
    runner.train()
    # a process group left to interpreter exit can abort in gloo's teardown ("terminate called
    # without an active exception") after training has finished; close it while all ranks live
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == '__main__':
    main()
