/**
 * Fuzz targets for the byte parsers of the ESP32 core: app-image verify, partition table (binary
 * and CSV), otadata as the bootloader reads it, and the Secure Boot v2 signature sector. Each
 * starts from real seeds (Espressif's binaries when the fixtures folder is present, plus images,
 * tables and signatures the project's own builders make) and mutates them.
 *
 * Where a parser guards its bytes with a checksum, half the mutants get the checksum recomputed
 * after editing (`fix`), as a forger or a buggy tool would, so the fuzz reaches the checks behind
 * it instead of stopping at the first mismatch.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { EspError } from '../../protocol/errors.js';
import { inspectImage, verifyImage } from '../../simulator/esp32/app-image.js';
import { CHIP_NAMES, type ChipName } from '../../simulator/esp32/chips.js';
import { buildAppImage } from '../../simulator/esp32/image-builder.js';
import { decodePartitionTable, encodePartitionTable, PARTITION_ENTRY_SIZE, PARTITION_MAGIC_MD5 } from '../../simulator/esp32/partition-table.js';
import { decodeCsvBytes, formatPartitionCsv, parsePartitionCsv } from '../../simulator/esp32/partition-csv.js';
import { verifyPartitionTable } from '../../simulator/esp32/partition-verify.js';
import { activeOtaCopy, decodeOtaEntry, makeOtaEntry, encodeOtaEntry, OtaImgState, planSelectSlot, slotForSeq } from '../../simulator/esp32/otadata.js';
import { Flash } from '../../simulator/esp32/flash.js';
import { Efuse } from '../../simulator/esp32/efuse.js';
import { resolveEsp32Config } from '../../simulator/esp32/esp32-config.js';
import { runBootloader } from '../../simulator/esp32/bootloader.js';
import { keyDigest, signImage, signatureSectorOffset } from '../../simulator/esp32/secure-boot.js';
import { parseSignatureSector, SIG_BLOCK_COUNT, SIG_BLOCK_SIZE, SIG_CRC_OFFSET } from '../../simulator/esp32/secure-boot-block.js';
import { checkSignedImage } from '../../simulator/esp32/secure-boot-verify.js';
import { target, type FuzzTarget } from './engine.js';
import { applyLineEdits, bytesInput, caseBytes, lineEditArb } from './mutate.js';

/** Read a fixture if the folder has it. */
function maybe(dir: string | undefined, rel: string): Uint8Array | undefined {
  if (dir === undefined) return undefined;
  const p = join(dir, rel);
  return existsSync(p) ? new Uint8Array(readFileSync(p)) : undefined;
}

const present = <T>(xs: ReadonlyArray<T | undefined>): T[] => xs.filter((x): x is T => x !== undefined);

/** A two-slot OTA layout (facts: the Arduino default 8 MB table's shape, shrunk to 64 KiB slots). */
export const OTA_CSV = `# Name, Type, SubType, Offset, Size, Flags
nvs,      data, nvs,     0x9000,  0x4000,
otadata,  data, ota,     0xd000,  0x2000,
phy_init, data, phy,     0xf000,  0x1000,
ota_0,    app,  ota_0,   0x10000, 0x10000,
ota_1,    app,  ota_1,   0x20000, 0x10000,
`;

const FACTORY_CSV = `nvs, data, nvs, , 0x6000,
phy_init, data, phy, , 0x1000,
factory, app, factory, 0x10000, 1M,
storage, data, spiffs, , 64K, readonly
`;

/** The seeds every ESP32 target starts from. `fixturesDir` adds Espressif's own binaries. */
export interface Esp32Corpus {
  readonly apps: readonly Uint8Array[];
  readonly tables: readonly Uint8Array[];
  readonly csvs: readonly Uint8Array[];
  /** 8 KiB otadata partitions. */
  readonly otadata: readonly Uint8Array[];
  /** Signed images and the length of the image inside each (its signature sector follows). */
  readonly signed: ReadonlyArray<{ readonly bytes: Uint8Array; readonly imageLength: number; readonly keyDigest: Uint8Array }>;
}

