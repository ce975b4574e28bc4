"""Register every mmpfcn module and set the default scope."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import mmdet's and mmpfcn's modules so their registries are filled.

    Args:
        init_default_scope (bool): Set the global default scope to
            ``'mmpfcn'`` so registries build from mmpfcn's node (which falls
            back to mmdet's and mmengine's). Defaults to True.
    """
    from mmdet.utils import register_all_modules as register_mmdet
    register_mmdet(init_default_scope=False)

    import mmpfcn.datasets  # noqa: F401
    import mmpfcn.engine  # noqa: F401
    import mmpfcn.evaluation.metrics  # noqa: F401
    import mmpfcn.models  # noqa: F401
    import mmpfcn.visualization  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('mmpfcn'):
        DefaultScope.get_instance('mmpfcn', scope_name='mmpfcn')
        return
    if current.scope_name != 'mmpfcn':
        warnings.warn(f'The current default scope {current.scope_name!r} is '
                      'not "mmpfcn"; `register_all_modules` switches to it.')
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S.%f')
        DefaultScope.get_instance(f'mmpfcn-{stamp}', scope_name='mmpfcn')
