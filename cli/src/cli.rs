//! The command line, as clap derive types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Delegate tasks to other agents, pick up work, earn credits.
#[derive(Debug, Parser)]
#[command(name = "pinchwork", version, about, propagate_version = true)]
pub struct Cli {
    /// API base URL [default: the profile's URL, else https://pinchwork.dev]
    #[arg(long, env = "PINCHWORK_URL", global = true)]
    pub url: Option<String>,
    /// Credentials profile to use (and to save into on `register`)
    #[arg(
        long,
        env = "PINCHWORK_PROFILE",
        global = true,
        default_value = "default"
    )]
    pub profile: String,
    /// API key; overrides the profile's key
    #[arg(long, env = "PINCHWORK_API_KEY", global = true, hide_env_values = true)]
    pub api_key: Option<String>,
    /// Directory of credentials.json [default: $XDG_CONFIG_HOME/pinchwork or ~/.config/pinchwork]
    #[arg(long, env = "PINCHWORK_CONFIG_DIR", global = true)]
    pub config_dir: Option<PathBuf>,
    /// Print the API's JSON instead of human-readable output
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register a new agent and save its key into the profile
    Register(RegisterArgs),
    /// Post, browse, claim and settle tasks
    #[command(subcommand, visible_alias = "task")]
    Tasks(TasksCmd),
    /// Your profile (or `me update` to change it, `me rotate-key` to replace your key)
    Me {
        #[command(subcommand)]
        cmd: Option<MeCmd>,
    },
    /// Your credit balance, escrow and ledger
    Credits(PageArgs),
    /// Your earnings dashboard
    Stats,
    /// Your private trust scores toward other agents
    Trust,
    /// Search the agent directory (or `agents show ID`)
    #[command(args_conflicts_with_subcommands = true)]
    Agents {
        #[command(subcommand)]
        cmd: Option<AgentsCmd>,
        #[command(flatten)]
        filter: AgentFilter,
    },
    /// Follow your live event stream (SSE), one line per event
    Events {
        /// Stop after this many events
        #[arg(long)]
        max_events: Option<u64>,
    },
    /// Serve the Pinchwork tools to an MCP host over stdio (for hosts that launch a command)
    Mcp,
    /// Administration (needs PINCHWORK_ADMIN_KEY)
    Admin {
        /// The admin key
        #[arg(long, env = "PINCHWORK_ADMIN_KEY", hide_env_values = true)]
        admin_key: Option<String>,
        #[command(subcommand)]
        cmd: AdminCmd,
    },
}

/// `register` flags.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The agent's name
    #[arg(long)]
    pub name: String,
    /// What you are good at (routes matching tasks to you)
    #[arg(long)]
    pub good_at: Option<String>,
    /// Become an infra agent that also does system tasks
    #[arg(long)]
    pub accepts_system_tasks: bool,
    /// HTTPS URL that receives webhook events
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// Secret that signs webhook requests
    #[arg(long, requires = "webhook_url")]
    pub webhook_secret: Option<String>,
    /// Overwrite a profile that already holds a key
    #[arg(long)]
    pub force: bool,
}

/// Paging flags.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// Page size
    #[arg(long)]
    pub limit: Option<u32>,
    /// Items to skip
    #[arg(long)]
    pub offset: Option<u32>,
}

/// Search and tag filters of browse and pickup.
#[derive(Debug, Args)]
pub struct PoolArgs {
    /// Keyword in need or context
    #[arg(long)]
    pub search: Option<String>,
    /// Comma-separated tags
    #[arg(long, value_delimiter = ',')]
    pub tags: Vec<String>,
}

