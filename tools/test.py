"""Evaluate a checkpoint on the test split of a config (MMAction2's tools/test.py flags).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump results.pkl]
        [--no-strict-load] [--show-dir DIR] [--show] [--interval N] [--wait-time S]
        [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

The checkpoint must fit the model of CONFIG exactly (mmevad.engine.StrictLoadHook): a missing,
unexpected or mis-shaped weight stops the run with their names and the likely cause instead of
evaluating a partly random model. ``--no-strict-load`` restores mmengine's lenient loading.
"""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import mmevad  # noqa: F401  (compat fixes, registers mmdet / mmaction / mmevad modules)
from mmevad.engine import StrictLoadHook
from mmevad.utils import (CheckpointMismatchError, adapt_dist_backend, checkpoint_from_args,
                          parse_args_with_launcher)

NO_STRICT_HINT = ('If you mean to evaluate with the weights that fit and initial values for the '
                  'rest, pass --no-strict-load.')


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a video action detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--dump', type=str, help='dump the predictions to this pickle file (.pkl)')
    add_show_args(parser)
    parser.add_argument(
        '--no-strict-load',
        action='store_true',
        help='load a checkpoint that does not fit the model (missing / unexpected / mis-shaped '
        'weights are only logged; the model keeps its initial values for them)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. test_dataloader.batch_size=1')
    return parse_args_with_launcher(parser)


def add_show_args(parser: argparse.ArgumentParser) -> None:
    """``--show-dir/--show/--interval/--wait-time``: draw the test keyframes (mmaction2's and
    mmdet's test-tool flags)."""
    parser.add_argument(
        '--show-dir',
        help='write every drawn keyframe (raw frame; ground truth left, predictions right) '
        'to DIR/<video_id>_<timestamp>.jpg')
    parser.add_argument('--show', action='store_true', help='show the drawn keyframes')
    parser.add_argument(
        '--interval', type=int, default=1, help='draw every N-th keyframe (default: all)')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='seconds each shown keyframe stays')


def enable_visualization(cfg: Config, args: argparse.Namespace) -> Config:
    """With ``--show`` or ``--show-dir``, draw the test keyframes with
    ``EVADVisualizationHook`` and ``EVADLocalVisualizer`` (whatever the config had: mmaction2's
    ``ActionVisualizer`` and ``VisualizationHook`` draw classification clips)."""
    if not (args.show or args.show_dir):
        return cfg
    cfg.setdefault('default_hooks', {})
    hook = cfg.default_hooks.get('visualization') or {}
    if hook.get('type') not in ('EVADVisualizationHook', 'mmevad.EVADVisualizationHook'):
        hook = dict(type='EVADVisualizationHook')
    hook.update(draw=True, show=args.show, wait_time=args.wait_time, interval=args.interval,
                test_out_dir=args.show_dir)
    cfg.default_hooks.visualization = hook
    visualizer = cfg.get('visualizer') or {}
    if visualizer.get('type') != 'EVADLocalVisualizer':
        cfg.visualizer = dict(type='EVADLocalVisualizer', name='visualizer',
                              vis_backends=visualizer.get('vis_backends'))
    return cfg


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge command-line arguments into the config."""
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump must name a .pkl or .pickle file, got {args.dump}')
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, (list, tuple)):
            cfg.test_evaluator = [*evaluators, dump_metric]
        else:
            cfg.test_evaluator = [evaluators, dump_metric]
    return adapt_dist_backend(cfg)


def main():
    args = parse_args()
    checkpoint_from_args(args.checkpoint)  # before the runner builds the model and the data
    cfg = enable_visualization(merge_args(Config.fromfile(args.config), args), args)
    runner = Runner.from_cfg(cfg)
    if not args.no_strict_load:
        # raises in after_load_checkpoint, before any weight is copied
        runner.register_hook(StrictLoadHook(hint=NO_STRICT_HINT), priority='VERY_LOW')
    try:
        runner.test()
    except CheckpointMismatchError as error:
        raise SystemExit(f'error: {error}')  # the message says it all; no traceback


if __name__ == '__main__':
    main()
