"""Count the multiply-accumulates of a model the way the EVAD paper's GFLOPs were counted.

    python tools/analysis_tools/get_flops.py CONFIG --shape T H W [--backbone]
        [--cfg-options k=v ...]

Convention (docs/algorithm.md#flops, fvcore): 1 multiply-accumulate = 1 "FLOP"; linear layers,
    convolutions and
the two attention matmuls (q.k^T and attn.v) are counted, also where they run inside
``scaled_dot_product_attention``; pruning blocks are counted at their actual token counts;
LayerNorm and nearest resampling count one op per element (mmengine's default handles) and other
element-wise ops are not counted. The EVAD paper reports these numbers at 16x288x288.

What is counted: a config whose ``model`` has no ``type`` (a backbone fragment such as
``configs/_base_/models/tpvit-base-p16.py``) or ``--backbone``: ``model.backbone`` on a
``(1, 3, T, H, W)`` clip. Otherwise the whole detector through its tensor mode,
``model._forward(inputs, data_samples)``, with one data sample whose metainfo has
``img_shape = pad_shape = (H, W)`` and one whole-frame proposal (what a proposal-based detector's
``_forward`` needs); the data preprocessor is not counted.

Why mmengine's FlopAnalyzer (fvcore's jit-trace counter) and not our own hooks: it sees every op of
the whole detector, including functional calls (``F.linear`` in ``nn.MultiheadAttention``,
``torch.bmm`` in dynamic convolutions) that module hooks miss, with fvcore's handles, i.e. the
convention of docs/algorithm.md#flops. It lacks two handles, added here:
``aten::scaled_dot_product_attention`` (q.k^T + attn.v) and mmevad's ``keyframe_importance`` op. The
latter recomputes q.k^T to rank tokens in pruning blocks (our implementation keeps no attention
map); docs/algorithm.md#flops counts the attention of a block once, so those MACs are reported on
their own line and left out of the total that compares with the paper.
"""
import argparse
from collections import Counter
from math import prod

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from mmengine.config import Config, DictAction
from mmengine.structures import InstanceData
from torch import nn

import mmevad  # noqa: F401  (compat fixes, registers the modules)
from mmevad.models.layers.attention import portable_importance
from mmevad.utils import load_config

IMPORTANCE_OP = 'mmevad::keyframe_importance'
IMPORTANCE_KEY = 'keyframe_importance (q.k^T recomputed for ranking)'


def sdpa_macs(inputs, outputs) -> int:
    """``aten::scaled_dot_product_attention``: q.k^T plus attn.v."""
    q, k, v = (get_shape(value) for value in inputs[:3])
    batch = prod(q[:-2])
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def importance_macs(inputs, outputs) -> Counter:
    """``mmevad::keyframe_importance``: q.k^T of all queries and keys, then the weighted sum of
    the probabilities over the queries, ``B * heads * N * N * (C / heads + 1)``."""
    q, k = get_shape(inputs[0]), get_shape(inputs[1])
    return Counter({IMPORTANCE_KEY: prod(q[:-1]) * k[-2] * (q[-1] + 1)})


