"""Score a dataset's own ground truth with its evaluator: a check of an AVA-format dataset.

    python tools/analysis_tools/eval_ground_truth.py CONFIG [--split val|test] [--cfg-options ...]

Every annotated box of the split is fed to the config's evaluator as a prediction with score 1
for its labelled actions and 0 for the others. A consistent dataset (frames, CSV, label map and
exclusions agreeing) scores mAP 1.0; anything less points at a data problem before any training.
"""
import argparse

from mmengine.config import DictAction
from mmengine.evaluator import Evaluator

import mmevad  # noqa: F401  (compat fixes, registers mmaction's datasets and metrics)
from mmevad.datasets import ground_truth_as_predictions
from mmevad.utils import load_config


def parse_args():
    parser = argparse.ArgumentParser(description='Evaluate a dataset\'s ground truth')
    parser.add_argument('config', help='config with {split}_dataloader and {split}_evaluator')
    parser.add_argument('--split', default='val', choices=['val', 'test'])
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    from mmaction.registry import DATASETS
    dataset_cfg = cfg[f'{args.split}_dataloader'].dataset
    dataset = DATASETS.build(dataset_cfg)
    evaluator = Evaluator(cfg[f'{args.split}_evaluator'])
    samples = ground_truth_as_predictions(dataset)
    metrics = evaluator.offline_evaluate(samples, chunk_size=len(samples))
    print(f'ground truth of {len(samples)} keyframes scored as predictions:')
    for key, value in metrics.items():
        print(f'  {key}: {value:.4f}')


if __name__ == '__main__':
    main()
