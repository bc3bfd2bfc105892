"""What mmevad's command-line tools (``tools/``) share: the launcher flags of the distributed
tools, loading a config the way the runner resolves it, and checking ``--device`` and the
checkpoint argument. Kept in the package so that every tool, whichever folder it runs from,
imports the same code."""
import argparse
import copy
import os
import os.path as osp
from pathlib import Path
from typing import Optional, Union

from mmengine.config import Config
from mmengine.registry import init_default_scope

from .device import resolve_device

__all__ = ['checkpoint_from_args', 'device_from_args', 'parse_args_with_launcher', 'load_config']


def parse_args_with_launcher(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Add ``--launcher`` and ``--local-rank`` (which ``torch.distributed.launch`` passes),
    parse the command line and export ``LOCAL_RANK`` when the launcher has not, as
    MMAction2's tools/train.py and tools/test.py do."""
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(config: Union[str, Path, Config],
                cfg_options: Optional[dict] = None) -> Config:
    """A config as the tools use it: read from ``config`` (a path; a :class:`Config` is
    copied), ``cfg_options`` merged in, and the config's registry scope (``default_scope``,
    mmaction's when it names none) made the default, so that type names resolve as in the
    runner.

    Args:
        config (str | Path | Config): config file, or a loaded config (not modified).
        cfg_options (dict, optional): overrides, e.g. ``{'model.person_score_thr': 0.5}``
            (``--cfg-options``). Defaults to None.

    Returns:
        Config: the merged config.
    """
    if isinstance(config, (str, Path)):
        cfg = Config.fromfile(str(config))
    elif isinstance(config, Config):
        cfg = copy.deepcopy(config)
    else:
        raise TypeError(f'config must be a file path or a Config, got {type(config).__name__}')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    return cfg


def device_from_args(device: Optional[str]):
    """:func:`~mmevad.utils.resolve_device` for a tool's ``--device``: a device that is not
    there ends the tool with the reason and the fix (exit status 1), before anything is
    built."""
    try:
        return resolve_device(device)
    except ValueError as error:
        raise SystemExit(f'error: --device: {error}') from None


def checkpoint_from_args(checkpoint: str) -> str:
    """A tool's checkpoint argument, checked to exist when it is a local path (URIs such as
    ``https://`` are left to mmengine's loaders): a missing file ends the tool with its name and
    where checkpoints come from (exit status 1), before the model or the data are built."""
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise SystemExit(f'error: checkpoint {checkpoint!r} does not exist: pass a .pth file '
                         f'saved by tools/train.py (WORK_DIR/iter_N.pth or epoch_N.pth; '
                         f'WORK_DIR/last_checkpoint names the newest) or converted by '
                         f'tools/model_converters/')
    return checkpoint
