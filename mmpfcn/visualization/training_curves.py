"""Training curves from mmengine's ``scalars.json`` logs: one panel per
key (loss terms and PQ have different scales) over the iterations."""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

Series = Dict[str, Tuple[List[int], List[float]]]


def load_scalars(path: str) -> Series:
    """Every numeric key of a ``scalars.json`` as (steps, values).

    Raises:
        ValueError: Naming the file and line of a record that is not a
            JSON object with a ``step`` (or ``iter``).
    """
    series: Series = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}:{number}: not JSON ({err})') \
                    from err
            if not isinstance(record, dict) or \
                    not ('step' in record or 'iter' in record):
                raise ValueError(f'{path}:{number}: expected an object with '
                                 'a "step", as mmengine writes')
            step = int(record.get('step', record.get('iter')))
            for key, value in record.items():
                if key in ('step', 'iter', 'epoch') or \
                        isinstance(value, bool) or \
                        not isinstance(value, (int, float)):
                    continue
                steps, values = series.setdefault(key, ([], []))
                steps.append(step)
                values.append(float(value))
    return series


def resolve_key(key: str, available: Sequence[str]) -> Optional[str]:
    """``key`` itself, else the one available key ending in ``/key``."""
    if key in available:
        return key
    matches = [name for name in available if name.split('/')[-1] == key]
    return matches[0] if len(matches) == 1 else None


def plot_curve(logs: Sequence[str],
               keys: Sequence[str],
               out: str,
               legend: Optional[Sequence[str]] = None,
               title: Optional[str] = None) -> List[str]:
    """Draw one panel per key and save the figure.

    Args:
        logs (Sequence[str]): ``scalars.json`` files.
        keys (Sequence[str]): Keys to plot.
        out (str): Output image (PNG, PDF, ...).
        legend (Sequence[str], optional): A name per log; defaults to the
            log's run folder.
        title (str, optional): Figure title.

    Returns:
        list[str]: The resolved keys, in panel order.

    Raises:
        KeyError: A key found in none of the logs (the message lists the
            keys that are there).
    """
    if legend is not None and len(legend) != len(logs):
        raise ValueError(f'--legend needs {len(logs)} names, got '
                         f'{len(legend)}')
    data = [load_scalars(path) for path in logs]
    names = legend or [
        osp.basename(osp.dirname(osp.dirname(osp.abspath(p)))) or p
        for p in logs
    ]
    available = sorted({k for series in data for k in series})
    resolved = []
    for key in keys:
        found = resolve_key(key, available)
        if found is None:
            raise KeyError(f'key {key!r} is in none of the logs; available: '
                           f'{", ".join(available)}')
        resolved.append(found)

    fig, axes = plt.subplots(
        len(resolved), 1, sharex=True, squeeze=False,
        figsize=(8, 2.2 * len(resolved) + 0.6))
    for ax, key in zip(axes[:, 0], resolved):
        for name, series in zip(names, data):
            if key in series:
                steps, values = series[key]
                ax.plot(steps, values, marker='o' if len(steps) < 20 else '',
                        markersize=3, label=name)
        ax.set_ylabel(key.split('/')[-1])
        ax.grid(alpha=0.3)
        if len(logs) > 1:
            ax.legend(fontsize='small')
    axes[-1, 0].set_xlabel('iteration')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return resolved
