"""Choosing hotcoco, or the reference library it replaces, as an engine."""
import logging

from mmengine.logging import print_log


def hotcoco_or(fallback: str, what: str) -> str:
    """``'hotcoco'`` if it can be imported, else ``fallback``, with a
    logged warning.

    Args:
        fallback (str): The engine used without hotcoco, e.g.
            ``'panopticapi'``.
        what (str): What the engine computes, for the warning, e.g.
            ``'PQ'``.

    Returns:
        str: The engine to use.
    """
    try:
        import hotcoco  # noqa: F401
    except ImportError as err:
        print_log(f'hotcoco cannot be imported ({err}); falling back to '
                  f'{fallback} for {what}', logger='current',
                  level=logging.WARNING)
        return fallback
    return 'hotcoco'
