/**
 * Which Secure Boot v2 signature check an image verify applies, and which keys it trusts.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §3.7 step 9, §4.3.
 *
 * - The bootloader (CONFIG_SECURE_SIGNED_ON_BOOT, set by CONFIG_SECURE_BOOT_V2_ENABLED) checks each
 *   app's signature against the eFuse key digests instead of the plain appended SHA-256; the ROM
 *   does the same for the 2nd-stage bootloader.
 * - The app (CONFIG_SECURE_SIGNED_ON_UPDATE) does it in esp_ota_end, esp_ota_set_boot_partition and
 *   its silent verifies. Trusted digests come from eFuse with secure boot on; with
 *   CONFIG_SECURE_SIGNED_ON_UPDATE_NO_SECURE_BOOT they come from the running app's own signature
 *   sector, and only position 0 counts on both sides (ESP-IDF secure_boot_signatures_app.c
 *   get_secure_boot_key_digests, esp_secure_boot_get_signature_blocks_for_running_app,
 *   esp_secure_boot_verify_rsa_signature_block: `secure_boot_num_blocks = 1`).
 */
import { ConfigError } from '../../protocol/errors.js';
import type { ChipName } from './chips.js';
import type { ResolvedEsp32Config } from './esp32-config.js';
import type { Flash } from './flash.js';
import { roundUpToSector } from './flash-geometry.js';
import { parseSignatureSector, SIG_SECTOR_SIZE, type SigScheme, type VerifySignatureOptions } from './secure-boot.js';
import { verifySlot, type Region, type SlotVerifyOptions } from './slot-verify.js';

/** Secure Boot v2 as burned into a device's eFuses. */
export interface SecureBootConfig {
  /**
   * The eFuse key digests: SHA-256 of each trusted key's block key part, as `keyDigest(pem)` or
   * `espsecure digest-sbv2-public-key` gives them (32 bytes; ESP32-C2 stores the first 16).
   * 1 to 3 digests; ESP32 and ESP32-C2 hold one.
   */
  readonly trustedKeyDigests: readonly Uint8Array[];
  /** `CONFIG_SECURE_SIGNED_APPS_*`: blocks of another scheme are skipped. Default: any scheme. */
  readonly scheme?: SigScheme;
}

export interface ResolvedSecureBoot {
  readonly trustedKeyDigests: readonly Uint8Array[];
  readonly scheme: SigScheme | undefined;
}

/** `SECURE_BOOT_NUM_BLOCKS` (= SOC_EFUSE_SECURE_BOOT_KEY_DIGESTS): ESP32 (ECO3) and ESP32-C2 read block 0 only. */
export function secureBootBlocks(chip: ChipName): 1 | 3 {
  return chip === 'esp32' || chip === 'esp32c2' ? 1 : 3;
}

/** Validate and freeze (the digests are copied, so later changes to the caller's arrays do not leak in). */
export function resolveSecureBoot(chip: ChipName, c: SecureBootConfig): ResolvedSecureBoot {
  const digests = c.trustedKeyDigests;
  const max = secureBootBlocks(chip);
  if (!Array.isArray(digests) || digests.length === 0 || digests.length > max) {
    throw new ConfigError(`secureBoot.trustedKeyDigests must hold 1 to ${max} key digest(s) on ${chip}`);
  }
  for (const d of digests) {
    const ok = d instanceof Uint8Array && (d.length === 32 || (chip === 'esp32c2' && d.length === 16));
    if (!ok) {
      throw new ConfigError('a secureBoot trusted key digest is 32 bytes (SHA-256 of the key part, as keyDigest(pem) '
        + `returns)${chip === 'esp32c2' ? ', or its first 16 on esp32c2' : ''}`);
    }
  }
  return Object.freeze({ trustedKeyDigests: Object.freeze(digests.map((d) => d.slice())), scheme: c.scheme });
}

type PolicyConfig = Pick<ResolvedEsp32Config, 'chip' | 'chipRevision' | 'secureBoot' | 'signedOnUpdate'>;

function plain(config: PolicyConfig, bootloader: boolean): SlotVerifyOptions {
  return { chip: config.chip, chipRevision: config.chipRevision, ...(bootloader ? { bootloader } : {}) };
}

function efuseSignature(config: PolicyConfig, sb: ResolvedSecureBoot): VerifySignatureOptions {
  return { trustedKeyDigests: sb.trustedKeyDigests, maxBlocks: secureBootBlocks(config.chip), ...(sb.scheme ? { scheme: sb.scheme } : {}) };
}

/** How the bootloader verifies an app (or, with `bootloader`, how the ROM verifies the bootloader). */
export function bootVerifyOptions(config: PolicyConfig, bootloader = false): SlotVerifyOptions {
  const sb = config.secureBoot;
  return sb === null ? plain(config, bootloader) : { ...plain(config, bootloader), signature: efuseSignature(config, sb) };
}

/** What the running app's OTA calls act on. */
export interface UpdateVerifier {
  readonly flash: Flash;
  readonly config: PolicyConfig;
  /** The partition the running app was loaded from. */
  readonly running: Region;
}

/** How the running app verifies an image (esp_ota_end, esp_ota_set_boot_partition, silent verifies). */
export function updateVerifyOptions(ctx: UpdateVerifier): SlotVerifyOptions {
  const { config } = ctx;
  if (!config.signedOnUpdate) return plain(config, false);
  if (config.secureBoot !== null) return { ...plain(config, false), signature: efuseSignature(config, config.secureBoot) };
  return { ...plain(config, false), signature: { trustedKeyDigests: runningAppKeyDigests(ctx), maxBlocks: 1 } };
}

/**
 * CONFIG_SECURE_SIGNED_ON_UPDATE_NO_SECURE_BOOT: the key digest of the running app's signature block 0,
 * or none when the running app is unsigned (then no update can verify, as on the device, where
 * ESP-IDF logs "This app is not signed, but check signature on update is enabled").
 */
function runningAppKeyDigests(ctx: UpdateVerifier): readonly Uint8Array[] {
  const v = verifySlot(ctx.flash, ctx.running, plain(ctx.config, false));
  if (!v.ok) return [];
  const at = ctx.running.offset + roundUpToSector(v.info.size);
  if (at + SIG_SECTOR_SIZE > ctx.flash.size) return [];
  const first = parseSignatureSector(ctx.flash.view(at, SIG_SECTOR_SIZE))[0];
  return first?.status === 'valid' && first.block !== null ? [first.block.keyDigest] : [];
}
