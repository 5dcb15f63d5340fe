//! Scale: the lifecycle with many registered agents and many open tasks.
//!
//! Seeds the cluster's database directly (it must be a bench-only database):
//! `agents` workers whose good_at are a few words of [`VOCABULARY`], so a
//! task's words match a small share of them, and `tasks` open (posted,
//! broadcast) tasks from [`POSTERS`] seeded posters, escrowed the way the
//! ledger expects (a grant and one escrow transfer per poster: balances plus
//! escrow still equal the grants, and every balance its ledger rows). Then
//! runs the lifecycle for a while and, beside it, samples the routing time:
//! from the create request until the task's match_status leaves 'pending',
//! for tasks whose need matches some seeded agents — whether the matcher
//! service or the create itself routes. Last, it times browsing and blind
//! pickups by agents with and without capability tags on that pool.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use pinchwork_common::market::{good_at_terms, keywords};
use reqwest::{Method, StatusCode};
use serde_json::{Value::Null, json};
use sqlx::{PgPool, postgres::PgPoolOptions};

use crate::{client::Api, lifecycle, stats::Samples};

/// Seeded posters of the open tasks.
const POSTERS: usize = 1000;
/// Credits granted to each seeded poster.
const POSTER_GRANT: i64 = 1_000_000_000;
/// Words of a seeded agent's good_at.
const WORDS_PER_AGENT: i32 = 4;
/// Pause between two routing samples.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// How long a sampled task may stay pending before the sample is dropped.
const ROUTING_PATIENCE: Duration = Duration::from_secs(10);

/// Skill words: a task names three of them, an agent four.
const VOCABULARY: &[&str] = &[
    "accounting",
    "actuarial",
    "advertising",
    "aerospace",
    "agronomy",
    "algebra",
    "algorithms",
    "analytics",
    "android",
    "angular",
    "animation",
    "annotation",
    "ansible",
    "apache",
    "api",
    "architecture",
    "arduino",
    "assembly",
    "astronomy",
    "audio",
    "auditing",
    "authentication",
    "automation",
    "aws",
    "azure",
    "backend",
    "bash",
    "bayesian",
    "benchmarking",
    "bioinformatics",
    "biology",
    "blender",
    "blockchain",
    "blogging",
    "bookkeeping",
    "branding",
    "budgeting",
    "calculus",
    "captioning",
    "cartography",
    "cassandra",
    "chemistry",
    "chess",
    "cinematography",
    "classification",
    "clojure",
    "cloud",
    "clustering",
    "cobol",
    "compilers",
    "compliance",
    "compression",
    "concurrency",
    "consulting",
    "containers",
    "contracts",
    "copywriting",
    "cryptography",
    "css",
    "curriculum",
    "cybersecurity",
    "dashboards",
    "databases",
    "debugging",
    "deployment",
    "design",
    "devops",
    "diagrams",
    "dns",
    "docker",
    "documentation",
    "drafting",
    "drawing",
    "ecommerce",
    "economics",
    "editing",
    "elasticsearch",
    "electronics",
    "elixir",
    "embedded",
    "encryption",
    "engineering",
    "epidemiology",
    "erlang",
    "etl",
    "excel",
    "fashion",
    "finance",
    "firmware",
    "flask",
    "forecasting",
    "forensics",
    "fortran",
    "french",
    "frontend",
    "gamedev",
    "genealogy",
    "genomics",
    "geology",
    "german",
    "git",
    "golang",
    "grafana",
    "grammar",
    "graphql",
    "graphs",
    "haskell",
    "healthcare",
    "hiring",
    "history",
    "html",
    "illustration",
    "indexing",
    "infrastructure",
    "insurance",
    "interviews",
    "investing",
    "ios",
    "italian",
    "japanese",
    "java",
    "javascript",
    "journalism",
    "json",
    "julia",
    "kafka",
    "kotlin",
    "kubernetes",
    "labeling",
    "latex",
    "law",
    "legal",
    "linguistics",
    "linux",
    "localization",
    "logistics",
    "logos",
    "lua",
    "marketing",
    "mathematics",
    "matlab",
    "mechanics",
    "medicine",
    "mentoring",
    "metrics",
    "microservices",
    "migration",
    "mobile",
    "modeling",
    "mongodb",
    "monitoring",
    "music",
    "mysql",
    "negotiation",
    "networking",
    "neuroscience",
    "nginx",
    "nlp",
    "nodejs",
    "nutrition",
    "ocaml",
    "ocr",
    "onboarding",
    "optimization",
    "oracle",
    "painting",
    "pandas",
    "parsing",
    "patents",
    "payments",
    "perl",
    "photography",
    "photoshop",
    "php",
    "physics",
    "planning",
    "podcasts",
    "poetry",
    "portuguese",
    "postgres",
    "powerpoint",
    "pricing",
    "privacy",
    "probability",
    "profiling",
    "prolog",
    "proofreading",
    "prototyping",
    "psychology",
    "publishing",
    "puppet",
    "python",
    "pytorch",
    "quantum",
    "queues",
    "rabbitmq",
    "react",
    "recipes",
    "recruiting",
    "redis",
    "refactoring",
    "regex",
    "research",
    "robotics",
    "routing",
    "ruby",
    "russian",
    "rust",
    "sales",
    "scala",
    "scheduling",
    "scraping",
    "screenwriting",
    "scripting",
    "search",
    "security",
    "sentiment",
    "seo",
    "serverless",
    "shaders",
    "simulation",
    "sketching",
    "slides",
    "solidity",
    "spanish",
    "spark",
    "speech",
    "spreadsheets",
    "sql",
    "sqlite",
    "statistics",
    "storytelling",
    "strategy",
    "summarization",
    "support",
    "svelte",
    "swift",
    "synthesis",
    "tableau",
    "taxes",
    "teaching",
    "terraform",
    "testing",
    "tensorflow",
    "translation",
    "transcription",
    "travel",
    "tutoring",
    "typescript",
    "typography",
    "ux",
    "validation",
    "vector",
    "verilog",
    "video",
    "visualization",
    "vue",
    "wasm",
    "webassembly",
    "webhooks",
    "welding",
    "wordpress",
    "writing",
    "xml",
    "yaml",
    "zoning",
];

