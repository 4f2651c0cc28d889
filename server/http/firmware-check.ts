/**
 * Upload validation: the bytes must be an ESP32 app image the bootloader would accept for the
 * model's chip, and its `esp_app_desc_t.version` must equal the release's version (issue 3). The
 * check is the simulator's own `verifyImage`, so the server refuses exactly what a device would.
 */
import { EspError, OtasimError, RequestError } from '../../protocol/errors.js';
import type { ChipName } from '../../simulator/esp32/chips.js';
import { verifyImage, type ImageInfo } from '../../simulator/esp32/app-image.js';
import { chipForModel } from './models.js';

/** What a valid upload is, once checked. */
export interface CheckedFirmware {
  /** The chip the image is built for. */
  readonly chip: ChipName;
  readonly info: ImageInfo;
}

const invalid = (message: string, cause?: unknown): RequestError =>
  new RequestError(422, 'OTASIM_ERR_INVALID_FIRMWARE', message, { cause });

/**
 * Check `bytes` as firmware `version` for `deviceModel`. Throws a 422 `RequestError`:
 * `OTASIM_ERR_UNSUPPORTED_MODEL` for a non-ESP32 model, `OTASIM_ERR_INVALID_FIRMWARE` for
 * anything the image check refuses, naming the ESP-IDF error.
 */
export function checkFirmware(bytes: Uint8Array, version: string, deviceModel: string,
  modelChips: Readonly<Record<string, ChipName>> = {}): CheckedFirmware {
  const model = chipForModel(deviceModel, modelChips);
  if (model.kind === 'unsupported') {
    throw new RequestError(422, 'OTASIM_ERR_UNSUPPORTED_MODEL',
      `device_model "${deviceModel}" is an ${model.family} device; otasim validates ESP32-family app images only`);
  }
  const chip = model.kind === 'chip' ? model.chip : undefined;
  let info: ImageInfo;
  try {
    info = verifyImage(bytes, chip === undefined ? {} : { chip });
  } catch (e) {
    const what = chip === undefined ? 'an ESP32-family app image' : `an app image for ${chip} (device_model "${deviceModel}")`;
    if (e instanceof EspError || e instanceof OtasimError) throw invalid(`the upload is not ${what}: ${e.code}: ${e.message}`, e);
    throw e;
  }
  if (info.chip === null) throw invalid(`the image's chip_id ${info.chipId} is not an ESP32-family chip otasim knows`);
  if (info.app === null) {
    throw invalid('the image has no esp_app_desc_t (magic 0xABCD5432 at offset 0x20); it is not an application an OTA client can take');
  }
  if (info.app.version !== version) {
    throw invalid(`the image's app version is "${info.app.version}" but the upload says version="${version}"; `
      + 'rebuild with the right PROJECT_VER or upload it under its own version');
  }
  return { chip: info.chip, info };
}
