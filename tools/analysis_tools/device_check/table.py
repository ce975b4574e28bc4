"""The rows of the device check's table and its exit status."""
from dataclasses import dataclass
from typing import Sequence

PASS, FAIL, INFO, NA = 'pass', 'FAIL', 'info', 'n/a'


@dataclass
class Row:
    """One line of the table.

    Args:
        check (str): What was checked or measured.
        value (str): What was found.
        threshold (str): What passes (``'-'`` for a measurement).
        status (str): :data:`PASS`, :data:`FAIL`, :data:`INFO` (a
            measurement) or :data:`NA` (not run here, or not ours to fail).
    """
    check: str
    value: str
    threshold: str
    status: str


def tolerance_row(check: str, value: float, tol: float,
                  note: str = '') -> Row:
    """A row that passes when ``value <= tol`` (``tol`` 0: exactly 0)."""
    text = f'{value:.2e}' + (f' ({note})' if note else '')
    return Row(check, text, f'<= {tol:.0e}' if tol else '== 0',
               PASS if value <= tol else FAIL)


def error_text(err: BaseException) -> str:
    """``'TypeName: first line of the message'`` (at most 200 characters),
    for a row whose step raised."""
    message = str(err).strip()
    first = message.splitlines()[0] if message else ''
    return f'{type(err).__name__}: {first[:200]}'


def exit_status(rows: Sequence[Row]) -> int:
    """1 if a row failed, else 0."""
    return int(any(row.status == FAIL for row in rows))


def format_table(rows: Sequence[Row]) -> str:
    """The rows as a markdown table (``|`` in a cell becomes ``/``)."""
    lines = ['| check | value | threshold | status |', '|---|---|---|---|']
    for row in rows:
        cells = (row.check, row.value, row.threshold, row.status)
        lines.append('| ' + ' | '.join(c.replace('|', '/') for c in cells)
                     + ' |')
    return '\n'.join(lines)
