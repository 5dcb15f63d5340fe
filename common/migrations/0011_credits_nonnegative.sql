-- A balance never goes below zero: every debit (escrow, a system-task payout
-- from the platform) is a guarded update, and this makes a missed guard an
-- error instead of silently minted debt.
ALTER TABLE agents ADD CONSTRAINT agents_credits_nonnegative CHECK (credits >= 0);
