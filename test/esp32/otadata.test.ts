import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Flash } from '../../simulator/esp32/flash.js';
import {
  OtaImgState, activeOtaCopy, decodeOtaEntry, encodeOtaEntry, isEntryInvalid, isEntryValid, makeOtaEntry,
  nextOtaSeq, otaSeqCrc, planSelectSlot, selectOtaCopy, slotForSeq, type OtaData,
} from '../../simulator/esp32/otadata.js';
import { readOtadata, writeOtadataCopy } from '../../simulator/esp32/otadata-store.js';
import { fixture, haveFixtures } from '../fixtures.js';

const ERASED = decodeOtaEntry(new Uint8Array(32).fill(0xff));

describe('otadata CRC (facts §8.1)', () => {
  it.each([
    [0x00000000, 0xffffffff],
    [0x00000001, 0x4743989a],
    [0x00000002, 0x55f63774],
    [0x00000003, 0xed4a5011],
    [0x00000004, 0x709d68a8],
    [0x00000005, 0xc8210fcd],
    [0xffffffff, 0x2144df1c],
  ])('crc(seq 0x%s) = binascii.crc32(le32(seq), 0xFFFFFFFF)', (seq, crc) => {
    expect(otaSeqCrc(seq)).toBe(crc);
  });

  it('is not the plain zlib CRC of the 4 bytes', () => {
    expect(otaSeqCrc(1)).not.toBe(0x99f8b879);
  });
});

describe('esp_ota_select_entry_t encoding', () => {
  it('encodes the §8.1 example byte for byte (seq 1, NEW)', () => {
    const bytes = encodeOtaEntry(makeOtaEntry(1, OtaImgState.NEW));
    expect(Buffer.from(bytes).toString('hex')).toBe(`01000000${'ff'.repeat(20)}000000009a984347`);
    expect(Buffer.from(encodeOtaEntry(makeOtaEntry(1, OtaImgState.UNDEFINED))).toString('hex').slice(48, 56)).toBe('ffffffff');
  });

  it('round-trips any entry', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) => {
      expect(encodeOtaEntry(decodeOtaEntry(b))).toEqual(b);
    }), { numRuns: 1000 });
  });

  it('refuses fewer than 32 bytes with ESP_ERR_INVALID_SIZE', () => {
    expect(() => decodeOtaEntry(new Uint8Array(31))).toThrow(expect.objectContaining({ code: 'ESP_ERR_INVALID_SIZE' }));
  });
});

describe('predicates (facts §2.5)', () => {
  it('invalid ignores the CRC; valid needs it', () => {
    const badCrc = { ...makeOtaEntry(3, OtaImgState.VALID), crc: 0 };
    expect(isEntryInvalid(badCrc)).toBe(false);
    expect(isEntryValid(badCrc)).toBe(false);
    expect(isEntryInvalid(ERASED)).toBe(true);
    expect(isEntryInvalid(makeOtaEntry(2, OtaImgState.ABORTED))).toBe(true);
    expect(isEntryInvalid(makeOtaEntry(2, OtaImgState.INVALID))).toBe(true);
    expect(isEntryValid(makeOtaEntry(2, OtaImgState.PENDING_VERIFY))).toBe(true);
    expect(isEntryValid(makeOtaEntry(2, 0x77))).toBe(true);
  });

  it('seq 0 with an erased CRC field passes the CRC test (code-derived edge)', () => {
    expect(isEntryValid({ ...makeOtaEntry(0, OtaImgState.UNDEFINED), crc: 0xffffffff })).toBe(true);
  });

  it('select: larger seq wins, unsigned, tie to copy 0; max=false picks the smaller', () => {
    const two = (a: number, b: number): OtaData => [makeOtaEntry(a, 2), makeOtaEntry(b, 2)];
    expect(selectOtaCopy(two(1, 2), [true, true])).toBe(1);
    expect(selectOtaCopy(two(0x80000000, 2), [true, true])).toBe(0);
    expect(selectOtaCopy(two(5, 5), [true, true])).toBe(0);
    expect(selectOtaCopy(two(1, 2), [true, true], false)).toBe(0);
    expect(selectOtaCopy(two(1, 2), [false, false])).toBe(-1);
    expect(activeOtaCopy([makeOtaEntry(7, 2), ERASED])).toBe(0);
    expect(activeOtaCopy([makeOtaEntry(7, OtaImgState.ABORTED), makeOtaEntry(6, 2)])).toBe(1);
  });

  it('slot = (seq − 1) mod n in uint32, so seq 0 wraps', () => {
    expect(slotForSeq(1, 2)).toBe(0);
    expect(slotForSeq(4, 2)).toBe(1);
    expect(slotForSeq(0, 2)).toBe(0xffffffff % 2);
    expect(slotForSeq(0, 3)).toBe(0xffffffff % 3);
  });
});

