"""The sandbox provider: a built-in upstream speaking all four wire protocols.

SMSPool (/smspool, plus its SMS-Activate stub), NumPool (/numpool/api/v1),
SMSCode (/smscode/v1, /smscode/v2) and a generic SMS-Activate clone
(/smsactivate), with a control API under /control. See docs/SANDBOX.md.

    from providers.sandbox import SandboxConfig, SandboxServer

    server = SandboxServer(config=SandboxConfig(time_scale=20)).start()
    ...
    server.stop()
"""

from __future__ import annotations

from providers.sandbox.config import SandboxConfig
from providers.sandbox.server import SandboxServer
from providers.sandbox.state import SandboxState

__all__ = ["SandboxConfig", "SandboxServer", "SandboxState"]
