-- GET /v1/deliveries filtered by status or by endpoint walked the tenant's whole log newest first,
-- keeping the rows that matched: with 4 million deliveries, 0.2 % of them failed, a page of failed
-- ones read 105,000 rows (160 ms on PostgreSQL; on SQLite, on the event loop), and a healthy
-- service, where failures are rarest, read all of it. Each filter now has an index in the list's
-- order (ids sort by creation time); the endpoint's index keeps status in second place for the
-- circuit breaker's and the replay's writes (endpoint and status).
DROP INDEX deliveries_by_endpoint;
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, status, id) WHERE endpoint_id IS NOT NULL;
CREATE INDEX deliveries_by_endpoint_log ON deliveries (endpoint_id, id) WHERE endpoint_id IS NOT NULL;
CREATE INDEX deliveries_by_tenant_status ON deliveries (tenant_id, status, id);
