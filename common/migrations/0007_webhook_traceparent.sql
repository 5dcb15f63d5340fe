-- The trace context of the event a delivery was queued from, so the POST
-- (possibly by another instance, after retries) continues the same trace.
ALTER TABLE webhook_deliveries ADD COLUMN traceparent text;
