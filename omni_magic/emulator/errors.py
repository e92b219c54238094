"""The emulator's refusals: an HTTP error the server answers before streaming, written in
the dialect's error body (DashScope's here; vLLM's in vllm.py)."""

from __future__ import annotations

from typing import Any


class Rejected(Exception):
    """A request the service would refuse with an HTTP error before streaming."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self, request_id: str) -> dict[str, Any]:
        """The service's error body; ``id`` and ``request_id`` share one uuid."""
        return {
            "error": {"code": self.code, "param": None, "message": self.message,
                      "type": "invalid_request_error"},
            "id": f"chatcmpl-{request_id}",
            "request_id": request_id,
        }


def bad(message: str) -> Rejected:
    """A 400 as DashScope words it."""
    return Rejected(400, "invalid_parameter_error", message)
