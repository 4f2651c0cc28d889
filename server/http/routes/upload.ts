/**
 * `POST /api/admin/firmware/upload?version&device_model&min_version&changelog&release_notes&is_signed`
 * with multipart field `file` (seeds 001/002 "Upload Firmware"; paku-protocol-facts §2.4.4).
 *
 * Unlike the real service: a duplicate (version, device_model) is 409 and never touches the
 * existing release's bytes (facts §6.18); bad slugs are 422, not 500 (facts §6.21); the bytes are
 * checked as an ESP32 app image for the model's chip; they are stored content-addressed, so a
 * signed image's Secure Boot v2 signature sector is served byte for byte. With `is_signed=true`
 * the sector (espsecure's layout: at roundup(image, 4 KiB)) is checked and the result kept in the
 * release's metadata: the signing key's digest (what a device's eFuse holds) when a block verifies,
 * else the failure, with a warning in the log. Such an upload is not refused, since the seeds'
 * service takes `is_signed` as a plain flag; the device is the judge, verifying with its own eFuse
 * digests, and reports a refusal with its reason.
 *
 * No name from the request reaches the file system: the multipart filename is ignored and the
 * bytes are stored under their SHA-256, so `../` in a filename, version or model can name nothing.
 */
import type { FastifyInstance } from 'fastify';
import { ConflictError, EspError, RequestError } from '../../../protocol/errors.js';
import { FirmwareUploadQuery } from '../../../protocol/payloads.js';
import type { HttpDeps } from '../deps.js';
import { checkFirmware } from '../firmware-check.js';
import { checkSignedImage } from '../../../simulator/esp32/secure-boot.js';
import { parseInput } from '../validate.js';
import type { OfferCache } from '../offer-cache.js';

/** The multipart field that carries the binary (`curl -F "file=@firmware.bin"`). */
export const FILE_FIELD = 'file';

export function uploadRoute(app: FastifyInstance, deps: HttpDeps, cache: OfferCache): void {
  const { store, artifacts, config, logger } = deps;
  app.post('/api/admin/firmware/upload', async (req) => {
    const q = parseInput(FirmwareUploadQuery, req.query, 'query');
    const duplicate = (): ConflictError => new ConflictError('OTASIM_ERR_DUPLICATE_RELEASE',
      `firmware ${q.version} for ${q.device_model} already exists; releases are immutable, upload a new version`);
    // Refuse a duplicate before reading the body.
    if (await store.getRelease(q.version, q.device_model) !== undefined) throw duplicate();
    if (!req.isMultipart()) {
      throw new RequestError(415, 'OTASIM_ERR_UNSUPPORTED_MEDIA_TYPE', `send the binary as multipart/form-data field "${FILE_FIELD}" (curl -F "${FILE_FIELD}=@firmware.bin")`);
    }
    const part = await req.file({ limits: { fileSize: config.maxUploadBytes, files: 1, fields: 16, parts: 17 } });
    if (part === undefined) throw new RequestError(422, 'OTASIM_ERR_VALIDATION', `body: multipart field "${FILE_FIELD}" is required`);
    if (part.fieldname !== FILE_FIELD) {
      part.file.resume();
      throw new RequestError(422, 'OTASIM_ERR_VALIDATION', `body: expected the multipart field "${FILE_FIELD}", got "${part.fieldname}"`);
    }
    const bytes = await part.toBuffer(); // throws FST_REQ_FILE_TOO_LARGE (413) past maxUploadBytes
    if (bytes.length === 0) throw new RequestError(422, 'OTASIM_ERR_INVALID_FIRMWARE', 'the uploaded file is empty');
    const fw = checkFirmware(bytes, q.version, q.device_model, config.modelChips);
    const signature = q.is_signed ? signatureOf(bytes, fw.info.size) : null;
    if (signature !== null && !signature.verified) {
      logger.warn({ version: q.version, device_model: q.device_model, failure: signature.failure }, `is_signed=true but no signature verifies: ${signature.message}`);
    }
    const artifact = await artifacts.put(bytes, { maxBytes: config.maxUploadBytes });
    let release;
    try {
      release = await store.insertRelease({
        version: q.version, device_model: q.device_model, min_version: q.min_version ?? null,
        file_path: artifact.key, file_size: artifact.size, checksum_sha256: artifact.sha256,
        changelog: q.changelog ?? null, release_notes: q.release_notes ?? null, is_signed: q.is_signed,
        created_by: 'admin',
        metadata: { chip: fw.chip, app_version: fw.info.app?.version ?? null, project_name: fw.info.app?.projectName ?? null,
          secure_version: fw.info.app?.secureVersion ?? null, idf_version: fw.info.app?.idfVersion ?? null,
          ...(signature === null ? {} : { signature }) },
      });
    } catch (e) {
      // A racing upload of the same (version, model) won; drop our bytes unless some release uses them.
      if (!(await store.artifactInUse(artifact.key))) {
        await artifacts.remove(artifact.key).catch((err: unknown) => logger.warn({ err, key: artifact.key }, 'removing an unused artifact failed'));
      }
      if (e instanceof ConflictError) throw duplicate();
      throw e;
    }
    cache.invalidate();
    await store.insertEvent({
      event_type: 'firmware_uploaded', firmware_version: release.version, created_by: 'admin',
      event_data: { device_model: release.device_model, file_size: release.file_size, checksum: release.checksum_sha256, chip: fw.chip },
    });
    logger.info({ version: release.version, device_model: release.device_model, size: release.file_size, chip: fw.chip }, 'firmware uploaded');
    return {
      status: 'ok', message: 'Firmware uploaded successfully', version: release.version,
      file_size: release.file_size, checksum_sha256: release.checksum_sha256,
    };
  });
}

/** What an `is_signed=true` upload's signature sector holds: the block that verifies, or why none does. */
export type UploadSignature =
  | { readonly verified: true; readonly scheme: string; readonly key_digest: string; readonly block: number }
  | { readonly verified: false; readonly failure: string; readonly message: string };

function signatureOf(bytes: Uint8Array, imageLength: number): UploadSignature {
  let v;
  try {
    v = checkSignedImage(bytes, imageLength);
  } catch (e) {
    // No room for a signature sector after the image: nothing to verify.
    if (e instanceof EspError) return { verified: false, failure: 'no-signature-sector', message: e.message };
    throw e;
  }
  return v.ok ? { verified: true, scheme: v.block.scheme, key_digest: Buffer.from(v.block.keyDigest).toString('hex'), block: v.block.index }
    : { verified: false, failure: v.failure, message: v.message };
}