describe('new_seq and the copy written (facts §2.6, §8.1)', () => {
  it('matches the §8.1 table', () => {
    const table: Record<number, number[][]> = {
      2: [[1, 2], [3, 2], [3, 4], [5, 4], [5, 6], [7, 6]],
      3: [[1, 2, 3], [4, 2, 3], [4, 5, 3], [4, 5, 6], [7, 5, 6], [7, 8, 6]],
    };
    for (const [n, rows] of Object.entries(table)) {
      rows.forEach((row, i) => row.forEach((want, slot) => expect(nextOtaSeq(i + 1, slot, Number(n))).toBe(want)));
    }
  });

  it('new seq selects the target slot and never goes below cur (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 0x7fffffff }), fc.integer({ min: 1, max: 16 }), fc.nat(15), (cur, n, s) => {
      const slot = s % n;
      const seq = nextOtaSeq(cur, slot, n);
      expect(seq).toBeGreaterThanOrEqual(cur);
      expect(seq - cur).toBeLessThan(n);
      if (seq !== 0) expect(slotForSeq(seq, n)).toBe(slot);
    }), { numRuns: 1000 });
  });

  it('writes the other copy (≤ v5.5), or the active copy in place for the same slot (v6.0+)', () => {
    const two: OtaData = [makeOtaEntry(3, OtaImgState.VALID), makeOtaEntry(2, OtaImgState.VALID)];
    expect(planSelectSlot(two, 1, 2, 'other-copy')).toEqual({ copy: 1, seq: 4 });
    expect(planSelectSlot(two, 0, 2, 'other-copy')).toEqual({ copy: 1, seq: 3 });
    expect(planSelectSlot(two, 0, 2, 'in-place')).toEqual({ copy: 0, seq: 3 });
    expect(planSelectSlot([ERASED, ERASED], 1, 2, 'other-copy')).toEqual({ copy: 0, seq: 2 });
  });

  it('reproduces the §2.6 worked sequence on flash (n = 2, fresh otadata)', () => {
    const region = { offset: 0xd000, size: 0x2000 };
    const flash = Flash.create(0x10000);
    const writes: string[] = [];
    for (const slot of [0, 1, 0, 1, 0]) {
      const plan = planSelectSlot(readOtadata(flash, region), slot, 2, 'other-copy');
      writeOtadataCopy(flash, region, plan.copy, makeOtaEntry(plan.seq, OtaImgState.NEW));
      writes.push(`copy ${plan.copy}: seq ${plan.seq}`);
    }
    expect(writes).toEqual(['copy 0: seq 1', 'copy 1: seq 2', 'copy 0: seq 3', 'copy 1: seq 4', 'copy 0: seq 5']);
    expect(flash.read(0xd000 + 32, 8)).toEqual(new Uint8Array(8).fill(0xff));
  });
});

describe.skipIf(!haveFixtures)('otadata fixture: arduino boot_app0.bin', () => {
  it('entry 0 is seq 1 with CRC 0x4743989A and selects ota_0; entry 1 is seq 0', () => {
    const bin = fixture('otadata/arduino_boot_app0.bin');
    expect(bin.length).toBe(0x2000);
    const flash = Flash.create(0x10000);
    flash.write(0xe000, bin);
    const two = readOtadata(flash, { offset: 0xe000, size: 0x2000 });
    expect(two[0].seq).toBe(1);
    expect(two[0].crc).toBe(0x4743989a);
    expect(isEntryValid(two[0])).toBe(true);
    expect(two[1].seq).toBe(0);
    expect(activeOtaCopy(two)).toBe(0);
    expect(slotForSeq(two[activeOtaCopy(two) === 0 ? 0 : 1].seq, 2)).toBe(0);
  });
});
