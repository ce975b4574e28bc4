"""check_files_exist: every file of a split stat'ed, the missing named."""
import pytest

from mmpfcn.datasets.file_check import check_files_exist


def test_names_the_first_ten_missing_files_and_counts_all(tmp_path):
    present = tmp_path / 'present.jpg'
    present.write_bytes(b'')
    (tmp_path / 'folder.jpg').mkdir()  # not a file
    missing = [str(tmp_path / f'{i:02d}.jpg') for i in range(11)]
    paths = [str(present), str(tmp_path / 'folder.jpg')] + missing
    with pytest.raises(FileNotFoundError) as error:
        check_files_exist(paths, 'ann.json')
    message = str(error.value)
    assert message.startswith('ann.json: 12 of the 13 files of the split '
                              'are missing: ')
    assert 'folder.jpg' in message and missing[8] in message
    assert missing[9] not in message and message.endswith(' and 2 more')
    check_files_exist([str(present)], 'ann.json')
