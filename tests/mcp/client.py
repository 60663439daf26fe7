"""A real MCP client from outside the project, for lake's tests: the
official MCP Python SDK (`mcp` from PyPI, pinned in `.ci/run`).

Reads one JSON object on standard input:
  transport  "stdio" (then "command": [program, args...], "env": {...})
             or "http" (then "url", and "token" for a bearer token)
  mode       "legacy" (the initialize handshake, resources/subscribe) or
             "auto" (the SDK's default: server/discover, 2026-07-28)
  calls      [[tool, arguments], ...] called in order
  resource   a resource URI to read and subscribe to (optional)
  change     a command to run once subscribed; the client then waits for
             the server's notification that the resource changed

Prints one JSON object: what the server answered, as the SDK parsed it,
and "sdk_warnings": what the SDK logged at WARNING or above (a session it
could not end, say).
"""

import asyncio
import json
import logging
import subprocess
import sys
import warnings

from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

WAIT_SECONDS = 15


class Collected(logging.Handler):
    """Keeps the messages the SDK logs at WARNING or above."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def run(cfg):
    notifications = []
    changed = asyncio.Event()

    async def on_message(message):
        if isinstance(message, Exception):
            notifications.append({"exception": repr(message)})
            return
        root = getattr(message, "root", message)
        method = getattr(root, "method", None)
        params = getattr(root, "params", None)
        notifications.append(
            {"method": method, "params": dump(params) if params is not None else None}
        )
        if method in ("notifications/resources/updated", "notifications/resources/list_changed"):
            changed.set()

    if cfg["transport"] == "stdio":
        server = StdioServerParameters(
            command=cfg["command"][0], args=cfg["command"][1:], env=cfg.get("env")
        )
    else:
        headers = {}
        if cfg.get("token"):
            headers["Authorization"] = "Bearer " + cfg["token"]
        if cfg.get("request_id"):
            headers["x-request-id"] = cfg["request_id"]
        server = streamable_http_client(
            cfg["url"], http_client=create_mcp_http_client(headers=headers)
        )

    collected = Collected()
    logging.getLogger().addHandler(collected)
    report = {}
    async with Client(server, mode=cfg["mode"], message_handler=on_message, cache=None) as client:
        report["protocol"] = client.protocol_version
        report["server"] = dump(client.server_info) if client.server_info else None
        report["tools"] = [dump(t) for t in (await client.list_tools()).tools]
        report["resources"] = [dump(r) for r in (await client.list_resources()).resources]
        report["calls"] = []
        for name, arguments in cfg.get("calls", []):
            try:
                result = await client.call_tool(name, arguments)
                report["calls"].append({"tool": name, "result": dump(result)})
            except Exception as e:  # a protocol error: the SDK raises
                report["calls"].append({"tool": name, "protocol_error": str(e)})
        uri = cfg.get("resource")
        if uri:
            report["read"] = dump(await client.read_resource(uri))
            if cfg.get("change"):
                if cfg["mode"] == "legacy":
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        await client.subscribe_resource(uri)
                    subprocess.run(cfg["change"], check=True, capture_output=True)
                    try:
                        await asyncio.wait_for(changed.wait(), WAIT_SECONDS)
                    except asyncio.TimeoutError:
                        pass
                else:
                    async with client.listen(
                        resources_list_changed=True, resource_subscriptions=[uri]
                    ) as sub:
                        subprocess.run(cfg["change"], check=True, capture_output=True)

                        async def first():
                            async for event in sub:
                                notifications.append({"event": repr(event)})
                                return

                        try:
                            await asyncio.wait_for(first(), WAIT_SECONDS)
                        except asyncio.TimeoutError:
                            pass
    report["notifications"] = notifications
    report["sdk_warnings"] = collected.messages
    return report


def main():
    cfg = json.load(sys.stdin)
    print(json.dumps(asyncio.run(run(cfg))))


if __name__ == "__main__":
    main()
