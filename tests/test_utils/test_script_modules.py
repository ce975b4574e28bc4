"""import_script: a script and a package folder imported by their path,
registered under the given name; anything else refused with the path."""
import sys

import pytest

from mmpfcn.utils.script_modules import import_script


def test_a_script_and_a_package_folder_import_by_path(tmp_path, monkeypatch):
    (tmp_path / 'helper.py').write_text('VALUE = 3\n')
    package = tmp_path / 'parts'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'one.py').write_text(
        'import helper_script\nVALUE = helper_script.VALUE + 1\n')
    for name in ('helper_script', 'parts_pkg', 'parts_pkg.one'):
        monkeypatch.delitem(sys.modules, name, raising=False)
    helper = import_script(str(tmp_path / 'helper.py'), 'helper_script')
    assert helper.VALUE == 3 and sys.modules['helper_script'] is helper
    import_script(str(package), 'parts_pkg')
    from parts_pkg import one  # a submodule of the folder, by its name
    assert one.VALUE == 4


def test_a_failing_script_is_not_left_registered(tmp_path):
    (tmp_path / 'broken.py').write_text('raise RuntimeError("broken")\n')
    with pytest.raises(RuntimeError, match='broken'):
        import_script(str(tmp_path / 'broken.py'), 'broken_script')
    assert 'broken_script' not in sys.modules


def test_a_folder_without_init_is_refused(tmp_path):
    with pytest.raises(ImportError, match=str(tmp_path)):
        import_script(str(tmp_path), 'no_package')
