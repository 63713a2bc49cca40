# ruff: noqa: E501  (the payload table keeps one payload per line)
"""Hostile payloads for the sandbox (docs/sandbox.md) and their host-side oracles.

Each payload runs in a fresh session. Whether it was contained is judged on the HOST, never
from what the payload says: canary files outside the workspace (hashes), a TCP and a UDP
listener on the host (must receive nothing), the host's core_pattern, device/root-owned files
in the workspace, an environment secret in any output, a probe execution afterwards, and no
container left once the session is closed.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRET = "sgr-canary-secret-7f3a9c"
CANARY_MOUNT = "/hostcanary"  # exists only in the weakened profile


@dataclass
class Listener:
    """A TCP and a UDP socket on all host addresses that count what reaches them."""

    tcp: socket.socket = field(init=False)
    udp: socket.socket = field(init=False)
    hits: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("0.0.0.0", 0))
        self.tcp.listen(16)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("0.0.0.0", 0))
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._recv, daemon=True).start()

    @property
    def ports(self) -> tuple[int, int]:
        return self.tcp.getsockname()[1], self.udp.getsockname()[1]

    def _accept(self) -> None:
        while True:
            try:
                conn, peer = self.tcp.accept()
            except OSError:
                return
            self.hits.append(f"tcp {peer[0]}")
            conn.close()

    def _recv(self) -> None:
        while True:
            try:
                _, peer = self.udp.recvfrom(2048)
            except OSError:
                return
            self.hits.append(f"udp {peer[0]}")

    def close(self) -> None:
        self.tcp.close()
        self.udp.close()


@dataclass
class Env:
    """The host-side scene the payloads attack."""

    canary_dir: Path
    listener: Listener
    host_ips: list[str]

    def canary_state(self) -> dict[str, str]:
        out = {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.canary_dir.iterdir())
        }
        out["names"] = ",".join(sorted(p.name for p in self.canary_dir.iterdir()))
        out["core_pattern"] = Path("/proc/sys/kernel/core_pattern").read_text()
        return out

    def fmt(self, code: str) -> str:
        tcp, udp = self.listener.ports
        return (
            code.replace("@TCP@", str(tcp))
            .replace("@UDP@", str(udp))
            .replace("@IPS@", repr(["172.17.0.1", "127.0.0.1", *self.host_ips]))
            .replace("@CANARY@", str(self.canary_dir))
        )


def make_env(tmp: Path) -> Env:
    canary = tmp / "canary"
    canary.mkdir()
    (canary / "secret.txt").write_text("host canary: must never change\n")
    (canary / "config.json").write_text('{"canary": true}\n')
    ips = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False)
    host_ips = [ip for ip in ips.stdout.split() if ":" not in ip]
    return Env(canary, Listener(), host_ips)


Check = Callable[[Any, Path], str | None]
"""Extra host-side oracle of one payload: (ExecResult, workspace) -> breach reason or None."""


def _no_devices_or_root_files(_r: Any, ws: Path) -> str | None:
    for p in ws.rglob("*"):
        st = p.lstat()
        if p.is_char_device() or p.is_block_device():
            return f"device node created: {p.name}"
        if st.st_uid == 0 and not p.is_symlink():
            return f"root-owned file created: {p.name}"
        if st.st_mode & 0o6000 and st.st_uid == 0:
            return f"setuid root file: {p.name}"
    return None


def _no_leaked_content(r: Any, _ws: Path) -> str | None:
    for a in r.artifacts:
        if a.size > 0 and a.name in ("passwd", "escape", "shadow"):
            return f"host file returned as artifact {a.name}"
    return None


def _daemon_dead(_r: Any, ws: Path) -> str | None:
    import time

    marker = ws / "out" / "beat"
    before = marker.stat().st_size if marker.exists() else 0
    time.sleep(1.0)  # a surviving daemon appends every 0.1 s
    after = marker.stat().st_size if marker.exists() else 0
    return f"daemon still running ({before} -> {after} bytes)" if after != before else None


NET = """
import socket
ok = []
for ip in @IPS@:
    for kind in ("tcp", "udp"):
        try:
            if kind == "tcp":
                s = socket.create_connection((ip, @TCP@), timeout=0.5); s.close()
            else:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", (ip, @UDP@))
            ok.append((ip, kind))
        except OSError as e:
            pass
