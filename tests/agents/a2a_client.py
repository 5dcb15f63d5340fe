"""The official Python A2A SDK as the client of Pinchwork's A2A endpoint: it
resolves the card, a message creates a task with escrow, a second agent picks
it up and delivers over REST, and the client sees input-required with the
result as an artifact through GetTask and through a stream; a posted task is
cancelled; an unknown task is TaskNotFound.

Environment: PINCHWORK_URL (the load balancer)."""

import contextlib
import uuid

import httpx
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    SubscribeToTaskRequest,
    TaskState,
)
from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError
from google.protobuf import json_format

from common import URL, balance, register, rest, run


def request(text, **metadata):
    message = Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=[Part(text=text)])
    json_format.ParseDict(metadata, message.metadata)
    return SendMessageRequest(message=message)


@contextlib.asynccontextmanager
async def client_for(key, streaming):
    """An A2A client built from the resolved card, sending the key."""
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        card = await A2ACardResolver(http, URL).get_agent_card()
        config = ClientConfig(httpx_client=http, streaming=streaming, polling=not streaming)
        yield ClientFactory(config).create(card)


def work_on(task_id, worker_key, result):
    """The worker's side, over REST: pick the task up and deliver."""
    status, body = rest("POST", f"/v1/tasks/{task_id}/pickup", key=worker_key)
    assert status == 200, (status, body)
    status, body = rest("POST", f"/v1/tasks/{task_id}/deliver", key=worker_key,
                        body={"result": result})
    assert status == 200, (status, body)


async def card_resolves():
    async with httpx.AsyncClient(timeout=30) as http:
        resolver = A2ACardResolver(http, URL)
        card = await resolver.get_agent_card()
        assert card.name == "Pinchwork"
        assert card.capabilities.streaming
        endpoints = {(i.url, i.protocol_version) for i in card.supported_interfaces}
        assert (f"{URL}/a2a", "1.0") in endpoints, endpoints
        assert "bearer" in card.security_schemes
        assert {"delegate", "pickup", "deliver"} <= {s.id for s in card.skills}
        legacy = await resolver.get_agent_card(relative_card_path="/.well-known/agent.json")
        assert legacy == card
        response = await http.get(f"{URL}/.well-known/agent-card.json")
        assert "public" in response.headers["cache-control"]


async def message_creates_a_task_and_get_task_sees_the_delivery():
    _, poster_key = register("a2a-poster")
    _, worker_key = register("a2a-worker")
    before = balance(poster_key)
    async with client_for(poster_key, streaming=False) as client:
        events = [e async for e in client.send_message(
            request("Translate 'good morning' into Dutch", max_credits=15, tags=["translation"]))]
        task = events[0].task
        assert task.status.state == TaskState.TASK_STATE_SUBMITTED
        assert task.context_id == task.id
        status, credits = rest("GET", "/v1/me/credits", key=poster_key)
        assert credits["balance"] == before - 15 and credits["escrowed"] == 15, credits
        work_on(task.id, worker_key, "Goedemorgen")
        got = await client.get_task(GetTaskRequest(id=task.id))
        assert got.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        assert got.artifacts[0].parts[0].text == "Goedemorgen"


async def a_stream_ends_at_input_required_with_the_artifact():
    _, poster_key = register("a2a-stream-poster")
    _, worker_key = register("a2a-stream-worker")
    async with client_for(poster_key, streaming=True) as client:
        stream = client.send_message(request("Name three prime numbers", max_credits=5))
        first = await anext(stream)
        assert first.task.status.state == TaskState.TASK_STATE_SUBMITTED
        work_on(first.task.id, worker_key, "2, 3, 5")
        states, artifacts = [], []
        async for event in stream:
            if event.HasField("status_update"):
                states.append(event.status_update.status.state)
            if event.HasField("artifact_update"):
                artifacts.append(event.artifact_update.artifact.parts[0].text)
        assert states[-1] == TaskState.TASK_STATE_INPUT_REQUIRED, states
        assert artifacts == ["2, 3, 5"], artifacts


async def subscribe_follows_a_posted_task():
    _, poster_key = register("a2a-sub-poster")
    _, worker_key = register("a2a-sub-worker")
    async with (client_for(poster_key, streaming=False) as client,
                client_for(poster_key, streaming=True) as streaming):
        events = [e async for e in client.send_message(request("Count to three", max_credits=3))]
        task_id = events[0].task.id
        stream = streaming.subscribe(SubscribeToTaskRequest(id=task_id))
        first = await anext(stream)
        assert first.task.id == task_id
        work_on(task_id, worker_key, "1 2 3")
        last = None
        async for event in stream:
            if event.HasField("status_update"):
                last = event.status_update.status.state
        assert last == TaskState.TASK_STATE_INPUT_REQUIRED


async def cancel_of_a_posted_task():
    _, poster_key = register("a2a-cancel")
    before = balance(poster_key)
    async with client_for(poster_key, streaming=False) as client:
        events = [e async for e in client.send_message(request("Never mind", max_credits=7))]
        task_id = events[0].task.id
        assert balance(poster_key) == before - 7
        cancelled = await client.cancel_task(CancelTaskRequest(id=task_id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        assert balance(poster_key) == before
        try:
            await client.cancel_task(CancelTaskRequest(id=task_id))
            raise AssertionError("a cancelled task was cancelled again")
        except TaskNotCancelableError:
            pass


async def unknown_and_foreign_tasks_are_not_found():
    _, poster_key = register("a2a-owner")
    _, other_key = register("a2a-stranger")
    async with (client_for(poster_key, streaming=False) as client,
                client_for(other_key, streaming=False) as other):
        events = [e async for e in client.send_message(request("Mine only", max_credits=1))]
        for who, task_id in [(client, "tk-doesnotexist"), (other, events[0].task.id)]:
            try:
                await who.get_task(GetTaskRequest(id=task_id))
                raise AssertionError(f"{task_id} was found")
            except TaskNotFoundError:
                pass


if __name__ == "__main__":
    run([
        card_resolves,
        message_creates_a_task_and_get_task_sees_the_delivery,
        a_stream_ends_at_input_required_with_the_artifact,
        subscribe_follows_a_posted_task,
        cancel_of_a_posted_task,
        unknown_and_foreign_tasks_are_not_found,
    ])
