"""Every Redis key Jobline reads or writes: rq's keys taken from rq itself, Jobline's own under `jobline:`.

Key map (type, lifetime, writer):

| key | type | lifetime | written by |
|---|---|---|---|
| rq job hash `<rq:job:>{id}` | hash | no TTL: deleted by retention trimming (count, age) or delete | submit, worker, control scripts |
| rq queue list `<rq:queue:>{q}` / `{q}@{priority}` | list | while pending | submit, claim, cancel (priority 0 in `{q}` itself) |
| rq queues set | set | forever (names only) | submit |
| rq started registry `<rq:wip:>{q}` | zset `{id}:{exec}` -> lease expiry | while running | claim, heartbeat, finish |
| rq finished / failed / canceled registry | zset id -> expiry (ended + result TTL) | trimmed by count and age | finish, cancel |
| rq scheduled registry `<rq:scheduled:>{q}` | zset id -> run-at (epoch s, ms precision) | until due | submit, retry |
| rq worker hash / workers sets / pubsub channel | rq's own | rq's worker TTL | worker (via rq) + claim script |
| `jobline:queues` | set of queue names | forever (names only) | submit |
| `jobline:paused` | set of queue names | until resumed | pause / resume |
| `jobline:wake:{q}` | list, at most 1 token | consumed by BLPOP | submit, retry, resume, claim |
| `jobline:ix:{dim}:{value}:{status}` | zset id -> order score | same as the job | every status change (dims: queue for pending and running, task, trigger, wf) |
| `jobline:retrying:{q}` | zset id -> run-at | until the retry is due | finish, promote |
| `jobline:idem:{actor}:{key}` | string (JSON) | 24 h TTL | submit |
| `jobline:events` | stream of job changes | MAXLEN ~10000 | every status / progress change |
| `jobline:stats:lifetime` | hash `{q}:{status}` -> count | forever (bounded by queues) | finish |
| `jobline:stats:tp:{grain}:{bucket}` | hash | TTL 2 grains' windows | finish |
| `jobline:stats:submitted` | hash `{q}` -> jobs created (API, workflows) | forever (bounded by queues) | submit, fire |
| `jobline:stats:hist:{kind}:{q}` | hash: ms bucket bound -> count, `sum` (kinds: duration, wait, lag) | forever (bounded by queues) | claim, fire |
| `jobline:logs:{id}` | list of log lines (JSON, absolute offsets) | last JOBLINE_LOG_LINES; TTL of the job once it ended; deleted with the job | worker child (logs_append.lua) |
| `jobline:logfeed` | stream: job id + next offset per appended batch (wakes log followers) | MAXLEN ~1000 | worker child (logs_append.lua) |
| `jobline:workflows` | zset id -> created ms | forever (ids of saved workflows) | workflow service |
| `jobline:workflow:{id}` | hash: definition, trigger, status, counters | forever (terminated ones too) | workflow service, fire.lua, finish |
| `jobline:workflows:due` | zset id -> next planned run (epoch ms) | while active | workflow service, fire.lua |
| `jobline:workflows:claim:{id}:{planned ms}` | string (job id) | 2 days TTL | fire.lua (one run per planned time) |
| `jobline:workflows:changed` | pub/sub channel | - | workflow changes wake schedulers |
| `jobline:schedulers` | zset name -> last heartbeat (epoch s) | pruned after 1 h silence | scheduler |
| `jobline:users` | set of logins | forever (bounded by users) | users store |
| `jobline:user:{login}` | hash: role, pw (scrypt hash), disabled, stamp, created/updated | until deleted | users store |
| `jobline:tokens` | hash: token name -> token id | until revoked | tokens store |
| `jobline:token:{id}` | hash: name, role, queues, sha256 of the secret, rate limit | until revoked | tokens store |
| `jobline:revoked:{jti}` | string "1" (one logged-out login token) | TTL = the token's remaining life | logout |
| `jobline:rate:{scope}:{id}` | counter of a fixed window | TTL = the window (60 s) | rate limiter |
"""

from __future__ import annotations

