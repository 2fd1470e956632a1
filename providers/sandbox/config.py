"""The sandbox's knobs: one dataclass, settable from Python, env, flags or HTTP.

Precedence, lowest first: the defaults below, `SANDBOX_*` environment
variables (`SandboxConfig.from_env`), management command flags, and finally
`POST /control/config` at run time. Every knob has the same name everywhere:
the field `time_scale` is the env var `SANDBOX_TIME_SCALE`, the flag
`--time-scale` and the JSON key `time_scale`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

PROTOCOLS = ("smspool", "numpool", "smscode", "smsactivate")
# "drop" hangs up before the upstream acts; "timeout", "slow" and "drop_after" act
# first and then stall, answer late, or hang up: the outcome the caller cannot know.
# "http_429" refuses with the protocol's own rate-limit answer.
FAILURE_MODES = (
    "http_500",
    "timeout",
    "html",
    "malformed",
    "drop",
    "slow",
    "drop_after",
    "http_429",
)
# Queue-only spellings that pin the HTML page's status instead of picking one.
QUEUE_ONLY_MODES = ("html_200", "html_503")

# (requests, per seconds) as each provider publishes it.
DEFAULT_RATE_LIMITS: dict[str, list[float] | None] = {
    "smspool": [32, 1.0],
    "numpool": [60, 60.0],
    "smscode": [300, 60.0],
    "smsactivate": [40, 1.0],
}
# Wire dialects each protocol can speak, the default first. Where provider
# documents disagree or allow variants, the sandbox plays each one:
#   smspool       postman: sms/resend answers a new order_id and a charge;
#                 seed: resend keeps the same order, rental listings carry no
#                 is_refundable field
#   smspool_stub  full: every SMS-Activate action; minimal: only what SMSPool
#                 lists (getCountries, getServicesList, getPrices and
#                 getActiveActivations answer BAD_ACTION)
#   smscode       sdk: smscode-wire-facts.md (/v1/orders/create, rows with id, code);
#                 guide: the integration guide (POST /v1/orders, DELETE
#                 /v1/orders/{id}, rows with country_id, available_count)
#   smsactivate   full: every action; minimal: no catalogue or bulk actions
DIALECTS: dict[str, tuple[str, ...]] = {
    "smspool": ("postman", "seed"),
    "smspool_stub": ("full", "minimal"),
    "numpool": ("default",),
    "smscode": ("sdk", "guide"),
    "smsactivate": ("full", "minimal"),
}
CATALOG_SIZES = ("demo", "live")
DEFAULT_LIFETIMES = {"smspool": 1200.0, "numpool": 1200.0, "smscode": 1200.0, "smsactivate": 1200.0}


class ConfigError(ValueError):
    """A knob got a value it cannot take."""


@dataclass
class SandboxConfig:
    """Every knob of the simulated upstream. Durations are upstream seconds."""

    host: str = "127.0.0.1"
    port: int = 0  # 0 picks a free port (tests)
    # Upstream time runs this many times faster than the wall clock: every
    # upstream duration (expiry, cancel lock, rental length, delivery delay)
    # is divided by it.
    time_scale: float = 1.0
    # SMS delivery delay, uniform between min and max seconds; a share of
    # orders never gets an SMS at all.
    delivery_min_seconds: float = 5.0
    delivery_max_seconds: float = 40.0
    no_code_share: float = 0.1
    # Cancel lock after purchase; per-protocol entries override the default.
    cancel_lock_seconds: float = 30.0
    cancel_lock_by_protocol: dict[str, float] = field(default_factory=dict)
    order_lifetime_seconds: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_LIFETIMES)
    )
    # ISO codes that are out of stock, per protocol or under "all".
    out_of_stock: dict[str, list[str]] = field(default_factory=dict)
    # Per protocol: {mode: probability} for the modes in FAILURE_MODES.
    failures: dict[str, dict[str, float]] = field(default_factory=dict)
    failure_timeout_seconds: float = 30.0
    # "slow": the upstream acts, then answers after this many seconds.
    slow_seconds: float = 3.0
    # Per protocol: the endpoints random failures apply to (all when absent),
    # e.g. {"smspool": ["/purchase/sms"]}; names as in stats' by_endpoint.
    failure_endpoints: dict[str, list[str]] = field(default_factory=dict)
    # Which dialect each protocol speaks (see DIALECTS): keys are a protocol
    # scope ("smscode") or an API key ("sbx_guide"), which wins for that key.
    dialects: dict[str, str] = field(default_factory=dict)
    # "live" serves catalogues at a real provider's size (150 countries x
    # 1,000+ services, several pools) in the same row shapes.
    catalog_size: str = "demo"
    rate_limits_enabled: bool = True
    rate_limits: dict[str, list[float] | None] = field(
        default_factory=lambda: {k: list(v) if v else None for k, v in DEFAULT_RATE_LIMITS.items()}
    )
    default_balance_usd: str = "100.00"
    default_balance_idr: int = 1_600_000
    # Rentals: random gap between inbound messages, and SMSPool's activeFor
    # window that retrieve_status opens.
    rental_message_min_seconds: float = 60.0
    rental_message_max_seconds: float = 300.0
    rental_active_for_seconds: float = 300.0
    smsactivate_rent_cancel_seconds: float = 1200.0
    smscode_fx_rate: int = 16000
    smscode_resend_cooldown_seconds: float = 30.0
    # How long an SMSCode create stays "in progress" (409 REQUEST_IN_PROGRESS
    # for a concurrent replay of its idempotency key).
    smscode_settle_seconds: float = 0.0
    # SMSCode webhooks: whether order events are pushed to a registered URL, and the
    # first retry delay of a failed delivery (real seconds, doubling up to a minute).
    smscode_webhooks: bool = True
    smscode_webhook_retry_seconds: float = 1.0
    seed: int | None = None
    state_file: str = ""
    control_token: str = ""
    log_requests: bool = True

    # --- derived values ---------------------------------------------------------
    def scaled(self, upstream_seconds: float) -> float:
        """Wall-clock seconds that `upstream_seconds` of upstream time take."""
        return upstream_seconds / self.time_scale

    def cancel_lock(self, protocol: str) -> float:
        return float(self.cancel_lock_by_protocol.get(protocol, self.cancel_lock_seconds))

    def lifetime(self, protocol: str) -> float:
        return float(self.order_lifetime_seconds.get(protocol, 1200.0))

    def rate_limit(self, protocol: str) -> tuple[int, float] | None:
        if not self.rate_limits_enabled:
            return None
        limit = self.rate_limits.get(protocol)
        if not limit:
            return None
        return int(limit[0]), float(limit[1])

    def is_out_of_stock(self, protocol: str, iso: str) -> bool:
        iso = iso.upper()
        for scope in ("all", protocol):
            if iso in {c.upper() for c in self.out_of_stock.get(scope, [])}:
                return True
        return False

    def dialect(self, scope: str, api_key: str = "") -> str:
        """The dialect `scope` speaks to `api_key`: the key's own, the scope's, or the default."""
        known = DIALECTS[scope]
        for name in (api_key, scope):
            if name and self.dialects.get(name) in known:
                return self.dialects[name]
        return known[0]

    def fails_endpoint(self, protocol: str, endpoint: str) -> bool:
        """Whether random failures apply to `endpoint` of `protocol`."""
        only = self.failure_endpoints.get(protocol)
        return not only or endpoint in only

    def default_balance(self, protocol: str) -> Decimal:
        if protocol == "smscode":
            return Decimal(int(self.default_balance_idr))
        return Decimal(str(self.default_balance_usd)).quantize(Decimal("0.01"))

    # --- (de)serialisation -----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def update(self, values: dict[str, Any]) -> SandboxConfig:
        """Apply `values` (JSON-like) in place after validating them; return self."""
        known = {f.name: f for f in dataclasses.fields(self)}
        staged = {}
        for name, value in values.items():
            if name not in known:
                raise ConfigError(f"Unknown knob {name!r}.")
            staged[name] = _coerce(known[name], value)
            if isinstance(staged[name], dict):
                # Dict knobs merge per key: {"failures": {"numpool": {...}}}
                # leaves the other protocols' settings alone.
                staged[name] = {**getattr(self, name), **staged[name]}
        candidate = dataclasses.replace(self, **staged)
        candidate.validate()
        for name, value in staged.items():
            setattr(self, name, value)
        return self

    def validate(self) -> None:
        if self.time_scale <= 0:
            raise ConfigError("time_scale must be positive.")
        if not 0 <= self.delivery_min_seconds <= self.delivery_max_seconds:
            raise ConfigError("Need 0 <= delivery_min_seconds <= delivery_max_seconds.")
        if not 0 <= self.no_code_share <= 1:
            raise ConfigError("no_code_share is a probability between 0 and 1.")
        for protocol, modes in self.failures.items():
            if protocol not in PROTOCOLS:
                raise ConfigError(f"Unknown protocol {protocol!r} in failures.")
            for mode, share in modes.items():
                if mode not in FAILURE_MODES:
                    raise ConfigError(f"Unknown failure mode {mode!r}.")
                if not 0 <= float(share) <= 1:
                    raise ConfigError("Failure probabilities lie between 0 and 1.")
            if sum(float(v) for v in modes.values()) > 1:
                raise ConfigError(f"Failure probabilities for {protocol} add up to more than 1.")
        for scope in self.out_of_stock:
            if scope not in (*PROTOCOLS, "all"):
                raise ConfigError(f"Unknown out_of_stock scope {scope!r}.")
        for name, dialect in self.dialects.items():
            allowed = DIALECTS.get(name) or {d for ds in DIALECTS.values() for d in ds}
            if dialect not in allowed:
                raise ConfigError(f"Unknown dialect {dialect!r} for {name!r}.")
        if self.catalog_size not in CATALOG_SIZES:
            raise ConfigError(f"catalog_size is one of {', '.join(CATALOG_SIZES)}.")
        if self.smscode_webhook_retry_seconds < 0:
            raise ConfigError("smscode_webhook_retry_seconds cannot be negative.")
        if self.slow_seconds < 0:
            raise ConfigError("slow_seconds cannot be negative.")
        if self.rental_message_min_seconds > self.rental_message_max_seconds:
            raise ConfigError("rental_message_min_seconds exceeds rental_message_max_seconds.")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> SandboxConfig:
        """Build a config from `SANDBOX_<KNOB>` variables, then apply `overrides`."""
        environ = os.environ if environ is None else environ
        config = cls()
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f"SANDBOX_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = raw
        config.update(values)
        config.update({k: v for k, v in overrides.items() if v is not None})
        return config


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    """Turn a JSON or string value into the field's type."""
    kind = str(f.type)
    try:
        if kind.startswith("dict"):
            if f.name == "out_of_stock" and isinstance(value, str) and not value.startswith("{"):
                value = {"all": value}  # SANDBOX_OUT_OF_STOCK=US,GB means every protocol
            value = json.loads(value) if isinstance(value, str) else value
            if not isinstance(value, dict):
                raise ConfigError(f"{f.name} takes a JSON object.")
            if f.name == "out_of_stock":
                return {k: _iso_list(v) for k, v in value.items()}
            if f.name == "rate_limits":
                return {k: _limit(v) for k, v in value.items()}
            if f.name == "failure_endpoints":
                return {k: [str(e) for e in v] for k, v in value.items()}
            if f.name == "dialects":
                return {str(k): str(v) for k, v in value.items()}
            return value
        if kind == "bool":
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if kind == "int":
            return int(value)
        if kind == "int | None":
            return None if value in (None, "", "none", "null") else int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError, json.JSONDecodeError) as exc:
        raise ConfigError(f"Bad value for {f.name}: {value!r}") from exc


def _iso_list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v for v in value.replace(" ", "").split(",") if v]
    return [str(v).upper() for v in value]


def _limit(value: Any) -> list[float] | None:
    """A rate limit is [requests, per_seconds]; null or 0 switches it off."""
    if not value:
        return None
    count, period = value
    if int(count) <= 0 or float(period) <= 0:
        raise ConfigError("A rate limit needs a positive count and period.")
    return [int(count), float(period)]
