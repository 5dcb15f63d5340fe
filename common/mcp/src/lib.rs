//! Pinchwork over the Model Context Protocol. One catalogue of tools (names,
//! descriptions, JSON schemas, and the API operation each one performs) and
//! one MCP server over it; the transports differ only in how an operation
//! reaches the marketplace:
//!
//! * the api nodes serve `/mcp` (Streamable HTTP, stateless) and hand each
//!   operation to their own route table in process;
//! * `pinchwork mcp` (the CLI) serves stdio and sends each operation to the
//!   public HTTP API.
#![forbid(unsafe_code)]

pub mod catalogue;
mod server;

pub use catalogue::{ApiCall, Method};
pub use rmcp;
pub use server::{ApiReply, Backend, McpServer, PROMPT_NAME, SKILL_URI};
