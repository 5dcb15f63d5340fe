"""The official Python MCP SDK as the client of Pinchwork's MCP server, over
Streamable HTTP (`/mcp` behind the load balancer) and over stdio
(`pinchwork mcp`): the tools list, two agents run a whole task's life, the
balances match the REST view, and refused actions are tool errors.

Environment: PINCHWORK_URL (the load balancer), PINCHWORK_CLI (the
`pinchwork` binary), PINCHWORK_ADMIN_KEY, and a scratch directory in
PINCHWORK_TEST_DIR for the CLI's credentials."""

import contextlib
import os
import uuid

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from common import ADMIN_KEY, URL, balance, register, rest, run

CLI = os.environ["PINCHWORK_CLI"]
SCRATCH = os.environ["PINCHWORK_TEST_DIR"]

EXPECTED_TOOLS = {
    "pinchwork_register", "pinchwork_delegate", "pinchwork_browse", "pinchwork_pickup",
    "pinchwork_deliver", "pinchwork_approve", "pinchwork_reject", "pinchwork_cancel",
    "pinchwork_abandon", "pinchwork_task_detail", "pinchwork_my_tasks", "pinchwork_status",
    "pinchwork_credits", "pinchwork_stats", "pinchwork_questions", "pinchwork_ask_question",
    "pinchwork_answer_question", "pinchwork_messages", "pinchwork_send_message",
    "pinchwork_find_agents", "pinchwork_agent_profile", "pinchwork_update_profile",
}


def http_client(key=None):
    """An MCP client over Streamable HTTP, with the key as a Bearer token."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60, read=330))
    return Client(streamable_http_client(f"{URL}/mcp", http_client=http))


def stdio_client(key=None, config_dir=None):
    """An MCP client of `pinchwork mcp`, launched with the key in its
    environment, or with a credentials directory of its own."""
    env = {"PINCHWORK_URL": URL, "PATH": os.environ.get("PATH", "")}
    if key:
        env["PINCHWORK_API_KEY"] = key
    env["PINCHWORK_CONFIG_DIR"] = config_dir or os.path.join(SCRATCH, "empty")
    return Client(StdioServerParameters(command=CLI, args=["mcp"], env=env))


async def call(client, tool, **arguments):
    """Calls a tool that must succeed; returns its structured content."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {result.content}"
    return result.structured_content


async def refused(client, tool, **arguments):
    """Calls a tool that must fail as a tool error; returns its text."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} should have failed: {result.content}"
    return result.content[0].text


async def lifecycle(poster, worker, poster_key, worker_key):
    """delegate → browse → pick up → deliver → approve with a rating; the
    balances the tools show match the REST view."""
    before_poster, before_worker = balance(poster_key), balance(worker_key)
    task = await call(poster, "pinchwork_delegate", need="Summarise the MCP spec in one line",
                      max_credits=20, tags=["summary"])
    task_id = task["task_id"]
    assert task["status"] == "posted"
    browsed = await call(worker, "pinchwork_browse", tags=["summary"])
    assert task_id in [t["task_id"] for t in browsed["tasks"]]
    picked = await call(worker, "pinchwork_pickup", task_id=task_id)
    assert picked["task_id"] == task_id
    delivered = await call(worker, "pinchwork_deliver", task_id=task_id,
                           result="Tools, resources and prompts over JSON-RPC.")
    assert delivered["status"] == "delivered"
    detail = await call(poster, "pinchwork_task_detail", task_id=task_id)
    assert detail["result"].startswith("Tools, resources")
    approved = await call(poster, "pinchwork_approve", task_id=task_id, rating=5)
    assert approved["status"] == "approved" and approved["credits_charged"] == 20
    poster_credits = await call(poster, "pinchwork_credits")
    worker_credits = await call(worker, "pinchwork_credits")
    assert poster_credits["balance"] == balance(poster_key) == before_poster - 20
    # 20 credits less the platform's 10 % fee.
    assert worker_credits["balance"] == balance(worker_key) == before_worker + 18
    mine = await call(poster, "pinchwork_my_tasks", role="poster", status="approved")
    assert task_id in [t["task_id"] for t in mine["tasks"]]
    return task_id


async def refusals(poster, worker, poster_key):
    """402 and 409 come back as tool results with isError and the API's message."""
    have = balance(poster_key)
    text = await refused(poster, "pinchwork_delegate", need="Too dear", max_credits=have + 1)
    assert "Insufficient credits" in text and "402" in text, text
    task = await call(poster, "pinchwork_delegate", need="Claimed twice?", max_credits=1)
    await call(worker, "pinchwork_pickup", task_id=task["task_id"])
    text = await refused(worker, "pinchwork_pickup", task_id=task["task_id"])
    assert "409" in text, text
    text = await refused(poster, "pinchwork_task_detail", task_id="tk-doesnotexist")
    assert "Task not found" in text and "404" in text, text
    text = await refused(poster, "pinchwork_delegate", need="x", max_credits="lots")
    assert "Invalid arguments" in text, text


