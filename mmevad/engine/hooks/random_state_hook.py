"""Carry the random number generators' states in checkpoints, so that a resumed run is the run.

mmengine checkpoints hold weights, optimizer, schedulers and the message hub, but not the RNG
states: on ``--resume`` the Runner re-seeds every generator from ``randomness.seed`` as at
iteration 0, so every random draw after the resume point differs from the uninterrupted run
(drop path, the denoising-query jitter of ``QueryLocalizationHead`` which draws from the global
torch generator, and data augmentation when ``num_workers=0`` runs it in the main process).
"""
import random
from typing import Dict, Optional

import numpy as np
import torch
from mmaction.registry import HOOKS
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop

CHECKPOINT_KEY = 'rng_state'


def get_rng_state() -> Dict:
    """The states of the generators training draws from (global ones: models and transforms
    use ``torch.rand*``, ``np.random`` and ``random`` without their own generator)."""
    state = dict(
        torch=torch.get_rng_state(), numpy=np.random.get_state(), python=random.getstate())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict) -> None:
    """Inverse of :func:`get_rng_state`; a CUDA state is restored where CUDA is available."""
    torch.set_rng_state(state['torch'].cpu())
    np.random.set_state(state['numpy'])
    random.setstate(state['python'])
    if 'cuda' in state and torch.cuda.is_available():
        cuda_states = state['cuda']
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])
        else:  # resumed on another number of devices: at least this process's device
            torch.cuda.set_rng_state(cuda_states[0].cpu())


class _RestoreAfterSkip:
    """Stands in for ``IterBasedTrainLoop.dataloader_iterator`` while the loop skips the batches
    of the iterations before the resume point; right before the first batch after them it
    restores the RNG states and puts the loop's own iterator back. The skipped batches run the
    data pipeline, which with ``num_workers=0`` draws from the main process's generators, so the
    states cannot be restored earlier."""

    def __init__(self, loop, skip: int, state: Dict):
        self.loop, self.iterator = loop, loop.dataloader_iterator
        self.skip, self.state = skip, state

    def __next__(self):
        if self.skip > 0:
            self.skip -= 1
            return next(self.iterator)
        set_rng_state(self.state)
        self.loop.dataloader_iterator = self.iterator
        return next(self.iterator)

    def __iter__(self):
        return self


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the RNG states (torch CPU and CUDA, NumPy, Python) in every checkpoint and restore
    them on resume, at the point the uninterrupted run drew its next random number.

    - Saved under ``checkpoint['rng_state']`` in ``before_save_checkpoint``: the state after the
      training iteration (or epoch) the checkpoint is written for.
    - Validation is made invisible to training's generators: the states are snapshotted in
      ``before_val`` and put back in ``after_val`` (a val dataloader iterator draws a seed from
      the global torch generator), so a run that validates and one that does not, or one resumed
      past a validation, see the same random numbers. A checkpoint written during validation
      (``save_best``) stores the snapshot.
    - Restored only when resuming (not for ``load_from``): before the first training batch after
      the resume point; for iteration-based loops after mmengine has skipped the batches already
      trained on (``IterBasedTrainLoop`` advances the dataloader ``iter`` steps, and with
      ``InfiniteSampler(seed=...)`` the skipped and following batches are those of the
      uninterrupted run); for epoch-based loops with persistent workers after the dataloader
      iterator is created.

    Not covered: the generators inside dataloader worker processes. mmengine seeds each worker
    the same way whenever it starts, so runs are exact with ``num_workers=0``, with
    non-persistent workers, and for iteration-based loops (the resumed workers process the same
    skipped batches first); an epoch-based loop with ``persistent_workers=True`` resumes with
    freshly seeded workers whose augmentation draws differ from the uninterrupted run's.

    In distributed runs only rank 0 writes checkpoints: every rank restores rank 0's states when
    all ranks share one seed (``diff_rank_seed=False``, their draws are identical); with
    ``diff_rank_seed=True`` other ranks keep their re-seeded states (logged).
    """
    priority = 'VERY_HIGH'  # snapshot before, and restore after, any other hook's validation work

    def __init__(self) -> None:
        self._pending: Optional[Dict] = None  # state to restore on resume
        self._train_state: Optional[Dict] = None  # training's states while validating

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = self._train_state or get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # runner._resume: the Runner loads for resuming (not a load_from of weights only)
        if not getattr(runner, '_resume', False):
            return
        state = checkpoint.get(CHECKPOINT_KEY)
        if state is None:
            runner.logger.warning('the checkpoint holds no RNG states (saved without '
                                  'RandomStateHook): random draws after the resume point will '
                                  'differ from the uninterrupted run')
            return
        if get_rank() != 0 and runner._randomness_cfg.get('diff_rank_seed', False):
            runner.logger.warning('diff_rank_seed: rank 0 saved its RNG states only; this rank '
                                  'keeps its re-seeded generators')
            return
        self._pending = state

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        loop = runner.train_loop
        loader = getattr(loop, 'dataloader', None)
        if isinstance(loop, IterBasedTrainLoop) and loop.iter > 0:
            loop.dataloader_iterator = _RestoreAfterSkip(loop, loop.iter, self._pending)
        elif getattr(loader, 'persistent_workers', False) and loader.num_workers > 0:
            # the resumed run creates the persistent iterator (a seed draw from the torch
            # generator) that the uninterrupted run created in its first epoch: restore after
            # it, in before_train_iter (workers leave the main process's generators alone)
            return
        else:
            set_rng_state(self._pending)
        self._pending = None

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._pending is not None:
            set_rng_state(self._pending)
            self._pending = None

    def before_val(self, runner) -> None:
        self._train_state = get_rng_state()

    def after_val(self, runner) -> None:
        if self._train_state is not None:
            set_rng_state(self._train_state)
            self._train_state = None
