//! Logging and tracing set-up shared by every binary, and the W3C trace
//! context that crosses processes (see ARCHITECTURE.md): [`current_traceparent`] is what
//! the outbox stores and NATS messages, webhook rows and webhook POSTs carry;
//! [`continue_trace`] and [`continue_from_headers`] make the receiving side's
//! span a child of it.
//!
//! Spans are exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. Those and the other standard
//! variables (`OTEL_EXPORTER_OTLP_PROTOCOL` = `http/json` (default) or
//! `http/protobuf`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_SCHEDULE_DELAY`, …)
//! are read by the OpenTelemetry SDK itself.

use std::collections::HashMap;

use async_nats::HeaderMap;
use opentelemetry::{
    Context, global,
    propagation::{Extractor, Injector},
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    runtime,
    trace::{SdkTracerProvider, span_processor_with_async_runtime::BatchSpanProcessor},
};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, filter::LevelFilter, fmt, prelude::*};

use crate::Config;

/// The standard variables that switch span export on (the first one set wins,
/// as in the SDK).
const ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// The W3C header, in HTTP requests and NATS messages alike.
pub const TRACEPARENT: &str = "traceparent";

/// Keeps span export running; dropping it flushes the spans still queued and
/// shuts the exporter down. `main` holds it until graceful shutdown is over.
#[must_use = "dropping the guard stops span export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "flushing spans at exit failed");
        }
    }
}

/// Installs the global subscriber: text or JSON logs filtered by `RUST_LOG`
/// (default `info`) and, when an OTLP endpoint is configured, export of every
/// info-level span with resource `service.name` = `service`. Sets the W3C
/// trace-context propagator. Must run inside the Tokio runtime.
pub fn init(config: &Config, service: &'static str) -> TelemetryGuard {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let endpoint = ENDPOINT_VARS
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    let provider = endpoint.as_ref().map(|_| tracer_provider(service));
    let otel = provider.as_ref().and_then(|p| p.as_ref().ok()).map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(service))
            .with_filter(LevelFilter::INFO)
    });
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = if config.log_format == "json" {
        fmt::layer().json().with_current_span(true).boxed()
    } else {
        fmt::layer().boxed()
    };
    let result = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(otel)
        .try_init();
    // A second init (tests running several services in one process) is harmless.
    drop(result);
    let provider = match provider {
        Some(Ok(provider)) => {
            tracing::info!(
                endpoint = endpoint.as_deref(),
                service,
                "exporting spans over OTLP"
            );
            Some(provider)
        }
        Some(Err(err)) => {
            tracing::error!(error = %err, "cannot build the OTLP span exporter; spans are not exported");
            None
        }
        None => None,
    };
    TelemetryGuard { provider }
}

fn tracer_provider(
    service: &'static str,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    // The exporter's reqwest client uses the workspace's rustls without a
    // built-in provider (an https collector works too).
    crate::tls::install_crypto_provider();
    let exporter = opentelemetry_otlp::SpanExporter::builder().build()?;
    // The async-runtime processor, because the exporter's HTTP client is
    // async reqwest, which needs the Tokio runtime.
    let processor = BatchSpanProcessor::builder(exporter, runtime::Tokio).build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build())
}

/// The W3C `traceparent` of the current span, when spans are being exported.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    carrier.remove(TRACEPARENT)
}

/// Makes `span` continue the trace of a W3C `traceparent` (an HTTP header, a
/// stored row). Call it before the span is first entered; an absent or
/// malformed value leaves the span a root.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(value) = traceparent {
        let carrier = HashMap::from([(TRACEPARENT.to_string(), value.to_string())]);
        set_parent(span, &carrier);
    }
}

/// Makes `span` continue the trace carried in a NATS message's headers.
pub fn continue_from_headers(span: &tracing::Span, headers: Option<&HeaderMap>) {
    if let Some(headers) = headers {
        set_parent(span, &NatsHeaders(headers));
    }
}

/// Links `span` to the trace carried in a NATS message's headers: a related
/// trace it does not belong to (a `wait` woken by another request's delivery).
pub fn link_from_headers(span: &tracing::Span, headers: Option<&HeaderMap>) {
    if let Some(headers) = headers {
        let cx = global::get_text_map_propagator(|p| p.extract(&NatsHeaders(headers)));
        // Invalid (absent) contexts are ignored.
        span.add_link(cx.span().span_context().clone());
    }
}

/// Writes the current span's trace context into outgoing NATS headers.
pub fn inject_current(headers: &mut HeaderMap) {
    let cx = tracing::Span::current().context();
    if cx.span().span_context().is_valid() {
        global::get_text_map_propagator(|p| p.inject_context(&cx, &mut NatsHeadersMut(headers)));
    }
}

fn set_parent(span: &tracing::Span, carrier: &dyn Extractor) {
    let cx: Context = global::get_text_map_propagator(|p| p.extract(carrier));
    if cx.span().span_context().is_valid() {
        // Fails only without an exporter or for a disabled span: nothing to link then.
        let _ = span.set_parent(cx);
    }
}

/// Reads trace context from `async_nats` message headers.
pub struct NatsHeaders<'a>(pub &'a HeaderMap);

impl Extractor for NatsHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

/// Writes trace context into `async_nats` message headers.
pub struct NatsHeadersMut<'a>(pub &'a mut HeaderMap);

impl Injector for NatsHeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        // The propagator only writes W3C names and values, which are valid headers.
        self.0.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn nats_headers_carry_the_w3c_context_both_ways() {
        let propagator = TraceContextPropagator::new();
        let mut incoming = HeaderMap::new();
        incoming.insert(TRACEPARENT, PARENT);
        let cx = opentelemetry::propagation::TextMapPropagator::extract(
            &propagator,
            &NatsHeaders(&incoming),
        );
        assert!(cx.span().span_context().is_valid());
        let mut outgoing = HeaderMap::new();
        opentelemetry::propagation::TextMapPropagator::inject_context(
            &propagator,
            &cx,
            &mut NatsHeadersMut(&mut outgoing),
        );
        assert_eq!(outgoing.get(TRACEPARENT).map(|v| v.as_str()), Some(PARENT));
    }

    #[test]
    fn without_an_exporter_there_is_no_traceparent() {
        let span = tracing::info_span!("no exporter");
        continue_trace(&span, Some(PARENT));
        let _entered = span.enter();
        assert_eq!(current_traceparent(), None);
    }
}
