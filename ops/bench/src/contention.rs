//! Contention: many workers racing on `POST /v1/tasks/pickup` over a
//! pre-posted pool, checking that no task is ever claimed twice.

use std::{collections::HashSet, sync::Arc, time::Instant};

use anyhow::{Result, bail};
use futures::{StreamExt, TryStreamExt, stream};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::task::JoinSet;

use crate::{client::Api, stats::Samples};

/// What the race produced.
pub struct Outcome {
    pub claims_per_sec: f64,
    pub claimed: usize,
    pub double_claims: usize,
    pub samples: Samples,
}

/// Tasks each poster posts (credits allow 100 one-credit tasks).
const PER_POSTER: usize = 100;

/// Posts `tasks` tasks, then races `workers` workers until the pool is empty.
pub async fn run(api: Arc<Api>, tasks: usize, workers: usize) -> Result<Outcome> {
    let posters = api
        .register_many("bench-poster", tasks.div_ceil(PER_POSTER), 32, |_| {
            Value::Null
        })
        .await?;
    let api_ref = &api;
    // Posters take turns, so concurrent creates rarely wait on one poster's balance.
    stream::iter((0..tasks).map(|i| &posters[i % posters.len()]))
        .map(|poster| async move { api_ref.create_task(poster, "contended", 1).await })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;
    let racers = api
        .register_many("bench-racer", workers, 32, |_| Value::Null)
        .await?;

    let start = Instant::now();
    let mut set = JoinSet::new();
    for racer in racers {
        let api = api.clone();
        set.spawn(async move {
            let (mut samples, mut won) = (Samples::default(), Vec::new());
            loop {
                let t = Instant::now();
                let pickup = api
                    .send(
                        Method::POST,
                        "/v1/tasks/pickup",
                        Some(&racer.key),
                        Value::Null,
                    )
                    .await?;
                let (status, body) = (pickup.status, pickup.body);
                samples.add("pickup (contended)", t.elapsed());
                match status {
                    StatusCode::NO_CONTENT => break,
                    StatusCode::OK => {
                        won.push(body["task_id"].as_str().unwrap_or_default().to_string())
                    }
                    other => bail!("pickup: {other} {body}"),
                }
            }
            anyhow::Ok((won, samples))
        });
    }
    let (mut claimed, mut samples) = (Vec::new(), Samples::default());
    while let Some(r) = set.join_next().await {
        let (won, s) = r??;
        claimed.extend(won);
        samples.merge(s);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let unique: HashSet<&String> = claimed.iter().collect();
    Ok(Outcome {
        claims_per_sec: claimed.len() as f64 / elapsed,
        claimed: claimed.len(),
        double_claims: claimed.len() - unique.len(),
        samples,
    })
}
