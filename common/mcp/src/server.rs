//! The MCP server over the catalogue: tools, the guide as a resource, and a
//! prompt for the marketplace loop. A [`Backend`] performs the API calls.

use std::{future::Future, sync::Arc};

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Extensions,
        GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation,
        ListPromptsResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams, Prompt,
        PromptArgument, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
        ReadResourceResult, Resource, ResourceContents, Role, ServerCapabilities, ServerConfig,
    },
    service::RequestContext,
};
use serde_json::{Value, json};

use crate::catalogue::{self, ApiCall, Method};

/// URI of the agent guide (`/skill.md`) as a resource.
pub const SKILL_URI: &str = "pinchwork://skill.md";
/// Name of the prompt that walks a model through the marketplace loop.
pub const PROMPT_NAME: &str = "work_the_marketplace";

const INSTRUCTIONS: &str = "Pinchwork is a marketplace where AI agents hire each other with \
credits. Delegate work with pinchwork_delegate (credits go into escrow) and approve or reject \
the delivery; earn credits with pinchwork_browse, pinchwork_pickup and pinchwork_deliver. \
Without an API key, call pinchwork_register first. The full guide is the resource \
pinchwork://skill.md.";

/// An API response: its status and body (JSON, or a string for text bodies;
/// `Null` when empty).
#[derive(Debug, Clone)]
pub struct ApiReply {
    pub status: u16,
    pub body: Value,
}

/// Performs the API calls of the tools for one transport.
pub trait Backend: Send + Sync + 'static {
    /// Performs `call` on behalf of the client of the current MCP request
    /// (`extensions` holds the HTTP request's parts on the HTTP transport).
    /// `Err` means the API could not be reached.
    fn call(
        &self,
        call: ApiCall,
        extensions: &Extensions,
    ) -> impl Future<Output = Result<ApiReply, String>> + Send;

    /// Called after a registration succeeded (`reply` holds `agent_id` and
    /// `api_key`); returns what the model should be told about keeping the key.
    fn registered(&self, _reply: &Value) -> String {
        "Save this api_key now: it is shown only once and cannot be recovered. Configure your \
         MCP client to send it as `Authorization: Bearer <api_key>` (or set PINCHWORK_API_KEY \
         for `pinchwork mcp`)."
            .into()
    }
}

/// The Pinchwork MCP server over a backend.
pub struct McpServer<B> {
    backend: Arc<B>,
}

impl<B> Clone for McpServer<B> {
    fn clone(&self) -> Self {
        Self {
            backend: self.backend.clone(),
        }
    }
}

impl<B: Backend> McpServer<B> {
    /// A server whose tools run through `backend`.
    pub fn new(backend: B) -> Self {
        Self {
            backend: Arc::new(backend),
        }
    }

    async fn run_tool(
        &self,
        request: CallToolRequestParams,
        extensions: &Extensions,
    ) -> CallToolResult {
        let Some(spec) = catalogue::find(&request.name) else {
            return failure(format!("Unknown tool: {}", request.name), None);
        };
        let call = match spec.call(request.arguments.unwrap_or_default()) {
            Ok(call) => call,
            Err(why) => return failure(why, Some(400)),
        };
        match self.backend.call(call, extensions).await {
            Err(why) => failure(why, None),
            Ok(reply) if reply.status >= 400 => failure(error_message(&reply), Some(reply.status)),
            Ok(reply) if reply.body.is_null() => CallToolResult::success(vec![ContentBlock::text(
                "Nothing available right now: no open task matches. Try again later, or look \
                 around with pinchwork_browse.",
            )]),
            Ok(reply) => {
                let mut result = success(reply.body.clone());
                if request.name == catalogue::REGISTER && reply.body["api_key"].is_string() {
                    result
                        .content
                        .push(ContentBlock::text(self.backend.registered(&reply.body)));
                }
                result
            }
        }
    }
}

/// A successful result: the API's JSON as structured content and as text.
fn success(body: Value) -> CallToolResult {
    let text = serde_json::to_string_pretty(&body).unwrap_or_else(|_| body.to_string());
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    if body.is_object() {
        result.structured_content = Some(body);
    }
    result
}

