/** The store module's public door: the Store interface, `openStore`, and the artifact store. */
export type * from './store.js';
export { openStore } from './open.js';
export { MIGRATIONS, migrate, type Migration } from './migrate.js';
export { ArtifactStore, artifactKey, parseArtifactKey, type ArtifactInfo, type ArtifactStoreOptions, type ByteRange } from './artifacts.js';
