"""Image inputs of the inference API and the demos: listing the images of
a path, folder or glob, and reading them one by one so that an unreadable
file can be named and skipped."""
import glob
import os
import os.path as osp
from typing import List, Sequence, Union

import mmcv
import numpy as np

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')


class UnreadableImageError(ValueError):
    """An input image that cannot be read or decoded."""


def list_images(inputs: Union[str, Sequence[str]]) -> List[str]:
    """The image files of an image path, a folder or a glob pattern.

    A folder gives its files with an image extension (not recursive); a
    glob its matching files, sorted, filtered by image extension only when
    the pattern names no extension (``dir/*``); a file path is kept
    whatever its extension, so that reading it fails with a clear message.

    Args:
        inputs (str | Sequence[str]): One or several paths / patterns.

    Returns:
        list[str]: Image paths in input order (each folder / glob sorted).

    Raises:
        FileNotFoundError: An input that is neither a file, nor a folder
            holding images, nor a glob matching files.
    """
    if isinstance(inputs, str):
        inputs = [inputs]
    paths = []
    for item in inputs:
        if osp.isfile(item):
            paths.append(item)
        elif osp.isdir(item):
            found = sorted(
                osp.join(item, name) for name in os.listdir(item)
                if name.lower().endswith(IMAGE_EXTENSIONS)
                and osp.isfile(osp.join(item, name)))
            if not found:
                raise FileNotFoundError(f'folder {item!r} holds no image '
                                        f'({", ".join(IMAGE_EXTENSIONS)})')
            paths.extend(found)
        elif glob.has_magic(item):
            found = sorted(p for p in glob.glob(item) if osp.isfile(p))
            if not osp.splitext(item)[1]:
                found = [p for p in found
                         if p.lower().endswith(IMAGE_EXTENSIONS)]
            if not found:
                raise FileNotFoundError(f'pattern {item!r} matches no image')
            paths.extend(found)
        else:
            raise FileNotFoundError(f'input {item!r} is not a file, a folder '
                                    'or a glob pattern that matches files')
    return paths


def read_image(path: str,
               color_type: str = 'color',
               imdecode_backend: str = 'cv2',
               to_float32: bool = False) -> np.ndarray:
    """Read an image file as the test pipeline's ``LoadImageFromFile`` does.

    Args:
        path (str): Image file.
        color_type (str): mmcv's flag (``'color'`` gives BGR (H, W, 3)).
        imdecode_backend (str): mmcv's decoding backend.
        to_float32 (bool): Convert to float32.

    Returns:
        np.ndarray: The image (H, W, C), uint8 unless ``to_float32``.

    Raises:
        UnreadableImageError: The file cannot be opened or decoded.
    """
    try:
        with open(path, 'rb') as f:
            content = f.read()
    except OSError as err:
        raise UnreadableImageError(f'cannot read image {path!r}: {err}') \
            from err
    if not content:
        raise UnreadableImageError(f'cannot decode image {path!r} (empty '
                                   'file)')
    try:
        img = mmcv.imfrombytes(
            content, flag=color_type, backend=imdecode_backend)
    except MemoryError:
        raise  # a huge image is not a corrupt one
    except Exception as err:  # cv2.error, PIL's, turbojpeg's: all corrupt
        first = (str(err).strip().splitlines() or [''])[0]
        raise UnreadableImageError(
            f'cannot decode image {path!r} (not an image, or corrupt: '
            f'{type(err).__name__}: {first[:200]})') from err
    if img is None or img.size == 0:
        raise UnreadableImageError(
            f'cannot decode image {path!r} (not an image, or corrupt)')
    return img.astype(np.float32) if to_float32 else img