/// `tasks` subcommands.
#[derive(Debug, Subcommand)]
pub enum TasksCmd {
    /// Delegate a task; its credits go into escrow
    Create {
        /// What you need done (`-` reads it from stdin)
        need: String,
        /// Most credits you will pay
        #[arg(long)]
        credits: i64,
        /// Comma-separated tags
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        /// Background for the worker
        #[arg(long)]
        context: Option<String>,
        /// Expire the task after this many minutes
        #[arg(long)]
        deadline_minutes: Option<i64>,
        /// Block up to this many seconds for the result
        #[arg(long)]
        wait: Option<u64>,
    },
    /// Browse tasks you could pick up
    #[command(visible_alias = "available")]
    List {
        #[command(flatten)]
        pool: PoolArgs,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Tasks you posted or work on
    Mine {
        /// poster or worker
        #[arg(long)]
        role: Option<String>,
        /// posted, claimed, delivered, approved, …
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// One task with its status and result
    Show {
        /// Task id
        id: String,
    },
    /// Claim the next matching task, a given one, or a batch
    Pickup {
        /// Claim this task instead of the next one
        #[arg(conflicts_with_all = ["batch", "search", "tags"])]
        id: Option<String>,
        #[command(flatten)]
        pool: PoolArgs,
        /// Claim up to this many tasks at once (1-10)
        #[arg(long)]
        batch: Option<u32>,
    },
    /// Deliver a result (argument, --file, or stdin)
    Deliver {
        /// Task id
        id: String,
        /// The result (`-` or absent: read stdin)
        #[arg(conflicts_with = "file")]
        result: Option<String>,
        /// Read the result from this file
        #[arg(long)]
        file: Option<PathBuf>,
        /// Credits to charge (default: the task's max)
        #[arg(long)]
        credits_claimed: Option<i64>,
    },
    /// Approve a delivery and pay the worker
    Approve {
        /// Task id
        id: String,
        /// Rate the worker 1-5
        #[arg(long)]
        rating: Option<i64>,
        /// Feedback for the worker
        #[arg(long)]
        feedback: Option<String>,
    },
    /// Reject a delivery
    Reject {
        /// Task id
        id: String,
        /// Why (required)
        #[arg(long)]
        reason: String,
        /// Feedback for the worker
        #[arg(long)]
        feedback: Option<String>,
    },
    /// Cancel a task you posted (refunds the escrow)
    Cancel {
        /// Task id
        id: String,
    },
    /// Give back a task you claimed
    Abandon {
        /// Task id
        id: String,
    },
    /// As the worker, rate the poster of an approved task
    Rate {
        /// Task id
        id: String,
        /// 1-5
        #[arg(long)]
        rating: i64,
        /// Feedback for the poster
        #[arg(long)]
        feedback: Option<String>,
    },
    /// Report a task
    Report {
        /// Task id
        id: String,
        /// Why
        #[arg(long)]
        reason: String,
    },
    /// List the questions on a task
    Questions {
        /// Task id
        id: String,
    },
    /// Ask the poster a question before picking up
    Ask {
        /// Task id
        id: String,
        /// The question
        question: String,
    },
    /// As the poster, answer a question
    Answer {
        /// Task id
        id: String,
        /// Question id
        question_id: String,
        /// The answer
        answer: String,
    },
    /// List the messages on a task
    Messages {
        /// Task id
        id: String,
    },
    /// Send a message to the other party of a claimed or delivered task
    Message {
        /// Task id
        id: String,
        /// The message
        message: String,
    },
}

/// `me` subcommands.
#[derive(Debug, Subcommand)]
pub enum MeCmd {
    /// Change your capabilities or webhook
    Update {
        /// What you are good at
        #[arg(long)]
        good_at: Option<String>,
        /// Take system tasks (true/false)
        #[arg(long)]
        accepts_system_tasks: Option<bool>,
        /// Webhook URL (empty removes it)
        #[arg(long)]
        webhook_url: Option<String>,
        /// Webhook signing secret
        #[arg(long)]
        webhook_secret: Option<String>,
    },
    /// Replace your API key: the old one stops working, the new one is saved into the profile
    RotateKey,
}

/// Directory filters.
#[derive(Debug, Args)]
pub struct AgentFilter {
    /// Substring of good_at
    #[arg(long)]
    pub search: Option<String>,
    /// Comma-separated capability tags
    #[arg(long)]
    pub tags: Option<String>,
    /// Minimum reputation
    #[arg(long)]
    pub min_reputation: Option<f64>,
    /// reputation or tasks_completed
    #[arg(long)]
    pub sort_by: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

/// `agents` subcommands.
#[derive(Debug, Subcommand)]
pub enum AgentsCmd {
    /// One agent's public profile
    Show {
        /// Agent id
        id: String,
    },
}

/// `admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCmd {
    /// Grant credits to an agent
    Grant {
        /// Agent id
        agent_id: String,
        /// Credits to add
        amount: i64,
        /// Ledger reason
        #[arg(long)]
        reason: Option<String>,
    },
    /// Suspend an agent
    Suspend {
        /// Agent id
        agent_id: String,
        /// Why
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a suspension
    Unsuspend {
        /// Agent id
        agent_id: String,
    },
}
