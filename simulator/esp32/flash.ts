/**
 * SPI NOR flash as ESP-IDF sees it: 4 KiB erase sectors, 256-byte program pages, erase sets bytes
 * to 0xFF, programming can only clear bits, and power can be cut at any byte of a write or erase.
 * Facts: ../shared/reference/esp-idf-ota-facts.md §6.
 *
 * Storage is sparse so that ten thousand devices can hold the same image cheaply:
 * - owned sectors live in a Map keyed by sector index, each stored *trimmed* (bytes past the
 *   array's end read 0xFF), so an otadata sector holding one 32-byte entry costs 32 bytes;
 * - read-only mappings put a shared buffer (e.g. an ImagePool image) at a sector-aligned address;
 *   the mapped sectors read the buffer, then 0xFF up to the end of the last sector. Writing to a
 *   mapped sector first copies that one sector (copy-on-write); erasing drops the mapping there.
 * A sector is owned, mapped or blank; never two of these at once.
 */
import { EspError } from '../../protocol/errors.js';
import { ERASED, PAGE_SIZE, SECTOR_SIZE, isSectorAligned, roundUpToSector } from './flash-geometry.js';
import { PowerCutter, type PowerCut, type PowerCutOptions } from './power-cut.js';

/** A shared, read-only buffer mapped at a sector-aligned flash address. */
export interface FlashMapping {
  /** Absolute flash address (a multiple of 4096). */
  readonly addr: number;
  /** The bytes at `addr`; the rest of its last sector reads 0xFF. Never written through. */
  readonly data: Uint8Array;
}

/** Running totals of mutating operations; zero-length operations are not counted. */
export interface FlashStats {
  /** Writes plus erases that reached the flash. */
  readonly ops: number;
  /** Bytes programmed (counted whether or not they changed a bit). */
  readonly bytesWritten: number;
  /** Bytes erased (4096 per sector). */
  readonly bytesErased: number;
}

/** What a device's flash costs beyond the shared buffers it maps. */
export interface FlashFootprint {
  readonly ownedSectors: number;
  /** Sum of the owned sectors' stored (trimmed) lengths. */
  readonly ownedBytes: number;
  readonly mappings: number;
}

/** Largest owned-sector prefix stored exactly; beyond it the whole sector is allocated. */
const SMALL_SECTOR = 512;

export class Flash {
  /** Flash size in bytes. */
  readonly size: number;
  #owned: Map<number, Uint8Array> | null = null;
  #maps: readonly FlashMapping[];
  #cutter: PowerCutter | null = null;
  #powered = true;
  #ops = 0;
  #written = 0;
  #erased = 0;

  private constructor(size: number, maps: readonly FlashMapping[]) {
    this.size = size;
    this.#maps = maps;
  }

  /**
   * A fully erased flash of `size` bytes (a positive multiple of 4096), optionally with shared
   * read-only `mappings` already in place (sorted, sector-aligned, non-overlapping; the array is
   * not copied, so one frozen array can serve many devices).
   */
  static create(size: number, mappings: readonly FlashMapping[] = []): Flash {
    if (!Number.isInteger(size) || size <= 0 || !isSectorAligned(size)) {
      throw new EspError('ESP_ERR_INVALID_SIZE', `flash size ${size} must be a positive multiple of 4096 bytes`);
    }
    checkMappings(size, mappings);
    return new Flash(size, mappings);
  }

  /** False after a power cut, until powerOn(). Reads still work (an inspector reads the chip). */
  get powered(): boolean {
    return this.#powered;
  }

  /** Restore power after a cut. Flash contents are whatever the cut left. */
  powerOn(): void {
    this.#powered = true;
  }

  /** Cut power now, between operations (any armed cut is dropped). */
  powerOff(): void {
    this.#powered = false;
    this.#cutter = null;
  }