function otadataSector(seq0: number, state0: number, seq1: number | null, state1: number = OtaImgState.UNDEFINED): Uint8Array {
  const out = new Uint8Array(0x2000).fill(0xff);
  out.set(encodeOtaEntry(makeOtaEntry(seq0, state0)), 0);
  if (seq1 !== null) out.set(encodeOtaEntry(makeOtaEntry(seq1, state1)), 0x1000);
  return out;
}

/** Build the corpus (a second or two: it signs with an RSA-3072 and an ECDSA P-256 key). */
export function esp32Corpus(fixturesDir?: string): Esp32Corpus {
  const enc = new TextEncoder();
  const apps = [
    buildAppImage({ chip: 'esp32', version: '1.0.0', size: 4096 }),
    buildAppImage({ chip: 'esp32s3', version: '2.0.0-rc.1', size: 12 * 1024, secureVersion: 3 }),
    buildAppImage({ chip: 'esp32c3', version: 'v9', size: 2048, projectName: 'fuzz' }),
    ...present([
      maybe(fixturesDir, 'app/idf-v5.2.2_esp32_hello_world.bin'),
      maybe(fixturesDir, 'app/espflash_esp32_esp-hal-blinky_no-app-desc.bin'),
      maybe(fixturesDir, 'bootloader/esptool-test_esp32_bootloader_no-sha256.bin'),
    ]),
  ];
  const csvTexts = [OTA_CSV, FACTORY_CSV];
  const csvs = [
    ...csvTexts.map((t) => enc.encode(t)),
    ...present([maybe(fixturesDir, 'partition/idf-default-singleapp_partitions_singleapp.csv'), maybe(fixturesDir, 'partition/arduino-default_8MB.csv')]),
  ];
  const tables = [
    ...csvTexts.map((t) => encodePartitionTable(parsePartitionCsv(t))),
    encodePartitionTable(parsePartitionCsv(OTA_CSV, { md5: false })),
    ...present([maybe(fixturesDir, 'partition/idf-default-singleapp_partition-table.bin'), maybe(fixturesDir, 'partition/arduino-default_8MB_partitions.bin')]),
  ];
  const otadata = [
    otadataSector(1, OtaImgState.VALID, null),
    otadataSector(1, OtaImgState.VALID, 2, OtaImgState.PENDING_VERIFY),
    otadataSector(5, OtaImgState.INVALID, 4, OtaImgState.VALID),
    otadataSector(0xfffffffe, OtaImgState.NEW, 0, OtaImgState.ABORTED),
    new Uint8Array(0x2000).fill(0xff),
    ...present([maybe(fixturesDir, 'otadata/arduino_boot_app0.bin')]),
  ];
  const signed: Array<{ bytes: Uint8Array; imageLength: number; keyDigest: Uint8Array }> = [];
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  for (const [key, chip] of [[ec, 'esp32c3'], [rsa, 'esp32']] as const) {
    const img = buildAppImage({ chip, version: '3.0.0', size: 4096 });
    signed.push({ bytes: signImage(img, key), imageLength: img.length, keyDigest: keyDigest(key) });
  }
  const sbBl = maybe(fixturesDir, 'bootloader/esptool-test_esp32_bootloader_signed-sbv2-rsa.bin');
  const sbPem = maybe(fixturesDir, 'bootloader/esptool-test_rsa_secure_boot_signing_pubkey.pem');
  if (sbBl !== undefined && sbPem !== undefined) signed.push({ bytes: sbBl, imageLength: 0x8000, keyDigest: keyDigest(sbPem) });
  return { apps, tables, csvs, otadata, signed };
}

// ---------------------------------------------------------------------------------------------
// Repairs: recompute what guards the bytes, so the checks behind it run.

