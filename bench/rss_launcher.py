"""Run a command and write its peak RSS (KiB, from ``os.wait4``) to a file.

argv: RSS_FILE COMMAND ARG... Forked from run_bench.py itself, a command would report that
script's size as its floor (ru_maxrss starts at the parent's peak): this small program
forks it instead.
"""

import os
import sys

pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) & 255)
