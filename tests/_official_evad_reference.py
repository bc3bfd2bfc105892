"""What the official EVAD model computes, restated from docs/algorithm.md on official-named
weights.

``official_evad_forward`` re-implements docs/algorithm.md (the official model at test
time) with plain torch ops, directly on a state dict with the official parameter names
(the official names that ``mmevad/models/utils/ckpt_convert/official_evad.py`` maps). It is
the independent side of the conversion round trip:
nothing here uses mmevad's modules. The only borrowed op is ``mmcv.ops.RoIAlign(aligned=True)``,
the same RoIAlign ("ROIAlignV2") the official model calls through detectron2.

``official_evad_shapes`` writes the official state-dict layout (names, shapes, order) from the
structure rules of the official model, for any size, so the tests can build full-size name lists
and tiny random checkpoints without reading any file.
"""
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.ops import RoIAlign
from torch import Tensor


@dataclass(frozen=True)
class OfficialEVADArch:
    """Hyper-parameters of an official EVAD model (defaults: ``ViT_B_16x4_KTP.yaml``).

    The weights' shapes follow from these; keep rates, enhanced weight, head counts and the RoI
    extension are not stored in weights but change what the model computes.
    """
    embed_dims: int = 768  # Ce
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: int = 4
    patch_size: int = 16
    tubelet_size: int = 2
    pos_grid: Tuple[int, int, int] = (8, 14, 14)  # pre-training table: 16 frames / 2, 224 / 16
    keep_rates: Tuple[float, ...] = tuple(0.7 if i in (3, 6, 9) else 1. for i in range(12))
    enhanced_weight: float = 1.
    fpn_taps: Tuple[int, int, int, int] = (2, 5, 8, 11)
    hidden_dims: int = 256  # FPN width = proposal feature width
    num_proposals: int = 100
    num_stages: int = 6
    stage_heads: int = 8
    dynamic_dims: int = 64
    ffn_dims: int = 2048
    roi_size: int = 7
    decoder_dims: int = 384  # Cd
    decoder_depth: int = 6
    decoder_heads: int = 6
    action_hidden_dims: int = 2048
    num_actions: int = 80
    roi_extension: Tuple[float, float] = (0.4, 0.2)


VIT_B_KTP = OfficialEVADArch()
VIT_L_KTP = OfficialEVADArch(
    embed_dims=1024, depth=24, num_heads=16, fpn_taps=(5, 11, 17, 23),
    keep_rates=tuple(0.7 if i in (6, 12, 18) else 1. for i in range(24)), decoder_dims=512,
    decoder_depth=12, decoder_heads=8)

# ---------------------------------------------------------------------------------------------
# the official state-dict layout
# ---------------------------------------------------------------------------------------------


def _vit_block_shapes(prefix: str, dims: int, mlp_dims: int) -> List[Tuple[str, tuple]]:
    """VideoMAE block: q/v biases, qkv without bias, GELU MLP ``fc1``/``fc2``."""
    return [(prefix + name, shape) for name, shape in (
        ('norm1.weight', (dims, )), ('norm1.bias', (dims, )),
        ('attn.q_bias', (dims, )), ('attn.v_bias', (dims, )),
        ('attn.qkv.weight', (3 * dims, dims)),
        ('attn.proj.weight', (dims, dims)), ('attn.proj.bias', (dims, )),
        ('norm2.weight', (dims, )), ('norm2.bias', (dims, )),
        ('mlp.fc1.weight', (mlp_dims, dims)), ('mlp.fc1.bias', (mlp_dims, )),
        ('mlp.fc2.weight', (dims, mlp_dims)), ('mlp.fc2.bias', (dims, )))]


