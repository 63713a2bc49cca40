# mypy: ignore-errors
# (Runs inside the container only, on the image's own interpreter: stdlib, kept plain.)
"""The in-container runner of the sgr-sandbox image: a persistent Python session over JSON lines.

Runs INSIDE the sandbox container only (stdlib only, Python 3.11). The host writes one JSON
request per line to the container's stdin and reads one JSON reply per line from its stdout.

Framing safety: the protocol uses private duplicates of fds 0 and 1 (not inherited by child
processes); fds 0/1/2 themselves are re-pointed at /dev/null and capped files on the tmpfs, so
user code that writes to fd 1, or child processes it spawns, cannot corrupt the framing or
steal requests. (Code in this very process can always reach the protocol fd; it can only forge
its own result, which it controls anyway, and the host parses every reply defensively.)

Lifecycle: a reader thread owns the protocol input. On EOF (the host closed the session or
the kernel process died) it kills every process in the container and exits, so a killed
kernel leaves no container behind. After every execution, processes the code left running
(daemons, double forks) are killed: nothing survives into the next execution.
"""

import ast
import io
import json
import math
import os
import queue
import signal
import sys
import threading
import time
import traceback

ENV = os.environ
OUT_CAP = int(ENV.get("SGR_OUTPUT_BYTES", 1 << 20))
RESULT_BYTES = int(ENV.get("SGR_RESULT_BYTES", 1 << 20))
RESULT_DEPTH = int(ENV.get("SGR_RESULT_DEPTH", 32))
REPR_CAP = 4096
OUT_DIR = ENV.get("SGR_OUT_DIR", "/workspace/out")
FD_DIR = "/tmp/.sgr"
MAX_NODES = 200_000

