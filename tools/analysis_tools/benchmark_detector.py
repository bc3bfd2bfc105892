"""Time and memory of the whole EVAD detector (eval forward and train step) at several keep rates.

    python tools/analysis_tools/benchmark_detector.py [CONFIG ...] [--shape 16 288 288]
        [--batch-sizes 1 4] [--modes eval train] [--device cpu|cuda] [--amp {fp16,bf16}]
        [--compile] [--onnx] [--repeats 3] [--warmup 1] [--threads N] [--portable-paths]
        [--official-root PATH]

CONFIG defaults to the three released ViT-B models (keep rate 1.0; 0.7 in blocks 3/6/9; 0.6 with
enhanced weight 4), the first being the reference of the speed-ups. Weights are initialised, not
loaded (time does not depend on them; the learned proposals are valid boxes).

- ``eval``: ``model.predict`` on a normalised clip in eval mode under ``torch.no_grad`` (person
  selection included), what ``tools/test.py`` runs per batch.
- ``train``: ``model.loss`` (Hungarian matching included) and ``backward`` of the summed loss
  terms, with two ground-truth persons per clip, gradient checkpointing as configured (the
  released configs checkpoint the encoder); no optimizer step.
- ``--amp``: the forward under ``torch.autocast`` in that dtype (``tools/train.py --amp``).
- ``--compile``: ``torch.compile`` of the backbone (the heads have data-dependent Python).
- ``--portable-paths``: the pruning blocks recompute their importance scores and RoIAlign runs
  mmcv's kernel also on the CPU (``portable_importance``, ``DeviceRoIAlign``): the paths that
  the CPU-specific ones replace, for a before/after comparison.
- ``--onnx``: one more row per config, onnxruntime (CPU, the ``deploy`` extra) running the
  tensor-mode export of ``tools/deployment/export_onnx.py`` on the same clip, compared with the
  ``eval`` row when ``eval`` is among the modes (``model.predict`` adds only the person
  selection to the exported forward; PyTorch pools with the configured RoIAlign, the export with
  the equal ``SeparableRoIAlign``). The worker exports each config first (minutes for ViT-B)
  and deletes the file once onnxruntime has loaded it; ``--threads`` sets onnxruntime's
  intra-op threads too.
- ``--official-root``: the same measurements of the official EVAD code, imported unmodified from
  a checkout of it, in an environment of its own (``official_evad_setting.py``); the configs are
  its yaml files. Run it beside an mmevad run on the same machine to compare the two.

Time: one process builds every setting and, after ``warmup`` untimed runs each, times them in
turn for ``repeats`` rounds and reports the median; interleaving spreads the load of other jobs
on a shared machine evenly. Next to the wall time, the process's CPU time of each iteration (all
its threads): on a machine that other jobs overload, wall times of one setting vary by tens of
percent while single-thread CPU time stays within a few percent, so compare CPU times there
(``--threads 1``; with more threads, idle threads spinning in OpenMP count too).

Memory: a fresh process per setting runs one iteration and reports its peak: on CUDA
``torch.cuda.max_memory_allocated``, on CPU the peak resident set size, with the part added by
the iteration (peak minus the size after building model and input). On the CPU that peak
depends on the allocator: glibc keeps freed heap space resident, and a fixed
``MALLOC_MMAP_THRESHOLD_`` lowers a ViT-B train step's peak by a third (README, "Speed"); the
first line of the output names the allocator settings in the environment.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

from benchmark_backbone import allocator_settings, peak_rss_mib

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIGS = [
    osp.join(ROOT, 'configs', 'evad', name) for name in (
        'evad_vit-base-p16-ktp1.0_videomae-k400-pre_8xb2-16x4x1-12e_ava22-rgb.py',
        'evad_vit-base-p16-ktp0.7_videomae-k400-pre_8xb2-16x4x1-12e_ava22-rgb.py',
        'evad_vit-base-p16-ktp0.6-ew4_videomae-k400-pre_8xb2-16x4x1-12e_ava22-rgb.py')
]
MODES = ('eval', 'train', 'onnx')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark the whole EVAD detector')
    parser.add_argument('configs', nargs='*', default=DEFAULT_CONFIGS,
                        help='detector configs; the first is the reference for the speed-ups')
    parser.add_argument('--shape', type=int, nargs=3, default=[16, 288, 288],
                        metavar=('T', 'H', 'W'), help='clip length, height, width (padded size)')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1])
    parser.add_argument('--modes', nargs='+', choices=MODES[:2], default=list(MODES[:2]))
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--amp', choices=['fp16', 'bf16'], help='autocast dtype')
    parser.add_argument('--compile', action='store_true', help='torch.compile the backbone')
    parser.add_argument('--onnx', action='store_true',
                        help='also time onnxruntime on the ONNX export (eval, CPU)')
    parser.add_argument('--repeats', type=int, default=3, help='timed rounds')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations first')
    parser.add_argument('--threads', type=int, help='torch (and onnxruntime) CPU threads')
    parser.add_argument('--skip-memory', action='store_true', help='time only')
    parser.add_argument('--portable-paths', action='store_true',
                        help='rank tokens with the recomputed scores and pool with mmcv\'s '
                        'RoIAlign kernel also on the CPU (the device-independent paths), to '
                        'compare with the CPU paths')
    parser.add_argument('--official-root', metavar='PATH',
                        help='time the official EVAD code from this checkout instead: the '
                        'configs are its yaml files (official_evad_setting.py says which '
                        'environment it needs)')
    parser.add_argument('--worker', choices=['time', 'memory'], help=argparse.SUPPRESS)
    parser.add_argument('--worker-mode', choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument('--worker-batch', type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


class Setting:
    """One detector built from a config, a batch of clips (and ground truth) and one iteration
    of a mode."""

    def __init__(self, config: str, batch_size: int, mode: str, args) -> None:
        import torch
        from mmaction.registry import MODELS
        from mmaction.structures import ActionDataSample
        from mmengine.structures import InstanceData

        import mmevad  # noqa: F401
        from mmevad.utils import load_config

        cfg = load_config(config)
        cfg.model.pop('init_cfg', None)
        cfg.model.backbone.pop('init_cfg', None)
        self.mode = mode
        self.device = torch.device(args.device)
        self.amp = dict(fp16=torch.float16, bf16=torch.bfloat16).get(args.amp)
        model = MODELS.build(cfg.model)
        model.init_weights()
        self.portable = args.portable_paths
        if self.portable:
            from mmevad.models.layers import DeviceRoIAlign
            for module in model.modules():
                if isinstance(module, DeviceRoIAlign):
                    module.separable = None
        self.model = model.to(self.device)
        if args.compile:
            self.model.backbone = torch.compile(self.model.backbone)
        frames, height, width = args.shape
        generator = torch.Generator().manual_seed(0)
        self.inputs = torch.randn(batch_size, 3, frames, height, width,
                                  generator=generator).to(self.device)
        num_classes = self.model.roi_head.num_classes
        self.samples = []
        for _ in range(batch_size):
            sample = ActionDataSample(metainfo=dict(
                img_shape=(height, width), pad_shape=(height, width),
                batch_input_shape=(height, width)))
            labels = torch.zeros(2, num_classes + 1)
            labels[0, 1] = labels[1, 5] = 1
            sample.gt_instances = InstanceData(
                bboxes=torch.tensor([[0.1 * width, 0.2 * height, 0.4 * width, 0.9 * height],
                                     [0.5 * width, 0.1 * height, 0.9 * width, 0.8 * height]]),
                labels=labels).to(self.device)
            self.samples.append(sample)
        if mode == 'onnx':
            self._start_onnx_session(args)

    def _start_onnx_session(self, args) -> None:
        """Export the model (CPU) to a temporary file and open it with onnxruntime; the file
        (700 MiB for ViT-B) is deleted once the session holds the model."""
        import shutil

        import onnxruntime

        from mmevad.deployment import export_onnx
        if self.device.type != 'cpu':
            raise SystemExit('--onnx times onnxruntime on the CPU; run it with --device cpu')
        folder = tempfile.mkdtemp(prefix='evad_onnx_')
        try:
            onnx_file = osp.join(folder, 'evad.onnx')
            export_onnx(self.model, onnx_file, tuple(self.inputs.shape))
            options = onnxruntime.SessionOptions()
            if args.threads:
                options.intra_op_num_threads = args.threads
            self.session = onnxruntime.InferenceSession(
                onnx_file, options, providers=['CPUExecutionProvider'])
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.onnx_inputs = {'inputs': self.inputs.numpy()}

    def run(self) -> float:
        """One iteration; returns its wall time in seconds (its CPU time in ``last_cpu``)."""
        import torch
        self._sync()
        start = time.perf_counter()
        cpu_start = time.process_time()
        if self.mode == 'onnx':
            self.session.run(None, self.onnx_inputs)
        elif self.mode == 'eval':
            self.model.eval()
            with torch.no_grad(), self._autocast(), self._paths():
                self.model.predict(self.inputs, self.samples)
        else:
            self.model.train()
            with self._autocast(), self._paths():
                losses = self.model.loss(self.inputs, self.samples)
            sum(v for k, v in losses.items() if 'loss' in k).backward()
            self.model.zero_grad(set_to_none=True)
        self._sync()
        self.last_cpu = time.process_time() - cpu_start
        return time.perf_counter() - start

    def _paths(self):
        import contextlib

        from mmevad.models.layers.attention import portable_importance
        return portable_importance() if self.portable else contextlib.nullcontext()

    def _autocast(self):
        import contextlib

        import torch
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def _sync(self) -> None:
        import torch
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)


def build_setting(config: str, batch_size: int, mode: str, args):
    """An mmevad :class:`Setting`, or the official code's with ``--official-root``."""
    if args.official_root:
        from official_evad_setting import OfficialSetting
        return OfficialSetting(config, batch_size, mode, args)
    return Setting(config, batch_size, mode, args)


