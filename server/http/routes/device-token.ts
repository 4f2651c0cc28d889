/**
 * `GET /api/admin/devices/{device_id}/token`: the device's token for `X-Device-Token`, for
 * provisioning (server/http/auth.ts deviceToken). Registered only when a token secret is set.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DeviceId } from '../../../protocol/payloads.js';
import { deviceToken } from '../auth.js';
import { parseInput } from '../validate.js';

const Params = z.strictObject({ device_id: DeviceId });

export function deviceTokenRoute(app: FastifyInstance, secret: string): void {
  app.get('/api/admin/devices/:device_id/token', async (req) => {
    const { device_id } = parseInput(Params, req.params, 'path');
    return { device_id, token: deviceToken(secret, device_id) };
  });
}