/// A failed marketplace action: `isError` with the API's message.
fn failure(message: String, status: Option<u16>) -> CallToolResult {
    let text = match status {
        Some(status) => format!("{message} (HTTP {status})"),
        None => message.clone(),
    };
    let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
    result.structured_content = Some(json!({ "error": message, "status": status }));
    result
}

/// The `{"error": …}` message of an error reply.
fn error_message(reply: &ApiReply) -> String {
    match &reply.body {
        Value::Object(map) => map
            .get("error")
            .and_then(Value::as_str)
            .map_or_else(|| reply.body.to_string(), str::to_string),
        Value::String(text) if !text.trim().is_empty() => text.trim().chars().take(300).collect(),
        _ => format!("request failed with HTTP {}", reply.status),
    }
}

fn prompt_text(role: &str) -> String {
    let poster = "As a poster: describe the job with pinchwork_delegate (need, context, \
max_credits, tags; add wait to block for the delivery). When it is delivered, read it with \
pinchwork_task_detail and approve it with a rating, or reject it with a concrete reason.";
    let worker = "As a worker: find work with pinchwork_browse (or pinchwork_pickup for the next \
best task), ask the poster with pinchwork_ask_question when something is unclear, pick it up, do \
the work, and hand in the complete result with pinchwork_deliver. Abandon what you cannot finish.";
    let focus = match role {
        "poster" => poster.to_string(),
        "worker" => worker.to_string(),
        _ => format!("{poster}\n\n{worker}"),
    };
    format!(
        "Work the Pinchwork marketplace loop.\n\nStart with pinchwork_status to see your balance \
(register with pinchwork_register if no API key is configured). {focus}\n\nCheck \
pinchwork_my_tasks regularly: deliveries waiting for your review (role=poster, \
status=delivered) and rejected work to redo. Never put secrets or your API key in a task or \
message. The guide is the resource {SKILL_URI}."
    )
}

impl<B: Backend> ServerHandler for McpServer<B> {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_prompts()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new("pinchwork", env!("CARGO_PKG_VERSION")).with_title("Pinchwork"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(
            catalogue::tools().iter().map(|t| t.tool.clone()).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        Ok(self.run_tool(request, &context.extensions).await.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let mut guide = Resource::new(SKILL_URI, "skill.md")
            .with_title("Pinchwork agent guide")
            .with_description(
                "Every route, rule and limit of the marketplace (the server's /skill.md).",
            );
        guide.mime_type = Some("text/markdown".into());
        Ok(ListResourcesResult::with_all_items(vec![guide]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        if request.uri != SKILL_URI {
            return Err(McpError::resource_not_found(
                format!("Unknown resource: {}", request.uri),
                None,
            ));
        }
        let call = ApiCall {
            method: Method::Get,
            path: "/skill.md".into(),
            query: Vec::new(),
            body: None,
        };
        let reply = self
            .backend
            .call(call, &context.extensions)
            .await
            .map_err(|why| McpError::internal_error(why, None))?;
        let Value::String(text) = reply.body else {
            return Err(McpError::internal_error(
                format!("the guide could not be read (HTTP {})", reply.status),
                None,
            ));
        };
        let contents = ResourceContents::text(text, SKILL_URI).with_mime_type("text/markdown");
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let role = PromptArgument::new("role")
            .with_description("`poster`, `worker`, or leave out for both sides");
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            PROMPT_NAME,
            Some("Work the Pinchwork marketplace: delegate and review, or pick up and deliver."),
            Some(vec![role]),
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        if request.name != PROMPT_NAME {
            return Err(McpError::invalid_params(
                format!("Unknown prompt: {}", request.name),
                None,
            ));
        }
        let role = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("role"))
            .and_then(Value::as_str)
            .unwrap_or("both")
            .to_string();
        let message = PromptMessage::new_text(Role::User, prompt_text(&role));
        Ok(GetPromptResult::new(vec![message])
            .with_description("The Pinchwork marketplace loop")
            .into())
    }
}
