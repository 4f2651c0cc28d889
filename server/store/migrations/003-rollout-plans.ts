/**
 * Rollout plans (issue 6): each plan owns one `rollout_configurations` row (which devices
 * `/api/firmware/check` and the orchestrator may offer to) and keeps its spec and the engine's
 * state as JSONB, so a restarted server resumes every plan in the phase it was in.
 * The extra index serves the engine's "latest report per device for this version" read.
 */
export const name = 'rollout-plans';

export const sql = `
CREATE TABLE IF NOT EXISTS rollout_plans (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  rollout_id BIGINT NOT NULL,
  parent_id BIGINT,
  kind TEXT NOT NULL DEFAULT 'plan' CHECK (kind IN ('plan', 'rollback')),
  device_model TEXT NOT NULL,
  firmware_version TEXT NOT NULL,
  spec JSONB NOT NULL,
  state JSONB NOT NULL,
  status TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS idx_rollout_plans_status ON rollout_plans (status);
CREATE INDEX IF NOT EXISTS idx_rollout_plans_model ON rollout_plans (device_model);
CREATE INDEX IF NOT EXISTS idx_device_update_status_version_device
  ON device_update_status (firmware_version, device_id, reported_at DESC, id DESC);
`;
