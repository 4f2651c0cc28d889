/** The protocol module's public door: topic names, payload schemas, error classes. Pure. */
export * from './topics.js';
export * from './payloads.js';
export * from './errors.js';