/** Rewrite the checksum byte and the appended SHA-256 where the image walk finds them. */
export function repairImage(b: Uint8Array): void {
  const first = inspectImage(b);
  const last = first.segments.at(-1);
  if (first.checksum !== null && !first.checksum.ok && last !== undefined) {
    const at = Math.ceil((last.dataOffset + last.length + 1) / 16) * 16 - 1;
    if (at < b.length) b[at] = first.checksum.computed;
  }
  const second = inspectImage(b);
  if (second.sha256 !== null && second.sha256.appended !== null && !second.sha256.ok && second.size !== null && second.size <= b.length) {
    b.set(createHash('sha256').update(b.subarray(0, second.size - 32)).digest(), second.size - 32);
  }
}

/** Rewrite the MD5 entry's digest over the entries before it. */
export function repairTable(b: Uint8Array): void {
  for (let at = 0; at + PARTITION_ENTRY_SIZE <= b.length; at += PARTITION_ENTRY_SIZE) {
    if (((b[at] ?? 0) | ((b[at + 1] ?? 0) << 8)) === PARTITION_MAGIC_MD5) {
      b.set(createHash('md5').update(b.subarray(0, at)).digest(), at + 16);
      return;
    }
  }
}

/** Rewrite each otadata copy's CRC over its seq. */
export function repairOtadata(b: Uint8Array): void {
  for (const at of [0, 0x1000]) {
    if (at + 32 > b.length) continue;
    const e = decodeOtaEntry(b.subarray(at, at + 32));
    b.set(encodeOtaEntry(makeOtaEntry(e.seq, e.state, e.label)), at);
  }
}

/** Rewrite the CRC of each of the 3 blocks of the signature sector at `sector`. */
export function repairSignatureBlocks(b: Uint8Array, sector: number): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < SIG_BLOCK_COUNT; i++) {
    const at = sector + i * SIG_BLOCK_SIZE;
    if (at + SIG_BLOCK_SIZE > b.length) return;
    dv.setUint32(at + SIG_CRC_OFFSET, crc32(b.subarray(at, at + SIG_CRC_OFFSET)) >>> 0, true);
  }
}

// ---------------------------------------------------------------------------------------------
// Targets

const chipOpt = fc.option(fc.constantFrom<ChipName>(...CHIP_NAMES), { nil: undefined });

/** `verifyImage` (ESP-IDF esp_image_verify) and `inspectImage`, which must agree. */
export function appImageTarget(c: Esp32Corpus) {
  const arb = fc.record({
    input: bytesInput(c.apps, { max: 5 }),
    chip: chipOpt,
    partitionSize: fc.option(fc.oneof(fc.constantFrom(0x10000, 0x100000, 0x1000000, 0x1000001), fc.nat({ max: 0x2000000 })), { nil: undefined }),
    bootloader: fc.boolean(),
  });
  return target('app-image', arb, (x) => {
    const { bytes, fix } = caseBytes(c.apps, x.input);
    if (fix) repairImage(bytes);
    const opts = { ...(x.chip === undefined ? {} : { chip: x.chip }), ...(x.partitionSize === undefined ? {} : { partitionSize: x.partitionSize }), bootloader: x.bootloader };
    const seen = inspectImage(bytes, opts);
    let verified: string;
    try {
      const info = verifyImage(bytes, opts);
      verified = info.app === null ? 'ok:no-app-desc' : 'ok';
    } catch (e) {
      if (!(e instanceof EspError)) throw e;
      if (seen.valid || seen.error?.code !== e.code) return `crash:inspectImage says ${seen.error?.code ?? 'valid'}, verifyImage threw ${e.code}`;
      throw e;
    }
    if (!seen.valid) return `crash:verifyImage passed, inspectImage says ${seen.error?.code ?? '?'}`;
    return verified;
  });
}