from rq.command import PUBSUB_CHANNEL_TEMPLATE
from rq.executions import ExecutionRegistry
from rq.job import Job
from rq.queue import Queue
from rq.registry import (
    CanceledJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.results import Result
from rq.worker import BaseWorker
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

PREFIX = "jobline:"

# rq-owned prefixes, read from rq so that RQ_KEY_PREFIX and rq upgrades stay consistent.
RQ_JOB = Job.redis_job_namespace_prefix
RQ_QUEUE = Queue.redis_queue_namespace_prefix
RQ_QUEUES = Queue.redis_queues_keys
RQ_WIP = StartedJobRegistry.key_template.format("")
RQ_FINISHED = FinishedJobRegistry.key_template.format("")
RQ_FAILED = FailedJobRegistry.key_template.format("")
RQ_CANCELED = CanceledJobRegistry.key_template.format("")
RQ_SCHEDULED = ScheduledJobRegistry.key_template.format("")
RQ_WORKER = BaseWorker.redis_worker_namespace_prefix
RQ_WORKERS = BaseWorker.redis_workers_keys
RQ_WORKERS_BY_QUEUE = WORKERS_BY_QUEUE_KEY % ""
RQ_PUBSUB = PUBSUB_CHANNEL_TEMPLATE % ""
RQ_RESULTS = Result.get_key("")
RQ_EXECUTIONS = ExecutionRegistry.key_template.format("")

QUEUES = PREFIX + "queues"
PAUSED = PREFIX + "paused"
WAKE = PREFIX + "wake:"
INDEX = PREFIX + "ix:"
RETRYING = PREFIX + "retrying:"
IDEMPOTENCY = PREFIX + "idem:"
EVENTS = PREFIX + "events"
LIFETIME = PREFIX + "stats:lifetime"
THROUGHPUT = PREFIX + "stats:tp:"
SUBMITTED = PREFIX + "stats:submitted"
HISTOGRAM = PREFIX + "stats:hist:"
LOGS = PREFIX + "logs:"
LOG_FEED = PREFIX + "logfeed"
USERS = PREFIX + "users"
USER = PREFIX + "user:"
TOKENS = PREFIX + "tokens"
TOKEN = PREFIX + "token:"
WORKFLOWS = PREFIX + "workflows"
WORKFLOW = PREFIX + "workflow:"
WORKFLOW_DUE = PREFIX + "workflows:due"
WORKFLOW_CLAIM = PREFIX + "workflows:claim:"
WORKFLOWS_CHANGED = PREFIX + "workflows:changed"
SCHEDULERS = PREFIX + "schedulers"
RATE = PREFIX + "rate:"
REVOKED = PREFIX + "revoked:"

# Terminal registries by Jobline status.
TERMINAL_REGISTRY = {"completed": RQ_FINISHED, "failed": RQ_FAILED, "canceled": RQ_CANCELED}


def job(job_id: str) -> str:
    """The rq job hash of `job_id`."""
    return RQ_JOB + job_id


def queue_list(queue: str, priority: int) -> str:
    """The rq queue list holding `queue`'s pending jobs of one priority."""
    return RQ_QUEUE + list_name(queue, priority)


def list_name(queue: str, priority: int) -> str:
    """rq's queue name for one priority level: `default` for 0, `default@5` / `default@-3` otherwise."""
    return queue if priority == 0 else f"{queue}@{priority}"


def started(queue: str) -> str:
    return RQ_WIP + queue


def scheduled(queue: str) -> str:
    return RQ_SCHEDULED + queue


def terminal(queue: str, status: str) -> str:
    """The rq registry of `queue`'s completed, failed or canceled jobs."""
    return TERMINAL_REGISTRY[status] + queue


def index(dim: str, value: str, status: str) -> str:
    """Jobline's listing index: jobs with `dim`=`value` in one status."""
    return f"{INDEX}{dim}:{value}:{status}"


def retrying(queue: str) -> str:
    return RETRYING + queue


def wake(queue: str) -> str:
    return WAKE + queue


def idempotency(actor: str, key: str) -> str:
    return f"{IDEMPOTENCY}{actor}:{key}"


def logs(job_id: str) -> str:
    return LOGS + job_id


def worker(name: str) -> str:
    return RQ_WORKER + name


def workers_of_queue(queue: str) -> str:
    return RQ_WORKERS_BY_QUEUE + queue


def workflow(workflow_id: str) -> str:
    return WORKFLOW + workflow_id


def workflow_claim(workflow_id: str, planned_ms: int) -> str:
    return f"{WORKFLOW_CLAIM}{workflow_id}:{planned_ms}"


def throughput(grain: str, bucket: int) -> str:
    return f"{THROUGHPUT}{grain}:{bucket}"


def histogram(kind: str, queue: str) -> str:
    """One queue's histogram of `kind` (duration, wait, lag): ms bucket bound -> count, plus `sum`."""
    return f"{HISTOGRAM}{kind}:{queue}"


def user(login: str) -> str:
    return USER + login


def token(token_id: str) -> str:
    return TOKEN + token_id


def revoked(jti: str) -> str:
    """Marks one logged-out login token (by its `jti`) until it would have expired anyway."""
    return REVOKED + jti


def rate(scope: str, ident: str) -> str:
    """The fixed-window counter of one caller: scope `login`, `addr` or `p` (principal)."""
    return f"{RATE}{scope}:{ident}"


def lua_prefixes() -> dict[str, str]:
    """The prefixes Lua scripts build keys from (scripts hold no key literal of their own)."""
    return {
        "job": RQ_JOB,
        "queue": RQ_QUEUE,
        "queues": RQ_QUEUES,
        "wip": RQ_WIP,
        "finished": RQ_FINISHED,
        "failed": RQ_FAILED,
        "canceled": RQ_CANCELED,
        "scheduled": RQ_SCHEDULED,
        "worker": RQ_WORKER,
        "pubsub": RQ_PUBSUB,
        "results": RQ_RESULTS,
        "executions": RQ_EXECUTIONS,
        "jl_queues": QUEUES,
        "paused": PAUSED,
        "wake": WAKE,
        "ix": INDEX,
        "retrying": RETRYING,
        "idem": IDEMPOTENCY,
        "events": EVENTS,
        "lifetime": LIFETIME,
        "tp": THROUGHPUT,
        "submitted": SUBMITTED,
        "hist": HISTOGRAM,
        "logs": LOGS,
        "logfeed": LOG_FEED,
        "workflow": WORKFLOW,
        "wf_due": WORKFLOW_DUE,
        "wf_claim": WORKFLOW_CLAIM,
        "wf_changed": WORKFLOWS_CHANGED,
    }
