"""The per-kernel session: an event-loop thread that owns the agent kernels.

ipykernel's own loop is busy running the cell, and a blocked cell cannot receive widget
clicks. So runs execute on this session's loop thread: ``%%sgr`` starts a run there and
returns at once with the live widget; approvals clicked in the widget are handed to the
loop thread; ``--wait`` blocks the cell on a future, never with a hidden ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sgr_jupyter._controller import RunController
from sgr_jupyter.config import SgrConfig
from sgr_jupyter.widgets import RunView
from sgr_kernel.engine.kernel import Kernel, RunHandle
from sgr_kernel.runs import Runs

__all__ = ["KernelFactory", "RunController", "Session", "default_kernel_factory"]

T = TypeVar("T")

KernelFactory = Callable[[SgrConfig], Kernel]
"""Builds the kernel for a config (tests inject kernels with scripted services this way)."""


def default_kernel_factory(cfg: SgrConfig) -> Kernel:
    """Build the real agent kernel from the frozen config (imported lazily)."""
    from sgr_jupyter._engine import make_kernel

    return make_kernel(cfg)


class Session:
    """Owns one event-loop thread and the kernels that run on it, one per distinct config."""

    def __init__(self, kernel_factory: KernelFactory | None = None) -> None:
        self._factory = kernel_factory or default_kernel_factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kernels: dict[tuple[Any, ...], Kernel] = {}
        self._owner: dict[str, Kernel] = {}
        self._apis: dict[int, Runs] = {}
        self.runs: dict[str, RunController] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ loop thread

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def main() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()
                    # Stopped by close(): cancel what is left so the loop closes cleanly.
                    pending = asyncio.all_tasks(loop)
                    for task in pending:
                        task.cancel()
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                    loop.close()

                self._thread = threading.Thread(target=main, name="sgr-session", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
                _on_process_exit(self)
            return self._loop

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """Run a coroutine function on the loop thread and block for its result."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("Session.call from the loop thread would deadlock")

        async def go() -> T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(go(), self.loop).result(timeout)

    def call_sync(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """Run a plain function on the loop thread (kernels are confined to it)."""

        async def go() -> T:
            return fn()

        return self.call(go, timeout)

    def schedule(self, delay_s: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop thread after ``delay_s`` (used for throttled flushes)."""
        self.loop.call_soon_threadsafe(self.loop.call_later, delay_s, fn)

    def interrupt_all(self, reason: str, timeout_s: float = 4.0) -> list[str]:
        """Stop every live run because this process is going away (kernel restart or shutdown,
        SIGTERM): each ends INTERRUPTED, resumable with ``%sgr resume RUN``. Blocks up to
        ``timeout_s`` for their records to be written; returns the ids stopped."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive() or loop.is_closed():
            return []

        async def go() -> list[str]:
            stopped: list[str] = []
            tasks = []
            for kernel in self._kernels.values():
                for run_id in kernel.interrupt(reason=reason):
                    stopped.append(run_id)
                    handle = kernel.handle(run_id)
                    if handle is not None and handle.task is not None:
                        tasks.append(handle.task)
            if tasks:
                await asyncio.wait(tasks, timeout=timeout_s)
            return stopped

        try:
            return asyncio.run_coroutine_threadsafe(go(), loop).result(timeout_s + 1)
        except (concurrent.futures.TimeoutError, RuntimeError):
            return []

    def close(self) -> None:
        """Stop the loop thread (live runs are abandoned; their traces resume later)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)

    # ------------------------------------------------------------ kernels

    def kernel(self, cfg: SgrConfig) -> Kernel:
        """The kernel for a config (made on the loop thread, once per distinct config)."""
        key = (*cfg.kernel_key(), cfg.approval_mode)
        if key not in self._kernels:
            self._kernels[key] = self.call_sync(lambda: self._factory(cfg))
        return self._kernels[key]

    def kernel_for(self, run_id: str, cfg: SgrConfig) -> Kernel:
        """The kernel that runs ``run_id`` in this session, else the one for ``cfg``."""
        return self._owner.get(run_id) or self.kernel(cfg)

    def api(self, kernel: Kernel) -> Runs:
        """The runs API over one of this session's kernels (what ``%sgr`` commands render)."""
        key = id(kernel)
        if key not in self._apis:
            self._apis[key] = Runs(kernel)
        return self._apis[key]

    def launch(
        self,
        kernel: Kernel,
        starter: Callable[[Kernel], Awaitable[RunHandle]],
        view: RunView | None,
        on_done: Callable[[RunController], None] | None = None,
    ) -> RunController:
        """Start a run on the loop thread, wire its records to ``view``, return at once.

        ``starter`` is awaited on the loop; its errors (a bad plan, an unknown run) are raised
        here, in the calling cell, because nothing was started.
        """
        ctl = RunController(self, kernel, view)
        if on_done is not None:
            ctl.add_done_callback(on_done)

        async def go() -> str:
            handle = await starter(kernel)
            ctl.run_id = handle.run_id
            if view is not None:
                view.run_id = handle.run_id
                unsubscribe = handle.subscribe(lambda rec: view.feed(rec, self._later))
                view.seed(copy.deepcopy(handle.state))  # what was logged before subscribing
                asyncio.get_running_loop().create_task(_heartbeat(view, ctl))
            else:
                unsubscribe = None
            # What the model streams, for the side panel (it runs in the server's process).
            stop_live = self.api(kernel).publish_live(handle)
            asyncio.get_running_loop().create_task(self._watch(handle, ctl, unsubscribe, stop_live))
            return handle.run_id

        run_id = self.call(go)
        self._owner[run_id] = kernel
        self.runs[run_id] = ctl
        return ctl

    def attach(self, run_id: str, view: RunView) -> RunController | None:
        """Feed a new ``view`` from a run live in this session: its state now, then its
        records as they come (a re-executed cell, ``%sgr resume`` of a run that never
        stopped). ``None`` when the run is not live here (resume it instead)."""
        ctl, kernel = self.runs.get(run_id), self._owner.get(run_id)
        if ctl is None or ctl.done or kernel is None:
            return None

        async def go() -> bool:
            handle = kernel.handle(run_id)
            if handle is None or ctl.done:
                return False
            unsubscribe = handle.subscribe(lambda rec: view.feed(rec, self._later))
            view.seed(copy.deepcopy(handle.state))
            view.run_id = run_id

            def detach(c: RunController) -> None:
                unsubscribe()
                view.flush()

            ctl.add_done_callback(detach)
            asyncio.get_running_loop().create_task(_heartbeat(view, ctl))
            return True

        if not self.call(go):
            return None
        ctl.view = view
        return ctl

    def _later(self, delay_s: float, fn: Callable[[], None]) -> None:
        # Already on the loop thread (records are delivered there).
        asyncio.get_running_loop().call_later(delay_s, fn)

    async def _watch(
        self,
        handle: RunHandle,
        ctl: RunController,
        unsubscribe: Callable[[], None] | None,
        stop_live: Callable[[], None],
    ) -> None:
        try:
            result = await handle.wait()
        except BaseException as e:  # the cell's wait() re-raises it
            ctl._finish(None, e)
            if not isinstance(e, Exception):
                raise
            return
        finally:
            stop_live()
            if unsubscribe is not None:
                unsubscribe()
        ctl._finish(result, None)


HEARTBEAT_S = 2.0
"""How often a live view's ``heartbeat`` moves (the front end calls a view whose heartbeat
stood still for ~4 beats disconnected)."""


async def _heartbeat(view: RunView, ctl: RunController) -> None:
    """Tick the view's heartbeat until its run stops in this kernel (ends, pauses, or is
    interrupted); a kernel that dies stops it too, which is what the front end watches."""
    while not ctl.done:
        await asyncio.sleep(HEARTBEAT_S)
        if not ctl.done:
            view.beat()


def _on_process_exit(session: Session) -> None:
    """Interrupt the session's live runs when the kernel process goes away gracefully.

    A kernel restart or shutdown ends the process normally: thread-exit hooks run before the
    interpreter tears down the thread pools the runs use (which then refuse work, and the runs
    would fail). SIGTERM would end it without any hook: it is turned into a normal exit. A
    SIGKILL leaves the runs RUNNING in their logs, which resume handles the same way.
    """
    import signal
    import weakref

    ref = weakref.ref(session)

    def stop(why: str) -> None:
        live = ref()
        if live is not None:
            live.interrupt_all(why)

    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        with contextlib.suppress(RuntimeError):  # already shutting down
            register(lambda: stop("interrupted: the notebook kernel shut down or restarted"))
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

                def on_term(signum: int, frame: Any) -> None:
                    stop("interrupted by SIGTERM")
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    raise SystemExit(128 + signum)

                signal.signal(signal.SIGTERM, on_term)
