//! Latency samples, percentiles and the markdown report.

use std::{collections::BTreeMap, time::Duration};

/// Latency samples per endpoint (or per kind of measurement).
#[derive(Default)]
pub struct Samples(BTreeMap<String, Vec<Duration>>);

impl Samples {
    /// Records one measurement under `name`.
    pub fn add(&mut self, name: &str, took: Duration) {
        match self.0.get_mut(name) {
            Some(v) => v.push(took),
            None => {
                self.0.insert(name.to_string(), vec![took]);
            }
        }
    }

    /// Moves every sample of `other` into this set.
    pub fn merge(&mut self, other: Samples) {
        for (k, mut v) in other.0 {
            self.0.entry(k).or_default().append(&mut v);
        }
    }

    /// How many samples `name` has.
    pub fn count(&self, name: &str) -> usize {
        self.0.get(name).map_or(0, Vec::len)
    }

    /// The `p` quantile (0..=1) of `name` in milliseconds, if it has samples.
    pub fn percentile_ms(&mut self, name: &str, p: f64) -> Option<f64> {
        let v = self.0.get_mut(name)?;
        v.sort_unstable();
        percentile(v, p)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let idx = (last as f64 * p).round() as usize;
    Some(sorted[idx].as_secs_f64() * 1000.0)
}

/// What the run printed so far: one summary row per scenario, then latency
/// tables; and the figures kept for `--json` (what `ops/compare` reads).
#[derive(Default)]
pub struct Report {
    details: Vec<(String, Samples)>,
    figures: serde_json::Map<String, serde_json::Value>,
}

impl Report {
    /// Prints the title and the head of the summary table.
    pub fn start(base: &str) -> Self {
        println!("# pinchwork-bench against {base}\n");
        println!("| scenario | result |\n|---|---|");
        Self::default()
    }

    /// Prints one summary row at once (so a long run shows progress).
    pub fn row(&self, scenario: &str, result: &str) {
        println!("| {scenario} | {result} |");
    }

    /// Keeps a latency table to print after the summary.
    pub fn detail(&mut self, title: impl Into<String>, samples: Samples) {
        self.details.push((title.into(), samples));
    }

    /// Keeps one figure under `name` for the JSON summary.
    pub fn figure(&mut self, name: impl Into<String>, value: f64) {
        self.figures.insert(name.into(), serde_json::json!(value));
    }

    /// Prints a table of rows under a heading (e.g. a CPU profile).
    pub fn table(&self, title: &str, head: &[&str], rows: &[Vec<String>]) {
        println!("\n{title}\n\n| {} |", head.join(" | "));
        println!("|{}", "---|".repeat(head.len()));
        for row in rows {
            println!("| {} |", row.join(" | "));
        }
    }

    /// Prints every kept latency table; writes the figures to `json` if given.
    pub fn finish(self, json: Option<&std::path::Path>) -> anyhow::Result<()> {
        if let Some(path) = json {
            std::fs::write(path, serde_json::to_vec_pretty(&self.figures)?)?;
        }
        for (title, mut samples) in self.details {
            println!(
                "\n{title}\n\n| measured | samples | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|---:|"
            );
            for (name, v) in samples.0.iter_mut() {
                v.sort_unstable();
                let p = |q| percentile(v, q).unwrap_or(0.0);
                println!(
                    "| {name} | {} | {:.2} | {:.2} | {:.2} |",
                    v.len(),
                    p(0.50),
                    p(0.95),
                    p(0.99)
                );
            }
        }
        Ok(())
    }
}
