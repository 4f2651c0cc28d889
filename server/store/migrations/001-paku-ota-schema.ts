/**
 * The paku OTA schema, column for column (paku-iot stack/postgres/ota_schema.sql, with
 * fix_firmware_version_unique_constraint.sql's composite unique index; paku-protocol-facts §3.1).
 * Written `IF NOT EXISTS` throughout so otasim can adopt an existing paku database.
 * Only PostgreSQL ≥ 15 features (PGlite is 17; the CI server is 15).
 */
export const name = 'paku-ota-schema';

export const sql = `
CREATE TABLE IF NOT EXISTS firmware_releases (
  id BIGSERIAL PRIMARY KEY,
  version TEXT NOT NULL,
  device_model TEXT NOT NULL,
  min_version TEXT,
  file_path TEXT NOT NULL,
  file_size BIGINT NOT NULL,
  checksum_sha256 TEXT NOT NULL,
  changelog TEXT,
  release_notes TEXT,
  is_signed BOOLEAN DEFAULT false,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  created_by TEXT,
  metadata JSONB
);
CREATE UNIQUE INDEX IF NOT EXISTS firmware_releases_version_model_key ON firmware_releases (version, device_model);
CREATE INDEX IF NOT EXISTS idx_firmware_releases_model_version ON firmware_releases (device_model, version DESC);
CREATE INDEX IF NOT EXISTS idx_firmware_releases_created ON firmware_releases (created_at DESC);

CREATE TABLE IF NOT EXISTS devices (
  id BIGSERIAL PRIMARY KEY,
  device_id TEXT NOT NULL UNIQUE,
  mac_address TEXT UNIQUE,
  device_model TEXT NOT NULL,
  current_firmware_version TEXT,
  last_seen TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  metadata JSONB
);
CREATE INDEX IF NOT EXISTS idx_devices_device_id ON devices (device_id);
CREATE INDEX IF NOT EXISTS idx_devices_mac ON devices (mac_address);
CREATE INDEX IF NOT EXISTS idx_devices_model ON devices (device_model);

-- No foreign keys, on purpose (as upstream): status may arrive before the device is known.
CREATE TABLE IF NOT EXISTS device_update_status (
  id BIGSERIAL PRIMARY KEY,
  device_id TEXT NOT NULL,
  firmware_version TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending','downloading','downloaded','installing','success','failed','rolled_back')),
  error_message TEXT,
  progress_percent INTEGER CHECK (progress_percent >= 0 AND progress_percent <= 100),
  started_at TIMESTAMPTZ,
  completed_at TIMESTAMPTZ,
  reported_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  metadata JSONB
);
CREATE INDEX IF NOT EXISTS idx_device_update_status_device ON device_update_status (device_id, reported_at DESC);
CREATE INDEX IF NOT EXISTS idx_device_update_status_status ON device_update_status (status);
CREATE INDEX IF NOT EXISTS idx_device_update_status_version ON device_update_status (firmware_version);

CREATE TABLE IF NOT EXISTS rollout_configurations (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  firmware_version TEXT NOT NULL,
  device_model TEXT NOT NULL,
  target_type TEXT NOT NULL CHECK (target_type IN ('all','group','canary','specific')),
  target_filter JSONB,
  rollout_percentage INTEGER CHECK (rollout_percentage >= 0 AND rollout_percentage <= 100),
  is_active BOOLEAN DEFAULT true,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  created_by TEXT,
  metadata JSONB
);
CREATE INDEX IF NOT EXISTS idx_rollout_configurations_active ON rollout_configurations (is_active);
CREATE INDEX IF NOT EXISTS idx_rollout_configurations_model ON rollout_configurations (device_model);
CREATE INDEX IF NOT EXISTS idx_rollout_configurations_version ON rollout_configurations (firmware_version);
COMMENT ON COLUMN rollout_configurations.target_filter IS
  'JSON filter: {"device_ids": [...]}, {"mac_addresses": [...]}, {"groups": [...]} or {"group": "production"}';

CREATE TABLE IF NOT EXISTS ota_events (
  id BIGSERIAL PRIMARY KEY,
  event_type TEXT NOT NULL CHECK (event_type IN ('firmware_uploaded','rollout_created','rollout_updated','update_started','update_completed','update_failed','rollback_initiated')),
  device_id TEXT,
  firmware_version TEXT,
  rollout_id BIGINT,
  event_data JSONB,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  created_by TEXT
);
CREATE INDEX IF NOT EXISTS idx_ota_events_type ON ota_events (event_type, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_ota_events_device ON ota_events (device_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_ota_events_version ON ota_events (firmware_version, created_at DESC);
`;