ok
"""

PAYLOADS: list[tuple[str, str, Check | None]] = [
    # ---- resource bombs
    (
        "fork_bomb",
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        None,
    ),
    (
        "thread_bomb",
        "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()",
        None,
    ),
    ("memory_bomb", "hog = []\nwhile True:\n    hog.append(bytearray(16 << 20))", None),
    ("cpu_spin", "while True:\n    pass", None),
    ("sleep_forever", "import time\ntime.sleep(10**6)", None),
    (
        "ignore_sigint_spin",
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
        None,
    ),
    ("stdin_read", "import sys, os\nsys.stdin.read(); os.read(0, 100)", None),
    ("print_flood", "while True:\n    print('x' * 10000)", None),
    ("fd_flood", "import os\nwhile True:\n    os.write(1, b'y' * 65536)", None),
    ("long_line", "print('z' * 30_000_000)", None),
    (
        "child_flood",
        "import subprocess\nsubprocess.run(['/usr/bin/python3', '-c', 'import os\\nwhile True: os.write(1, b\"q\" * 65536)'])",
        None,
    ),
    (
        "tmp_fill",
        "with open('/tmp/fill', 'wb') as f:\n    while True:\n        f.write(b'0' * (1 << 20))",
        None,
    ),
    (
        "workspace_fill",
        "i = 0\nwhile True:\n    with open(f'/workspace/big{i}', 'wb') as f:\n        for _ in range(16):\n            f.write(b'0' * (1 << 20))\n    i += 1",
        None,
    ),
    ("inode_fill", "i = 0\nwhile True:\n    open(f'/workspace/n{i}', 'w').close(); i += 1", None),
    ("open_files", "fs = []\nwhile True:\n    fs.append(open('/dev/null'))", None),
    # ---- network and exfiltration
    ("net_tcp_udp_host", NET, None),
    ("net_dns", "import socket\nsocket.getaddrinfo('pypi.org', 443)", None),
    (
        "net_ipv6",
        "import socket\ns = socket.socket(socket.AF_INET6)\ns.settimeout(0.5)\ns.connect(('2001:4860:4860::8888', 53))",
        None,
    ),
    (
        "net_metadata",
        "import socket\nsocket.create_connection(('169.254.169.254', 80), timeout=0.5)",
        None,
    ),
    ("env_canary", "import os\nprint(dict(os.environ))\ndict(os.environ)", None),
    # ---- privilege probes
    (
        "caps_chown_mknod",
        "import os, stat\nopen('/workspace/f', 'w').close()\ntry:\n    os.chown('/workspace/f', 0, 0)\nexcept OSError as e: print(e)\nos.mknod('/workspace/dev', stat.S_IFCHR | 0o666, os.makedev(1, 3))",
        _no_devices_or_root_files,
    ),
    (
        "setuid_root",
        "import os\nos.setuid(0)\nopen('/workspace/rootfile', 'w').close()",
        _no_devices_or_root_files,
    ),
    (
        "docker_socket",
        "import os, socket\nfor p in ('/var/run/docker.sock', '/run/docker.sock'):\n    s = socket.socket(socket.AF_UNIX); s.connect(p)\n    s.sendall(b'POST /containers/create?name=sgr-breach HTTP/1.0\\r\\nContent-Type: application/json\\r\\nContent-Length: 28\\r\\n\\r\\n{\"Image\": \"sgr-sandbox:latest\"}')",
        None,
    ),
    (
        "proc_sys_write",
        "for p in ('/proc/sys/kernel/core_pattern', '/proc/sysrq-trigger'):\n    try:\n        open(p, 'w').write('|/tmp/x')\n    except OSError as e: print(p, e)\nopen('/proc/sys/kernel/core_pattern', 'w').write('|/tmp/x')",
        None,
    ),
    (
        "sys_cgroup_write",
        "import glob\nfor p in glob.glob('/sys/fs/cgroup/*/release_agent') + ['/sys/kernel/uevent_helper']:\n    open(p, 'w').write('/tmp/x')\nopen('/sys/kernel/uevent_helper', 'w').write('/tmp/x')",
        None,
    ),
    (
        "host_canary_write",
        "import os\nfor p in ('"
        + CANARY_MOUNT
        + "/secret.txt', '@CANARY@/secret.txt', '/proc/1/root@CANARY@/secret.txt'):\n    try:\n        open(p, 'w').write('pwned')\n    except OSError as e: print(p, e)\nos.listdir('@CANARY@')",
        None,
    ),
    (
        "kill_all",
        "import subprocess\nsubprocess.run(['/usr/bin/python3', '-c', 'import os, signal; os.kill(-1, signal.SIGKILL)'])",
        None,
    ),
    (
        "detached_daemon",
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        while True:\n            with open('/workspace/out/beat', 'a') as f: f.write('.')\n            time.sleep(0.1)\n    os._exit(0)\ntime.sleep(0.3)\n'spawned'",
        _daemon_dead,
    ),
    # ---- host-side parsing
    (
        "symlink_outputs",
        "import os\nos.symlink('/etc/passwd', '/workspace/out/passwd')\nos.symlink('../../../../../../etc/shadow', '/workspace/out/shadow')\nos.symlink('/', '/workspace/out/rootdir')",
        _no_leaked_content,
    ),
    (
        "hardlink_fifo_outputs",
        "import os\nopen('/workspace/out/a.txt', 'w').write('a')\nos.link('/workspace/out/a.txt', '/workspace/out/b.txt')\nos.mkfifo('/workspace/out/pipe')\nopen('/workspace/out/../escape', 'w').write('e')",
        _no_leaked_content,
    ),
    (
        "hostile_names",
        "names = ['new\\nline', 'bidi\\u202etxt.exe', 'zero\\u200bwidth', 'x' * 255, '..\\u2024..', 'tab\\tname']\nfor n in names:\n    open('/workspace/out/' + n, 'w').write(n)\nlen(names)",
        None,
    ),
    ("huge_json", "list(range(5_000_000))", None),
    ("deep_json", "x = []\nfor _ in range(100_000):\n    x = [x]\nx", None),
    (
        "pickle_result",
        "class Evil:\n    def __reduce__(self):\n        return (open, ('@CANARY@/pickled', 'w'))\nEvil()",
        None,
    ),
    (
        "protocol_junk",
        "import sys, os\nfd = sys.modules['__main__'].PROTO_OUT\nos.write(fd, b'{\"id\": 999, \"ok\": true}\\n' * 1000)\nwhile True:\n    os.write(fd, b'A' * 65536)",
        None,
    ),
]
