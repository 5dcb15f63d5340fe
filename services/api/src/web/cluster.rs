//! The console's cluster view: each configured service instance's `/health`,
//! `/ready` and `/metrics`, read live and in parallel when the page is asked for.

use std::time::Duration;

use futures::future::join_all;

/// What one instance answered.
pub struct Instance {
    pub name: String,
    pub url: String,
    pub healthy: bool,
    /// `ready`, or what `/ready` said is down.
    pub readiness: String,
    pub ready: bool,
    /// `pinchwork_consumer_pending` per consumer (NATS consumer lag).
    pub consumer_lag: Vec<(String, i64)>,
    /// `pinchwork_outbox_backlog` (api nodes).
    pub outbox_backlog: Option<i64>,
    /// `pinchwork_sse_connections` (sse relays).
    pub sse_connections: Option<i64>,
}

/// A client for the probes: short timeouts, plain http on the cluster's network.
fn client() -> reqwest::Client {
    pinchwork_common::tls::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(1))
        .build()
        .unwrap_or_default()
}

/// Reads every instance at once.
pub async fn read_all(services: &[(String, String)]) -> Vec<Instance> {
    let client = client();
    join_all(
        services
            .iter()
            .map(|(name, url)| read_one(&client, name, url)),
    )
    .await
}

async fn read_one(client: &reqwest::Client, name: &str, url: &str) -> Instance {
    let (health, ready, metrics) = tokio::join!(
        client.get(format!("{url}/health")).send(),
        client.get(format!("{url}/ready")).send(),
        client.get(format!("{url}/metrics")).send(),
    );
    let healthy = health.is_ok_and(|r| r.status().is_success());
    let (ready, readiness) = match ready {
        Ok(r) => {
            let ok = r.status().is_success();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            let text = match ok {
                true => "ready".to_string(),
                false => body["error"].as_str().unwrap_or("not ready").to_string(),
            };
            (ok, text)
        }
        Err(_) => (false, "unreachable".to_string()),
    };
    let text = match metrics {
        Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
        _ => String::new(),
    };
    let samples = parse_metrics(&text);
    Instance {
        name: name.to_string(),
        url: url.to_string(),
        healthy,
        readiness,
        ready,
        consumer_lag: samples
            .iter()
            .filter(|s| s.name == "pinchwork_consumer_pending")
            .map(|s| (s.label("consumer").unwrap_or("?").to_string(), s.value))
            .collect(),
        outbox_backlog: find(&samples, "pinchwork_outbox_backlog"),
        sse_connections: find(&samples, "pinchwork_sse_connections"),
    }
}

fn find(samples: &[Sample], name: &str) -> Option<i64> {
    samples.iter().find(|s| s.name == name).map(|s| s.value)
}

/// One line of the Prometheus text format.
#[derive(Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: i64,
}

impl Sample {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find_map(|(k, v)| (k == key).then_some(v.as_str()))
    }
}

/// The samples of a Prometheus text exposition (values rounded to integers;
/// comments and unparsable lines skipped).
pub fn parse_metrics(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let value = value.parse::<f64>().ok()?.round() as i64;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)),
                None => (series, Vec::new()),
            };
            Some(Sample {
                name: name.to_string(),
                labels,
                value,
            })
        })
        .collect()
}

fn parse_labels(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_lines_become_samples() {
        let text = "# HELP x y\n# TYPE pinchwork_consumer_pending gauge\n\
                    pinchwork_consumer_pending{consumer=\"webhooks\"} 7\n\
                    pinchwork_outbox_backlog 3\nbroken\n";
        let samples = parse_metrics(text);
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].label("consumer"), Some("webhooks"));
        assert_eq!(samples[0].value, 7);
        assert_eq!(find(&samples, "pinchwork_outbox_backlog"), Some(3));
    }
}
