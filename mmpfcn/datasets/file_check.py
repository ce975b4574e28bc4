"""The files of a split, checked when the dataset is built: a missing
image or PNG is named before training or testing starts, not when the
sampler reaches it."""
import os
from typing import Iterable

# how many missing paths an error lists before giving the count only
MAX_NAMES_LISTED = 10


def check_files_exist(paths: Iterable[str], where: str) -> None:
    """Stat every path; raise if any is not a file.

    Args:
        paths (Iterable[str]): Local file paths (images, PNGs) of a split.
        where (str): What lists them (the annotation file), for the error.

    Raises:
        FileNotFoundError: Naming ``where``, how many of the files are
            missing and the first :data:`MAX_NAMES_LISTED` of them.
    """
    paths = list(paths)
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        listed = ', '.join(missing[:MAX_NAMES_LISTED])
        more = len(missing) - MAX_NAMES_LISTED
        raise FileNotFoundError(
            f'{where}: {len(missing)} of the {len(paths)} files of the split '
            f'are missing: {listed}' + (f' and {more} more' if more > 0
                                        else ''))
