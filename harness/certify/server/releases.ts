/**
 * Upload, check, download and status semantics on one model (`-a`): seeds 001/002 routes and
 * FirmwareCheckResponse; paku-protocol-facts §2.4.1–§2.4.4 (fields, headers, Content-Length).
 *
 * Order matters and reads top to bottom: both releases are uploaded with no rollout (nobody is
 * offered anything), then an `all` rollout of 1.0.0 and, newer, one of 2.0.0: a device on 1.0.0
 * is offered 2.0.0, a device on 2.0.0 is offered neither 2.0.0 again nor the older 1.0.0.
 */
import { ensure, RequirementSkipped, type SuiteRecorder } from '../common/index.js';
import { sha256, type CertifyRun, type CheckAnswer, type Uploaded } from './context.js';
import { describe, header, isJsonObject, type Reply } from './http.js';
import { SRV } from './requirements.js';

export async function releasesAndChecks(rec: SuiteRecorder, run: CertifyRun): Promise<void> {
  const model = run.model('a');
  const [d0, d1, d2] = run.devices('a', 3) as [string, string, string];
  let v1: Uploaded | undefined;
  let v2: Uploaded | undefined;

  await rec.check(SRV.upload, async () => {
    const first = await run.upload(model, run.v1);
    const second = await run.upload(model, run.v2);
    v1 = first;
    v2 = second;
    for (const u of [first, second]) {
      const j = (u.answer ?? {}) as Record<string, unknown>;
      ensure(j.version === u.version && j.file_size === u.bytes.length && j.checksum_sha256 === u.sha256, 'the upload answer does not describe the bytes',
        { expected: `version ${u.version}, file_size ${u.bytes.length}, checksum_sha256 ${u.sha256}`, actual: JSON.stringify(j) });
    }
    const bytes = second.bytes;
    const list = await run.http.get(`/api/admin/firmware/releases?device_model=${encodeURIComponent(model)}&limit=10`, { key: true });
    const releases = (list.json as { releases?: Array<Record<string, unknown>> } | undefined)?.releases;
    ensure(list.status === 200 && Array.isArray(releases), 'GET /api/admin/firmware/releases did not list releases', { actual: describe(list) });
    const listed = releases.find((x) => x.version === run.v2 && x.device_model === model);
    ensure(listed !== undefined && listed.checksum_sha256 === second.sha256 && listed.file_size === bytes.length,
      'the uploaded release is not listed with its size and SHA-256', { actual: JSON.stringify(releases) });
  });
  if (v1 === undefined || v2 === undefined) {
    for (const r of [SRV.noRollout, SRV.checkFields, SRV.checkOffer, SRV.sameVersion, SRV.downgrade, SRV.registers,
      SRV.dlBody, SRV.dlSha, SRV.dlHeaders, SRV.dl404, SRV.range, SRV.range416, SRV.statusStored, SRV.statusVersion, SRV.deactivated]) {
      rec.error(r, `needs the uploads of ${SRV.upload.id}`);
    }
    return;
  }
  const rel = v2;

  await rec.check(SRV.noRollout, async () => {
    const a = await run.check(d0, model, run.v1);
    ensure(!a.update_available, 'a release with no rollout was offered', { expected: 'update_available false', actual: JSON.stringify(a) });
  });

  let offer: CheckAnswer | undefined;
  let onNewest: CheckAnswer | undefined;
  let setup: Error | undefined;
  try {
    await run.createRollout({ name: run.rolloutName('a-v1'), firmware_version: run.v1, device_model: model, target_type: 'all', rollout_percentage: 100 });
    await run.createRollout({ name: run.rolloutName('a-v2'), firmware_version: run.v2, device_model: model, target_type: 'all', rollout_percentage: 100 });
  } catch (e) {
    setup = e as Error;
  }

  await rec.check(SRV.checkFields, async () => {
    if (setup !== undefined) throw setup;
    offer = await run.check(d1, model, run.v1);
    onNewest = await run.check(d2, model, run.v2);
    return `offer and no-offer answers carry ${Object.keys(offer).length} keys`;
  });

  await rec.check(SRV.checkOffer, async () => {
    const a = offer ?? await run.check(d1, model, run.v1);
    const expected = `update_available true, latest_version ${rel.version}, file_size ${rel.bytes.length}, checksum_sha256 ${rel.sha256}, a download_url`;
    ensure(a.update_available && a.latest_version === rel.version && a.file_size === rel.bytes.length
      && a.checksum_sha256?.toLowerCase() === rel.sha256 && typeof a.download_url === 'string' && a.download_url !== '',
    'the offer does not describe the rollout\'s release', { expected, actual: JSON.stringify(a) });
  });

  await rec.check(SRV.sameVersion, async () => {
    const a = onNewest ?? await run.check(d2, model, run.v2);
    ensure(!(a.update_available && a.latest_version === run.v2), 'a device on the rollout\'s version was offered it again',
      { expected: 'update_available false', actual: JSON.stringify(a) });
  });

  await rec.check(SRV.downgrade, async () => {
    const a = onNewest ?? await run.check(d2, model, run.v2);
    ensure(!(a.update_available && a.latest_version !== run.v2), `a device on ${run.v2} was offered ${String(a.latest_version)}`,
      { expected: 'no offer of an older release', actual: JSON.stringify(a) });
  });

  await rec.check(SRV.registers, async () => {
    const devices = await run.listDevices(model);
    const want = new Map([[d0, run.v1], [d1, run.v1], [d2, run.v2]]);
    const wrong = [...want].filter(([id, v]) => !devices.some((d) => d.device_id === id && d.device_model === model && d.current_firmware_version === v));
    ensure(wrong.length === 0, `${wrong.length} checked device(s) not listed with their model and version`,
      { expected: [...want].map(([id, v]) => `${id}@${v}`).join(', '), actual: JSON.stringify(devices.slice(0, 5)) });
  });

  await downloads(rec, run, rel, offer);
  await statusReports(rec, run, model, d1);

  await rec.check(SRV.deactivated, async () => {
    const r = await run.deactivate(run.rolloutName('a-v2'));
    if (r.status === 404 || r.status === 405) {
      throw new RequirementSkipped('the server has no POST /api/admin/rollout/{id}/deactivate (seed 001)');
    }
    ensure(r.status === 200, 'deactivate did not answer 200', { actual: describe(r) });
    const a = await run.check(run.device('a', 3), model, run.v1);
    ensure(!(a.update_available && a.latest_version === run.v2), 'the deactivated rollout\'s release is still offered', { actual: JSON.stringify(a) });
  });
}

