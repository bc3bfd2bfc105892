"""Make the Runner's checkpoint loading strict, with an error that names what does not fit."""
from typing import Optional

from mmaction.registry import HOOKS
from mmengine.hooks import Hook

from mmevad.utils.checkpoint import check_state_dict_fits


@HOOKS.register_module()
class StrictLoadHook(Hook):
    """Stop ``Runner.load_checkpoint`` (``load_from``, ``tools/test.py CONFIG CKPT``, resume)
    when the checkpoint's weights do not fit the model.

    mmengine's Runner loads with ``strict=False`` and only logs mismatched keys; evaluating such a
    model reports a meaningless mAP. ``after_load_checkpoint`` runs after the file is read and
    before the weights are copied, so raising here loads nothing; the error lists the missing,
    unexpected and mis-shaped keys and the likely cause (see
    :func:`mmevad.utils.check_state_dict_fits`).

    Args:
        hint (str, optional): last line of the error, e.g. how to opt out.
    """
    priority = 'VERY_LOW'  # after hooks that adapt the loaded checkpoint

    def __init__(self, hint: Optional[str] = None) -> None:
        self.hint = hint

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # the hook is not told the file name; the Runner's load_from is it unless auto-resuming
        source = getattr(runner, '_load_from', None) or '(auto-resumed)'
        check_state_dict_fits(runner.model, checkpoint, source=str(source), hint=self.hint)
