"""resolve_device: the device a user names is checked before anything is built."""
import pytest
import torch

from mmevad.utils import device_from_args, resolve_device


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)


def test_none_picks_the_cpu_without_a_gpu(no_gpu):
    assert resolve_device(None) == torch.device('cpu')


def test_none_picks_cuda0_when_a_gpu_is_visible(two_gpus):
    assert resolve_device(None) == torch.device('cuda:0')


def test_named_devices_that_exist_are_returned(two_gpus):
    assert resolve_device('cpu') == torch.device('cpu')
    assert resolve_device('cuda') == torch.device('cuda')
    assert resolve_device('cuda:1') == torch.device('cuda', 1)
    assert resolve_device(torch.device('cuda', 0)) == torch.device('cuda', 0)


@pytest.mark.parametrize('build_cuda, why', [(None, 'this torch build has no CUDA support'),
                                             ('12.8', 'no GPU is visible')])
def test_a_gpu_on_a_machine_without_one_names_cause_and_fix(no_gpu, monkeypatch, build_cuda, why):
    monkeypatch.setattr(torch.version, 'cuda', build_cuda)
    with pytest.raises(ValueError) as error:
        resolve_device('cuda:0')
    message = str(error.value)
    assert "'cuda:0'" in message and why in message and '--device cpu' in message


def test_a_gpu_index_beyond_the_visible_ones_names_the_range(two_gpus):
    with pytest.raises(ValueError, match=r"'cuda:2' was asked for, but 2 GPU\(s\) are visible "
                                         r"\('cuda:0' to 'cuda:1'\)"):
        resolve_device('cuda:2')


def test_an_unknown_device_name_is_refused():
    with pytest.raises(ValueError, match="device 'gpu0' is not a device name torch knows"):
        resolve_device('gpu0')


def test_tools_stop_with_the_message_and_no_traceback(no_gpu):
    with pytest.raises(SystemExit) as stop:
        device_from_args('cuda:0')
    assert str(stop.value).startswith("error: --device: device 'cuda:0' was asked for")


def test_init_detector_checks_the_device_before_building(no_gpu, monkeypatch):
    from mmevad.apis import inference

    def must_not_load(*args, **kwargs):
        raise AssertionError('the config was read before the device was checked')

    monkeypatch.setattr(inference, 'load_config', must_not_load)
    with pytest.raises(ValueError, match="'cuda:0' was asked for"):
        inference.init_detector('any_config.py', device='cuda:0')
