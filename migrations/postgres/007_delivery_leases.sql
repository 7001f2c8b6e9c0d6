-- Retry now: a pending delivery waiting for its next attempt may be made due at once, but one a
-- dispatcher has claimed and may be sending right now may not (it would go out twice, and the two
-- outcomes would race for one attempt number). Claiming sets leased_until to the claim's lease; an
-- outcome or a release clears it, and a lease that ran out (a crashed dispatcher) counts as none.
ALTER TABLE deliveries ADD COLUMN leased_until BIGINT;
