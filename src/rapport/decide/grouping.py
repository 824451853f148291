"""The taste groups' fit: a thread of its own beside the processing loop (``serve`` or
``worker``), so a fit (up to a second of Python for a thousand users) never holds up
the processing of events.

Every few seconds, for each workspace whose agents learned since, it reads the
statistics of the users who learned last (at most ``sample`` of them), fits the groups
(``clusters.fit``, starting from the stored fit) and stores them in place of the
previous fit, in ``agent_stats`` scopes ``cl:0``, ``cl:1``, ... Decisions read them with
the population's statistics. Nothing lives only in this process: another worker, or
this one after a restart, continues from what is stored.
"""

from __future__ import annotations

import logging
import threading
import time

from rapport.core.db import Database
from rapport.decide import clusters, storage
from rapport.decide.catalog import Catalog
from rapport.decide.feedback import Feedback
from rapport.decide.model import DEFAULT_POLICY, Candidate, Policy

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
        """Fit every ``interval`` seconds in a daemon thread until :meth:`stop`."""
        if getattr(self, "_thread", None) is not None:
            return
        self._stop = threading.Event()

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.run()
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

    def run(self) -> int:
        """Fit every workspace that learned since the last run; how many were fitted."""
        if self.policy.groups < 2:
            return 0
        fitted = 0
        for workspace_id in sorted(self.feedback.take_learned()):
            if self.fit(workspace_id):
                fitted += 1
        return fitted

    def fit(self, workspace_id: str) -> bool:
        """Fit and store one workspace's groups (none, if they do not explain the users
        better than the population); whether there was enough evidence to fit."""
        started = time.perf_counter()
        with self.database.read() as conn:
            plans = self.catalog.plans(conn, workspace_id)
            population = storage.population_stats(conn, workspace_id)
            users = storage.recent_user_stats(conn, workspace_id, self.sample)
        candidates: list[Candidate] = []
        for plan in plans.values():
            if plan.status != "archived" and plan.allocation != "fixed":
                candidates.extend(plan.candidates)
        groups = clusters.fit(
            users,
            candidates,
            population.get(storage.POPULATION, {}),
            k=self.policy.groups,
            previous=storage.groups_of(population),
            policy=self.policy,
        )
        if groups is None:
            # Too few users with evidence (for now): whatever is stored stays.
            log.debug(
                "taste groups not fitted: too little evidence",
                extra={"workspace": workspace_id, "users": len(users)},
            )
            return False
        with self.database.begin() as conn:
            storage.replace_groups(conn, workspace_id, groups, time.time())
        self.catalog.forget_population(workspace_id)
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