PROTO_IN = os.dup(0)  # os.dup() fds are non-inheritable: children never see them
PROTO_OUT = os.dup(1)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.makedirs(FD_DIR, exist_ok=True)
FD_FILES = {}
for _fd, _name in ((1, "fd1"), (2, "fd2")):
    _path = os.path.join(FD_DIR, _name)
    _f = os.open(_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    os.dup2(_f, _fd)
    os.close(_f)
    FD_FILES[_fd] = _path

G = {"__name__": "__main__", "__builtins__": __builtins__}
IN_EXEC = False
SELF = os.getpid()


def _on_sigint(signum, frame):
    # The host interrupts a running cell with SIGINT; outside a cell it must not kill us.
    if IN_EXEC:
        raise KeyboardInterrupt


signal.signal(signal.SIGINT, _on_sigint)
signal.signal(signal.SIGPIPE, signal.SIG_DFL)


class Capped(io.TextIOBase):
    """A text stream that keeps the first ``cap`` characters and counts the rest."""

    def __init__(self, cap):
        self.cap, self.parts, self.n, self.dropped = cap, [], 0, 0

    def writable(self):
        return True

    @property
    def encoding(self):
        return "utf-8"

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        room = self.cap - self.n
        if room > 0:
            piece = s[:room]
            self.parts.append(piece)
            self.n += len(piece)
        self.dropped += len(s) - max(0, min(room, len(s)))
        return len(s)

    def flush(self):
        pass

    def text(self):
        return "".join(self.parts)


def _read_fd_file(fd):
    """What fd-level writers (os.write, child processes) left, capped; then reset the file."""
    path = FD_FILES[fd]
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            data = f.read(OUT_CAP)
        os.truncate(path, 0)
    except OSError:
        return "", 0
    return data.decode("utf-8", "replace"), max(0, size - len(data))


def _check_json(value):
    """Iteratively check that a value is plain JSON within the depth and size limits."""
    stack, nodes, chars = [(value, 1)], 0, 0
    while stack:
        v, depth = stack.pop()
        nodes += 1
        if depth > RESULT_DEPTH:
            return True, f"result nested deeper than {RESULT_DEPTH}"
        if nodes > MAX_NODES or chars > RESULT_BYTES:
            return True, f"result larger than {RESULT_BYTES} bytes"
        if v is None or isinstance(v, bool) or isinstance(v, int):
            continue
        if isinstance(v, float):
            if not math.isfinite(v):
                return False, "result holds a non-finite float"
            continue
        if isinstance(v, str):
            chars += len(v)
            continue
        if isinstance(v, (list, tuple)):
            stack.extend((x, depth + 1) for x in v)
            continue
        if isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    return False, "result has a non-string dict key"
                chars += len(k)
                stack.append((x, depth + 1))
            continue
        return False, f"result of type {type(v).__name__} is not plain JSON"
    return None


def _encode_value(value):
    """(value, value_repr, value_error, fatal) for the last expression; never pickles.

    ``fatal``: a plain-JSON result over the size/depth limits (a failure); a value that is
    simply not JSON (a DataFrame, say) comes back as its repr only, and that is fine.
    """
    if value is None:
        return None, None, None, False
    try:
        rep = repr(value)
    except BaseException as e:  # a hostile __repr__ must not kill the session
        rep = f"<repr failed: {type(e).__name__}>"
    rep = rep[:REPR_CAP]
    checked = _check_json(value)
    fatal, problem = checked if checked else (False, None)
    if problem is None:
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as e:
            fatal, problem = True, f"result is not JSON: {type(e).__name__}"
        else:
            if len(text) > RESULT_BYTES:
                fatal, problem = True, f"result larger than {RESULT_BYTES} bytes"
            else:
                return json.loads(text), rep, None, False
    return None, rep, problem, fatal


def _save_figures(req_id):
    """Save open matplotlib figures to the output folder, then close them."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    names = []
    try:
        os.makedirs(OUT_DIR, exist_ok=True)
        for num in plt.get_fignums():
            name = f"figure-{req_id}-{num}.png"
            plt.figure(num).savefig(os.path.join(OUT_DIR, name), dpi=100)
            names.append(name)
    except BaseException as e:
        names.append(f"<figure save failed: {type(e).__name__}: {e}>")
    finally:
        try:
            plt.close("all")
        except BaseException:
            pass
    return names


def _others():
    """Live processes other than init (pid 1) and this runner."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (1, SELF):
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            pids.append(int(name))
    return pids


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_leftovers():
    """Kill every process the code left behind (daemons, forks); return how many rounds."""
    for rounds in range(50):
        _reap()
        if not _others():
            return rounds
        try:
            os.kill(-1, signal.SIGKILL)  # everything we may signal except init and ourselves
        except (ProcessLookupError, PermissionError):
            pass
        time.sleep(0.005)
    _reap()
    return 50


def run(req):
    global IN_EXEC
    out, err = Capped(OUT_CAP), Capped(OUT_CAP)
    ok, error_type, error, value = True, None, None, None
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    t0 = time.perf_counter()
    try:
        try:
            tree = ast.parse(req["code"], "<cell>", "exec")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            code = compile(tree, "<cell>", "exec")
            ev = compile(last, "<cell>", "eval") if last is not None else None
            IN_EXEC = True
            exec(code, G)
            if ev is not None:
                value = eval(ev, G)
        finally:
            IN_EXEC = False
    except BaseException as e:  # SystemExit / KeyboardInterrupt must not end the session
        ok, error_type = False, type(e).__name__
        try:
            tb = e.__traceback__
            while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
                tb = tb.tb_next  # the runner's own frames say nothing about the user's code
            error = "".join(traceback.format_exception(type(e), e, tb))[-OUT_CAP:]
        except BaseException:
            error = f"{error_type} (traceback unavailable)"
    finally:
        sys.stdout, sys.stderr = saved
    if os.getpid() != SELF:
        os._exit(0)  # a bare os.fork() child finished the cell: it must not act as the runner
    duration = time.perf_counter() - t0
    figures = _save_figures(req.get("id"))
    try:
        value, value_repr, value_error, fatal = (
            _encode_value(value) if ok else (None, None, None, False)
        )
    except BaseException as e:
        value, value_repr = None, None
        value_error, fatal = f"result encoding failed: {type(e).__name__}", True
    fd1, fd1_dropped = _read_fd_file(1)
    fd2, fd2_dropped = _read_fd_file(2)
    stdout = out.text() + fd1
    stderr = err.text() + fd2
    kill_leftovers()
    return {
        "id": req.get("id"),
        "ok": ok,
        "stdout": stdout[:OUT_CAP],
        "stderr": stderr[:OUT_CAP],
        "stdout_dropped": out.dropped + fd1_dropped + max(0, len(stdout) - OUT_CAP),
        "stderr_dropped": err.dropped + fd2_dropped + max(0, len(stderr) - OUT_CAP),
        "value": value,
        "value_repr": value_repr,
        "value_error": value_error,
        "value_fatal": fatal,
        "error_type": error_type,
        "error": error,
        "figures": figures,
        "duration_s": duration,
    }


def send(obj):
    data = (json.dumps(obj, ensure_ascii=True, allow_nan=False) + "\n").encode()
    view = memoryview(data)
    while view:
        n = os.write(PROTO_OUT, view)
        view = view[n:]


REQUESTS = queue.Queue()


def reader():
    with os.fdopen(PROTO_IN, "rb", buffering=1 << 16) as f:
        for line in f:
            REQUESTS.put(line)
    # EOF: the host is gone. Leave nothing running, then end the container.
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    os._exit(0)


def main():
    threading.Thread(target=reader, name="sgr-proto-reader", daemon=True).start()
    send({"ready": True, "python": sys.version.split()[0], "uid": os.getuid()})
    while True:
        try:
            line = REQUESTS.get()
            req = json.loads(line)
            send(run(req))
        except KeyboardInterrupt:
            continue  # a late interrupt between cells: nothing to stop
        except BaseException as e:  # a malformed request: answer, keep serving
            try:
                send({"id": None, "ok": False, "error_type": "ProtocolError", "error": repr(e)[:500]})
            except BaseException:
                os._exit(3)


if __name__ == "__main__":
    main()
