from .checkpoint import (CheckpointMismatchError, check_state_dict_fits, find_state_dict_mismatch,
                         load_checkpoint_strictly)
from .cli import checkpoint_from_args, device_from_args, load_config, parse_args_with_launcher
from .device import resolve_device
from .setup_env import adapt_dist_backend

__all__ = [
    'adapt_dist_backend', 'CheckpointMismatchError', 'check_state_dict_fits',
    'checkpoint_from_args', 'device_from_args', 'find_state_dict_mismatch',
    'load_checkpoint_strictly', 'load_config', 'parse_args_with_launcher', 'resolve_device'
]