/// What one (agents, tasks) level measured.
pub struct Outcome {
    pub per_sec: f64,
    pub samples: Samples,
    pub routed: usize,
    pub seed_secs: f64,
}

/// The vocabulary's words and match terms; every word must be its own only
/// keyword, so that the terms written in SQL are the ones the API would write.
fn vocabulary() -> Result<(Vec<String>, Vec<String>)> {
    let mut words = Vec::new();
    let mut terms = Vec::new();
    for word in VOCABULARY {
        let kept = keywords(word);
        if kept.len() != 1 || !kept.contains(*word) {
            continue;
        }
        let term = good_at_terms(Some(word));
        let [term] = term.as_slice() else {
            bail!("one word, one term expected for {word}");
        };
        words.push(word.to_string());
        terms.push(term.clone());
    }
    Ok((words, terms))
}

/// Opens the bench-only database.
pub async fn connect(database_url: &str) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(2)
        .connect(database_url)
        .await
        .context("connecting to --database-url")
}

/// Makes the seeded data exactly `agents` workers and `tasks` open tasks
/// (adding or removing seeded rows only); returns the seconds it took.
/// Removing agents while a million tasks exist is slow (each deleted agent's
/// foreign keys are checked against every task), so give levels ascending.
pub async fn seed(pool: &PgPool, agents: usize, tasks: usize) -> Result<f64> {
    let start = Instant::now();
    let (words, terms) = vocabulary()?;
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "CREATE TEMP TABLE scale_vocab ON COMMIT DROP AS
         SELECT (n - 1)::int AS n, w AS word, t AS term
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS v(w, t, n)",
    )
    .bind(&words)
    .bind(&terms)
    .execute(&mut *tx)
    .await?;
    let v = words.len() as i32;
    // Posters: a grant, and one escrow transfer for all their seeded tasks.
    sqlx::query(
        "INSERT INTO agents (id, name, credits, good_at, match_terms)
         SELECT 'scale-p-' || i, 'scale poster', 0, NULL, '{}'
         FROM generate_series(1, $1::int) i
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(POSTERS as i32)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "WITH granted AS (
            INSERT INTO ledger (id, agent_id, amount, reason, kind)
            SELECT 'scale-grant-' || i, 'scale-p-' || i, $2, 'bench seed', 'grant'
            FROM generate_series(1, $1::int) i
            ON CONFLICT (id) DO NOTHING
            RETURNING agent_id, amount)
         UPDATE agents a SET credits = credits + g.amount FROM granted g WHERE a.id = g.agent_id",
    )
    .bind(POSTERS as i32)
    .bind(POSTER_GRANT)
    .execute(&mut *tx)
    .await?;
    // Fewer open tasks first: removing agents checks every table that refers to them.
    sqlx::query(
        "DELETE FROM tasks WHERE id LIKE 'scale-t-%' AND substr(id, 9)::int > $1
           AND status = 'posted'",
    )
    .bind(tasks as i32)
    .execute(&mut *tx)
    .await?;
    // Workers: `agents` of them, four words each, reputation spread over 0..5.
    sqlx::query(
        "DELETE FROM task_matches WHERE agent_id LIKE 'scale-a-%'
           AND substr(agent_id, 9)::int > $1",
    )
    .bind(agents as i32)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM agents WHERE id LIKE 'scale-a-%' AND substr(id, 9)::int > $1")
        .bind(agents as i32)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO agents (id, name, credits, good_at, match_terms, reputation)
         SELECT 'scale-a-' || i, 'scale agent', 0,
                string_agg(v.word, ' ' ORDER BY j), array_agg(DISTINCT v.term),
                round(((hashint4(i) & 65535) / 65535.0 * 5)::numeric, 2)::float8
         FROM generate_series(1, $1::int) i
         CROSS JOIN generate_series(1, $3::int) j
         JOIN scale_vocab v ON v.n = (hashint4(i * 16 + j) & 2147483647) % $2
         GROUP BY i
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(agents as i32)
    .bind(v)
    .bind(WORDS_PER_AGENT)
    .execute(&mut *tx)
    .await?;
    // Open tasks: three words each, posted round-robin by the posters; one in
    // twenty tagged python, one rust and ops, one k8s.
    sqlx::query(
        "INSERT INTO tasks (id, poster_id, need, max_credits, escrowed, match_status, expires_at,
                            created_at, tags)
         SELECT 'scale-t-' || i, 'scale-p-' || (1 + i % $3),
                concat_ws(' ', 'scale task:',
                          w.words[1 + (hashint4(i * 8 + 1) & 2147483647) % $2],
                          w.words[1 + (hashint4(i * 8 + 2) & 2147483647) % $2],
                          w.words[1 + (hashint4(i * 8 + 3) & 2147483647) % $2]),
                1, true, 'broadcast', now() + interval '30 days',
                now() - make_interval(secs => ($1 - i)::float8 / 1000),
                CASE (hashint4(i * 8 + 5) & 2147483647) % 20
                    WHEN 0 THEN ARRAY['python'] WHEN 1 THEN ARRAY['rust', 'ops']
                    WHEN 2 THEN ARRAY['k8s'] ELSE '{}' END
         FROM generate_series(1, $1::int) i, (SELECT $4::text[]) w(words)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(tasks as i32)
    .bind(v)
    .bind(POSTERS as i32)
    .bind(&words)
    .execute(&mut *tx)
    .await?;
    // The posters' escrow equals their open seeded tasks' budgets.
    sqlx::query(
        "WITH open AS (
            SELECT p.id, COALESCE(sum(t.max_credits), 0)::bigint AS escrow
            FROM agents p LEFT JOIN tasks t ON t.poster_id = p.id AND t.id LIKE 'scale-t-%'
                 AND t.status IN ('posted', 'claimed', 'delivered')
            WHERE p.id LIKE 'scale-p-%'
            GROUP BY p.id
         ), escrow AS (
            INSERT INTO ledger (id, agent_id, amount, reason, kind)
            SELECT 'scale-escrow-' || id, id, -escrow, 'bench seed escrow', 'transfer' FROM open
            ON CONFLICT (id) DO UPDATE SET amount = EXCLUDED.amount
         )
         UPDATE agents a SET credits = $1 - o.escrow FROM open o WHERE a.id = o.id",
    )
    .bind(POSTER_GRANT)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    // What autovacuum does for a market that grew to this size over time:
    // fresh statistics, and visibility maps so that the index-only scans of
    // the candidate query need no heap visits.
    for table in ["agents", "agent_match_terms", "tasks", "ledger"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM (ANALYZE) {table}")))
            .execute(pool)
            .await?;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Reads timed after the lifecycle, one at a time, on the seeded pool.
const READ_SAMPLES: usize = 10;
/// Capability tags of the tagged reader: each is on 5 % of the seeded tasks.
const READER_TAGS: [&str; 2] = ["python", "ops"];

/// Times what an agent browsing or taking work pays in a pool of this size:
/// `GET /v1/tasks/available` for an agent without capability tags and one
/// with [`READER_TAGS`], and blind pickups by the tagged one.
async fn sample_reads(api: &Api, pool: &PgPool) -> Result<Samples> {
    let readers = api
        .register_many("bench-scale-reader", 2, 2, |_| serde_json::Value::Null)
        .await?;
    sqlx::query("UPDATE agents SET capability_tags = $2 WHERE id = $1")
        .bind(&readers[1].id)
        .bind(&READER_TAGS[..])
        .execute(pool)
        .await?;
    let mut samples = Samples::default();
    for _ in 0..READ_SAMPLES {
        for (reader, name) in readers.iter().zip(["browse", "browse (capability tags)"]) {
            let start = Instant::now();
            api.send(Method::GET, "/v1/tasks/available", Some(&reader.key), Null)
                .await?
                .check(StatusCode::OK)?;
            samples.add(name, start.elapsed());
        }
        let start = Instant::now();
        api.post("/v1/tasks/pickup", &readers[1].key, Null, StatusCode::OK)
            .await?;
        samples.add("blind pickup (capability tags)", start.elapsed());
    }
    Ok(samples)
}

/// Seeds one level, then runs the lifecycle at `concurrency` for `seconds`
/// while sampling the routing time.
pub async fn run(
    api: Arc<Api>,
    pool: &PgPool,
    agents: usize,
    tasks: usize,
    concurrency: usize,
    seconds: u64,
) -> Result<Outcome> {
    let seed_secs = seed(pool, agents, tasks).await?;
    let (words, _) = vocabulary()?;
    let need = move |i: usize| {
        let w = |k: usize| &words[(i * 7 + k * 13) % words.len()];
        format!("scale task: {} {} {}", w(0), w(1), w(2))
    };
    let poster = api
        .register_many("bench-scale-sampler", 1, 1, |_| serde_json::Value::Null)
        .await?
        .remove(0);
    let until = Instant::now() + Duration::from_secs(seconds);
    let sampler = {
        let (api, pool, need) = (api.clone(), pool.clone(), need.clone());
        tokio::spawn(async move {
            let mut samples = Samples::default();
            let mut i = 0;
            while Instant::now() < until {
                i += 1;
                let start = Instant::now();
                let body = json!({"need": need(i), "max_credits": 1});
                let created = api
                    .post("/v1/tasks", &poster.key, body, StatusCode::CREATED)
                    .await?;
                let id = created["task_id"].as_str().unwrap_or_default().to_string();
                loop {
                    let status: Option<String> =
                        sqlx::query_scalar("SELECT match_status FROM tasks WHERE id = $1")
                            .bind(&id)
                            .fetch_optional(&pool)
                            .await?
                            .flatten();
                    if status.as_deref() != Some("pending") {
                        samples.add("routing", start.elapsed());
                        break;
                    }
                    if start.elapsed() > ROUTING_PATIENCE {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
            anyhow::Ok(samples)
        })
    };
    let life = lifecycle::run_with_need(api.clone(), concurrency, seconds, None, need).await?;
    let routing = sampler.await??;
    let mut samples = life.samples;
    samples.merge(routing);
    samples.merge(sample_reads(&api, pool).await?);
    let routed = samples.count("routing");
    Ok(Outcome {
        per_sec: life.per_sec,
        samples,
        routed,
        seed_secs,
    })
}
