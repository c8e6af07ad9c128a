#!/usr/bin/env python3
"""sockscope bench: run a command several times; report each run's wall time and peak RSS as one JSON line.

    measure.py [--reps N] [--warmup N] [--timeout SECONDS] [--stdout null|capture] [--count-warmup REGEX] -- COMMAND [ARG...]

Wall time is taken around posix_spawn() .. wait4(), so it covers the whole child process (for `sh -c 'a | b'`
the whole pipeline) and nothing of this script's own start-up or of nsenter; user and system CPU come from the
same wait4(). Peak RSS is the child's ru_maxrss from wait4() (KiB; for a shell, the largest of the shell and the
children it waited for). Caveat: posix_spawn() shares this interpreter's memory until exec, and Linux counts that
in ru_maxrss, so no figure is below this script's own RSS (~14 MiB): meaningful for node, not for tiny C tools.
Each run gets its own process group; a run past --timeout is killed with its group and reported.
stdout goes to /dev/null, or with `capture` to a file whose content (last run, first 64 KiB) is reported.
With --count-warmup, the warm-up runs write to a file instead and the lines of the last one that match REGEX
(re.search) are counted ("warmup_count"): a check of what the command listed that costs no timed run.
--reps 0 makes warm-up runs only.
"""
import argparse
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time


class Timeout(Exception):
    pass


def run_once(argv, stdout_path, timeout):
    actions = [(os.POSIX_SPAWN_OPEN, 1, stdout_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)]
    t0 = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions, setpgroup=0)

    def expire(*_):
        raise Timeout()

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        _, status, ru = os.wait4(pid, 0)
        t1 = time.perf_counter()
    except Timeout:
        os.killpg(pid, signal.SIGKILL)
        os.wait4(pid, 0)
        return {"ms": None, "maxrss_kb": None, "status": "timeout", "timeout_s": timeout}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        os.killpg(pid, signal.SIGKILL)  # stragglers of a pipeline, if any
    except ProcessLookupError:
        pass
    code = os.waitstatus_to_exitcode(status)
    return {"ms": round((t1 - t0) * 1000, 3), "user_ms": round(ru.ru_utime * 1000, 3), "sys_ms": round(ru.ru_stime * 1000, 3),
            "maxrss_kb": ru.ru_maxrss, "minflt": ru.ru_minflt, "status": code}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    ap.add_argument("--stdout", choices=("null", "capture"), default="null")
    ap.add_argument("--count-warmup", metavar="REGEX", help="count the matching lines of the warm-up runs' stdout")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    argv = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not argv:
        ap.error("no command")
    if shutil.which(argv[0]) is None:
        print(json.dumps({"error": f"command not found: {argv[0]}"}))
        return 127
    tmp = tempfile.mkdtemp(prefix="sockscope-bench-")
    out = os.path.join(tmp, "stdout") if a.stdout == "capture" else os.devnull
    try:
        warm_out = os.path.join(tmp, "warmup") if a.count_warmup else out
        warm = [run_once(argv, warm_out, a.timeout) for _ in range(a.warmup)]
        count = None
        if a.count_warmup and warm and warm[-1]["status"] == 0:
            pattern = re.compile(a.count_warmup.encode())
            with open(warm_out, "rb") as f:
                count = sum(1 for line in f if pattern.search(line))
            os.unlink(warm_out)
        runs = []
        for _ in range(a.reps):
            r = run_once(argv, out, a.timeout)
            runs.append(r)
            if r["status"] != 0:
                break
        result = {"warmup": warm, "runs": runs}
        if count is not None:
            result["warmup_count"] = count
        if a.stdout == "capture":
            with open(out, "rb") as f:
                result["stdout"] = f.read(65536).decode("utf-8", "replace")
        print(json.dumps(result))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
