"""OutputNamer: no output replaces an input or another output of the run."""
import os.path as osp

import pytest

from mmpfcn.apis.output_names import OutputNamer, check_not_input

SUFFIXES = ('_panoptic.jpg', '.png', '.json')


def test_input_in_the_output_folder_is_never_an_output(tmp_path):
    photo = tmp_path / 'photo.png'
    photo.write_bytes(b'input')
    namer = OutputNamer(str(tmp_path), SUFFIXES, [str(photo)])
    assert namer('photo') == 'photo-1'
    assert namer.renamed == {'photo-1': 'photo'}
    # the same input through another spelling of the folder
    other = OutputNamer(str(tmp_path / 'sub' / '..'), SUFFIXES,
                        [str(photo)])
    assert other('photo') == 'photo-1'
    # a stem none of whose files is an input is kept
    assert OutputNamer(str(tmp_path / 'out'), SUFFIXES,
                       [str(photo)])('photo') == 'photo'


def test_same_stems_get_distinct_names(tmp_path):
    namer = OutputNamer(str(tmp_path), SUFFIXES)
    # a.jpg + a.png, the same name in two folders, and a real a-1.jpg
    names = [namer(stem) for stem in ('a', 'a', 'a', 'a-1')]
    assert names == ['a', 'a-1', 'a-2', 'a-1-1']
    assert len(set(names)) == 4


def test_per_output_suffixes(tmp_path):
    image = tmp_path / 'x.jpg'
    namer = OutputNamer(str(tmp_path), (), [str(image)])
    assert namer('x', ('.jpg', )) == 'x-1'
    assert namer('y', ('.jpg', )) == 'y'


def test_check_not_input(tmp_path):
    video = str(tmp_path / 'in.mp4')
    check_not_input(str(tmp_path / 'out.mp4'), [video], '--out')
    with pytest.raises(ValueError, match="--out .*in.mp4.* input"):
        check_not_input(osp.join(str(tmp_path), '.', 'in.mp4'), [video],
                        '--out')
