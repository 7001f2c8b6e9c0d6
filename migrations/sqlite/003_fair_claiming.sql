-- Fair claiming across tenants (issue 9.4): workers take queued targets tenant by tenant, the
-- tenant whose turn is oldest first, so one tenant's thousands of queued tasks cannot make the
-- others wait behind them; and a tenant's running targets can be capped.

-- Whose target it is, on the target row itself, so "this tenant's queued targets, oldest first"
-- and "this tenant's running targets" are index lookups. Filled in for open targets only: ended
-- ones are never claimed again, and rewriting every old row would make this migration slow.
ALTER TABLE targets ADD COLUMN tenant_id TEXT;
UPDATE targets SET tenant_id = (SELECT tenant_id FROM tasks WHERE tasks.id = targets.task_id)
 WHERE status IN ('queued', 'processing');
CREATE INDEX targets_queued_by_tenant ON targets (tenant_id, created_at) WHERE status = 'queued';
CREATE INDEX targets_running_by_tenant ON targets (tenant_id) WHERE status = 'processing';

-- A tenant's place in the claim rotation: raised past every other tenant's each time a claim
-- gives it work, so the tenant served longest ago is served next.
ALTER TABLE tenants ADD COLUMN claim_turn INTEGER NOT NULL DEFAULT 0;
