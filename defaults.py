"""Every default value of the service, in one place.

`config.Settings` reads the environment and falls back to these. Keeping them here (as python-rq
does in `rq/defaults.py`) means a newcomer finds every tunable number without reading the code
that uses it.
"""

SERVICE_NAME = "10k-report-worker"
VERSION = "0.1.0"

# --- HTTP -----------------------------------------------------------------------------------------
APP_ENV = "production"  # development | test | production
# Sizes measured with bench/bench_concurrency.py on 2 cores (README "Sizing"): the pipeline is CPU-bound
# offline and waits on Claude otherwise; 3 jobs per process was within noise of the best in both.
WEB_CONCURRENCY = 2  # gunicorn worker processes: one per core
WEB_THREADS = 4  # request threads per worker process (gthread); 8 answered no faster
GRACEFUL_TIMEOUT_SECONDS = 60  # on SIGTERM, running jobs get this long to finish
MAX_REQUEST_BYTES = 16 * 1024  # POST bodies above this answer 413
LOG_LEVEL = "INFO"

# --- Jobs -----------------------------------------------------------------------------------------
QUEUE_BACKEND = "thread"  # thread (in-process pool) | rq (Redis Queue)
MAX_CONCURRENT_JOBS = 3  # jobs running at once, per process
MAX_QUEUED_JOBS = 20  # jobs waiting for a slot in the instance (its processes share one queue); beyond this POST answers 429
QUEUE_FULL_RETRY_AFTER_SECONDS = 30
JOB_TIMEOUT_SECONDS = 300
JOB_LEASE_SECONDS = 60  # a job whose lease is not renewed for this long is presumed dead
HEARTBEAT_INTERVAL_SECONDS = 15
SWEEP_INTERVAL_SECONDS = 30  # how often each process looks for jobs whose lease expired
JOB_TIMEOUT_GRACE_SECONDS = 10  # after the deadline, the watchdog fails a job that has not stopped

# --- Retries (retry.py) ---------------------------------------------------------------------------
# Each caller fills in a Backoff with its own base and cap; these are the shared parts.
BACKOFF_FACTOR = 2.0  # each retry waits twice as long as the one before
BACKOFF_JITTER = 0.5  # "equal jitter": half of each wait fixed, half random, so waits never collapse to 0
RETRY_AFTER_MAX_SECONDS = 86400.0  # a longer (or unbounded) Retry-After is read as a day; callers cap far below

# --- Store ----------------------------------------------------------------------------------------
STORE_BACKEND = "sqlite"  # sqlite (one file, one machine) | supabase (needs SUPABASE_URL and SUPABASE_SERVICE_KEY)
SQLITE_PATH = "var/report-worker.db"
STORE_RETRY_BUDGET_SECONDS = 60  # a job's final write (report or failure) is retried this long on store blips
STORE_RETRY_BASE_SECONDS = 0.5
STORE_RETRY_MAX_DELAY_SECONDS = 8.0
STORE_RETRY_JITTER = 0.0  # 0.5 s, 1 s, 2 s ... 8 s exactly: the budget above counts whole waits
SUPABASE_CONNECT_TIMEOUT_SECONDS = 5.0
SUPABASE_READ_TIMEOUT_SECONDS = 15.0  # a call that hangs longer is retried (it is idempotent)
SUPABASE_RPC_ATTEMPTS = 4  # per store call, on transient failures; worker.py may retry the whole call too
SUPABASE_RETRY_BASE_SECONDS = 0.25  # then doubled per attempt, with equal jitter (0.125-0.25 s, 0.25-0.5 s ...)
SUPABASE_RETRY_MAX_DELAY_SECONDS = 2.0

# --- Callbacks (Standard Webhooks) ----------------------------------------------------------------
CALLBACK_MAX_ATTEMPTS = 6
CALLBACK_RETRY_BASE_SECONDS = 10.0  # delays 10 s, 30 s, 90 s, 270 s, 480 s: about 15 minutes
CALLBACK_RETRY_FACTOR = 3.0
CALLBACK_RETRY_JITTER = 0.2  # each delay is 80-100% of the schedule's
CALLBACK_RETRY_MAX_DELAY_SECONDS = 480.0
CALLBACK_TIMEOUT_SECONDS = 15.0
CALLBACK_POLL_INTERVAL_SECONDS = 2.0  # how often the dispatcher looks for due deliveries
CALLBACK_CLAIM_SECONDS = 60  # a claimed delivery is invisible to other dispatchers for this long

# --- SEC EDGAR ------------------------------------------------------------------------------------
SEC_WWW_BASE_URL = "https://www.sec.gov"
SEC_DATA_BASE_URL = "https://data.sec.gov"
SEC_MAX_REQUESTS_PER_SECOND = 8.0  # the SEC allows 10 per second in total; keep headroom
SEC_MAX_REQUESTS_PER_SECOND_CEILING = 10.0
SEC_CONNECT_TIMEOUT_SECONDS = 5.0
SEC_READ_TIMEOUT_SECONDS = 30.0
SEC_MAX_RETRIES = 4
SEC_RETRY_BASE_SECONDS = 0.5
SEC_RETRY_MAX_DELAY_SECONDS = 20.0
SEC_BLOCK_COOLDOWN_SECONDS = 600  # the SEC lifts a block after 10 minutes below the threshold
EDGAR_CACHE_DIR = "var/edgar-cache"
EDGAR_METADATA_TTL_SECONDS = 86400
EDGAR_CACHE_MAX_MB = 1024

# --- Claude ---------------------------------------------------------------------------------------
ANTHROPIC_MODEL = "claude-sonnet-5-5"
ANTHROPIC_SMALL_MODEL = "claude-haiku-5-5"
ANTHROPIC_MAX_RETRIES = 2
ANTHROPIC_RETRY_BASE_SECONDS = 0.5  # when Claude sends no retry-after: 0.5 s, 1 s, 2 s ... at most 8 s
ANTHROPIC_RETRY_MAX_DELAY_SECONDS = 8.0
ANTHROPIC_RETRY_JITTER = 0.25
ANTHROPIC_TIMEOUT_SECONDS = 120.0
AI_MAX_CONCURRENCY = 8
AI_MAX_INPUT_TOKENS_PER_REPORT = 16000
AI_MAX_INPUT_TOKENS_PER_ITEM = 5000
AI_MAX_OUTPUT_TOKENS_PER_ITEM = 1500
AI_RETRY_AFTER_CAP_SECONDS = 30.0

# --- The report --------------------------------------------------------------------------------
HIGHLIGHTS_OPEN = 20  # the highlights a reader sees first: shown open on the page, full redlines, kept whole by size limits

# --- Tests and benchmarks -------------------------------------------------------------------------
EDGAR_CORPUS_DIR = "../shared/edgar-corpus"