async def http_tools_are_listed():
    async with http_client() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert EXPECTED_TOOLS <= set(tools), EXPECTED_TOOLS - set(tools)
        for tool in tools.values():
            assert tool.description and tool.input_schema["type"] == "object"
        assert "need" in tools["pinchwork_delegate"].input_schema["required"]


async def http_lifecycle_of_two_agents():
    # The poster registers through the MCP tool itself (no key yet).
    async with http_client() as anonymous:
        registered = await anonymous.call_tool("pinchwork_register", {"name": "mcp-http-poster"})
        assert not registered.is_error, registered.content
        poster_key = registered.structured_content["api_key"]
        assert any("Save this api_key" in c.text for c in registered.content)
        text = await refused(anonymous, "pinchwork_status")
        assert "Authorization" in text and "401" in text, text
    _, worker_key = register("mcp-http-worker")
    async with http_client(poster_key) as poster, http_client(worker_key) as worker:
        await lifecycle(poster, worker, poster_key, worker_key)
        await refusals(poster, worker, poster_key)


async def http_guide_and_prompt():
    async with http_client() as client:
        resources = (await client.list_resources()).resources
        assert [str(r.uri) for r in resources] == ["pinchwork://skill.md"]
        guide = await client.read_resource("pinchwork://skill.md")
        assert "# Pinchwork agent guide" in guide.contents[0].text
        prompts = (await client.list_prompts()).prompts
        assert [p.name for p in prompts] == ["work_the_marketplace"]
        prompt = await client.get_prompt("work_the_marketplace", {"role": "worker"})
        assert "pinchwork_deliver" in prompt.messages[0].content.text


async def http_bad_keys_are_refused():
    bogus = httpx2.post(f"{URL}/mcp", headers={"Authorization": "Bearer pwk-bogus",
                                              "Accept": "application/json, text/event-stream"},
                        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert bogus.status_code == 401 and bogus.json()["error"] == "Invalid API key", bogus.text
    agent_id, key = register("mcp-suspended")
    status, body = rest("POST", "/v1/admin/agents/suspend", admin=True,
                        body={"agent_id": agent_id, "suspended": True})
    assert status == 200, (status, body)
    suspended = httpx2.post(f"{URL}/mcp", headers={"Authorization": f"Bearer {key}",
                                                  "Accept": "application/json, text/event-stream"},
                            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert suspended.status_code == 403 and "suspended" in suspended.json()["error"], suspended.text


async def stdio_lifecycle_of_two_agents():
    # The worker starts with an empty credentials directory and registers
    # through the tool; `pinchwork mcp` saves the key and uses it at once.
    worker_dir = os.path.join(SCRATCH, f"stdio-worker-{uuid.uuid4().hex[:8]}")
    os.makedirs(worker_dir, exist_ok=True)
    _, poster_key = register("mcp-stdio-poster")
    async with contextlib.AsyncExitStack() as stack:
        poster = await stack.enter_async_context(stdio_client(key=poster_key))
        worker = await stack.enter_async_context(stdio_client(config_dir=worker_dir))
        tools = {t.name for t in (await worker.list_tools()).tools}
        assert EXPECTED_TOOLS <= tools
        registered = await call(worker, "pinchwork_register", name="mcp-stdio-worker")
        worker_key = registered["api_key"]
        me = await call(worker, "pinchwork_status")
        assert me["id"] == registered["agent_id"]
        with open(os.path.join(worker_dir, "credentials.json")) as saved:
            assert worker_key in saved.read()
        await lifecycle(poster, worker, poster_key, worker_key)
        await refusals(poster, worker, poster_key)
        guide = await poster.read_resource("pinchwork://skill.md")
        assert "# Pinchwork agent guide" in guide.contents[0].text


if __name__ == "__main__":
    assert ADMIN_KEY, "PINCHWORK_ADMIN_KEY must be set"
    run([
        http_tools_are_listed,
        http_lifecycle_of_two_agents,
        http_guide_and_prompt,
        http_bad_keys_are_refused,
        stdio_lifecycle_of_two_agents,
    ])
