"""``--keep-freed-memory`` of ``tools/train.py`` and ``tools/test.py``: the
process-wide allocator setting is opt-in, never a side effect."""
import sys

import pytest


@pytest.mark.parametrize('flag', [False, True])
@pytest.mark.parametrize('tool_name, positional', [
    ('train.py', ['no_config.py']),
    ('test.py', ['no_config.py', 'no_checkpoint.pth']),
])
def test_tool_keeps_freed_memory_only_with_the_flag(
        load_tool, monkeypatch, tmp_path, tool_name, positional, flag):
    tool = load_tool(tool_name)
    calls = []
    monkeypatch.setattr(tool, 'keep_freed_memory',
                        lambda: calls.append('mallopt') or True)
    monkeypatch.setattr(tool, 'exit_with_parent', lambda: None)
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setattr(sys, 'argv', [f'tools/{tool_name}'] + [
        str(tmp_path / name) for name in positional
    ] + (['--keep-freed-memory'] if flag else []))
    with pytest.raises(FileNotFoundError, match='no_config.py'):
        tool.main()  # stops at reading the config, after the allocator
    assert calls == (['mallopt'] if flag else [])