def time_settings(args, mode: str, batch_size: int) -> dict:
    """Median time per config (a list in the order of ``args.configs``), the configs
    interleaved round by round."""
    settings = [build_setting(config, batch_size, mode, args) for config in args.configs]
    for setting in settings:
        for _ in range(args.warmup):
            setting.run()
    times = [[] for _ in settings]
    cpu_times = [[] for _ in settings]
    for _ in range(args.repeats):
        for values, cpu_values, setting in zip(times, cpu_times, settings):
            values.append(setting.run())
            cpu_values.append(setting.last_cpu)
    return [
        dict(times=values, median=statistics.median(values), cpu_times=cpu_values,
             cpu_median=statistics.median(cpu_values))
        for values, cpu_values in zip(times, cpu_times)
    ]


def peak_memory(args, mode: str, batch_size: int) -> dict:
    """In this (fresh) process: peak memory of one iteration of one config."""
    import torch
    setting = build_setting(args.configs[0], batch_size, mode, args)
    baseline = peak_rss_mib()
    if setting.device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(setting.device)
        baseline = torch.cuda.memory_allocated(setting.device) / 2**20
    setting.run()
    peak = (torch.cuda.max_memory_allocated(setting.device) / 2**20
            if setting.device.type == 'cuda' else peak_rss_mib())
    return dict(peak_mib=peak, added_mib=peak - baseline)


