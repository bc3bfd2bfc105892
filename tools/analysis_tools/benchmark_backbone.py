"""Time and memory of TokenPruningViT under different keep-rate schedules, side by side.

    python tools/analysis_tools/benchmark_backbone.py [CONFIG ...] [--shapes 288x288 288x512]
        [--device cpu|cuda] [--repeats 3] [--warmup 1] [--with-cp {config,on,off}]
        [--threads N]

CONFIG defaults to the three ViT-B schedules of spec §1.8 (keep rate 1.0; 0.7 in blocks 3/6/9;
0.6 with enhanced weight 4), the first being the reference of the ratios. Batch 1, 16 frames.

For every config, shape and mode (``forward``: eval mode under ``torch.no_grad``; ``train``:
train mode, forward + backward of the sum of all outputs) a fresh subprocess builds the backbone,
runs ``warmup`` untimed and ``repeats`` timed iterations and reports the median time and the peak
memory: on CUDA ``torch.cuda.max_memory_allocated``; on CPU the process's peak resident set size
(``resource.getrusage(...).ru_maxrss``; tracemalloc does not see torch's allocations), given with
the part added by running the model (peak minus the size after building model and input), which
a fresh process per setting keeps apart. Timings on a shared machine vary: report the load.
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
    osp.join(ROOT, 'configs', 'token_pruning_vit', name) for name in (
        'tpvit-base-p16_ktp1.0.py', 'tpvit-base-p16_ktp0.7.py', 'tpvit-base-p16_ktp0.6-ew4.py')
]
MODES = ('forward', 'train')


def parse_args():
    parser = argparse.ArgumentParser(description='Benchmark TokenPruningViT keep-rate schedules')
    parser.add_argument('configs', nargs='*', default=DEFAULT_CONFIGS,
                        help='backbone configs; the first is the reference for the ratios')
    parser.add_argument('--shapes', nargs='+', default=['288x288', '288x512'],
                        help='input sizes HxW (16 frames, batch 1)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--repeats', type=int, default=3, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations first')
    parser.add_argument('--with-cp', choices=['config', 'on', 'off'], default='config',
                        help='gradient checkpointing: as in the config, or forced on/off')
    parser.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    return parser.parse_args()


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def worker(args) -> dict:
    """Measure one (config, shape, mode) in this process; return the numbers."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmevad  # noqa: F401
    from mmaction.registry import MODELS

    if args.threads:
        torch.set_num_threads(args.threads)
    config, = args.configs
    shape, = args.shapes
    mode, = args.modes
    height, width = (int(v) for v in shape.split('x'))
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    backbone_cfg = cfg.model.backbone
    if args.with_cp != 'config':
        backbone_cfg.with_cp = args.with_cp == 'on'
    device = torch.device(args.device)
    model = MODELS.build(backbone_cfg).to(device)
    clip = torch.randn(1, 3, backbone_cfg.num_frames, height, width, device=device)

    def run():
        if mode == 'forward':
            with torch.no_grad():
                model(clip)
        else:
            out = model(clip)
            tensors = [out] if torch.is_tensor(out) else [out.tokens, *out.keyframe_feats]
            sum(t.sum() for t in tensors).backward()
            model.zero_grad(set_to_none=True)

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    model.train(mode == 'train')
    baseline = _rss_mib()
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device) / 2**20
    for _ in range(args.warmup):
        run()
    times = []
    for _ in range(args.repeats):
        sync()
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated(device) / 2**20
            if device.type == 'cuda' else _rss_mib())
    return dict(times=times, median=statistics.median(times), peak_mib=peak,
                added_mib=peak - baseline, threads=torch.get_num_threads(),
                with_cp=bool(backbone_cfg.with_cp))


def measure(args, config, shape, mode) -> dict:
    command = [sys.executable, osp.abspath(__file__), config, '--worker', '--shapes', shape,
               '--modes', mode, '--device', args.device, '--repeats', str(args.repeats),
               '--warmup', str(args.warmup), '--with-cp', args.with_cp]
    if args.threads:
        command += ['--threads', str(args.threads)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [ROOT, os.environ.get('PYTHONPATH')])))
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f'benchmark of {config} {shape} {mode} failed:\n{done.stderr}')
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    args = parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    names = [osp.splitext(osp.basename(config))[0] for config in args.configs]
    print(f'device {args.device}, batch 1, 16 frames, median of {args.repeats} after '
          f'{args.warmup} warm-up, load average at start {os.getloadavg()}')
    results = {}
    for shape in args.shapes:
        for mode in args.modes:
            for config, name in zip(args.configs, names):
                results[shape, mode, name] = result = measure(args, config, shape, mode)
                print(f'  {shape} {mode:<7} {name}: {result["median"]:.2f} s '
                      f'(runs {", ".join(f"{t:.2f}" for t in result["times"])}), peak '
                      f'{result["peak_mib"]:.0f} MiB (+{result["added_mib"]:.0f}), '
                      f'{result["threads"]} threads, with_cp={result["with_cp"]}', flush=True)
    memory = 'peak MiB (added)'
    header = (f'{"shape":<8}{"config":<30}{"fwd s":>8}{"x":>7}{"fwd+bwd s":>11}{"x":>7}'
              f'{"fwd " + memory:>24}{"fwd+bwd " + memory:>28}')
    print('\n' + header + '\n' + '-' * len(header))
    for shape in args.shapes:
        for name in names:
            row = f'{shape:<8}{name:<30}'
            for mode in MODES:
                if mode not in args.modes:
                    row += f'{"-":>8}{"":>7}' if mode == 'forward' else f'{"-":>11}{"":>7}'
                    continue
                median = results[shape, mode, name]['median']
                speedup = results[shape, mode, names[0]]['median'] / median
                row += f'{median:>8.2f}' if mode == 'forward' else f'{median:>11.2f}'
                row += f'{speedup:>6.2f}x'
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
