"""The engines: lifecycle (scheduling), reliability (policies), the run context, the Kernel."""

from sgr_kernel.engine.base import Clock, Entropy, Mode, RecordListener, RunConfig
from sgr_kernel.engine.context import RunContext
from sgr_kernel.engine.kernel import Kernel, KernelConfig, RunHandle, RunResult
from sgr_kernel.engine.lifecycle import LifecycleEngine
from sgr_kernel.engine.reliability import BudgetGuard, CircuitBreaker, ReliabilityEngine

__all__ = [
    "BudgetGuard",
    "CircuitBreaker",
    "Clock",
    "Entropy",
    "Kernel",
    "KernelConfig",
    "LifecycleEngine",
    "Mode",
    "RecordListener",
    "ReliabilityEngine",
    "RunConfig",
    "RunContext",
    "RunHandle",
    "RunResult",
]
