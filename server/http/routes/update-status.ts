/**
 * `POST /api/device/{device_id}/update-status` (seed 002 "Report Status"; paku-protocol-facts
 * §2.4.3). Every report appends a `device_update_status` row. `started_at` is set on
 * `downloading`, `completed_at` on `success`, `failed` and — unlike the real service (facts §6.23)
 * — `rolled_back`. `success` moves the device's current version.
 *
 * The seeds' device code sends no key, so the route is open unless `statusRequiresKey` (the real
 * service requires the admin key here since commit ad9c9a4, facts §2.2).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RequestError } from '../../../protocol/errors.js';
import { DeviceId, UpdateStatusBody, type OtaEventType } from '../../../protocol/payloads.js';
import type { NewOtaEvent } from '../../store/store.js';
import type { HttpDeps } from '../deps.js';
import { parseInput } from '../validate.js';
import type { Guard } from '../auth.js';

const Params = z.strictObject({ device_id: DeviceId });

const EVENT_FOR: Partial<Record<string, OtaEventType>> = {
  success: 'update_completed', failed: 'update_failed', rolled_back: 'rollback_initiated',
};

/** Register the route; `guard` (the API-key check) runs first when the config asks for it. */
export function updateStatusRoute(app: FastifyInstance, deps: HttpDeps, guard?: Guard): void {
  const { store, metrics } = deps;
  app.post('/api/device/:device_id/update-status', {
    ...(guard === undefined ? {} : { onRequest: async (req) => guard(req) }),
  }, async (req) => {
    const { device_id } = parseInput(Params, req.params, 'path');
    const body = parseInput(UpdateStatusBody, req.body, 'body');
    if (body.device_id !== device_id) {
      throw new RequestError(422, 'OTASIM_ERR_VALIDATION',
        `body.device_id "${body.device_id}" does not match the path's device id "${device_id}"`);
    }
    const eventType = EVENT_FOR[body.status];
    const events: NewOtaEvent[] = eventType === undefined ? [] : [{
      event_type: eventType, device_id, firmware_version: body.firmware_version,
      event_data: body.status === 'failed' ? { error: body.error_message ?? null } : { source: 'http' },
    }];
    await store.ingest({
      statuses: [{
        device_id, firmware_version: body.firmware_version, status: body.status,
        error_message: body.error_message ?? null, progress_percent: body.progress_percent ?? null,
        started: body.status === 'downloading',
        completed: body.status === 'success' || body.status === 'failed' || body.status === 'rolled_back',
        mode: 'insert',
      }],
      events,
    });
    if (body.status === 'success') await store.setDeviceVersion(device_id, body.firmware_version);
    metrics.countStatusReport(body.status, 'http');
    return { status: 'ok', message: 'Status reported successfully' };
  });
}
