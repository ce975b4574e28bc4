"""Where a pattern occurs in a file's text, as ``path:line`` strings: the
offender lists of the repository-wide source checks (tests/test_layering.py,
tests/test_self_contained.py)."""
import re
from typing import List


def pattern_locations(name: str, text: str, pattern: re.Pattern) -> List[str]:
    """``['tools/x.py:12', ...]``: one entry per match of ``pattern`` in
    ``text`` (the content of file ``name``), with its 1-based line."""
    return [
        f'{name}:{text.count(chr(10), 0, match.start()) + 1}'
        for match in pattern.finditer(text)
    ]