/** `decodePartitionTable` (esp_partition_table_verify), the generator's rules, and a re-encode round trip. */
export function partitionTableTarget(c: Esp32Corpus) {
  const arb = fc.record({
    input: bytesInput(c.tables, { max: 4, noise: 0x1200 }),
    flashSize: fc.option(fc.constantFrom(0x100000, 0x400000, 0x800000, 0), { nil: undefined }),
  });
  return target('partition-table', arb, (x) => {
    const { bytes, fix } = caseBytes(c.tables, x.input);
    if (fix) repairTable(bytes);
    const t = decodePartitionTable(bytes, x.flashSize === undefined ? {} : { flashSize: x.flashSize });
    const problems = verifyPartitionTable(t);
    // What decodes must re-encode to a table that decodes to the same partitions.
    const again = decodePartitionTable(encodePartitionTable(t));
    if (JSON.stringify(again.partitions) !== JSON.stringify(t.partitions)) return 'crash:re-encoded table decodes differently';
    return problems.length === 0 ? 'ok' : 'ok:generator-would-refuse';
  });
}

/** CSV file bytes → `parsePartitionCsv` (gen_esp32part.py), and the binary it encodes to. */
export function partitionCsvTarget(c: Esp32Corpus) {
  const tokens = ['app', 'data', 'ota_0', 'ota_1', 'factory', 'nvs', 'ota', 'phy', 'spiffs', 'fat', 'test', '0x10000', '1M', '4K',
    '-1', '0', '0x', '$X', '${Y}', 'readonly', 'encrypted', ',', '#', '"', '\t', ' ', '0xffffffff', '0b101', '0o17', 'bootloader',
    'partition_table', 'primary', 'tee_0', '𝔘', '\u0000', '99999999999999999999'];
  const line = fc.array(fc.constantFrom(...tokens), { maxLength: 8 }).map((t) => t.join(','));
  const grammar = fc.array(line, { minLength: 1, maxLength: 12 }).map((ls) => new TextEncoder().encode(ls.join('\n')));
  const texts = c.csvs.map((b) => new TextDecoder().decode(b));
  // Row edits keep the first 1–4 fields and replace the rest of the row with a token.
  const rowEdit = fc.oneof(...[1, 2, 3, 4].map((n) => lineEditArb(tokens, new RegExp(`^(?:[^,\\n]*,){${n}}\\s*`))));
  const rows = fc.record({ seed: fc.nat({ max: texts.length - 1 }), edits: fc.array(rowEdit, { minLength: 1, maxLength: 3 }) })
    .map(({ seed, edits }) => ({ kind: 'noise' as const, bytes: new TextEncoder().encode(applyLineEdits(texts, seed, edits)) }));
  const arb = fc.record({
    input: fc.oneof(
      { weight: 2, arbitrary: bytesInput(c.csvs, { max: 6, noise: 512 }) },
      { weight: 3, arbitrary: rows },
      { weight: 1, arbitrary: grammar.map((bytes) => ({ kind: 'noise' as const, bytes })) },
    ),
    verify: fc.boolean(),
    env: fc.dictionary(fc.constantFrom('X', 'Y', 'Z'), fc.string({ maxLength: 12 }), { maxKeys: 3 }),
  });
  return target('partition-csv', arb, (x) => {
    const { bytes } = caseBytes(c.csvs, x.input);
    const parsed = parsePartitionCsv(decodeCsvBytes(bytes), { verify: x.verify, env: x.env });
    formatPartitionCsv(parsed);
    if (!x.verify) return 'ok:unverified';
    decodePartitionTable(encodePartitionTable(parsed));
    return 'ok';
  });
}

/** The flash every otadata case is placed in (its first 192 KiB): a two-slot table and an app in each slot. */
function otaFlashTemplate(): Uint8Array {
  const flash = new Uint8Array(0x30000).fill(0xff);
  flash.set(encodePartitionTable(parsePartitionCsv(OTA_CSV)), 0x8000);
  flash.set(buildAppImage({ chip: 'esp32', version: 'slot-0', size: 4096 }), 0x10000);
  flash.set(buildAppImage({ chip: 'esp32', version: 'slot-1', size: 4096 }), 0x20000);
  return flash;
}