def run_worker(args, role: str, configs, mode: str, batch_size: int) -> dict:
    """Run ``role`` ('time' or 'memory') in a fresh process, which keeps this one light."""
    command = [sys.executable, osp.abspath(__file__), *configs, '--worker', role,
               '--worker-mode', mode, '--worker-batch', str(batch_size), '--shape',
               *map(str, args.shape), '--device', args.device, '--repeats', str(args.repeats),
               '--warmup', str(args.warmup)]
    for flag in ('amp', 'threads'):
        if getattr(args, flag):
            command += [f'--{flag}', str(getattr(args, flag))]
    if args.compile:
        command.append('--compile')
    if args.portable_paths:
        command.append('--portable-paths')
    if args.official_root:
        command += ['--official-root', args.official_root]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [ROOT, os.environ.get('PYTHONPATH')])))
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f'{role} run of {configs} {mode} batch {batch_size} failed:\n'
                           f'{done.stderr[-6000:]}')
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    from mmevad.utils import device_from_args
    device_from_args(args.device)  # a GPU that is not there stops the run before any worker
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if args.worker == 'memory':
        print(json.dumps(peak_memory(args, args.worker_mode, args.worker_batch)))
        return
    if args.worker == 'time':
        print(json.dumps(time_settings(args, args.worker_mode, args.worker_batch)))
        return
    modes = list(args.modes) + (['onnx'] if args.onnx else [])
    names = [osp.splitext(osp.basename(config))[0] for config in args.configs]
    print(f'device {args.device}, shape {args.shape}, amp {args.amp}, compile {args.compile}, '
          f'median of {args.repeats} interleaved rounds after {args.warmup} warm-up, malloc '
          f'{allocator_settings()}, load average at start {os.getloadavg()}', flush=True)
    rows = []
    for batch_size in args.batch_sizes:
        for mode in modes:
            timing = run_worker(args, 'time', args.configs, mode, batch_size)
            for index, (config, name) in enumerate(zip(args.configs, names)):
                result = dict(timing[index], name=name, mode=mode, batch=batch_size,
                              speedup=timing[0]['median'] / timing[index]['median'],
                              cpu_speedup=timing[0]['cpu_median'] / timing[index]['cpu_median'])
                if mode == 'onnx' and 'eval' in modes:
                    eval_row = next(row for row in rows if row['mode'] == 'eval' and
                                    row['batch'] == batch_size and row['name'] == name)
                    result['vs_eval'] = eval_row['median'] / result['median']
                    result['cpu_vs_eval'] = eval_row['cpu_median'] / result['cpu_median']
                if not args.skip_memory and mode != 'onnx':
                    result.update(run_worker(args, 'memory', [config], mode, batch_size))
                rows.append(result)
                print(f'  batch {batch_size} {mode:<5} {name}: {result["median"]:.2f} s (runs '
                      f'{", ".join(f"{t:.2f}" for t in result["times"])}), CPU '
                      f'{result["cpu_median"]:.2f} s (runs '
                      f'{", ".join(f"{t:.2f}" for t in result["cpu_times"])})', flush=True)
    header = '| config | mode | batch | median s | speed-up | peak MiB (added) |'
    print('\n' + header + '\n|---|---|---|---|---|---|')
    for row in rows:
        memory = (f'{row["peak_mib"]:.0f} (+{row["added_mib"]:.0f})'
                  if 'peak_mib' in row else '-')
        speedup = f'{row["speedup"]:.2f}x'
        if 'vs_eval' in row:
            speedup += f' ({row["vs_eval"]:.2f}x PyTorch eval)'
        print(f'| {row["name"]} | {row["mode"]} | {row["batch"]} | {row["median"]:.2f} | '
              f'{speedup} | {memory} |')
    print('\nCPU time of the process per iteration (all threads):\n'
          '| config | mode | batch | median CPU s | CPU speed-up |\n|---|---|---|---|---|')
    for row in rows:
        cpu_speedup = f'{row["cpu_speedup"]:.2f}x'
        if 'cpu_vs_eval' in row:
            cpu_speedup += f' ({row["cpu_vs_eval"]:.2f}x PyTorch eval)'
        print(f'| {row["name"]} | {row["mode"]} | {row["batch"]} | {row["cpu_median"]:.2f} | '
              f'{cpu_speedup} |')
    print(f'speed-up over {names[0]} in the same mode and batch; load average at end '
          f'{os.getloadavg()}')
    return rows


if __name__ == '__main__':
    main()
