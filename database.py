"""The stores: where jobs, reports, refunds, error logs and callback deliveries live.

The public entry point: `open_store(settings)` gives the backend `STORE_BACKEND` names, and the rest
of the service imports the interface and its records from here. Behind it, one module per concept:

- `store.py`: the `Store` interface, the records its methods read and write, and what both
  backends share. The contract is pinned by `tests/store_contract.py`, which every backend runs
  unchanged.
- `store_sqlite.py`: `SQLiteStore`, the embedded default (`make run`, local development, tests).
  One file under `var/`, WAL mode, safe across threads and processes.
- `store_supabase.py`: `SupabaseStore` (production) calls the Postgres functions of
  `supabase/migrations/` over PostgREST (supabase-py `rpc()`), one function per state change, so
  each change is one transaction on the server; it retries transient failures itself, since every
  function is idempotent and postgrest-py never retries a POST.

Tokens are a ledger (`token_transactions`): every change to a balance is a row, and a balance is the
sum of its user's rows (`ledger_mismatches` checks it). A job the Edge Function pays for is recorded by
`spend_token_for_job`, one spend per job, and waits for a worker to accept it (`create_job`). A refund
gives back exactly the job's spend, at most once (a unique index on (job_id) for refunds, not just a
check in code); a job posted to the worker directly has no spend, so its refund decision is recorded
and nothing is credited. A terminal job always gets exactly one callback delivery row, written in the
same transaction as its terminal state (a transactional outbox).
"""

from __future__ import annotations

from typing import Mapping

from config import Settings
from exceptions import ConfigError
from store import (
    CALLBACK_DELIVERED,
    CALLBACK_FAILED,
    CALLBACK_PENDING,
    CallbackAttemptRecord,
    CallbackDelivery,
    FailureRecord,
    ReportRecord,
    Store,
)
from store_sqlite import SQLiteStore
from store_supabase import SupabaseStore

# What the rest of the service imports from here: the interface and records of store.py, and open_store.
__all__ = [
    "CALLBACK_DELIVERED",
    "CALLBACK_FAILED",
    "CALLBACK_PENDING",
    "CallbackAttemptRecord",
    "CallbackDelivery",
    "FailureRecord",
    "ReportRecord",
    "Store",
    "open_store",
]


# Each STORE_BACKEND (config.STORE_BACKENDS) and its class; each builds itself from its own settings.
BACKENDS: Mapping[str, type[Store]] = {"sqlite": SQLiteStore, "supabase": SupabaseStore}


def open_store(settings: Settings) -> Store:
    """The backend `STORE_BACKEND` names (config.py has checked its settings)."""
    backend = BACKENDS.get(settings.store_backend)
    if backend is None:  # only settings built in code, not read from the environment, get here
        raise ConfigError(f"STORE_BACKEND={settings.store_backend!r} must be one of {', '.join(BACKENDS)}")
    return backend.from_settings(settings)
