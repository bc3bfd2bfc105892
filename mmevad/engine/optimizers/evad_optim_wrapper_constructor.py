from typing import List, Optional, Sequence

from mmaction.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class EVADOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """The four parameter groups of EVAD's optimizer (docs/algorithm.md#optimizer).

    ========================  ================================================  =======  =====
    group                     members                                           lr       decay
    ========================  ================================================  =======  =====
    head, decay               >=2-D weights under ``head_prefixes``             ×mult    wd
    head, no decay            biases / 1-D params / ``no_decay_names`` there    ×mult    0
    base, decay               >=2-D weights elsewhere, and ``base_rate_names``  ×1       wd
    base, no decay            biases / 1-D params / ``no_decay_names`` there    ×1       0
    ========================  ================================================  =======  =====

    mmengine's ``DefaultOptimWrapperConstructor`` cannot express this: a matching ``custom_keys``
    entry replaces its bias/norm rules (so head biases would be decayed) and it has no rule for
    1-D parameters that are not called ``bias`` (``q_bias``, ``v_bias``). The learned proposals
    of the localization head stay at ×1 although they sit under a head prefix: the released
    models were trained so (docs/official_behaviours.md#d7).

    ``paramwise_cfg`` keys:
        head_prefixes (Sequence[str]): parameter-name prefixes of the head.
            Defaults to ``('localization_head.', 'roi_head.')``.
        head_lr_mult (float): learning-rate multiplier of the head. Defaults to 8.
        base_rate_names (Sequence[str]): substrings of parameter names under a head prefix that
            keep the base rate (and decay). Defaults to the learned proposal embeddings,
            ``('init_proposal_bboxes', 'init_proposal_features')``.
        no_decay_names (Sequence[str]): substrings of >=2-D parameter names without weight decay.
            Defaults to ``('mask_token',)``.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        cfg = dict(paramwise_cfg or {})
        self.head_prefixes = tuple(cfg.pop('head_prefixes', ('localization_head.', 'roi_head.')))
        self.head_lr_mult = float(cfg.pop('head_lr_mult', 8.))
        self.base_rate_names = tuple(
            cfg.pop('base_rate_names', ('init_proposal_bboxes', 'init_proposal_features')))
        self.no_decay_names = tuple(cfg.pop('no_decay_names', ('mask_token', )))
        if cfg:
            raise ValueError(f'EVADOptimWrapperConstructor got unknown paramwise_cfg keys '
                             f'{sorted(cfg)}; it takes head_prefixes, head_lr_mult, '
                             f'base_rate_names and no_decay_names')
        super().__init__(optim_wrapper_cfg, paramwise_cfg=None)
        # non-empty, so that the parent's __call__ builds the groups through add_params
        self.paramwise_cfg = dict(
            head_prefixes=self.head_prefixes,
            head_lr_mult=self.head_lr_mult,
            base_rate_names=self.base_rate_names,
            no_decay_names=self.no_decay_names)

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        """Append the (up to) four parameter groups of ``module`` to ``params``."""
        groups = {(head, decay): [] for head in (True, False) for decay in (True, False)}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            head = (name.startswith(self.head_prefixes)
                    and not _contains_any(name, self.base_rate_names))
            decay = not (param.ndim <= 1 or name.endswith('.bias')
                         or _contains_any(name, self.no_decay_names))
            groups[head, decay].append(param)

        for (head, decay), members in groups.items():
            if not members:
                continue
            params.append(
                dict(
                    params=members,
                    lr=self.base_lr * (self.head_lr_mult if head else 1.),
                    weight_decay=(self.base_wd or 0.) if decay else 0.))
            print_log(
                f'optimizer group {"head" if head else "base"}/'
                f'{"decay" if decay else "no decay"}: {len(members)} tensors, '
                f'{sum(p.numel() for p in members)} values', logger='current')


def _contains_any(name: str, parts: Sequence[str]) -> bool:
    return any(part in name for part in parts)
