"""Raw JSON-RPC against `/a2a`: the A2A 0.3 method names and shapes (no
`A2A-Version` header means 0.3), the version header's rules, and bad input —
malformed JSON-RPC, unknown methods, wrong types, a missing key, a suspended
agent — each answered with a spec error, never a 500 or a dropped connection.

Environment: PINCHWORK_URL (the load balancer), PINCHWORK_ADMIN_KEY."""

import json
import uuid

import httpx

from common import ADMIN_KEY, URL, balance, register, rest, run


def post(body, key=None, version=None, raw=None):
    """POSTs a JSON-RPC body; returns (HTTP status, parsed JSON)."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if version is not None:
        headers["A2A-Version"] = version
    content = raw if raw is not None else json.dumps(body)
    response = httpx.post(f"{URL}/a2a", headers=headers, content=content, timeout=60)
    assert response.status_code < 500, (response.status_code, response.text)
    return response.status_code, response.json()


def rpc(method, params=None, **kw):
    return post({"jsonrpc": "2.0", "id": str(uuid.uuid4()), "method": method,
                 "params": params or {}}, **kw)


def text_message(text, **metadata):
    return {"message": {"kind": "message", "role": "user", "messageId": str(uuid.uuid4()),
                        "parts": [{"kind": "text", "text": text}], "metadata": metadata}}


def error_code(reply):
    status, body = reply
    assert "error" in body and "result" not in body, body
    return body["error"]["code"]


async def the_03_names_without_a_header():
    _, key = register("raw-03")
    before = balance(key)
    status, body = rpc("message/send", text_message("Old client, new server", max_credits=4), key=key)
    assert status == 200, body
    task = body["result"]
    assert task["kind"] == "task" and task["status"]["state"] == "submitted", task
    assert task["history"][0]["parts"][0] == {"kind": "text", "text": "Old client, new server"}
    assert balance(key) == before - 4
    status, body = rpc("tasks/get", {"id": task["id"]}, key=key, version="0.3")
    assert body["result"]["id"] == task["id"] and body["result"]["kind"] == "task", body
    status, body = rpc("tasks/cancel", {"id": task["id"]}, key=key)
    assert body["result"]["status"]["state"] == "canceled", body
    assert balance(key) == before
    assert error_code(rpc("tasks/get", {"id": "tk-nope"}, key=key)) == -32001
    assert error_code(rpc("tasks/cancel", {"id": task["id"]}, key=key)) == -32002
    assert error_code(rpc("tasks/resubscribe", {"id": task["id"]}, key=key)) == -32004
    assert error_code(rpc("tasks/pushNotificationConfig/set", {}, key=key)) == -32003


async def the_03_stream():
    _, key = register("raw-03-stream")
    _, worker_key = register("raw-03-worker")
    body = {"jsonrpc": "2.0", "id": 7, "method": "message/stream",
            "params": text_message("Stream me", max_credits=2)}
    headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
    events = []
    with httpx.stream("POST", f"{URL}/a2a", headers=headers, json=body, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            assert event["id"] == 7 and event["jsonrpc"] == "2.0", event
            events.append(event["result"])
            if len(events) == 1:
                task_id = events[0]["id"]
                assert rest("POST", f"/v1/tasks/{task_id}/pickup", key=worker_key)[0] == 200
                assert rest("POST", f"/v1/tasks/{task_id}/deliver", key=worker_key,
                            body={"result": "streamed"})[0] == 200
    assert events[0]["kind"] == "task"
    kinds = [e["kind"] for e in events[1:]]
    assert "artifact-update" in kinds, kinds
    last = events[-1]
    assert last["kind"] == "status-update" and last["final"] is True, last
    assert last["status"]["state"] == "input-required", last


async def the_version_header():
    _, key = register("raw-version")
    status, body = rpc("SendMessage", {"message": {
        "role": "ROLE_USER", "messageId": str(uuid.uuid4()), "parts": [{"text": "1.0 shape"}],
        "metadata": {"max_credits": 1}}, "configuration": {"returnImmediately": True}},
        key=key, version="1.0")
    task = body["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_SUBMITTED" and "kind" not in task, task
    assert task["history"][0]["role"] == "ROLE_USER"
    status, body = rpc("GetTask", {"id": task["id"]}, key=key, version="1.0")
    assert body["result"]["id"] == task["id"]
    status, body = rpc("ListTasks", {"pageSize": 10}, key=key, version="1.0")
    assert [t["id"] for t in body["result"]["tasks"]] == [task["id"]], body
    # A patch version is ignored; a name of the other generation is not found.
    assert "result" in rpc("GetTask", {"id": task["id"]}, key=key, version="1.0.1")[1]
    assert error_code(rpc("message/send", text_message("x"), key=key, version="1.0")) == -32601
    assert error_code(rpc("SendMessage", text_message("x"), key=key)) == -32601
    assert error_code(rpc("GetTask", {"id": task["id"]}, key=key, version="2.0")) == -32009
    assert error_code(rpc("tasks/get", {"id": task["id"]}, key=key, version="banana")) == -32009


async def bad_input_gets_spec_errors():
    _, key = register("raw-bad")
    status, body = post(None, key=key, raw="{not json")
    assert status == 200 and body["error"]["code"] == -32700 and body["id"] is None, body
    assert error_code(post([{"jsonrpc": "2.0", "id": 1, "method": "tasks/get"}], key=key)) == -32600
    assert error_code(post({"id": 1, "method": "tasks/get"}, key=key)) == -32600
    assert error_code(post({"jsonrpc": "2.0", "id": 1, "method": 5}, key=key)) == -32600
    assert error_code(post({"jsonrpc": "2.0", "id": {"x": 1}, "method": "tasks/get"}, key=key)) == -32600
    assert error_code(rpc("tasks/explode", key=key)) == -32601
    assert error_code(post({"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": [1]}, key=key)) == -32602
    assert error_code(rpc("tasks/get", {"id": 42}, key=key)) == -32602
    assert error_code(rpc("tasks/get", {}, key=key)) == -32602
    assert error_code(rpc("message/send", {}, key=key)) == -32602
    assert error_code(rpc("message/send", text_message("x", max_credits="lots"), key=key)) == -32602
    assert error_code(rpc("message/send", text_message("x", tags=[1, 2]), key=key)) == -32602
    file_part = {"message": {"role": "user", "messageId": "m", "parts": [
        {"kind": "file", "file": {"uri": "https://example.com/x"}}]}}
    assert error_code(rpc("message/send", file_part, key=key)) == -32005
    # More than the balance: the API's 402 message, as invalid params.
    status, body = rpc("message/send", text_message("x", max_credits=balance(key) + 1), key=key)
    assert body["error"]["code"] == -32602 and "Insufficient credits" in body["error"]["message"]


async def keys_are_checked():
    status, body = rpc("tasks/get", {"id": "tk-x"})
    assert status == 401 and body["error"]["code"] == -32000, (status, body)
    status, body = rpc("tasks/get", {"id": "tk-x"}, key="pwk-bogus")
    assert status == 401 and body["error"]["message"] == "Invalid API key", body
    agent_id, key = register("raw-suspended")
    assert rest("POST", "/v1/admin/agents/suspend", admin=True,
                body={"agent_id": agent_id, "suspended": True})[0] == 200
    status, body = rpc("message/send", text_message("x"), key=key)
    assert status == 403 and body["error"]["code"] == -32000, (status, body)
    assert "suspended" in body["error"]["message"]


if __name__ == "__main__":
    assert ADMIN_KEY, "PINCHWORK_ADMIN_KEY must be set"
    run([
        the_03_names_without_a_header,
        the_03_stream,
        the_version_header,
        bad_input_gets_spec_errors,
        keys_are_checked,
    ])
