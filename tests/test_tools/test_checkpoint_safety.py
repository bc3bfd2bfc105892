"""Nothing silently wrong, nothing lost: strict loading in tools/test.py, crash-safe checkpoints,
exact resume, and the --no-validate merge, through the tools on the tiny EVAD config."""
import os
import signal
import subprocess
import sys
import time

import torch
from mmengine.config import Config

from .conftest import EVAD_TINY, ROOT, logged_metric, run_tool

# the tiny EVAD config at test size: batch 2, no worker processes, a log line per iteration
SMALL = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
         'val_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1']


def tool(tool_name, *args, cwd, env=None):
    """Run ``tools/<tool_name>``; return (exit status, stdout + stderr)."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', tool_name),
                             *map(str, args)], cwd=cwd, capture_output=True, text=True,
                            timeout=600, env=env)
    return result.returncode, result.stdout + result.stderr


def tiny_checkpoint(path, **roi_head):
    """A checkpoint of the tiny EVAD model (random weights), as tools/test.py reads it."""
    from mmaction.registry import MODELS
    cfg = Config.fromfile(EVAD_TINY)
    cfg.model.roi_head.update(roi_head)
    torch.manual_seed(0)
    state_dict = MODELS.build(cfg.model).state_dict()
    torch.save(dict(meta=dict(), state_dict=state_dict), path)
    return state_dict


def test_test_tool_refuses_checkpoint_missing_keys(synthetic_workspace):
    """Row "checkpoint missing decoder keys / of another model size": exit 0 and an mAP before."""
    state_dict = tiny_checkpoint(synthetic_workspace / 'full.pth')
    partial = {k: v for k, v in state_dict.items() if not k.startswith('roi_head.decoder.')}
    torch.save(dict(meta=dict(), state_dict=partial), synthetic_workspace / 'partial.pth')
    work_dir = synthetic_workspace / 'test_dir'
    status, log = tool('test.py', EVAD_TINY, synthetic_workspace / 'partial.pth', '--work-dir',
                       work_dir, '--cfg-options', *SMALL, cwd=synthetic_workspace)
    assert status != 0
    missing = len(state_dict) - len(partial)
    assert f'{missing} missing key(s)' in log and 'roi_head.decoder.' in log
    assert 'Likely cause: the config does not match' in log
    assert '--no-strict-load' in log
    assert logged_metric(log) == []  # stopped before evaluating

    # the explicit opt-out evaluates with what fits
    log = run_tool('test.py', EVAD_TINY, synthetic_workspace / 'partial.pth', '--work-dir',
                   work_dir, '--no-strict-load', '--cfg-options', *SMALL,
                   cwd=synthetic_workspace)
    assert len(logged_metric(log)) == 1


def test_test_tool_names_class_count_mismatch(synthetic_workspace):
    """Row "model num_classes != checkpoint's at test time": a bare AssertionError before."""
    tiny_checkpoint(synthetic_workspace / 'ckpt.pth')  # num_classes=80 (81 score columns)
    work_dir = synthetic_workspace / 'test_dir'
    args = [EVAD_TINY, synthetic_workspace / 'ckpt.pth', '--work-dir', work_dir]
    other_classes = ['model.roi_head.num_classes=5', *SMALL]
    status, log = tool('test.py', *args, '--cfg-options', *other_classes,
                       cwd=synthetic_workspace)
    assert status != 0
    assert 'the number of classes differs' in log and 'roi_head.num_classes=5' in log
    assert 'checkpoint [80, 128] vs model [5, 128]' in log

    # loading anyway: the evaluator (num_classes=81) names both counts
    status, log = tool('test.py', *args, '--no-strict-load', '--cfg-options', *other_classes,
                       cwd=synthetic_workspace)
    assert status != 0
    assert 'AVAMetric(num_classes=81)' in log and 'predicts 6 columns' in log


def test_no_validate_with_val_cfg_options(synthetic_workspace):
    """Row "--no-validate --cfg-options val_dataloader.batch_size=2": mmengine's TypeError."""
    work_dir = synthetic_workspace / 'work_dir'
    log = run_tool('train.py', EVAD_TINY, '--work-dir', work_dir, '--no-validate',
                   '--cfg-options', 'val_dataloader.batch_size=2', 'train_cfg.max_iters=1',
                   *SMALL, cwd=synthetic_workspace)
    assert 'Iter(train) [1/1]' in log
    assert logged_metric(log) == []  # no validation
    assert (work_dir / 'iter_1.pth').is_file()


