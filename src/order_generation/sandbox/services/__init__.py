"""The simulated GlobeCo services: one router per service, tagged with the service's name.

The tag is what the sandbox middleware uses to count requests and apply faults per service.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from order_generation.sandbox.state import SandboxState


def _state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


StateDep = Annotated[SandboxState, Depends(_state)]
