"""Names of the files a run writes per input (``demo/image_demo.py``,
``demo/video_demo.py --out-dir``, ``tools/test.py --show-dir``): never the
path of an input, never the name of another output of the same run."""
import os.path as osp
from typing import Callable, Dict, Iterable, Optional, Sequence


def _key(path: str) -> str:
    """A path as the file system resolves it (symlinks, ``..``, case on
    case-insensitive systems), to compare two paths."""
    return osp.normcase(osp.realpath(path))


class OutputNamer:
    """Hand out one unique file stem per output of a run.

    An output of stem ``s`` is the files ``out_dir/s<suffix>`` for each of
    its suffixes (e.g. ``_panoptic.jpg``, ``.png``, ``.json``). The stem
    asked for is kept unless one of those files would be an input of the
    run, or the stem was handed out before in this run; then it becomes
    ``s-1``, ``s-2``, ... (the first free one), and the change is kept in
    :attr:`renamed`.

    Args:
        out_dir (str): Folder the outputs go to.
        suffixes (Sequence[str]): What follows the stem in each file name
            of one output.
        inputs (Iterable[str]): Paths of the run's inputs, which no output
            may replace; more can be added with :meth:`protect`.
        layout (callable, optional): The files of stem ``s`` instead of
            ``out_dir/s<suffix>``, e.g. in sub-folders (then ``suffixes``
            is unused).
    """

    def __init__(self, out_dir: str, suffixes: Sequence[str],
                 inputs: Iterable[str] = (),
                 layout: Optional[Callable[[str], Iterable[str]]] = None
                 ) -> None:
        self.out_dir = out_dir
        self.suffixes = tuple(suffixes)
        self.layout = layout
        self._inputs = {_key(path) for path in inputs}
        self._taken = set()
        self.renamed: Dict[str, str] = {}

    def protect(self, path: str) -> None:
        """Add an input path that no output may replace."""
        self._inputs.add(_key(path))

    def _free(self, stem: str, suffixes: Sequence[str]) -> bool:
        files = self.layout(stem) if self.layout is not None else [
            osp.join(self.out_dir, stem + suffix) for suffix in suffixes]
        return stem not in self._taken and not any(
            _key(path) in self._inputs for path in files)

    def __call__(self, stem: str,
                 suffixes: Optional[Sequence[str]] = None) -> str:
        """The stem to write the output wanted as ``stem`` under.

        Args:
            stem (str): The stem wanted (usually the input's).
            suffixes (Sequence[str], optional): This output's suffixes, if
                not the namer's.

        Returns:
            str: ``stem`` or ``stem-<n>``, from now on taken.
        """
        suffixes = self.suffixes if suffixes is None else tuple(suffixes)
        name, index = stem, 0
        while not self._free(name, suffixes):
            index += 1
            name = f'{stem}-{index}'
        self._taken.add(name)
        if name != stem:
            self.renamed[name] = stem
        return name


def check_not_input(path: str, inputs: Iterable[str], what: str) -> None:
    """Refuse an output file the user named that is one of the inputs.

    Raises:
        ValueError: Naming ``what`` (e.g. ``--out``) and the path.
    """
    if _key(path) in {_key(item) for item in inputs}:
        raise ValueError(f'{what} {path!r} is an input of this run; '
                         'writing it would replace the input: choose '
                         'another path')
