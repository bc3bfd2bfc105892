import torch
from mmengine.config import Config
from mmengine.logging import print_log


def adapt_dist_backend(cfg: Config) -> Config:
    """Use gloo instead of NCCL for distributed runs on a machine without CUDA.

    MMAction2's default runtime asks for NCCL, which only works on GPUs; gloo runs the same job
    on CPU processes. Nothing changes for non-distributed runs or when CUDA is available.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return cfg
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        print_log('CUDA is not available: distributed backend nccl -> gloo', logger='current')
        dist_cfg['backend'] = 'gloo'
    return cfg