async function downloads(rec: SuiteRecorder, run: CertifyRun, rel: Uploaded, offer: CheckAnswer | undefined): Promise<void> {
  const url = offer?.download_url ?? `/api/firmware/download/${encodeURIComponent(rel.version)}?device_model=${encodeURIComponent(rel.model)}`;
  let full: Reply | undefined;
  const get = async (): Promise<Reply> => (full ??= await run.http.get(url));

  await rec.check(SRV.dlBody, async () => {
    const r = await get();
    const length = header(r, 'content-length');
    ensure(r.status === 200, 'download did not answer 200', { actual: describe(r) });
    ensure(/^application\/octet-stream/i.test(header(r, 'content-type') ?? ''), 'download is not application/octet-stream',
      { actual: header(r, 'content-type') ?? 'no content-type' });
    ensure(length !== undefined && Number(length) === rel.bytes.length && r.body.length === rel.bytes.length,
      'Content-Length or the body length is not the release\'s file_size',
      { expected: `${rel.bytes.length} bytes`, actual: `Content-Length ${length ?? 'absent'}, ${r.body.length} bytes read` });
  });
  await rec.check(SRV.dlSha, async () => {
    const r = await get();
    ensure(r.status === 200, 'download did not answer 200', { actual: describe(r) });
    ensure(sha256(r.body) === rel.sha256, 'the body does not hash to the offered checksum', { expected: rel.sha256, actual: sha256(r.body) });
  });
  await rec.check(SRV.dlHeaders, async () => {
    const r = await get();
    const sum = header(r, 'x-checksum-sha256');
    const version = header(r, 'x-firmware-version');
    ensure(sum?.toLowerCase() === sha256(r.body), 'X-Checksum-SHA256 is not the SHA-256 of the body', { expected: sha256(r.body), actual: sum ?? 'absent' });
    ensure(version === rel.version, 'X-Firmware-Version is not the version', { expected: rel.version, actual: version ?? 'absent' });
  });
  await rec.check(SRV.dl404, async () => {
    const r = await run.http.get(`/api/firmware/download/0.0.0-none${run.id}?device_model=${encodeURIComponent(rel.model)}`);
    ensure(r.status === 404 && isJsonObject(r), 'an unknown version did not answer 404 JSON', { actual: describe(r) });
  });

  const size = rel.bytes.length;
  await rec.check(SRV.range, async () => {
    const cases: Array<[string, number, number]> = [['bytes=100-199', 100, 199], [`bytes=${size - 10}-`, size - 10, size - 1], ['bytes=-16', size - 16, size - 1]];
    for (const [range, start, end] of cases) {
      const r = await run.http.get(url, { headers: { range } });
      ensure(r.status === 206, `Range: ${range} did not answer 206`, { actual: describe(r) });
      const cr = header(r, 'content-range');
      ensure(cr === `bytes ${start}-${end}/${size}`, `Range: ${range}: wrong Content-Range`, { expected: `bytes ${start}-${end}/${size}`, actual: cr ?? 'absent' });
      ensure(Buffer.from(rel.bytes.subarray(start, end + 1)).equals(r.body), `Range: ${range}: the body is not bytes ${start}–${end}`,
        { actual: `${r.body.length} bytes` });
    }
  });
  await rec.check(SRV.range416, async () => {
    const r = await run.http.get(url, { headers: { range: `bytes=${size + 10}-${size + 20}` } });
    ensure(r.status === 416, 'a range past the end did not answer 416', { actual: describe(r) });
    ensure(header(r, 'content-range') === `bytes */${size}`, 'a 416 without Content-Range: bytes */size',
      { expected: `bytes */${size}`, actual: header(r, 'content-range') ?? 'absent' });
  });
}

