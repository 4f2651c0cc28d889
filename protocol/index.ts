/** The protocol module's public door: topic names, payload schemas, wire profiles, bucketing, error classes. Pure. */
export * from './topics.js';
export * from './payloads.js';
export * from './profiles.js';
export * from './bucketing.js';
export * from './errors.js';
