"""``python -m libai.utils.graph_race_fix``: say whether the fix applies here, and where it is.

Prints one ``key: value`` line each for the status, the reason, liboneflow, its build
id and the compiled shim (a script that must import ``oneflow`` before libai can
``LD_PRELOAD`` that path). Exits 0 when the fix is active, 1 when it is not.
"""

from __future__ import annotations

import sys

from libai.utils.graph_race_fix import install


def main() -> int:
    st = install()
    print(f"applied: {st.applied}")
    print(f"reason: {st.reason}")
    print(f"liboneflow: {st.liboneflow}")
    print(f"build id: {st.build_id}")
    print(f"shim: {st.shim}")
    return 0 if st.applied else 1


if __name__ == "__main__":
    sys.exit(main())