def _stage_shapes(prefix: str, a: OfficialEVADArch) -> List[Tuple[str, tuple]]:
    """One Sparse R-CNN stage (``RCNNHead``) in its state-dict order."""
    C, D, R = a.hidden_dims, a.dynamic_dims, a.roi_size
    shapes = [
        ('self_attn.in_proj_weight', (3 * C, C)), ('self_attn.in_proj_bias', (3 * C, )),
        ('self_attn.out_proj.weight', (C, C)), ('self_attn.out_proj.bias', (C, )),
        ('inst_interact.dynamic_layer.weight', (2 * C * D, C)),
        ('inst_interact.dynamic_layer.bias', (2 * C * D, )),
        ('inst_interact.norm1.weight', (D, )), ('inst_interact.norm1.bias', (D, )),
        ('inst_interact.norm2.weight', (C, )), ('inst_interact.norm2.bias', (C, )),
        ('inst_interact.out_layer.weight', (C, C * R * R)), ('inst_interact.out_layer.bias', (C, )),
        ('inst_interact.norm3.weight', (C, )), ('inst_interact.norm3.bias', (C, )),
        ('linear1.weight', (a.ffn_dims, C)), ('linear1.bias', (a.ffn_dims, )),
        ('linear2.weight', (C, a.ffn_dims)), ('linear2.bias', (C, )),
    ]
    shapes += [(f'norm{i}.{p}', (C, )) for i in (1, 2, 3) for p in ('weight', 'bias')]
    # towers: (Linear without bias, LayerNorm, ReLU) x 1 for the class, x 3 for the box
    for tower, repeats in (('cls_module', 1), ('reg_module', 3)):
        for r in range(repeats):
            shapes += [(f'{tower}.{3 * r}.weight', (C, C)), (f'{tower}.{3 * r + 1}.weight', (C, )),
                       (f'{tower}.{3 * r + 1}.bias', (C, ))]
    shapes += [('class_logits.weight', (2, C)), ('class_logits.bias', (2, )),
               ('bboxes_delta.weight', (4, C)), ('bboxes_delta.bias', (4, ))]
    return [(prefix + name, shape) for name, shape in shapes]


def official_evad_shapes(a: OfficialEVADArch) -> 'OrderedDict[str, tuple]':
    """Every entry of the official model's state dict, in its order: backbone (``patch_embed``,
    ``blocks``, ``norm``), ``det_head`` (mask token, stages, projection, decoder with its action
    heads), the FPN, the learned proposals and the loss buffer ``criterion.empty_weight``."""
    Ce, Cd = a.embed_dims, a.decoder_dims
    shapes = [('patch_embed.proj.weight', (Ce, 3, a.tubelet_size, a.patch_size, a.patch_size)),
              ('patch_embed.proj.bias', (Ce, ))]
    for i in range(a.depth):
        shapes += _vit_block_shapes(f'blocks.{i}.', Ce, a.mlp_ratio * Ce)
    shapes += [('norm.weight', (Ce, )), ('norm.bias', (Ce, )), ('det_head.mask_token', (1, 1, Cd))]
    for s in range(a.num_stages):
        shapes += _stage_shapes(f'det_head.s0_headseries.{s}.', a)
    shapes.append(('det_head.encoder_to_decoder.weight', (Cd, Ce)))
    for j in range(a.decoder_depth):
        prefix = f'det_head.decoder.blocks.{j}.'
        shapes += _vit_block_shapes(prefix, Cd, a.mlp_ratio * Cd)
        A = a.action_hidden_dims
        shapes += [(prefix + 'act_module.0.weight', (A, Cd)),
                   (prefix + 'act_module.1.weight', (A, )), (prefix + 'act_module.1.bias', (A, )),
                   (prefix + 'action_logits.weight', (a.num_actions, A)),
                   (prefix + 'action_logits.bias', (a.num_actions, ))]
    for level in range(2, 6):
        shapes += [(f'fpn_lateral{level}.weight', (a.hidden_dims, Ce, 1, 1)),
                   (f'fpn_lateral{level}.bias', (a.hidden_dims, )),
                   (f'fpn_output{level}.weight', (a.hidden_dims, a.hidden_dims, 3, 3)),
                   (f'fpn_output{level}.bias', (a.hidden_dims, ))]
    shapes += [('init_proposal_features.weight', (a.num_proposals, a.hidden_dims)),
               ('init_proposal_boxes.weight', (a.num_proposals, 4)),
               ('criterion.empty_weight', (2, ))]
    return OrderedDict(shapes)


