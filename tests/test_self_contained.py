"""The repository is self-contained: no tracked file reaches for a folder
beside the clone, and the real test data it ships is documented (source and
licence in tests/data/README.md) and small."""
import os
import os.path as osp
import re
import shutil
import subprocess

import pytest

from mmpfcn.testing.source_scan import pattern_locations

PROJECT_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA_DIR = osp.join(PROJECT_ROOT, 'tests', 'data')
MAX_DATA_BYTES = 2 * 1024 * 1024
# a path into a folder named shared one level above the repository (either
# slash), where the test data once lived beside the project's working copy
OUTSIDE_PATH = re.compile(r'\.\.[/\\]shared\b')
# git's own test for a binary file: a NUL byte in the first 8000 bytes
BINARY_PROBE = 8000


def _tracked_files():
    """Paths (relative to the project root) of the files git tracks."""
    if shutil.which('git') is None or not osp.exists(
            osp.join(PROJECT_ROOT, '.git')):
        pytest.skip('not a git checkout: no list of tracked files')
    out = subprocess.run(['git', 'ls-files', '-z'], cwd=PROJECT_ROOT,
                         check=True, capture_output=True).stdout
    return [name for name in out.decode().split('\0') if name]


def _data_files():
    """Paths of the files under tests/data, relative to it."""
    found = []
    for root, _, names in os.walk(DATA_DIR):
        found += [osp.relpath(osp.join(root, n), DATA_DIR) for n in names]
    return sorted(found)


def test_no_tracked_file_refers_to_a_folder_beside_the_repository():
    offenders = []
    for name in _tracked_files():
        path = osp.join(PROJECT_ROOT, name)
        if not osp.isfile(path):  # deleted in the working tree
            continue
        with open(path, 'rb') as f:
            content = f.read()
        if b'\0' in content[:BINARY_PROBE]:
            continue
        text = content.decode('utf-8', errors='replace')
        offenders += pattern_locations(name, text, OUTSIDE_PATH)
    assert not offenders, ('files that point outside the repository '
                           f'(use tests/data instead): {offenders}')


def test_test_data_is_documented_and_small():
    with open(osp.join(DATA_DIR, 'README.md')) as f:
        readme = f.read()
    files = _data_files()
    # every file is named (path below its subfolder) in the README
    undocumented = [
        rel for rel in files
        if rel.split(os.sep, 1)[-1].replace(os.sep, '/') not in readme
    ]
    assert not undocumented, (
        f'tests/data/README.md does not name {undocumented}: state their '
        'source and licence there')
    total = sum(osp.getsize(osp.join(DATA_DIR, rel)) for rel in files)
    assert total < MAX_DATA_BYTES, f'tests/data holds {total} bytes'


def test_data_folder_in_use_holds_every_shipped_file(
        coco_sample_dir, reference_checkpoint_dir, reference_vectors_dir,
        golden_outputs_dir):
    """The folders the tests read (tests/data, or MMPFCN_DATA_DIR) have
    every file the repository ships there."""
    folders = {
        osp.basename(d): d
        for d in (coco_sample_dir, reference_checkpoint_dir,
                  reference_vectors_dir, golden_outputs_dir)
    }
    shipped = [rel for rel in _data_files() if os.sep in rel]
    assert {rel.split(os.sep)[0] for rel in shipped} == set(folders)
    missing = [
        rel for rel in shipped
        if not osp.isfile(osp.join(folders[rel.split(os.sep)[0]],
                                   rel.split(os.sep, 1)[1]))
    ]
    assert not missing, f'missing from the test data folder: {missing}'
