//! The JSON shapes of A2A, in both protocol generations a client may speak:
//! 1.0 (ProtoJSON: `TASK_STATE_WORKING`, `ROLE_USER`, parts without `kind`)
//! and 0.3 (`working`, `user`, `kind` on every object).

use pinchwork_common::{db::tasks::Task, domain::TaskStatus};
use serde_json::{Value, json};

use crate::views;

/// The protocol generation of a request, from its `A2A-Version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V03,
    V10,
}

impl Version {
    /// Parses `A2A-Version` (`Major.Minor`, a patch is ignored); empty means 0.3.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Some(Self::V03);
        }
        let mut numbers = raw.split('.');
        let major = numbers.next()?;
        let minor = numbers.next().unwrap_or("0");
        match (major, minor) {
            ("0", "3") => Some(Self::V03),
            ("1", "0") => Some(Self::V10),
            _ => None,
        }
    }
}

/// The A2A state of a marketplace status: a delivery waits for the poster's
/// decision (input required); cancelled and expired tasks are both canceled.
fn state(status: TaskStatus, v: Version) -> &'static str {
    let (new, old) = match status {
        TaskStatus::Posted => ("TASK_STATE_SUBMITTED", "submitted"),
        TaskStatus::Claimed => ("TASK_STATE_WORKING", "working"),
        TaskStatus::Delivered => ("TASK_STATE_INPUT_REQUIRED", "input-required"),
        TaskStatus::Approved => ("TASK_STATE_COMPLETED", "completed"),
        TaskStatus::Cancelled | TaskStatus::Expired => ("TASK_STATE_CANCELED", "canceled"),
    };
    if v == Version::V10 { new } else { old }
}

/// Whether a stream on a task in `status` is over: terminal states and the
/// interrupted one (a delivery awaiting the poster) end it.
pub fn stream_ends(status: TaskStatus) -> bool {
    !matches!(status, TaskStatus::Posted | TaskStatus::Claimed)
}

/// The marketplace status an A2A state filter selects (1.0 names).
pub fn status_of_state(state: &str) -> Option<TaskStatus> {
    match state {
        "TASK_STATE_SUBMITTED" => Some(TaskStatus::Posted),
        "TASK_STATE_WORKING" => Some(TaskStatus::Claimed),
        "TASK_STATE_INPUT_REQUIRED" => Some(TaskStatus::Delivered),
        "TASK_STATE_COMPLETED" => Some(TaskStatus::Approved),
        "TASK_STATE_CANCELED" => Some(TaskStatus::Cancelled),
        _ => None,
    }
}

fn text_part(text: &str, v: Version) -> Value {
    match v {
        Version::V10 => json!({ "text": text }),
        Version::V03 => json!({ "kind": "text", "text": text }),
    }
}

fn message(task: &Task, role: &str, id_suffix: &str, text: &str, v: Version) -> Value {
    let mut m = json!({
        "messageId": format!("{}-{id_suffix}", task.id),
        "taskId": task.id,
        "contextId": task.id,
        "parts": [text_part(text, v)],
    });
    match v {
        Version::V10 => m["role"] = json!(format!("ROLE_{}", role.to_uppercase())),
        Version::V03 => {
            m["role"] = json!(role);
            m["kind"] = json!("message");
        }
    }
    m
}

/// What the poster is told about the state (the status message).
fn status_note(task: &Task) -> Option<String> {
    match task.status {
        TaskStatus::Delivered => Some(format!(
            "Delivered: review the result and approve or reject it \
             (POST /v1/tasks/{0}/approve or /v1/tasks/{0}/reject, or the MCP tools).",
            task.id
        )),
        TaskStatus::Expired => {
            Some("Expired before anyone delivered; the escrow was refunded.".into())
        }
        TaskStatus::Cancelled => Some("Cancelled; the escrow was refunded.".into()),
        _ => None,
    }
}