BLOCKING_SAVE_HOOK = '''
import os
import time

from mmaction.registry import HOOKS
from mmengine.hooks import Hook


class _StopsThePickler:
    """Pickling it (inside torch.save of the checkpoint) announces itself and hangs."""

    def __reduce__(self):
        open(os.environ['SAVE_STARTED'], 'w').close()
        time.sleep(600)


@HOOKS.register_module()
class BlockingSaveHook(Hook):
    priority = 'VERY_LOW'

    def __init__(self, block_at):
        self.block_at = block_at

    def before_save_checkpoint(self, runner, checkpoint):
        if checkpoint['meta']['iter'] == self.block_at:
            checkpoint['block'] = _StopsThePickler()
'''


def test_kill_during_save_leaves_resumable_checkpoint(synthetic_workspace):
    """Row "kill -9 while a checkpoint is saved": no checkpoint left, last_checkpoint dangling,
    --resume failing before."""
    ws = synthetic_workspace
    (ws / 'blocking_save_hook.py').write_text(BLOCKING_SAVE_HOOK)
    cfg = Config.fromfile(EVAD_TINY)
    cfg.custom_imports = dict(imports=['mmevad', 'blocking_save_hook'],
                              allow_failed_imports=False)
    cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(type='BlockingSaveHook', block_at=4)]
    cfg.dump(str(ws / 'blocking.py'))
    env = dict(os.environ, SAVE_STARTED=str(ws / 'save_started'),
               PYTHONPATH=os.pathsep.join([str(ws), ROOT, os.environ.get('PYTHONPATH', '')]))
    work_dir = ws / 'work_dir'
    # no configured seed: the Runner draws one, which the resumed run must take over
    schedule = ['train_cfg.max_iters=6', 'default_hooks.checkpoint.interval=2',
                'default_hooks.checkpoint.max_keep_ckpts=1', 'randomness.seed=None', *SMALL]
    train = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, 'tools', 'train.py'), str(ws / 'blocking.py'),
         '--work-dir', str(work_dir), '--cfg-options', *schedule],
        cwd=ws, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):  # the save of iteration 4 has begun when the file appears
            if (ws / 'save_started').exists() or train.poll() is not None:
                break
            time.sleep(1)
        assert (ws / 'save_started').exists(), f'training ended ({train.poll()}) before the save'
        os.kill(train.pid, signal.SIGKILL)
    finally:
        train.kill()
        train.wait()

    last = (work_dir / 'last_checkpoint').read_text().strip()
    assert os.path.isfile(last), f'last_checkpoint names {last}, which does not exist'
    seed = torch.load(last, weights_only=False)['meta']['seed']
    log = run_tool('train.py', EVAD_TINY, '--work-dir', work_dir, '--resume', '--cfg-options',
                   *schedule, cwd=ws)
    assert 'resumed epoch: 0, iter: 2' in log
    assert f'seed: {seed}\n' in log  # the interrupted run's seed, hence its data order
    assert 'Iter(train) [3/6]' in log and 'Iter(train) [6/6]' in log
    assert (work_dir / 'iter_6.pth').is_file() and not (work_dir / 'iter_2.pth').exists()
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(work_dir / 'iter_6.pth')


def test_resume_is_exact_with_denoising_and_drop_path(synthetic_workspace):
    """Row "--resume differs from the uninterrupted run": 6 iterations == 3 + resume + 3."""
    ws = synthetic_workspace
    cfg = Config.fromfile(EVAD_TINY)
    assert cfg.model.localization_head.denoising_groups > 0  # the jitter draws from torch's RNG
    options = ['train_cfg.val_interval=3', 'default_hooks.checkpoint.interval=3',
               'model.backbone.drop_path_rate=0.2', 'model.roi_head.drop_path_rate=0.2', *SMALL]
    run_tool('train.py', EVAD_TINY, '--work-dir', ws / 'straight', '--cfg-options',
             'train_cfg.max_iters=6', *options, cwd=ws)
    run_tool('train.py', EVAD_TINY, '--work-dir', ws / 'resumed', '--cfg-options',
             'train_cfg.max_iters=3', *options, cwd=ws)
    at_3 = torch.load(ws / 'resumed' / 'iter_3.pth', weights_only=False)['state_dict']
    log = run_tool('train.py', EVAD_TINY, '--work-dir', ws / 'resumed', '--resume',
                   '--cfg-options', 'train_cfg.max_iters=6', *options, cwd=ws)
    assert 'resumed epoch: 0, iter: 3' in log

    straight = torch.load(ws / 'straight' / 'iter_6.pth', weights_only=False)['state_dict']
    resumed = torch.load(ws / 'resumed' / 'iter_6.pth', weights_only=False)['state_dict']
    assert straight.keys() == resumed.keys()
    differing = [key for key in straight if not torch.equal(straight[key], resumed[key])]
    assert differing == []
    # and the runs did train: iterations 4 to 6 changed the weights of iteration 3
    assert not torch.equal(at_3['roi_head.decoder.action_heads.1.fc_cls.weight'],
                           resumed['roi_head.decoder.action_heads.1.fc_cls.weight'])
