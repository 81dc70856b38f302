"""Rewrite the README's supported-operator table from the converter registry (`make readme`)."""

import re
import sys
from pathlib import Path

from gluon2caffe.converters import support_table

readme = Path(__file__).resolve().parent.parent / "README.md"
text = readme.read_text()
new = re.sub(
    r"(<!-- support-table:start -->\n).*?(<!-- support-table:end -->)",
    lambda m: m.group(1) + support_table() + m.group(2),
    text,
    flags=re.S,
)
if new == text:
    sys.exit(0)
readme.write_text(new)
print("README.md: support table updated")
