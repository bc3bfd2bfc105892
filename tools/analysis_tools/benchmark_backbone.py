"""Time and memory of TokenPruningViT under different keep-rate schedules, side by side.

    python tools/analysis_tools/benchmark_backbone.py [CONFIG ...] [--shapes 288x288 288x512]
        [--device cpu|cuda] [--repeats 3] [--warmup 1] [--with-cp {config,on,off}]
        [--modes forward train] [--threads N]

CONFIG defaults to the three ViT-B schedules of docs/algorithm.md#keep-rate-schedules (keep rate
1.0; 0.7 in blocks 3/6/9; 0.6 with enhanced weight 4), the first being the reference of the ratios.
Batch 1, 16 frames. Modes: ``forward`` (eval mode under ``torch.no_grad``) and ``train`` (train
mode, forward and backward of the sum of all outputs).

Time: one process builds every config and, after ``warmup`` untimed runs each, times them in
turn, ``repeats`` rounds, and reports the median; interleaving the configs spreads the load of
other jobs on a shared machine evenly over them. Memory: a fresh process per config, shape and
mode runs one iteration and reports its peak: on CUDA ``torch.cuda.max_memory_allocated``; on
CPU the peak resident set size (``resource.getrusage(...).ru_maxrss``; tracemalloc does not see
torch's allocations), with the part added by running the model (peak minus the size after
building model and input).
"""
import argparse
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIGS = [
    osp.join(ROOT, 'configs', '_base_', 'models', name) for name in (
        'tpvit-base-p16.py', 'evad_vit-base-p16-ktp0.7.py', 'evad_vit-base-p16-ktp0.6-ew4.py')
]
MODES = ('forward', 'train')


def parse_args():
    parser = argparse.ArgumentParser(description='Benchmark TokenPruningViT keep-rate schedules')
    parser.add_argument('configs', nargs='*', default=DEFAULT_CONFIGS,
                        help='configs with a model.backbone; the first is the reference for the ratios')
    parser.add_argument('--shapes', nargs='+', default=['288x288', '288x512'],
                        help='input sizes HxW (16 frames, batch 1)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--repeats', type=int, default=3, help='timed rounds (each config once per round)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations first')
    parser.add_argument('--with-cp', choices=['config', 'on', 'off'], default='config',
                        help='gradient checkpointing: as in the config, or forced on/off')
    parser.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--worker', choices=['time', 'memory'], help=argparse.SUPPRESS)
    return parser.parse_args()


def allocator_settings() -> str:
    """The environment's settings that change the CPU resident peak: glibc's ``MALLOC_*``
    variables and tunables, and a preloaded allocator; ``'glibc default'`` when none."""
    names = sorted(name for name in os.environ
                   if name.startswith('MALLOC_') or name in ('GLIBC_TUNABLES', 'LD_PRELOAD'))
    return ', '.join(f'{name}={os.environ[name]}' for name in names) or 'glibc default'