def random_official_state_dict(a: OfficialEVADArch, seed: int = 0) -> 'OrderedDict[str, Tensor]':
    """Random weights with the official names and shapes, scaled like trained ones: matrices
    ``N(0, 1/fan_in)``, norm scales near 1, small biases. The learned proposals spread from a
    quarter to eight times the image so that they use every FPN level and cross the border."""
    gen = torch.Generator().manual_seed(seed)
    state_dict = OrderedDict()
    for name, shape in official_evad_shapes(a).items():
        value = torch.randn(shape, generator=gen)
        if name == 'init_proposal_boxes.weight':  # normalised (cx, cy, w, h)
            u = torch.rand(shape, generator=gen)
            centres = 0.2 + 0.6 * u[:, :2]
            sizes = 0.25 * 32**u[:, 2:]  # log-uniform in [0.25, 8] times the image
            value = torch.cat([centres, sizes], dim=1)
        elif name == 'criterion.empty_weight':
            value = torch.tensor([1.0, 0.1])
        elif name in ('det_head.mask_token', 'init_proposal_features.weight'):
            pass
        elif len(shape) >= 2:
            value = value / math.sqrt(math.prod(shape[1:]))
            if name.endswith('bboxes_delta.weight'):
                value = value * 0.3  # moderate box updates
        elif name.endswith('.weight'):  # LayerNorm scale
            value = 1 + 0.1 * value
        else:
            value = 0.1 * value
        state_dict[name] = value
    return state_dict


# ---------------------------------------------------------------------------------------------
# the official forward at test time (docs/algorithm.md)
# ---------------------------------------------------------------------------------------------