  get stats(): FlashStats {
    return { ops: this.#ops, bytesWritten: this.#written, bytesErased: this.#erased };
  }

  get mappings(): readonly FlashMapping[] {
    return this.#maps;
  }

  footprint(): FlashFootprint {
    let ownedBytes = 0;
    for (const s of this.#owned?.values() ?? []) ownedBytes += s.length;
    return { ownedSectors: this.#owned?.size ?? 0, ownedBytes, mappings: this.#maps.length };
  }

  /**
   * Arm a power cut. `{ afterBytes: n }` cuts once n more bytes have been written or erased (the
   * op that would pass n applies only its first bytes up to n); `{ op: i, byte: b }` cuts inside
   * the i-th mutating op from now (0 = the next), after `b mod length` of its bytes.
   * The cut position is byte-granular for both writes and erases; Espressif's host model
   * (partition_linux.c esp_partition_fail_after) is 4-byte granular for writes and sector
   * granular for erases. A write keeps the bytes before the cut; an erase keeps the sectors
   * wholly before the cut erased and leaves the rest untouched, unless `mode: 'scramble'`, which
   * randomises the interrupted page (write) or sector (erase) with the RNG passed in.
   * The interrupted call throws EspError('ESP_ERR_FLASH_OP_FAIL') and the flash stays unpowered.
   */
  armPowerCut(at: PowerCut, opts: PowerCutOptions = {}): void {
    this.#cutter = new PowerCutter(at, opts);
  }

  /** Shorthand for `armPowerCut({ afterBytes: bytes }, opts)`. */
  cutPowerAfter(bytes: number, opts: PowerCutOptions = {}): void {
    this.armPowerCut({ afterBytes: bytes }, opts);
  }

  /** Cancel an armed power cut. */
  disarmPowerCut(): void {
    this.#cutter = null;
  }

  /** True while a cut is armed and has not fired. */
  get powerCutArmed(): boolean {
    return this.#cutter !== null;
  }

  /**
   * A copy-on-write twin for inspection: it shares the read-only mappings (so verified images stay
   * memoised) and duplicates the owned sectors; writes to either never reach the other. The copy
   * is powered, with no power cut armed and zeroed stats.
   */
  copy(): Flash {
    const twin = new Flash(this.size, this.#maps);
    if (this.#owned !== null) twin.#owned = new Map([...this.#owned].map(([k, v]) => [k, v.slice()]));
    return twin;
  }

  /** Copy `len` bytes from `addr`. Out of bounds → ESP_ERR_INVALID_SIZE. */
  read(addr: number, len: number): Uint8Array {
    this.#checkRange(addr, len, 'read');
    const out = new Uint8Array(len).fill(ERASED);
    const end = addr + len;
    for (const m of this.#maps) {
      const from = Math.max(addr, m.addr);
      const to = Math.min(end, m.addr + m.data.length);
      if (from < to) out.set(m.data.subarray(from - m.addr, to - m.addr), from - addr);
    }
    if (this.#owned) {
      for (let s = Math.floor(addr / SECTOR_SIZE); s * SECTOR_SIZE < end; s++) {
        const sec = this.#owned.get(s);
        if (!sec) continue;
        const base = s * SECTOR_SIZE;
        const from = Math.max(addr, base);
        const to = Math.min(end, base + sec.length);
        if (from < to) out.set(sec.subarray(from - base, to - base), from - addr);
      }
    }
    return out;
  }

  /**
   * The bytes at [addr, addr+len): a zero-copy subarray of a shared buffer when one mapping covers
   * the whole range, else a fresh copy. Callers must never write into the result.
   */
  view(addr: number, len: number): Uint8Array {
    this.#checkRange(addr, len, 'read');
    const m = this.#mappingCovering(addr, len);
    return m ? m.data.subarray(addr - m.addr, addr - m.addr + len) : this.read(addr, len);
  }

  /** The mapping whose first byte is at `addr`, if any. */
  mappingAt(addr: number): FlashMapping | undefined {
    return this.#maps.find((m) => m.addr === addr);
  }

  /**
   * Program `data` at `addr`: each stored byte becomes old AND new (NOR flash clears bits only;
   * ESP-IDF partition_linux.c esp_partition_write). No alignment constraint (esp_flash_write docs).
   */
  write(addr: number, data: Uint8Array): void {
    this.#checkRange(addr, data.length, 'write');
    this.#checkPowered();
    if (data.length === 0) return;
    const cut = this.#consume(data.length);
    const applied = cut ?? data.length;
    this.#written += applied;
    let src = data;
    let len = applied;
    if (cut !== null && this.#cutter?.scramble) {
      // Adversarial model (§6.7): the interrupted page keeps a random subset of its 0-bits.
      const pageEnd = Math.min(data.length, roundUpTo(addr + cut + 1, PAGE_SIZE) - addr);
      const pageStart = Math.max(0, Math.floor((addr + cut) / PAGE_SIZE) * PAGE_SIZE - addr);
      src = data.slice(0, pageEnd);
      for (let i = pageStart; i < pageEnd; i++) src[i] = (src[i] ?? ERASED) | this.#cutter.byte();
      len = pageEnd;
    }
    this.#program(addr, src.subarray(0, len));
    if (cut !== null) this.#die(`write of ${data.length} bytes at 0x${hex(addr)}`, cut);
  }

  /**
   * Erase [addr, addr+len) to 0xFF. `addr` not sector-aligned → ESP_ERR_INVALID_ARG; `len` not a
   * multiple of 4096 → ESP_ERR_INVALID_SIZE (ESP-IDF partition_target.c esp_partition_erase_range).
   */
  erase(addr: number, len: number): void {
    this.#checkRange(addr, len, 'erase');
    if (!isSectorAligned(addr)) throw new EspError('ESP_ERR_INVALID_ARG', `erase address 0x${hex(addr)} is not 4096-aligned`);
    if (!isSectorAligned(len)) throw new EspError('ESP_ERR_INVALID_SIZE', `erase length ${len} is not a multiple of 4096`);
    this.#checkPowered();
    if (len === 0) return;
    const cut = this.#consume(len);
    const whole = cut === null ? len : Math.floor(cut / SECTOR_SIZE) * SECTOR_SIZE;
    this.#erased += cut ?? len;
    this.#dropRange(addr, addr + whole);
    if (cut === null) return;
    if (this.#cutter?.scramble) this.#scrambleSector(addr + whole);
    this.#die(`erase of ${len} bytes at 0x${hex(addr)}`, cut);
  }

  /**
   * Place shared read-only `data` at sector-aligned `addr`, replacing whatever those sectors held
   * (the bytes after `data` up to its last sector's end read 0xFF). This is provisioning or
   * adoption of identical bytes, not a flash operation: it is never cut and not counted.
   */
  map(addr: number, data: Uint8Array): void {
    this.#checkRange(addr, data.length, 'map');
    if (!isSectorAligned(addr)) throw new EspError('ESP_ERR_INVALID_ARG', `mapping address 0x${hex(addr)} is not 4096-aligned`);
    if (data.length === 0) return;
    this.#dropRange(addr, addr + roundUpToSector(data.length));
    const maps = [...this.#maps, { addr, data }];
    maps.sort((a, b) => a.addr - b.addr);
    this.#maps = maps;
  }

  #program(addr: number, src: Uint8Array): void {
    const end = addr + src.length;
    for (let s = Math.floor(addr / SECTOR_SIZE); s * SECTOR_SIZE < end; s++) {
      const base = s * SECTOR_SIZE;
      const from = Math.max(addr, base);
      const to = Math.min(end, base + SECTOR_SIZE);
      const held = this.#ownSector(s, to - base);
      const sec = held.bytes;
      // Bytes at or past `held.programmed` read 0xFF, so old AND new is just new: copy them in one go.
      const split = Math.min(to, Math.max(from, base + held.programmed));
      for (let a = from; a < split; a++) sec[a - base] = (sec[a - base] ?? ERASED) & (src[a - addr] ?? ERASED);
      if (split < to) sec.set(src.subarray(split - addr, to - addr), split - base);
    }
  }

  /**
   * The owned array for sector `s`, at least `need` bytes long (copy-on-write from a mapping), and
   * how many of its leading bytes held data before this call (the rest are erased, 0xFF).
   */
  #ownSector(s: number, need: number): { bytes: Uint8Array; programmed: number } {
    this.#owned ??= new Map();
    let cur = this.#owned.get(s);
    if (!cur) {
      const base = s * SECTOR_SIZE;
      const m = this.#mappingCovering(base, 1, true);
      if (m) {
        cur = m.data.slice(base - m.addr, Math.min(m.data.length, base - m.addr + SECTOR_SIZE));
        this.#unmapRange(base, base + SECTOR_SIZE);
      }
    }
    const programmed = cur?.length ?? 0;
    if (!cur || cur.length < need) {
      const grown = new Uint8Array(need <= SMALL_SECTOR ? need : SECTOR_SIZE).fill(ERASED);
      if (cur) grown.set(cur);
      cur = grown;
    }
    this.#owned.set(s, cur);
    return { bytes: cur, programmed };
  }

  #scrambleSector(base: number): void {
    const bytes = this.read(base, SECTOR_SIZE);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (bytes[i] ?? ERASED) | (this.#cutter?.byte() ?? 0);
    this.#dropRange(base, base + SECTOR_SIZE);
    (this.#owned ??= new Map()).set(base / SECTOR_SIZE, bytes);
  }

  /** Make [start, end) (sector-aligned) blank: no owned sectors, no mappings. */
  #dropRange(start: number, end: number): void {
    if (start >= end) return;
    if (this.#owned) {
      for (let s = start / SECTOR_SIZE; s < end / SECTOR_SIZE; s++) this.#owned.delete(s);
    }
    this.#unmapRange(start, end);
  }

  #unmapRange(start: number, end: number): void {
    if (!this.#maps.some((m) => m.addr < end && start < m.addr + m.data.length)) return;
    const out: FlashMapping[] = [];
    for (const m of this.#maps) {
      const mEnd = m.addr + m.data.length;
      if (mEnd <= start || m.addr >= end) {
        out.push(m);
        continue;
      }
      if (m.addr < start) out.push({ addr: m.addr, data: m.data.subarray(0, start - m.addr) });
      if (mEnd > end) out.push({ addr: end, data: m.data.subarray(end - m.addr) });
    }
    this.#maps = out;
  }

  /** The mapping covering [addr, addr+len); with `toSectorEnd`, its 0xFF tail counts too. */
  #mappingCovering(addr: number, len: number, toSectorEnd = false): FlashMapping | undefined {
    return this.#maps.find((m) => m.addr <= addr &&
      addr + len <= m.addr + (toSectorEnd ? roundUpToSector(m.data.length) : m.data.length));
  }

  /** Count an op of `len` bytes; the byte index where power dies inside it, or null. */
  #consume(len: number): number | null {
    this.#ops++;
    return this.#cutter?.consume(len) ?? null;
  }

  #die(what: string, at: number): never {
    this.#powered = false;
    this.#cutter = null;
    throw new EspError('ESP_ERR_FLASH_OP_FAIL', `power lost during ${what} after ${at} bytes (injected power cut)`);
  }

  #checkPowered(): void {
    if (!this.#powered) {
      throw new EspError('ESP_ERR_FLASH_OP_FAIL', 'flash is unpowered after a power cut; power the device on first');
    }
  }

  #checkRange(addr: number, len: number, what: string): void {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(len) || addr < 0 || len < 0) {
      throw new EspError('ESP_ERR_INVALID_ARG', `flash ${what}: address ${addr} and length ${len} must be non-negative integers`);
    }
    if (addr + len > this.size) {
      throw new EspError('ESP_ERR_INVALID_SIZE',
        `flash ${what} of ${len} bytes at 0x${hex(addr)} runs past the end of the ${this.size}-byte flash`);
    }
  }
}

function checkMappings(size: number, maps: readonly FlashMapping[]): void {
  let prevEnd = 0;
  for (const m of maps) {
    if (!isSectorAligned(m.addr) || m.addr < prevEnd || m.addr + m.data.length > size) {
      throw new EspError('ESP_ERR_INVALID_ARG',
        `mapping at 0x${hex(m.addr)} must be 4096-aligned, sorted, non-overlapping and inside the flash`);
    }
    prevEnd = m.addr + roundUpToSector(m.data.length);
  }
}

function roundUpTo(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit;
}

function hex(n: number): string {
  return n.toString(16);
}
