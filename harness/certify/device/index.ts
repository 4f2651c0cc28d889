/** The device conformance suite (issue 8): its requirements, the run, and the mutant catalogue. */
export { certifyDevice, DeviceNotConnected, SELF_TEST_VERSION, type BenchInfo, type CertifyDeviceOptions } from './run.js';
export { DEVICE_REQUIREMENTS, type DeviceRequirement, type RequirementKey } from './requirements.js';
export { VirtualDevice, VIRTUAL_TIMINGS, type VirtualVariant, type VirtualDeviceOptions } from './virtual.js';
export { DEVICE_MUTANTS, type DeviceMutant } from './mutants.js';
export { builtImages, restampedImages, type ImageSource } from './images.js';
