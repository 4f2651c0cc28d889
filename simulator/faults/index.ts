/**
 * simulator/faults: fault profiles as data and the pure, seeded per-device decisions drawn from them.
 */
export * from './profile.js';
export * from './decide.js';
export * from './rng.js';
export * from './load.js';