/** Otadata as ESP-IDF reads it: entry decode, copy selection, the next write, and the bootloader's choice. */
export function otadataTarget(c: Esp32Corpus) {
  const template = otaFlashTemplate();
  const arb = fc.record({
    input: bytesInput(c.otadata, { max: 6, focus: { start: 0, end: 32 }, noise: 0x2000 }),
    appCount: fc.integer({ min: 1, max: 16 }),
    slot: fc.nat({ max: 15 }),
    rollback: fc.boolean(),
  });
  return target('otadata', arb, (x) => {
    const { bytes, fix } = caseBytes(c.otadata, x.input);
    if (fix) repairOtadata(bytes);
    const region = new Uint8Array(0x2000).fill(0xff);
    region.set(bytes.subarray(0, 0x2000));
    const two = [decodeOtaEntry(region.subarray(0, 32)), decodeOtaEntry(region.subarray(0x1000, 0x1020))] as const;
    const active = activeOtaCopy(two);
    if (active !== -1) slotForSeq(two[active].seq, x.appCount);
    planSelectSlot(two, x.slot % x.appCount, x.appCount, x.rollback ? 'in-place' : 'other-copy');
    const image = Uint8Array.from(template);
    image.set(region, 0xd000);
    const flash = Flash.create(0x400000, [{ addr: 0, data: image }]);
    const config = resolveEsp32Config({ chip: 'esp32', rollback: x.rollback, partitionTableOffset: 0x8000 });
    const r = runBootloader({ flash, efuse: Efuse.create('esp32'), config });
    return r.ok ? `ok:boots:${r.partition.label}` : `ok:no-boot:${r.reason}`;
  }, ['ok:boots:ota_0', 'ok:boots:ota_1']);
}

/** The Secure Boot v2 signature sector: block parse, and the verifier with and without trusted keys. */
export function signatureTarget(c: Esp32Corpus) {
  const seeds = c.signed.map((s) => s.bytes);
  const firstSector = signatureSectorOffset(c.signed[0]?.imageLength ?? 0);
  const arb = fc.record({
    input: bytesInput(seeds, { max: 6, focus: { start: firstSector, end: firstSector + SIG_BLOCK_COUNT * SIG_BLOCK_SIZE }, noise: 0x3000 }),
    trust: fc.constantFrom('any', 'own', 'other', 'none'),
    maxBlocks: fc.constantFrom<1 | 2 | 3>(1, 2, 3),
  });
  return target('sbv2-signature', arb, (x) => {
    const seed = x.input.kind === 'mutant' ? c.signed[x.input.m.seed % c.signed.length] : c.signed[0];
    if (seed === undefined) throw new Error('no signed seeds');
    const { bytes, fix } = caseBytes(seeds, x.input);
    const sector = signatureSectorOffset(seed.imageLength);
    if (fix) repairSignatureBlocks(bytes, sector);
    if (bytes.length >= sector + SIG_BLOCK_COUNT * SIG_BLOCK_SIZE) parseSignatureSector(bytes.subarray(sector));
    const trusted = x.trust === 'any' ? undefined : x.trust === 'own' ? [seed.keyDigest] : x.trust === 'other' ? [new Uint8Array(32).fill(7)] : [];
    const v = checkSignedImage(bytes, seed.imageLength, { maxBlocks: x.maxBlocks, ...(trusted === undefined ? {} : { trustedKeyDigests: trusted }) });
    return v.ok ? 'ok' : `refused:${v.failure}`;
  });
}

/** Every ESP32 parser target over one corpus. */
export function esp32Targets(c: Esp32Corpus): FuzzTarget<unknown>[] {
  return [appImageTarget(c), partitionTableTarget(c), partitionCsvTarget(c), otadataTarget(c), signatureTarget(c)];
}