def peak_rss_mib() -> float:
    """Peak resident set size of this process. VmHWM (Linux) belongs to the address space, so
    it starts afresh in an exec'ed child; ru_maxrss, the fallback, is inherited from the parent
    across fork and exec."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class Setting:
    """One backbone built from a config, its input clip and one iteration of a mode."""

    def __init__(self, config: str, shape: str, args) -> None:
        import torch

        import mmevad  # noqa: F401
        from mmaction.registry import MODELS
        from mmevad.utils import load_config

        height, width = (int(v) for v in shape.split('x'))
        cfg = load_config(config)
        backbone_cfg = cfg.model.backbone
        if args.with_cp != 'config':
            backbone_cfg.with_cp = args.with_cp == 'on'
        self.with_cp = bool(backbone_cfg.with_cp)
        self.device = torch.device(args.device)
        self.model = MODELS.build(backbone_cfg).to(self.device)
        self.clip = torch.randn(1, 3, backbone_cfg.num_frames, height, width, device=self.device)

    def run(self, mode: str) -> float:
        """One iteration; returns its wall time in seconds."""
        import torch
        self.model.train(mode == 'train')
        self._sync()
        start = time.perf_counter()
        if mode == 'forward':
            with torch.no_grad():
                self.model(self.clip)
        else:
            out = self.model(self.clip)
            tensors = [out] if torch.is_tensor(out) else [out.tokens, *out.keyframe_feats]
            sum(t.sum() for t in tensors).backward()
            self.model.zero_grad(set_to_none=True)
        self._sync()
        return time.perf_counter() - start

    def _sync(self) -> None:
        import torch
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)


def time_configs(args, shape: str, mode: str) -> dict:
    """Median time per config, the configs interleaved round by round."""
    settings = [Setting(config, shape, args) for config in args.configs]
    for setting in settings:
        for _ in range(args.warmup):
            setting.run(mode)
    times = {config: [] for config in args.configs}
    for _ in range(args.repeats):
        for config, setting in zip(args.configs, settings):
            times[config].append(setting.run(mode))
    return {config: dict(times=values, median=statistics.median(values))
            for config, values in times.items()}


def peak_memory(args) -> dict:
    """In this (fresh) process: peak memory of one iteration of one config."""
    import torch
    (config, ), (shape, ), (mode, ) = args.configs, args.shapes, args.modes
    setting = Setting(config, shape, args)
    baseline = peak_rss_mib()
    if setting.device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(setting.device)
        baseline = torch.cuda.memory_allocated(setting.device) / 2**20
    setting.run(mode)
    peak = (torch.cuda.max_memory_allocated(setting.device) / 2**20
            if setting.device.type == 'cuda' else peak_rss_mib())
    return dict(peak_mib=peak, added_mib=peak - baseline, with_cp=setting.with_cp)


def run_worker(args, role: str, configs, shape: str, mode: str) -> dict:
    """Run ``role`` ('time' or 'memory') in a fresh process, which keeps this one light."""
    command = [sys.executable, osp.abspath(__file__), *configs, '--worker', role, '--shapes',
               shape, '--modes', mode, '--device', args.device, '--with-cp', args.with_cp,
               '--repeats', str(args.repeats), '--warmup', str(args.warmup)]
    if args.threads:
        command += ['--threads', str(args.threads)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [ROOT, os.environ.get('PYTHONPATH')])))
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f'{role} run of {configs} {shape} {mode} failed:\n{done.stderr}')
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    args = parse_args()
    from mmevad.utils import device_from_args
    device_from_args(args.device)  # a GPU that is not there stops the run before any worker
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if args.worker == 'memory':
        print(json.dumps(peak_memory(args)))
        return
    if args.worker == 'time':
        (shape, ), (mode, ) = args.shapes, args.modes
        print(json.dumps(time_configs(args, shape, mode)))
        return
    names = [osp.splitext(osp.basename(config))[0] for config in args.configs]
    print(f'device {args.device}, batch 1, 16 frames, median of {args.repeats} interleaved '
          f'rounds after {args.warmup} warm-up, with_cp {args.with_cp}, malloc '
          f'{allocator_settings()}, load average at start {os.getloadavg()}', flush=True)
    results = {}
    for shape in args.shapes:
        for mode in args.modes:
            timing = run_worker(args, 'time', args.configs, shape, mode)
            for config, name in zip(args.configs, names):
                memory = run_worker(args, 'memory', [config], shape, mode)
                result = dict(timing[config], **memory)
                results[shape, mode, name] = result
                print(f'  {shape} {mode:<7} {name}: {result["median"]:.2f} s (runs '
                      f'{", ".join(f"{t:.2f}" for t in result["times"])}), peak '
                      f'{result["peak_mib"]:.0f} MiB (+{result["added_mib"]:.0f}), '
                      f'with_cp={result["with_cp"]}', flush=True)
    memory = 'peak MiB (added)'
    header = (f'{"shape":<8}{"config":<30}{"fwd s":>8}{"x":>7}{"fwd+bwd s":>11}{"x":>7}'
              f'{"fwd " + memory:>24}{"fwd+bwd " + memory:>28}')
    print('\n' + header + '\n' + '-' * len(header))
    for shape in args.shapes:
        for name in names:
            row = f'{shape:<8}{name:<30}'
            for mode, width in zip(MODES, (8, 11)):
                if mode not in args.modes:
                    row += f'{"-":>{width}}{"":>7}'
                    continue
                median = results[shape, mode, name]['median']
                speedup = results[shape, mode, names[0]]['median'] / median
                row += f'{median:>{width}.2f}{speedup:>6.2f}x'
            for mode, width in zip(MODES, (24, 28)):
                if mode in args.modes:
                    result = results[shape, mode, name]
                    cell = f'{result["peak_mib"]:.0f} (+{result["added_mib"]:.0f})'
                    row += f'{cell:>{width}}'
                else:
                    row += f'{"-":>{width}}'
            print(row)
    print(f'x = speed-up over {names[0]}; load average at end {os.getloadavg()}')


if __name__ == '__main__':
    main()
