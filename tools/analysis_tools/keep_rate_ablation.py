"""Train one EVAD config at several keep rates and print val mAP and training time side by side.

    python tools/analysis_tools/keep_rate_ablation.py [CONFIG] [--keep-rates 1.0 0.7 0.5]
        [--pruning-blocks 1 2] [--work-dir work_dirs/keep_rate_ablation] [--cfg-options k=v ...]

Each keep rate ``r`` is set in the pruning blocks (by default those where the config's
``keep_rates`` are below 1; ``r = 1`` prunes nothing) and 1 elsewhere, then ``tools/train.py`` runs in its
own process, one run after the other so the timings are comparable. The val mAP is the one the
run logs at its last validation. Defaults to the tiny synthetic config of the quickstart (generate
its data first: ``python tools/data/generate_synthetic_ava.py data/synthetic_ava``).
"""
import argparse
import os.path as osp
import re
import subprocess
import sys
import time

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = osp.join(
    ROOT, 'configs/evad/evad_vit-tiny-p16-ktp0.7_scratch_1xb8-8x4x1-2600it_synthetic-ava-rgb.py')


def parse_args():
    parser = argparse.ArgumentParser(description='Keep-rate ablation of an EVAD config')
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG)
    parser.add_argument('--keep-rates', type=float, nargs='+', default=[1.0, 0.7, 0.5])
    parser.add_argument('--pruning-blocks', type=int, nargs='+',
                        help='blocks that prune (default: those of the config)')
    parser.add_argument('--work-dir', default='work_dirs/keep_rate_ablation')
    parser.add_argument('--cfg-options', nargs='+', default=[], help='passed to tools/train.py')
    return parser.parse_args()


def schedule_with_rate(keep_rates, rate, pruning_blocks=None):
    """``keep_rates`` with ``rate`` in the pruning blocks (default: where the config's rate is
    below 1) and 1 elsewhere."""
    if pruning_blocks is None:
        pruning_blocks = [i for i, r in enumerate(keep_rates) if r < 1]
        if not pruning_blocks:
            raise ValueError('the config prunes in no block (all keep_rates are 1); name the '
                             'blocks with --pruning-blocks')
    bad = [i for i in pruning_blocks if not 0 <= i < len(keep_rates)]
    if bad:
        raise ValueError(f'--pruning-blocks {bad} out of range for a {len(keep_rates)}-block '
                         'backbone')
    return [rate if i in pruning_blocks else 1.0 for i in range(len(keep_rates))]


def main():
    args = parse_args()
    base_rates = list(Config.fromfile(args.config).model.backbone.keep_rates)
    rows = []
    for rate in args.keep_rates:
        rates = schedule_with_rate(base_rates, rate, args.pruning_blocks)
        work_dir = osp.join(args.work_dir, f'keep{rate:g}')
        cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), args.config, '--work-dir',
               work_dir, '--cfg-options',
               'model.backbone.keep_rates=[' + ','.join(f'{r:g}' for r in rates) + ']',
               *args.cfg_options]
        print('==', ' '.join(cmd), flush=True)
        start = time.time()
        result = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.time() - start
        log = result.stdout + result.stderr
        if result.returncode:
            sys.exit(f'training with keep rate {rate:g} failed:\n{log[-3000:]}')
        maps = re.findall(r'mAP/overall: ([0-9.]+|nan)', log)
        if not maps:
            sys.exit(f'the run with keep rate {rate:g} logged no mAP/overall; does the config '
                     'validate at the end of training?')
        rows.append((rate, rates, float(maps[-1]), seconds))
        print(f'keep {rate:g}: mAP {maps[-1]}, {seconds:.0f} s', flush=True)

    print(f'\n{"keep rate":>9}  {"schedule":<28}  {"val mAP":>7}  {"train s":>7}  {"time ratio":>10}')
    reference = rows[0][3]
    for rate, rates, map_, seconds in rows:
        schedule = '[' + ', '.join(f'{r:g}' for r in rates) + ']'
        print(f'{rate:>9g}  {schedule:<28}  {map_:>7.4f}  {seconds:>7.0f}  '
              f'{seconds / reference:>10.2f}')


if __name__ == '__main__':
    main()
