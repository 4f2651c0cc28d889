/** The HTTP module's public door. */
export { createHttpApp, JSON_BODY_LIMIT, type HttpApp, type RouteInfo } from './app.js';
export type { HttpDeps } from './deps.js';
export { createMetrics, type ServerMetrics } from './metrics.js';
export { API_KEY_HEADER, apiKeyCheck, deviceToken, DEVICE_ID_HEADER, DEVICE_TOKEN_HEADER } from './auth.js';
export { chipForModel, type ModelChip } from './models.js';
export { downloadPath } from './routes/check.js';