/// The `TaskStatus` object.
pub fn status(task: &Task, v: Version) -> Value {
    let at = task
        .approved_at
        .or(task.delivered_at)
        .or(task.claimed_at)
        .unwrap_or(task.created_at);
    let mut s = json!({ "state": state(task.status, v), "timestamp": views::time(at) });
    if let Some(note) = status_note(task) {
        s["message"] = message(task, "agent", "status", &note, v);
    }
    s
}

/// The delivered result as an artifact (one per task, with a stable id).
pub fn artifact(task: &Task, v: Version) -> Option<Value> {
    let result = task.result.as_deref()?;
    Some(json!({
        "artifactId": format!("{}-result", task.id),
        "name": "result",
        "description": "The worker's delivery",
        "parts": [text_part(result, v)],
    }))
}

/// A marketplace task as an A2A `Task`: the context is the task itself, the
/// history is the poster's request, the result is the artifact.
pub fn task(task: &Task, v: Version) -> Value {
    let mut need = task.need.clone();
    if let Some(context) = &task.context {
        need = format!("{need}\n\n{context}");
    }
    let mut t = json!({
        "id": task.id,
        "contextId": task.id,
        "status": status(task, v),
        "history": [message(task, "user", "request", &need, v)],
        "metadata": {
            "pinchwork_status": task.status,
            "max_credits": task.max_credits,
            "credits_charged": task.credits_charged,
            "tags": task.tags,
            "poster_id": task.poster_id,
            "worker_id": task.worker_id,
        },
    });
    if let Some(artifact) = artifact(task, v) {
        t["artifacts"] = json!([artifact]);
    }
    if v == Version::V03 {
        t["kind"] = json!("task");
    }
    t
}

/// `SendMessage`'s result: 1.0 wraps the task, 0.3 returns it bare.
pub fn send_result(t: &Task, v: Version) -> Value {
    match v {
        Version::V10 => json!({ "task": task(t, v) }),
        Version::V03 => task(t, v),
    }
}

/// The stream events for a task that changed to its current state: the
/// artifact when a result is new, then the status.
pub fn updates(t: &Task, had_result: bool, v: Version) -> Vec<Value> {
    let mut out = Vec::new();
    let last = stream_ends(t.status);
    if !had_result && let Some(artifact) = artifact(t, v) {
        out.push(match v {
            Version::V10 => json!({ "artifactUpdate": {
                "taskId": t.id, "contextId": t.id, "artifact": artifact, "lastChunk": true,
            }}),
            Version::V03 => json!({
                "kind": "artifact-update", "taskId": t.id, "contextId": t.id,
                "artifact": artifact, "lastChunk": true,
            }),
        });
    }
    out.push(match v {
        Version::V10 => json!({ "statusUpdate": {
            "taskId": t.id, "contextId": t.id, "status": status(t, v),
        }}),
        Version::V03 => json!({
            "kind": "status-update", "taskId": t.id, "contextId": t.id,
            "status": status(t, v), "final": last,
        }),
    });
    out
}

/// A stream's first event: the task.
pub fn stream_start(t: &Task, v: Version) -> Value {
    send_result(t, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_major_minor_and_empty_is_03() {
        assert_eq!(Version::parse(""), Some(Version::V03));
        assert_eq!(Version::parse("0.3"), Some(Version::V03));
        assert_eq!(Version::parse("0.3.0"), Some(Version::V03));
        assert_eq!(Version::parse("1.0"), Some(Version::V10));
        assert_eq!(Version::parse("1.0.1"), Some(Version::V10));
        assert_eq!(Version::parse("1"), Some(Version::V10));
        for bad in ["2.0", "0.2", "banana", "1.1"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_delivery_waits_for_the_poster_and_ends_a_stream() {
        assert_eq!(
            state(TaskStatus::Delivered, Version::V10),
            "TASK_STATE_INPUT_REQUIRED"
        );
        assert_eq!(state(TaskStatus::Delivered, Version::V03), "input-required");
        assert_eq!(state(TaskStatus::Expired, Version::V03), "canceled");
        assert!(stream_ends(TaskStatus::Delivered) && !stream_ends(TaskStatus::Claimed));
        assert_eq!(
            status_of_state("TASK_STATE_WORKING"),
            Some(TaskStatus::Claimed)
        );
    }
}
