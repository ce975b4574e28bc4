"""tools/model_converters/publish_model.py: training state dropped, the
sha256 prefix in the file name, the weights unchanged."""
import hashlib
import importlib.util
import os
import os.path as osp

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'publish_model',
        osp.join(ROOT, 'tools', 'model_converters', 'publish_model.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_publish_drops_training_state_and_names_the_hash(tmp_path, capsys):
    state = {'conv.weight': torch.arange(6.).reshape(2, 3)}
    training = dict(state_dict=state, meta=dict(epoch=3),
                    optimizer=dict(state={}, param_groups=[]),
                    message_hub=dict(runtime_info={}),
                    param_schedulers=[dict(last_step=5)])
    src = tmp_path / 'iter_100.pth'
    torch.save(training, src)
    tool = load_tool()
    assert tool.main([str(src), str(tmp_path / 'out' / 'model.pth')]) == 0
    out = capsys.readouterr().out
    written = out.strip().splitlines()[-1]
    digest = hashlib.sha256(open(written, 'rb').read()).hexdigest()
    assert written == str(tmp_path / 'out' / f'model-{digest[:8]}.pth')
    assert os.listdir(tmp_path / 'out') == [osp.basename(written)]
    published = torch.load(written, weights_only=False)
    assert sorted(published) == ['meta', 'state_dict']
    assert torch.equal(published['state_dict']['conv.weight'],
                       state['conv.weight'])
    for key in ('optimizer', 'message_hub', 'param_schedulers'):
        assert f"dropping '{key}'" in out


def test_publish_refuses_a_file_without_state_dict(tmp_path, capsys):
    src = tmp_path / 'weights.pth'
    torch.save({'conv.weight': torch.zeros(1)}, src)
    assert load_tool().main([str(src), str(tmp_path / 'o.pth')]) == 1
    err = capsys.readouterr().err
    assert str(src) in err and 'state_dict' in err
    assert not (tmp_path / 'o.pth').exists()
