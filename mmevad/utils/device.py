"""The device a model runs on, named by a user (``--device``, ``init_detector(device=...)``) and
checked before anything is built, so a GPU that is not there stops with its cause and fix
instead of torch's ``AssertionError: Torch not compiled with CUDA enabled`` from deep inside
``model.to``."""
from typing import Optional, Union

import torch

__all__ = ['resolve_device']


def resolve_device(device: Optional[Union[str, torch.device]] = None) -> torch.device:
    """The torch device ``device`` names, checked to exist on this machine.

    Args:
        device (str | torch.device, optional): ``'cpu'``, ``'cuda'``, ``'cuda:1'``...; None
            picks the first GPU if one is visible, else the CPU. Device types other than
            ``cpu`` and ``cuda`` (``mps``, ``npu``...) are passed through unchecked.

    Returns:
        torch.device: the device.

    Raises:
        ValueError: ``device`` is no device name torch knows, or names a GPU this machine does
            not have; the message says why and what to pass instead.
    """
    if device is None:
        return torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device {device!r} is not a device name torch knows ({error}); "
                         f"use e.g. 'cpu', 'cuda' or 'cuda:1'") from None
    if resolved.type != 'cuda':
        return resolved
    if not torch.cuda.is_available():
        why = ('this torch build has no CUDA support' if torch.version.cuda is None else
               'no GPU is visible (check the driver and CUDA_VISIBLE_DEVICES)')
        raise ValueError(f"device {device!r} was asked for, but {why}: run on the CPU "
                         f"(device 'cpu', --device cpu), or install a CUDA build of torch "
                         f"(README, \"GPU install\")")
    count = torch.cuda.device_count()
    if resolved.index is not None and resolved.index >= count:
        raise ValueError(f'device {device!r} was asked for, but {count} GPU(s) are visible '
                         f"('cuda:0' to 'cuda:{count - 1}')")
    return resolved
