//! Reading a service's `/metrics` and `/ready` in tests. Every service of one test process
//! shares one recorder, so tests assert "present and at least", never equality.

use std::time::Duration;

/// A sample's label pairs.
pub type Labels = Vec<(String, String)>;

/// How long [`wait_for`] polls before failing.
const PATIENCE: Duration = Duration::from_secs(30);

/// One scrape of a Prometheus text endpoint.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The body as served.
    pub text: String,
}

/// GETs `<base>/metrics`; panics unless it answers 200 in the Prometheus text format.
pub async fn scrape(base: &str) -> Scrape {
    pinchwork_common::tls::install_crypto_provider();
    let resp = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("GET /metrics");
    assert_eq!(resp.status().as_u16(), 200, "GET {base}/metrics");
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "content type {content_type}"
    );
    Scrape {
        text: resp.text().await.expect("metrics body"),
    }
}

/// GETs `<base>/ready`: its status and JSON body.
pub async fn ready(base: &str) -> (u16, serde_json::Value) {
    pinchwork_common::tls::install_crypto_provider();
    let resp = reqwest::get(format!("{base}/ready"))
        .await
        .expect("GET /ready");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON /ready body"))
}

/// Polls `<base>/health` until it answers a success (a process the test
/// started is up); panics after `limit`.
pub async fn wait_healthy(base: &str, limit: Duration) {
    pinchwork_common::tls::install_crypto_provider();
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let health = http.get(format!("{base}/health")).send().await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{base} never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Scrapes `base` until the sum of `name{labels}` reaches `min`; returns the
/// scrape that showed it. Panics (with the last scrape) after a generous wait.
pub async fn wait_for(base: &str, name: &str, labels: &[(&str, &str)], min: f64) -> Scrape {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let scrape = scrape(base).await;
        if scrape.value(name, labels).is_some_and(|v| v >= min) {
            return scrape;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}{labels:?} never reached {min} at {base}:\n{}",
            scrape.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Scrape {
    /// The sum of the samples of `name` whose labels include every pair of
    /// `labels`; `None` when no sample matches.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples(name)
            .filter(|(sample, _)| {
                labels
                    .iter()
                    .all(|(k, v)| sample.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .map(|(_, value)| value)
            .reduce(|a, b| a + b)
    }

    /// The label sets and values of every sample of `name`.
    pub fn samples<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (Labels, f64)> + 'a {
        self.text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(parse_line)
            .filter(move |(n, _, _)| n == name)
            .map(|(_, labels, value)| (labels, value))
    }
}

/// `name{k="v",…} value` → its parts; `None` for anything else.
fn parse_line(line: &str) -> Option<(String, Labels, f64)> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next()?;
            match c {
                '}' => {
                    rest = &inner[i + 1..];
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    chars.next().filter(|(_, q)| *q == '"')?;
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => value.push(chars.next()?.1),
                            c => value.push(c),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                c => key.push(c),
            }
        }
    }
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some((name, labels, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_braces_in_label_values_parse() {
        let scrape = Scrape {
            text: "# TYPE x counter\n\
                   x{route=\"/v1/tasks/{task_id}\",status=\"200\"} 2\n\
                   x{route=\"/v1/me\",status=\"200\"} 3\n\
                   y 1.5\n"
                .into(),
        };
        assert_eq!(scrape.value("x", &[("status", "200")]), Some(5.0));
        assert_eq!(
            scrape.value("x", &[("route", "/v1/tasks/{task_id}")]),
            Some(2.0)
        );
        assert_eq!(scrape.value("y", &[]), Some(1.5));
        assert_eq!(scrape.value("x", &[("status", "500")]), None);
    }
}
