/**
 * simulator/esp32: the public door of the pure, byte-exact ESP32 OTA core. Everything a caller
 * outside this folder may use is re-exported here; the other modules are internals.
 */

// Chips and app images.
export * from './chips.js';
export * from './app-image.js';
export { APP_DESC_SIZE, encodeAppDesc, type AppDescFields } from './app-desc.js';
export * from './image-builder.js';

// Partition tables.
export * from './partition-table.js';
export * from './partition-csv.js';
export * from './partition-verify.js';

// Secure Boot v2.
export * from './secure-boot.js';
export { secureBootBlocks, type ResolvedSecureBoot, type SecureBootConfig } from './signature-policy.js';

// Flash, otadata, eFuse.
export * from './flash.js';
export * from './flash-geometry.js';
export { seededRng, type PowerCut, type PowerCutOptions, type Rng } from './power-cut.js';
export * from './otadata.js';
export * from './otadata-store.js';
export * from './efuse.js';
export { inspectFlash, type ErrorInfo, type FlashInspectOptions, type FlashInspection, type OtadataCopyReport, type OtadataReport, type OtadataWrite } from './flash-inspect.js';
export { ImagePool, memoOnBuffer, sha256Hex } from './image-pool.js';

// The device: configuration, provisioning, bootloader, OTA API.
export * from './esp32-config.js';
export * from './provision.js';
export * from './bootloader.js';
export { OTA_SIZE_UNKNOWN, OTA_WITH_SEQUENTIAL_WRITES } from './ota-ops.js';
export { appPartitionCount } from './ota-select.js';
export * from './esp32.js';
