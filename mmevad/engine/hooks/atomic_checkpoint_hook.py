"""mmengine's CheckpointHook with saves that survive a crash (kill -9, OOM killer, power loss).

mmengine 0.10.7 ``CheckpointHook._save_checkpoint_with_step`` deletes the oldest kept checkpoint
*before* writing the new one, writes the new file in place, and points ``last_checkpoint`` at it
afterwards. A process killed during the write leaves, with ``max_keep_ckpts=1``, no checkpoint at
all, a ``last_checkpoint`` naming the deleted file, and ``--resume`` failing. Here the same
method writes to a temporary name in the same directory, flushes it to disk, renames it into
place (atomic on POSIX), rewrites ``last_checkpoint`` the same way, and only then deletes
checkpoints beyond ``max_keep_ckpts``. Everything else (intervals, ``save_best``, publishing the
last checkpoint) is mmengine's.
"""
import glob
import os
import os.path as osp
from typing import Optional

from mmaction.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook

TMP_SUFFIX = '.tmp'  # '<name>.tmp' while being written; a leftover means a save was interrupted


def _fsync_file(path: str) -> None:
    with open(path, 'rb') as f:
        os.fsync(f.fileno())


def _fsync_dir(path: str) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str, text: str) -> None:
    """Replace the file ``path`` by one holding ``text``, never leaving it partly written."""
    tmp = path + TMP_SUFFIX
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(osp.dirname(osp.abspath(path)))


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` whose periodic saves are crash-safe.

    Same arguments as ``CheckpointHook``. On a local disk a save (1) writes ``<name>.tmp`` through
    ``runner.save_checkpoint`` (so ``before_save_checkpoint`` hooks and mmengine's file backend
    are used as usual), (2) fsyncs it and renames it to ``<name>``, (3) atomically rewrites
    ``last_checkpoint``, (4) deletes the checkpoints that fall out of ``max_keep_ckpts``. At any
    moment ``last_checkpoint`` names a complete file. Leftovers of an interrupted save
    (``iter_*.pth.tmp`` / ``epoch_*.pth.tmp``, ``last_checkpoint.tmp``) are deleted when
    training starts. Remote backends (``out_dir`` on
    petrel / http) keep mmengine's behaviour: their ``put`` is not a rename.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._atomic() and is_main_process():
            patterns = (osp.join(self.out_dir, self.filename_tmpl.format('*') + TMP_SUFFIX),
                        osp.join(runner.work_dir, 'last_checkpoint' + TMP_SUFFIX))
            for leftover in [path for pattern in patterns for path in glob.glob(pattern)]:
                runner.logger.warning(f'removing {leftover}, left by an interrupted save')
                os.remove(leftover)

    def _atomic(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not self._atomic():
            return super()._save_checkpoint_with_step(runner, step, meta)

        # which old checkpoint falls out of max_keep_ckpts; deleted only after the new one exists
        expired: Optional[int] = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                expired = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename + TMP_SUFFIX,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)

        # runner.save_checkpoint writes on the main process only (model-parallel saving, which
        # writes from every rank, is not supported by this hook)
        if not is_main_process():
            return
        tmp_path = self.last_ckpt + TMP_SUFFIX
        _fsync_file(tmp_path)
        os.replace(tmp_path, self.last_ckpt)
        _fsync_dir(self.out_dir)
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)

        if expired is not None and expired != step:
            old = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(expired))
            if osp.isfile(old):
                os.remove(old)
