"""Choosing hotcoco, or the reference library it replaces, as an engine,
and logging that works with or without mmengine loaded.

The PQ engine is also a stand-alone command (``pq_eval.py``): nothing here
imports torch, mmengine or mmdet.
"""
import logging
import sys


def print_log(msg: str, logger=None, level: int = logging.INFO) -> None:
    """Log like mmengine's ``print_log`` without importing mmengine.

    When mmengine is already loaded (inside a runner), its ``print_log``
    is used, so ``'current'`` reaches the runner's logger. Otherwise:
    None prints to stdout, ``'silent'`` drops the message, a
    :class:`logging.Logger` logs to it and any other name logs to the
    ``mmpfcn`` logger (warnings and errors reach stderr).
    """
    if 'mmengine.logging' in sys.modules:
        from mmengine.logging import print_log as mmengine_print_log
        mmengine_print_log(msg, logger=logger, level=level)
    elif logger is None:
        print(msg)
    elif isinstance(logger, logging.Logger):
        logger.log(level, msg)
    elif logger != 'silent':
        logging.getLogger('mmpfcn').log(level, msg)


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