class TensorOutputs(nn.Module):
    """Calls ``fn(inputs, *args)`` of ``model`` and returns its tensors as a flat tuple, which is
    what the jit tracer accepts (TokenPruningOutput carries an int tuple, detectors return
    nested structures)."""

    def __init__(self, model: nn.Module, fn_name: str = 'forward', args=()) -> None:
        super().__init__()
        self.model = model
        self.fn_name = fn_name
        self.args = args

    def forward(self, inputs):
        return tuple(_tensors(getattr(self.model, self.fn_name)(inputs, *self.args)))


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _tensors(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _tensors(value)


def _detector_data_sample(height: int, width: int):
    from mmaction.structures import ActionDataSample
    sample = ActionDataSample()
    sample.set_metainfo(
        dict(img_shape=(height, width), pad_shape=(height, width),
             batch_input_shape=(height, width)))
    sample.proposals = InstanceData(
        bboxes=torch.tensor([[0., 0., width, height]]), scores=torch.ones(1))
    return sample


def build_counted_model(cfg: Config, shape, backbone_only: bool):
    """The module to trace and its input. Returns ``(module, inputs, description)``."""
    from mmaction.registry import MODELS
    frames, height, width = shape
    inputs = torch.randn(1, 3, frames, height, width)
    if backbone_only or 'type' not in cfg.model:
        backbone = MODELS.build(cfg.model.backbone)
        return TensorOutputs(backbone), inputs, f'{type(backbone).__name__} (backbone only)'
    # initialised weights, without loading any pre-trained file: a detector's outputs (e.g. the
    # learned proposal boxes) must be valid for the traced forward to run
    cfg.model.pop('init_cfg', None)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if not hasattr(model, '_forward'):
        raise TypeError(f'{type(model).__name__} has no _forward (tensor mode) to trace; '
                        f'use --backbone to count its backbone')
    sample = _detector_data_sample(height, width)
    return (TensorOutputs(model, '_forward', ([sample], )), inputs,
            f'{type(model).__name__} (whole model through _forward)')


def count_macs(module: nn.Module, inputs: torch.Tensor):
    """Trace ``module(inputs)`` once and count.

    Returns:
        tuple: the FlopAnalyzer, the docs/algorithm.md#flops total (importance recomputation left
        out) and the MACs of that recomputation.
    """
    module.eval()
    analyzer = FlopAnalyzer(module, (inputs, ))
    analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_macs, IMPORTANCE_OP,
                           importance_macs)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    # portable_importance: pruning blocks run fused attention + mmevad::keyframe_importance, as
    # on any device, not the CPU-only logsumexp path (mmevad/models/layers/attention.py)
    with torch.no_grad(), portable_importance():  # no_grad also keeps checkpointing out
        total = analyzer.total()
    extra = analyzer.by_operator()[IMPORTANCE_KEY]
    return analyzer, total - extra, extra


def breakdown(analyzer: FlopAnalyzer) -> str:
    """GMACs per operator. (No per-module table: the tracer attributes an op to a module only
    when it runs inside that module's ``forward``, and heads and pruning blocks are driven
    through other methods, so module totals would be misleading. Use --backbone for the
    backbone's share.)"""
    lines = [f'{"operator":<58}GMACs']
    for op, count in sorted(analyzer.by_operator().items(), key=lambda item: -item[1]):
        note = '  (not in the total)' if op == IMPORTANCE_KEY else ''
        lines.append(f'  {op:<54}{count / 1e9:>9.2f}{note}')
    return '\n'.join(lines)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Count multiply-accumulates (GFLOPs in the EVAD paper convention)')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--shape', type=int, nargs=3, default=[16, 288, 288], metavar=('T', 'H', 'W'),
        help='input clip frames, height and width (default: 16 288 288, the paper setting)')
    parser.add_argument('--backbone', action='store_true', help='count only model.backbone')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.backbone.keep_rates=...')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    module, inputs, description = build_counted_model(cfg, args.shape, args.backbone)
    analyzer, macs, extra = count_macs(module, inputs)

    print(breakdown(analyzer))
    skipped = analyzer.unsupported_ops()
    line = '=' * 72
    print(f'\n{line}\nModel: {description}\nInput: {tuple(inputs.shape)}\n'
          f'GMACs (= GFLOPs, docs/algorithm.md#flops convention): {macs / 1e9:.1f}\n'
          f'Parameters: {parameter_count(module)[""] / 1e6:.2f} M')
    if extra:
        print(f'Not in the total: {extra / 1e9:.1f} GMACs that TokenPruningViT spends '
              f're-computing q.k^T to rank tokens in its pruning blocks')
    if skipped:
        print('Ops not counted (element-wise or unsupported): ' +
              ', '.join(f'{op} x{count}' for op, count in sorted(skipped.items())))
    print(line)


if __name__ == '__main__':
    main()
