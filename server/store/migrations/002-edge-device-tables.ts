/**
 * The edge tables the paku collector writes (paku-iot stack/postgres/edge_devices_schema.sql;
 * paku-protocol-facts §3.1 "Related tables"): every `{prefix}/edge/{id}/status` payload is kept
 * raw in `edge_device_status`, which the seeds' edge Grafana dashboard reads.
 */
export const name = 'edge-device-tables';

export const sql = `
CREATE TABLE IF NOT EXISTS edge_device_configs (
  id BIGSERIAL PRIMARY KEY,
  site_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  config JSONB NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (site_id, device_id)
);
CREATE INDEX IF NOT EXISTS idx_edge_device_configs_device ON edge_device_configs (site_id, device_id);
CREATE INDEX IF NOT EXISTS idx_edge_device_configs_config ON edge_device_configs USING GIN (config);

CREATE TABLE IF NOT EXISTS edge_device_status (
  id BIGSERIAL PRIMARY KEY,
  site_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  status JSONB NOT NULL,
  ts TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS idx_edge_device_status_device_ts ON edge_device_status (site_id, device_id, ts DESC);
CREATE INDEX IF NOT EXISTS idx_edge_device_status_status ON edge_device_status USING GIN (status);
`;