def sinusoid_table(num_positions: int, dims: int) -> Tensor:
    """docs/algorithm.md#position-table: angle ``p / 10000^(2 floor(j/2) / dims)``, sin on even and
    cos on odd columns, computed in float64, returned ``(1, num_positions, dims)`` float32."""
    position = torch.arange(num_positions, dtype=torch.float64)[:, None]
    j = torch.arange(dims)
    angle = position / torch.pow(10000.0, (2 * (j // 2)).double() / dims)
    return torch.where(j % 2 == 0, angle.sin(), angle.cos()).float()[None]


def interpolated_table(dims: int, pos_grid: Sequence[int], h: int, w: int) -> Tensor:
    """docs/algorithm.md#position-table: the table as (t, 14, 14), each temporal slot
    bicubic-resized to (h, w) when the token count differs; ``(1, t*h*w, dims)`` in t-major, row,
    column order."""
    t, gh, gw = pos_grid
    table = sinusoid_table(t * gh * gw, dims)
    if (gh, gw) == (h, w):
        return table
    slots = table.reshape(t, gh, gw, dims).permute(0, 3, 1, 2)
    slots = F.interpolate(slots, size=(h, w), mode='bicubic', align_corners=False)
    return slots.permute(0, 2, 3, 1).reshape(1, t * h * w, dims)


def layer_norm(x: Tensor, sd: Dict[str, Tensor], prefix: str, eps: float) -> Tensor:
    return F.layer_norm(x, x.shape[-1:], sd[prefix + 'weight'], sd[prefix + 'bias'], eps)


def vit_attention(x: Tensor, sd: Dict[str, Tensor], prefix: str,
                  num_heads: int) -> Tuple[Tensor, Tensor]:
    """docs/algorithm.md#transformer-block: qkv without its own bias plus (q_bias, 0, v_bias); q
    scaled by head_dim^-0.5.

    Returns the projected output (B, N, C) and the softmax attention (B, heads, N, N)."""
    B, N, C = x.shape
    q_bias, v_bias = sd[prefix + 'q_bias'], sd[prefix + 'v_bias']
    qkv = F.linear(x, sd[prefix + 'qkv.weight'], torch.cat([q_bias, torch.zeros_like(q_bias),
                                                           v_bias]))
    q, k, v = qkv.reshape(B, N, 3, num_heads, C // num_heads).permute(2, 0, 3, 1, 4)
    attn = ((q * (C // num_heads)**-0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
    out = (attn @ v).transpose(1, 2).reshape(B, N, C)
    return F.linear(out, sd[prefix + 'proj.weight'], sd[prefix + 'proj.bias']), attn


def vit_mlp_residual(x: Tensor, sd: Dict[str, Tensor], prefix: str) -> Tensor:
    y = layer_norm(x, sd, prefix + 'norm2.', 1e-6)
    y = F.linear(F.gelu(F.linear(y, sd[prefix + 'mlp.fc1.weight'], sd[prefix + 'mlp.fc1.bias'])),
                 sd[prefix + 'mlp.fc2.weight'], sd[prefix + 'mlp.fc2.bias'])
    return x + y


def backbone(sd: Dict[str, Tensor], a: OfficialEVADArch, video: Tensor):
    """docs/algorithm.md#backbone: tubelet embedding, table, keyframe-first order, blocks with KTP,
    FPN taps.

    Returns:
        tuple: final normed tokens (B, N_final, Ce), dropped mask (B, N0 - Nk) (True =
        dropped), the four tapped maps res2..res5, the grid (t, h, w) and a trace dict.
    """
    x = F.conv3d(video, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'],
                 stride=(a.tubelet_size, a.patch_size, a.patch_size))  # (B, Ce, t, h, w)
    B, Ce, t, h, w = x.shape
    Nk, N0 = h * w, t * h * w
    x = x.flatten(2).transpose(1, 2) + interpolated_table(Ce, a.pos_grid, h, w)
    key = t // 2
    # docs/algorithm.md#keyframe-first: keyframe slot first, others in temporal order
    slots = x.reshape(B, t, Nk, Ce)
    x = torch.cat([slots[:, key:key + 1], slots[:, :key], slots[:, key + 1:]], dim=1)
    x = x.reshape(B, N0, Ce)
    gidx = torch.arange(N0 - Nk).repeat(B, 1)  # non-key global indices of x[:, Nk:]
    taps, trace = [], dict(kept_counts=[])
    for i in range(a.depth):
        prefix = f'blocks.{i}.'
        out, attn = vit_attention(layer_norm(x, sd, prefix + 'norm1.', 1e-6), sd, prefix + 'attn.',
                                  a.num_heads)
        x = x + out
        N = x.shape[1]
        if a.keep_rates[i] < 1 and math.ceil(a.keep_rates[i] * N) < N:
            # docs/algorithm.md#pruning: budget counts all tokens; importance = attention received
            # by non-key tokens, keyframe-query rows weighted, mean over queries then heads
            n_keep = math.ceil(a.keep_rates[i] * N) - Nk
            received = attn[..., Nk:].clone()
            received[:, :, :Nk] *= a.enhanced_weight
            score = received.mean(dim=2).mean(dim=1)  # (B, N - Nk)
            local = score.topk(n_keep, dim=1, largest=True).indices  # descending score order
            kept = x[:, Nk:].gather(1, local[..., None].expand(-1, -1, Ce))
            x = torch.cat([x[:, :Nk], kept], dim=1)
            gidx = gidx.gather(1, local)
            trace['kept_counts'].append(x.shape[1])
        x = vit_mlp_residual(x, sd, prefix)
        # docs/algorithm.md#backbone-outputs: raw keyframe tokens, nearest x4, x2, x1, x0.5
        if i in a.fpn_taps:
            scale = (4., 2., 1., .5)[a.fpn_taps.index(i)]
            fmap = x[:, :Nk].reshape(B, h, w, Ce).permute(0, 3, 1, 2)
            taps.append(fmap if scale == 1 else F.interpolate(fmap, scale_factor=scale,
                                                                mode='nearest'))
    mask = torch.ones(B, N0 - Nk, dtype=torch.bool)  # docs/algorithm.md#kept-index
    for b in range(B):
        mask[b, gidx[b]] = False
    trace['gidx'] = gidx
    return layer_norm(x, sd, 'norm.', 1e-6), mask, taps, (t, h, w), trace


def detectron2_fpn(sd: Dict[str, Tensor], res: List[Tensor]) -> List[Tensor]:
    """docs/algorithm.md#fpn: laterals 1x1, top-down sum with nearest x2 upsampling, 3x3 outputs;
    p2..p5."""
    prev = F.conv2d(res[3], sd['fpn_lateral5.weight'], sd['fpn_lateral5.bias'])
    outs = [F.conv2d(prev, sd['fpn_output5.weight'], sd['fpn_output5.bias'], padding=1)]
    for level in (4, 3, 2):
        lateral = F.conv2d(res[level - 2], sd[f'fpn_lateral{level}.weight'],
                           sd[f'fpn_lateral{level}.bias'])
        prev = lateral + F.interpolate(prev, scale_factor=2., mode='nearest')
        outs.insert(0, F.conv2d(prev, sd[f'fpn_output{level}.weight'],
                                sd[f'fpn_output{level}.bias'], padding=1))
    return outs


def multilevel_roi_align(fpn: List[Tensor], boxes: Tensor, size: int) -> Tuple[Tensor, Tensor]:
    """docs/algorithm.md#refinement-stage step 1: level ``floor(4 + log2(sqrt(area) / 224))``
    clamped to [2, 5], then ROIAlignV2 (7x7, 2 samples, aligned) on that level. ``boxes`` (B, P, 4)
    -> (B*P, C, 7, 7) and the level of every box."""
    B, P, _ = boxes.shape
    flat = boxes.reshape(-1, 4)
    area = (flat[:, 2] - flat[:, 0]) * (flat[:, 3] - flat[:, 1])
    levels = torch.floor(4 + torch.log2(area.sqrt() / 224 + 1e-8)).clamp(2, 5).long()
    rois = torch.cat([torch.arange(B).repeat_interleave(P)[:, None].float(), flat], dim=1)
    out = flat.new_zeros(B * P, fpn[0].shape[1], size, size)
    for level in range(2, 6):
        chosen = levels == level
        if chosen.any():
            align = RoIAlign(size, spatial_scale=1. / 2**level, sampling_ratio=2, aligned=True)
            out[chosen] = align(fpn[level - 2].contiguous(), rois[chosen])
    return out, levels


def multihead_self_attention(x: Tensor, sd: Dict[str, Tensor], prefix: str,
                             num_heads: int) -> Tensor:
    """torch.nn.MultiheadAttention on the packed in_proj (q, k, v stacked), among the
    proposals of each image: x (B, P, C)."""
    B, P, C = x.shape
    q, k, v = F.linear(x, sd[prefix + 'in_proj_weight'], sd[prefix + 'in_proj_bias']).chunk(3, -1)
    q, k, v = (y.reshape(B, P, num_heads, C // num_heads).transpose(1, 2) for y in (q, k, v))
    attn = ((q @ k.transpose(-2, -1)) / math.sqrt(C // num_heads)).softmax(dim=-1)
    out = (attn @ v).transpose(1, 2).reshape(B, P, C)
    return F.linear(out, sd[prefix + 'out_proj.weight'], sd[prefix + 'out_proj.bias'])


def sparse_rcnn_stage(sd: Dict[str, Tensor], prefix: str, a: OfficialEVADArch, fpn: List[Tensor],
                      boxes: Tensor, feats: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """docs/algorithm.md#refinement-stage: one stage. boxes (B, P, 4), feats (B, P, C) ->
    logits (B, P, 2), new boxes, new features and the RoI levels used."""
    B, P, C = feats.shape
    roi, levels = multilevel_roi_align(fpn, boxes, a.roi_size)
    roi = roi.flatten(2).transpose(1, 2)  # (B*P, 49, C), 7x7 positions in raster order
    f = layer_norm(feats + multihead_self_attention(feats, sd, prefix + 'self_attn.',
                                                    a.stage_heads), sd, prefix + 'norm1.', 1e-5)
    f = f.reshape(B * P, C)
    # dynamic instance interaction: two per-proposal matrices (C x D) then (D x C)
    ii = prefix + 'inst_interact.'
    params = F.linear(f, sd[ii + 'dynamic_layer.weight'], sd[ii + 'dynamic_layer.bias'])
    D = a.dynamic_dims
    first, second = params[:, :C * D].view(-1, C, D), params[:, C * D:].view(-1, D, C)
    y = F.relu(layer_norm(roi @ first, sd, ii + 'norm1.', 1e-5))
    y = F.relu(layer_norm(y @ second, sd, ii + 'norm2.', 1e-5))
    y = F.linear(y.flatten(1), sd[ii + 'out_layer.weight'], sd[ii + 'out_layer.bias'])
    y = F.relu(layer_norm(y, sd, ii + 'norm3.', 1e-5))
    f = layer_norm(f + y, sd, prefix + 'norm2.', 1e-5)
    ffn = F.linear(F.relu(F.linear(f, sd[prefix + 'linear1.weight'], sd[prefix + 'linear1.bias'])),
                   sd[prefix + 'linear2.weight'], sd[prefix + 'linear2.bias'])
    f = layer_norm(f + ffn, sd, prefix + 'norm3.', 1e-5)
    # towers: (Linear without bias, LayerNorm, ReLU) x 1 / x 3, then the output layers
    cls = F.relu(layer_norm(F.linear(f, sd[prefix + 'cls_module.0.weight']), sd,
                            prefix + 'cls_module.1.', 1e-5))
    reg = f
    for r in range(3):
        reg = F.relu(layer_norm(F.linear(reg, sd[prefix + f'reg_module.{3 * r}.weight']), sd,
                                prefix + f'reg_module.{3 * r + 1}.', 1e-5))
    logits = F.linear(cls, sd[prefix + 'class_logits.weight'], sd[prefix + 'class_logits.bias'])
    deltas = F.linear(reg, sd[prefix + 'bboxes_delta.weight'], sd[prefix + 'bboxes_delta.bias'])
    new_boxes = apply_deltas(deltas, boxes.reshape(-1, 4))
    return (logits.view(B, P, 2), new_boxes.view(B, P, 4), f.view(B, P, C), levels)


def apply_deltas(deltas: Tensor, boxes: Tensor) -> Tensor:
    """docs/algorithm.md#refinement-stage step 6: weights (2, 2, 1, 1), dw/dh clamped from above at
    log(100000/16)."""
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx, cy = boxes[:, 0] + 0.5 * widths, boxes[:, 1] + 0.5 * heights
    dx, dy = deltas[:, 0] / 2, deltas[:, 1] / 2
    dw = deltas[:, 2].clamp(max=math.log(100000 / 16))
    dh = deltas[:, 3].clamp(max=math.log(100000 / 16))
    cx, cy = cx + dx * widths, cy + dy * heights
    w, h = widths * dw.exp(), heights * dh.exp()
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)


def clip_boxes(boxes: Tensor, img_h: int, img_w: int) -> Tensor:
    """To ``[0, w-1] x [0, h-1]`` of the unpadded image."""
    return torch.stack([boxes[:, 0].clamp(0, img_w - 1), boxes[:, 1].clamp(0, img_h - 1),
                        boxes[:, 2].clamp(0, img_w - 1), boxes[:, 3].clamp(0, img_h - 1)], 1)


def extend_boxes(boxes: Tensor, img_h: int, img_w: int, extension: Sequence[float]) -> Tensor:
    """docs/algorithm.md#roi-extension: inclusive-pixel sizes, +sx/2 of the width and +sy/2 of the
    height on each side, then clipped."""
    sx, sy = extension
    pad_w = sx * (boxes[:, 2] - boxes[:, 0] + 1) / 2
    pad_h = sy * (boxes[:, 3] - boxes[:, 1] + 1) / 2
    extended = torch.stack([boxes[:, 0] - pad_w, boxes[:, 1] - pad_h, boxes[:, 2] + pad_w,
                            boxes[:, 3] + pad_h], dim=1)
    return clip_boxes(extended, img_h, img_w)


def context_refinement(sd: Dict[str, Tensor], a: OfficialEVADArch, tokens: Tensor, mask: Tensor,
                       grid: Tuple[int, int, int], boxes: Tensor,
                       img_shapes: Sequence[Tuple[int, int]]) -> Tensor:
    """docs/algorithm.md#context-refinement: projection, dense map (mask token, table,
    docs/official_behaviours.md#d1 order), RoI extension of the unclipped last-stage boxes,
    per-slice RoIAlign with max-then-mean pooling, decoder with per-layer action heads. Returns the
    last layer's sigmoid scores (B, P, K)."""
    t, h, w = grid
    Nk, key = h * w, t // 2
    B, P, _ = boxes.shape
    xv = F.linear(tokens, sd['det_head.encoder_to_decoder.weight'])  # (B, N_final, Cd)
    Cd = xv.shape[-1]
    pe = interpolated_table(Cd, a.pos_grid, h, w)[0]  # (t*h*w, Cd), original t-major order
    nonkey_pe = torch.cat([pe[:key * Nk], pe[(key + 1) * Nk:]])  # non-key global index order
    # docs/algorithm.md#token-remapping / docs/official_behaviours.md#d1: kept positions are filled
    # in ascending position order with the kept tokens in the backbone's top-k order; dropped
    # positions get the mask token
    nonkey = sd['det_head.mask_token'].reshape(1, 1, Cd).repeat(B, (t - 1) * Nk, 1)
    context = []
    for b in range(B):
        kept_positions = (~mask[b]).nonzero().squeeze(1)  # ascending
        nonkey[b, kept_positions] = xv[b, Nk:]
        # docs/algorithm.md#context-tokens: key tokens get the keyframe slot's table, kept tokens
        # the same ascending rows
        context.append(xv[b] + torch.cat([pe[key * Nk:(key + 1) * Nk],
                                          nonkey_pe[kept_positions]]))
    dense = torch.cat([nonkey[:, :key * Nk], xv[:, :Nk], nonkey[:, key * Nk:]], dim=1) + pe
    dense = dense.reshape(B, t, h, w, Cd).permute(0, 4, 1, 2, 3)  # (B, Cd, t, h, w)

    extended = torch.cat([extend_boxes(boxes[b], *img_shapes[b], a.roi_extension)
                          for b in range(B)])
    rois = torch.cat([torch.arange(B).repeat_interleave(P)[:, None].float(), extended], dim=1)
    align = RoIAlign(a.roi_size, spatial_scale=1. / a.patch_size, sampling_ratio=2, aligned=True)
    per_slice = torch.stack([align(dense[:, :, s].contiguous(), rois) for s in range(t)], dim=2)
    actors = per_slice.amax(dim=(3, 4)).mean(dim=2).reshape(B, P, Cd)  # max over 7x7, mean over t

    x = torch.cat([torch.stack(context), actors], dim=1)
    for j in range(a.decoder_depth):
        prefix = f'det_head.decoder.blocks.{j}.'
        x = x + vit_attention(layer_norm(x, sd, prefix + 'norm1.', 1e-6), sd, prefix + 'attn.',
                              a.decoder_heads)[0]
        x = vit_mlp_residual(x, sd, prefix)
        act = F.linear(x[:, -P:], sd[prefix + 'act_module.0.weight'])
        act = F.relu(layer_norm(act, sd, prefix + 'act_module.1.', 1e-5))
        logits = F.linear(act, sd[prefix + 'action_logits.weight'],
                          sd[prefix + 'action_logits.bias'])
    return logits.sigmoid()


@torch.no_grad()
def official_evad_forward(sd: Dict[str, Tensor], a: OfficialEVADArch, video: Tensor,
                          img_shapes: Sequence[Tuple[int, int]]):
    """The official EVAD at test time, for every proposal (no person selection).

    Args:
        sd (dict): official-named weights.
        a (OfficialEVADArch): hyper-parameters.
        video (Tensor): (B, 3, T, H, W) normalised clips, zero-padded to a multiple of 32.
        img_shapes (list[tuple]): unpadded (h, w) of every clip.

    Returns:
        tuple: boxes (B, P, 4) pixel xyxy clipped to [0, w-1] x [0, h-1], person probabilities
        (B, P), action probabilities (B, P, K), and a trace dict (kept token counts, kept
        non-key indices, RoI levels used) for checking what the inputs exercised.
    """
    tokens, mask, res, grid, trace = backbone(sd, a, video)
    fpn = detectron2_fpn(sd, res)
    B, P = video.shape[0], a.num_proposals
    cxcywh = sd['init_proposal_boxes.weight']
    xyxy = torch.cat([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], 1)
    whwh = torch.tensor([[w, h, w, h] for h, w in img_shapes], dtype=torch.float32)
    boxes = xyxy[None] * whwh[:, None]  # (B, P, 4), docs/algorithm.md#proposals
    feats = sd['init_proposal_features.weight'][None].repeat(B, 1, 1)
    trace['levels'] = []
    for s in range(a.num_stages):
        logits, boxes, feats, levels = sparse_rcnn_stage(
            sd, f'det_head.s0_headseries.{s}.', a, fpn, boxes, feats)
        trace['levels'].append(levels)
    trace['last_boxes'] = boxes
    person = logits.softmax(dim=-1)[..., 0]  # docs/algorithm.md#person-selection
    actions = context_refinement(sd, a, tokens, mask, grid, boxes, img_shapes)
    clipped = torch.stack([clip_boxes(boxes[b], *img_shapes[b]) for b in range(B)])
    return clipped, person, actions, trace


# ---------------------------------------------------------------------------------------------
# a tiny official model, and the overrides that make a released mmevad config the same model
# ---------------------------------------------------------------------------------------------

# ViT_B_16x4_KTP_EW: keep rate 0.6 with enhanced weight 4, RoI extension (0.4, 0.2)
TINY_BASE_CONFIG = ('configs/evad/evad_vit-base-p16-ktp0.6-ew4_videomae-k400-pre_8xb2-16x4x1-12e_'
                    'ava22-rgb.py')
TINY_ARCH = OfficialEVADArch(
    embed_dims=32, depth=4, num_heads=2, keep_rates=(1., 0.6, 1., 0.6), enhanced_weight=4.,
    fpn_taps=(0, 1, 2, 3), hidden_dims=32, num_proposals=16, num_stages=2, stage_heads=4,
    dynamic_dims=8, ffn_dims=64, decoder_dims=32, decoder_depth=2, decoder_heads=2,
    action_hidden_dims=48)


def tiny_model_overrides(a: OfficialEVADArch = TINY_ARCH) -> dict:
    """``model`` settings that make the model of :data:`TINY_BASE_CONFIG` the architecture ``a``
    (:data:`TINY_ARCH` keeps that config's keep rate 0.6, enhanced weight and RoI extension)."""
    C = a.hidden_dims
    return dict(
        backbone=dict(embed_dims=a.embed_dims, depth=a.depth, num_heads=a.num_heads,
                      keep_rates=list(a.keep_rates), enhanced_weight=a.enhanced_weight,
                      feature_taps=a.fpn_taps, with_cp=False),
        neck=dict(in_channels=[a.embed_dims] * 4, out_channels=C),
        localization_head=dict(
            num_proposals=a.num_proposals, proposal_feature_channel=C, num_stages=a.num_stages,
            bbox_roi_extractor=dict(out_channels=C),
            bbox_head=dict(in_channels=C, feedforward_channels=a.ffn_dims, num_heads=a.stage_heads,
                           dynamic_conv_cfg=dict(in_channels=C, feat_channels=a.dynamic_dims,
                                                 out_channels=C))),
        roi_head=dict(in_channels=a.embed_dims, embed_dims=a.decoder_dims, depth=a.decoder_depth,
                      num_heads=a.decoder_heads, action_hidden_dims=a.action_hidden_dims,
                      num_classes=a.num_actions, roi_extension=a.roi_extension, with_cp=False))
