/**
 * CSV file bytes → text, honouring a byte-order mark as gen_esp32part.py `get_encoding` does
 * (UTF-8 by default; UTF-8, UTF-16 and UTF-32 BOMs). Facts: esp-idf-ota-facts.md §1.8.
 */
import { PARTITION_ERR, PartitionTableError } from '../../protocol/errors.js';

const startsWith = (b: Uint8Array, prefix: readonly number[]): boolean => prefix.every((x, i) => b[i] === x);

/**
 * Decode a CSV file. The BOM is dropped. UTF-32 is checked before UTF-16 because the UTF-32 LE BOM
 * begins with the UTF-16 LE one.
 * @throws PartitionTableError (`OTASIM_ERR_PARTITION_CSV`) when the bytes are not valid text in
 *   their encoding, or (`OTASIM_ERR_PARTITION_MAGIC`) when they are a binary table (AA 50).
 */
export function decodeCsvBytes(bytes: Uint8Array): string {
  if (startsWith(bytes, [0xaa, 0x50])) {
    throw new PartitionTableError('the input starts with AA 50: it is a binary partition table, not CSV',
      { code: PARTITION_ERR.MAGIC });
  }
  if (startsWith(bytes, [0xff, 0xfe, 0x00, 0x00])) return utf32(bytes.subarray(4), true);
  if (startsWith(bytes, [0x00, 0x00, 0xfe, 0xff])) return utf32(bytes.subarray(4), false);
  if (startsWith(bytes, [0xef, 0xbb, 0xbf])) return text('utf-8', bytes.subarray(3));
  if (startsWith(bytes, [0xff, 0xfe])) return text('utf-16le', bytes.subarray(2));
  if (startsWith(bytes, [0xfe, 0xff])) return text('utf-16be', bytes.subarray(2));
  return text('utf-8', bytes);
}

function text(encoding: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (e) {
    throw new PartitionTableError(`the CSV is not valid ${encoding.toUpperCase()} text`, { code: PARTITION_ERR.CSV, cause: e });
  }
}

function utf32(bytes: Uint8Array, littleEndian: boolean): string {
  if (bytes.length % 4 !== 0) {
    throw new PartitionTableError('the CSV is not valid UTF-32 text: its length is not a multiple of 4', { code: PARTITION_ERR.CSV });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out = '';
  for (let at = 0; at < bytes.length; at += 4) {
    const cp = view.getUint32(at, littleEndian);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      throw new PartitionTableError(`the CSV is not valid UTF-32 text: code point 0x${cp.toString(16)} at byte ${at + 4}`,
        { code: PARTITION_ERR.CSV });
    }
    out += String.fromCodePoint(cp);
  }
  return out;
}
