"""The emulator's own endpoints under ``/_emulator``: what it counted, and faults queued for the
next requests (``faults.py``). The service has nothing like them; a test or a user drives them.

They need no API key, because they are the emulator's own and not the service's, but they answer
loopback peers only: an emulator exposed with ``--allow-remote`` does not let the network queue
faults or read its counts."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from .faults import Fault, FaultQueue, FaultSpecError
from .tally import Tally

ADMIN = "/_emulator"


def admin_open(peer: str) -> bool:
    """Whether a client at ``peer`` (its IP address) may use the admin routes: loopback only."""
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 from a dual-stack socket
    return (mapped or address).is_loopback


def stats(tally: Tally, faults: FaultQueue) -> dict[str, int]:
    """``GET /_emulator/stats``."""
    return {"requests": tally.requests.value, "abandoned": tally.abandoned.value,
            "replayed": tally.replayed.value, "throttled": tally.throttled.value,
            "faults_queued": len(faults)}


def queue_fault(faults: FaultQueue, raw: bytes) -> tuple[int, dict[str, Any]]:
    """``POST /_emulator/faults`` with ``{"fault": spec, "times": N}``: (status, JSON answer)."""
    try:
        order = json.loads(raw or b"{}")
        fault = Fault.parse(str(order["fault"]))
        times = int(order.get("times", 1))
    except (ValueError, KeyError, TypeError, AttributeError, FaultSpecError) as exc:
        return 400, {"error": f'Post {{"fault": "KIND[:after=N,...]", "times": N}}: {exc}'}
    faults.push(fault, times)
    return 200, {"faults_queued": len(faults)}