async function statusReports(rec: SuiteRecorder, run: CertifyRun, model: string, device: string): Promise<void> {
  const path = `/api/device/${encodeURIComponent(device)}/update-status`;
  await rec.check(SRV.statusStored, async () => {
    for (const body of [
      { device_id: device, firmware_version: run.v2, status: 'downloading', progress_percent: 50 },
      { device_id: device, firmware_version: run.v2, status: 'success', progress_percent: 100 },
    ]) {
      // The real service wants the admin key here (facts §2.2); the seeds' devices send none. Send it.
      const r = await run.http.post(path, { key: true, json: body });
      ensure(r.status === 200, `update-status ${body.status} did not answer 200`, { actual: describe(r) });
    }
    const rows = await run.listStatus(device);
    const has = (s: string): boolean => rows.some((x) => x.device_id === device && x.firmware_version === run.v2 && x.status === s);
    ensure(has('downloading') && has('success'), 'the reports are not listed', { expected: 'downloading and success rows', actual: JSON.stringify(rows.slice(0, 4)) });
  });
  await rec.check(SRV.statusVersion, async () => {
    const d = (await run.listDevices(model)).find((x) => x.device_id === device);
    ensure(d?.current_firmware_version === run.v2, 'a success report did not move the device\'s version',
      { expected: run.v2, actual: String(d?.current_firmware_version ?? 'device not listed') });
  });
}

