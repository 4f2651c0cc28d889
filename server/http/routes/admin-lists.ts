/**
 * Admin read routes and device groups (seed 002 "API Reference"; paku-protocol-facts §2.4.5,
 * §2.4.7, §2.4.8): releases, devices, update status. Mounted behind the API key by app.ts.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  DeviceGroupsBody, DeviceId, DevicesQuery, ReleasesQuery, UpdateStatusQuery, limitQuery,
} from '../../../protocol/payloads.js';
import type { HttpDeps } from '../deps.js';
import { parseInput } from '../validate.js';
import { deviceView, releaseView, statusView } from '../views.js';

const DeviceParams = z.strictObject({ device_id: DeviceId });

/**
 * Longest device and status lists. The real service caps them at 500 (facts §2.4.7), but the
 * seed's own debug command asks for `limit=1000`, and rehearsal fleets run to 10,000 devices.
 */
export const MAX_LIST = 10_000;
const Devices = DevicesQuery.extend({ limit: limitQuery(50, MAX_LIST) });
const Statuses = UpdateStatusQuery.extend({ limit: limitQuery(50, MAX_LIST) });

export function adminListRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const { store } = deps;

  app.get('/api/admin/firmware/releases', async (req) => {
    const q = parseInput(ReleasesQuery, req.query, 'query');
    const rows = await store.listReleases({ limit: q.limit, ...(q.device_model === undefined ? {} : { device_model: q.device_model }) });
    return { releases: rows.map(releaseView) };
  });

  app.get('/api/admin/devices', async (req) => {
    const q = parseInput(Devices, req.query, 'query');
    const rows = await store.listDevices({ limit: q.limit, ...(q.device_model === undefined ? {} : { device_model: q.device_model }) });
    return { devices: rows.map(deviceView) };
  });

  // Groups live in devices.metadata.groups (seed 002 "Manage Device Groups"); this sets them
  // without SQL. The list replaces the device's groups.
  app.put('/api/admin/devices/:device_id/groups', async (req) => {
    const { device_id } = parseInput(DeviceParams, req.params, 'path');
    const body = parseInput(DeviceGroupsBody, req.body, 'body');
    const row = await store.setDeviceGroups(device_id, [...new Set(body.groups)]);
    return { status: 'ok', message: 'Device groups updated', device: deviceView(row) };
  });

  app.get('/api/admin/update-status', async (req) => {
    const q = parseInput(Statuses, req.query, 'query');
    const rows = await store.listStatus({
      limit: q.limit,
      ...(q.device_id === undefined ? {} : { device_id: q.device_id }),
      ...(q.firmware_version === undefined ? {} : { firmware_version: q.firmware_version }),
    });
    return { updates: rows.map(statusView) };
  });
}
