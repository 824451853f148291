"""The taste groups' fit, beside the processing loop (``serve`` or ``worker``).

Every few seconds, for each workspace whose agents learned since, it reads the
statistics of the users who learned last (at most ``sample`` of them), fits the groups
(``clusters.fit``, starting from the stored fit) and stores them in place of the
previous fit, in ``agent_stats`` scopes ``cl:0``, ``cl:1``, ... Decisions read them with
the population's statistics. Nothing lives only in this process: another worker, or
this one after a restart, continues from what is stored.

A fit is up to a second of pure Python for a thousand users. Run in a thread of the
serving process it would hold the interpreter lock in 5 ms slices against the event
loop, and every request waiting on it would stall for tens of milliseconds; so the
periodic fits run in a child process of their own (one, booted when fitting starts),
which reads and writes the database as any worker does. :meth:`GroupFitter.fit` runs
one in the calling process (tests, tools).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from rapport.core.db import Database
from rapport.decide import clusters, storage
from rapport.decide.catalog import Catalog
from rapport.decide.feedback import Feedback
from rapport.decide.model import DEFAULT_POLICY, Candidate, Policy
from rapport.logs import JsonFormatter, configure

log = logging.getLogger("rapport.decide")

FIT_INTERVAL_SECONDS = 10.0
SAMPLE_USERS = 1000


class GroupFitter:
    """Refits the taste groups of the workspaces that learned since the last run."""

    def __init__(
        self,
        database: Database,
        feedback: Feedback,
        catalog: Catalog,
        policy: Policy = DEFAULT_POLICY,
        sample: int = SAMPLE_USERS,
    ) -> None:
        self.database = database
        self.feedback = feedback
        self.catalog = catalog
        self.policy = policy
        self.sample = sample

    def start(self, interval: float = FIT_INTERVAL_SECONDS) -> None:
        """Fit every ``interval`` seconds, in a child process, until :meth:`stop`."""
        if getattr(self, "_thread", None) is not None:
            return
        self._stop = threading.Event()
        self._pool: ProcessPoolExecutor | None = None
        if self.policy.groups >= 2:
            # Boot the child now, beside start-up, not under traffic at the first fit.
            self._child_pool().submit(_ready)

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.run(self._fit_in_child)
                except Exception:  # a failed fit keeps what is stored; try next time
                    log.exception("taste-group fit failed")

        self._thread: threading.Thread | None = threading.Thread(
            target=loop, name="taste-groups", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        thread = getattr(self, "_thread", None)
        if thread is not None:
            self._stop.set()
            thread.join(timeout=30)
            self._thread = None
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def run(self, fit: Callable[[str], bool] | None = None) -> int:
        """Fit every workspace that learned since the last run (with ``fit``, by default
        in this process); how many were fitted."""
        if self.policy.groups < 2:
            return 0
        fit = fit or self.fit
        fitted = 0
        for workspace_id in sorted(self.feedback.take_learned()):
            if fit(workspace_id):
                fitted += 1
        return fitted

    def _child_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_open_child,
                initargs=(self.database.url, *_log_settings()),
            )
        return self._pool

    def _fit_in_child(self, workspace_id: str) -> bool:
        """One workspace's fit in the child process (started on first use, and again
        if it died); then this process reads the new groups."""
        pool = self._child_pool()
        try:
            fitted = pool.submit(_fit_child, workspace_id, self.policy, self.sample).result()
        except BrokenProcessPool:
            self._pool = None
            raise
        if fitted:
            self.catalog.forget_population(workspace_id)
        return fitted

    def fit(self, workspace_id: str) -> bool:
        """Fit and store one workspace's groups in this process (none, if they do not
        explain the users better than the population); whether there was enough
        evidence to fit."""
        fitted = fit_groups(self.database, self.catalog, workspace_id, self.policy, self.sample)
        if fitted:
            self.catalog.forget_population(workspace_id)
        return fitted


def fit_groups(
    database: Database, catalog: Catalog, workspace_id: str, policy: Policy, sample: int
) -> bool:
    """Read, fit and store one workspace's groups; whether there was enough evidence."""
    started = time.perf_counter()
    with database.read() as conn:
        plans = catalog.plans(conn, workspace_id)
        population = storage.population_stats(conn, workspace_id)
        users = storage.recent_user_stats(conn, workspace_id, sample)
    candidates: list[Candidate] = []
    for plan in plans.values():
        if plan.status != "archived" and plan.allocation != "fixed":
            candidates.extend(plan.candidates)
    groups = clusters.fit(
        users,
        candidates,
        population.get(storage.POPULATION, {}),
        k=policy.groups,
        previous=storage.groups_of(population),
        policy=policy,
    )
    if groups is None:
        # Too few users with evidence (for now): whatever is stored stays.
        log.debug(
            "taste groups not fitted: too little evidence",
            extra={"workspace": workspace_id, "users": len(users)},
        )
        return False
    with database.begin() as conn:
        storage.replace_groups(conn, workspace_id, groups, time.time())
    log.debug(
        "taste groups fitted",
        extra={
            "workspace": workspace_id,
            "users": len(users),
            "groups": len(groups),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return True


# The child process's database and catalog (see ``GroupFitter._fit_in_child``).
_child: tuple[Database, Catalog] | None = None


def _log_settings() -> tuple[str, str]:
    """This process's log level and format, for the child to log as it does."""
    root = logging.getLogger()
    json_logs = any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
    return logging.getLevelName(root.level), "json" if json_logs else "text"


def _open_child(database_url: str, log_level: str, log_format: str) -> None:
    global _child
    configure(log_level, log_format)
    _child = (Database(database_url), Catalog())
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End when the serving process is gone (killed, it cannot shut the pool down)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _ready() -> None:
    """Nothing: submitted at start so that the child boots."""


def _fit_child(workspace_id: str, policy: Policy, sample: int) -> bool:
    assert _child is not None, "the pool's initializer opens the database"
    database, catalog = _child
    # Plans may have changed since the last fit: read them afresh.
    catalog.forget(workspace_id)
    return fit_groups(database, catalog, workspace_id, policy, sample)
