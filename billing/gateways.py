"""Gateways that carry trip and restore commands to the customer's terminal (远程费控终端).

The services in `billing.services.control` decide *whether* a command may go and claim it;
a gateway only carries it. The one in use is `settings.CONTROL_GATEWAY` (a dotted path),
`SimulatedTerminalGateway` by default. docs/GATEWAYS.md describes the contract for a real
head-end system (主站).

Delivery is at-least-once: a worker that dies after the head-end accepted a command but
before the result was stored sends it again after the reaper's timeout. The gateway
therefore always sends the command's id, and the terminal side must de-duplicate by it.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from .models import ControlCommand

DEFAULT_GATEWAY = "billing.gateways.SimulatedTerminalGateway"


class GatewayError(Exception):
    """The gateway could not deliver the command. `retryable=False` means retrying cannot
    help (the head-end refused the command as invalid): the command gives up at once."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class GatewayResult:
    """The head-end's answer to a send: its reference for the command, and whether the
    terminal already confirmed the switching (synchronous acknowledgement)."""

    ref: str
    acknowledged: bool = False


@dataclass(frozen=True)
class PollResult:
    """Where a sent command stands: "pending" (not executed yet), "acknowledged" (the switch
    operated) or "failed" (the terminal could not execute it; `error` says why)."""

    status: str
    error: str = ""


def command_payload(command: ControlCommand) -> dict:
    """What every gateway sends for a command; `command_id` is the de-duplication key."""
    meters = command.customer.meter_points.filter(active=True, remote_switch=True).order_by("meter_no")
    if command.meter_id:
        meters = meters.filter(pk=command.meter_id)
    return {
        "command_id": command.pk,
        "action": command.action,
        "account_no": command.customer.account_no,
        "meters": list(meters.values_list("meter_no", flat=True)),
        "reason": command.reason,
        "issued_at": command.created_at.isoformat() if command.created_at else None,
    }


class ControlGateway:
    """The interface. `send` hands a command over and returns a GatewayResult, or raises
    GatewayError; it must not retry by itself (the outbox of commands does) and must time
    out well within the reaper's 10 minutes. `poll` asks about a command that was sent but
    not yet acknowledged; a head-end that calls back instead of being polled answers
    "pending" and posts to the ack endpoint of the API."""

    def send(self, command: ControlCommand) -> GatewayResult:
        raise NotImplementedError

    def poll(self, command: ControlCommand) -> PollResult:
        return PollResult("pending")


class SimulatedTerminalGateway(ControlGateway):
    """A terminal in memory, for the demo and the tests.

    - `ack_mode = "immediate"` (default) confirms at send; `"poll"` confirms at the next poll.
    - `fail_next(n)` makes the next n sends fail as an unreachable terminal would.
    - It de-duplicates by command id as a real terminal must: a repeated id is answered with
      the first reference and does not switch again (`received` still records every call).
    - `switch_state` is the breaker position per meter: "closed" (supplied) or "open" (tripped).
    """

    ack_mode: ClassVar[str] = "immediate"
    failures_left: ClassVar[int] = 0
    received: ClassVar[list[dict]] = []
    executed: ClassVar[dict[int, str]] = {}
    switch_state: ClassVar[dict[str, str]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def reset(cls, *, ack_mode: str = "immediate") -> None:
        with cls._lock:
            cls.ack_mode = ack_mode
            cls.failures_left = 0
            cls.received = []
            cls.executed = {}
            cls.switch_state = {}

    @classmethod
    def fail_next(cls, times: int) -> None:
        cls.failures_left = times

    def send(self, command: ControlCommand) -> GatewayResult:
        payload = command_payload(command)
        with self._lock:
            SimulatedTerminalGateway.received.append(payload)
            if SimulatedTerminalGateway.failures_left > 0:
                SimulatedTerminalGateway.failures_left -= 1
                raise GatewayError("simulated terminal unreachable")
            ref = f"SIM-{command.pk}"
            if command.pk not in SimulatedTerminalGateway.executed:
                SimulatedTerminalGateway.executed[command.pk] = command.action
                position = "open" if command.action == "trip" else "closed"
                for meter_no in payload["meters"]:
                    SimulatedTerminalGateway.switch_state[meter_no] = position
        return GatewayResult(ref=ref, acknowledged=SimulatedTerminalGateway.ack_mode == "immediate")

    def poll(self, command: ControlCommand) -> PollResult:
        if command.pk in SimulatedTerminalGateway.executed:
            return PollResult("acknowledged")
        return PollResult("pending")


class HttpHeadEndGateway(ControlGateway):
    """A skeleton for a real head-end system (主站) speaking JSON over HTTPS; see
    docs/GATEWAYS.md. Settings: CONTROL_HEADEND_URL (base URL), CONTROL_HEADEND_TOKEN,
    CONTROL_HEADEND_TIMEOUT (seconds, default 20).

        POST {base}/commands        body: command_payload(), header Idempotency-Key: <command_id>
            201/200 {"ref": "...", "status": "accepted" | "executed"}
            409     {"ref": "..."}  the id was seen before: treated as accepted
            4xx     refused, not retried;  5xx / timeout: retried with backoff
        GET  {base}/commands/{ref}  → {"status": "pending" | "executed" | "failed", "error": "..."}
    """

    def __init__(self):
        self.base_url = getattr(settings, "CONTROL_HEADEND_URL", "").rstrip("/")
        if not self.base_url:
            raise ImproperlyConfigured("HttpHeadEndGateway needs CONTROL_HEADEND_URL.")
        self.token = getattr(settings, "CONTROL_HEADEND_TOKEN", "")
        self.timeout = float(getattr(settings, "CONTROL_HEADEND_TIMEOUT", 20))

    def _request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                data = json.loads(exc.read() or b"{}")
            except ValueError:
                data = {}
            return exc.code, data
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise GatewayError(f"head-end unreachable: {exc}") from exc

    def send(self, command: ControlCommand) -> GatewayResult:
        status, data = self._request(
            "POST", "/commands", command_payload(command), headers={"Idempotency-Key": str(command.pk)}
        )
        if status in (200, 201, 202, 409) and data.get("ref"):
            return GatewayResult(ref=str(data["ref"]), acknowledged=data.get("status") == "executed")
        if 400 <= status < 500:
            raise GatewayError(f"head-end refused the command ({status}): {data}", retryable=False)
        raise GatewayError(f"head-end error ({status})")

    def poll(self, command: ControlCommand) -> PollResult:
        status, data = self._request("GET", f"/commands/{command.gateway_ref}")
        if status != 200:
            return PollResult("pending")
        state = data.get("status")
        if state == "executed":
            return PollResult("acknowledged")
        if state == "failed":
            return PollResult("failed", str(data.get("error", ""))[:500])
        return PollResult("pending")


def gateway_get() -> ControlGateway:
    path = getattr(settings, "CONTROL_GATEWAY", DEFAULT_GATEWAY)
    try:
        gateway_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"CONTROL_GATEWAY {path!r} cannot be imported: {exc}") from exc
    return gateway_class()
