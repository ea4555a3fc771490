/**
 * `facectl login <photo>`: who is this? ACCEPT <id> (exit 0) or UNKNOWN (exit 3); the matched identity's
 * enrolled photos are listed for a visual check, and --sheet draws them beside the query face.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { FaceDecision } from '../app/login.js';
import { ExitCode, printable, type ExitCodeValue } from '../errors.js';
import type { Gallery } from '../gallery/types.js';
import { dot } from '../pipeline/vector.js';
import { DETECTOR_DEFAULT, action, indexOption, fmt, fmtVersus, note, numberOption, printJson, table, withDetectorOption, withGlobalOptions, type GlobalOptions } from './common.js';
import { enrolledRows, loginFacesJson } from './login-json.js';
import { storeOption, withStore } from './store-option.js';
import { loadPipelineForStore } from './store-pipeline.js';
import type { RgbImage } from '../pipeline/types.js';

interface LoginOpts extends GlobalOptions {
  top: string;
  threshold?: string;
  allFaces?: boolean;
  sheet?: string;
  store?: string;
  index: 'auto' | 'flat' | 'hnsw';
}

export function registerLogin(program: Command): void {
  withDetectorOption(withGlobalOptions(
    storeOption(
      program
        .command('login')
        .description('identify the face in a photo against the store: ACCEPT <id> (exit 0) or UNKNOWN (exit 3)')
        .argument('<image>', 'a photo, or - to read it from standard input')
        .option('--top <k>', 'candidates to show', '3')
        .option('--threshold <t>', "cosine threshold (default: the store's calibrated one, else the model's)")
        .option('--all-faces', 'decide for every face in the photo (exit 0 if any is accepted)')
        .option('--sheet <out.png>', 'write a contact sheet: each decided face beside the matched identity’s enrolled faces, one row per face')
        .addOption(indexOption())
        .option('--model <id>', "embedder (default: the store's)"),
    ),
  ), DETECTOR_DEFAULT.store).action(action(async (image: string, opts: LoginOpts) => {
    const top = numberOption('--top', opts.top, 1, 1000, { integer: true })!;
    if (opts.sheet !== undefined) (await import('./output-file.js')).checkOutputFile(opts.sheet, '--sheet'); // before the store opens
    return withStore(opts, { mustExist: true, search: true }, (gallery) => loginCommand(gallery, image, top, opts));
  }));
}

async function loginCommand(gallery: Gallery, image: string, top: number, opts: LoginOpts): Promise<ExitCodeValue> {
    const pipeline = await loadPipelineForStore(opts, gallery);
    const { login } = await import('../app/login.js');
    const r = await login(pipeline, gallery, image, {
      top,
      threshold: numberOption('--threshold', opts.threshold, -1, 1),
      allFaces: !!opts.allFaces,
      index: opts.index,
    });
    const enrolledPhotos = (id: string | undefined) => enrolledRows(r, id);
    const accepted = r.decisions.some((d) => d.decision === 'ACCEPT');
    if (opts.sheet) {
      const { loadTileImage, writeContactSheet } = await import('./sheet.js'); // canvas loads only for a sheet
      const images = new Map<string, Promise<RgbImage | null>>();
      const rows = await Promise.all(
        r.decisions.map(async (d) => ({
          query: { image: await loadTileImage(image, images), box: d.face.box, title: 'query', subtitle: image.split('/').pop() ?? image },
          matches: await Promise.all(
            enrolledPhotos(d.id).map(async (row, k) => ({
              image: await loadTileImage(row.sourcePath, images),
              box: row.box,
              title: row.id,
              subtitle: `cos ${fmt(dot(d.face.embedding, r.enrolled.get(d.id!)!.embeddings[k]!), 3)}`,
            })),
          ),
          verdict: {
            text: ((shown) => (d.decision === 'ACCEPT' ? `ACCEPT ${d.id} (${shown[0]} ≥ ${shown[1]})` : `UNKNOWN (best ${shown[0]} < ${shown[1]})`))(
              fmtVersus(d.score, r.threshold.value, d.decision === 'ACCEPT', 3),
            ),
            accepted: d.decision === 'ACCEPT',
          },
        })),
      );
      await writeContactSheet(opts.sheet, rows);
    }
    // Others in the frame are worth knowing about when one face decides a login (as verify says).
    const chosen = r.decisions[0];
    if (!opts.allFaces && chosen && chosen.facesInPhoto > 1) {
      const b = chosen.face.box;
      note(opts, `${image}: ${chosen.facesInPhoto} faces; decided on the largest, box ${Math.round(b.x)},${Math.round(b.y)} ${Math.round(b.width)}x${Math.round(b.height)} (--all-faces decides each)`);
    }
    if (opts.json) {
      printJson({
        image,
        threshold: r.threshold,
        index: r.index,
        timingsMs: pipeline.timer.toJSON(),
        faces: loginFacesJson(r),
        sheet: opts.sheet ?? null,
      });
    } else printDecisions(r.decisions, r.threshold, enrolledPhotos, opts);
    return accepted ? ExitCode.OK : ExitCode.UNKNOWN_FACE;
}

function printDecisions(
  decisions: FaceDecision[],
  threshold: { value: number; source: string },
  enrolledPhotos: (id: string | undefined) => { sourcePath: string }[],
  opts: LoginOpts,
): void {
  for (const [i, d] of decisions.entries()) {
    const where = decisions.length > 1 ? ` face ${i + 1} at ${Math.round(d.face.box.x)},${Math.round(d.face.box.y)}` : '';
    // Digits enough that the shown numbers agree with the decision (0.50499 is not "0.5050 < 0.5050").
    const [score, shownThreshold] = fmtVersus(d.score, threshold.value, d.decision === 'ACCEPT');
    process.stdout.write(
      d.decision === 'ACCEPT'
        ? `ACCEPT ${d.id}${d.name && d.name !== d.id ? ` (${d.name})` : ''}${where}  similarity ${score} ≥ threshold ${shownThreshold}\n`
        : `UNKNOWN${where}  best similarity ${score} < threshold ${shownThreshold}${d.candidates[0] ? ` (nearest: ${d.candidates[0].id})` : ''}\n`,
    );
    process.stdout.write(table(['rank', 'id', 'name', 'similarity'], d.candidates.map((c, k) => [k + 1, c.id, c.name, fmt(c.score, 4)])) + '\n');
    const photos = enrolledPhotos(d.id);
    // Paths stored relative by facectl 0.1.0 only resolve from the directory enroll ran in: say so.
    const shown = photos.map((p) => `  ${printable(p.sourcePath)}${path.isAbsolute(p.sourcePath) ? '' : '  (relative to where enroll ran: facectl index rebuild --photos-root <dir> fixes it)'}`);
    if (photos.length) process.stdout.write(`enrolled photos of ${d.id} (check by eye):\n${shown.join('\n')}\n`);
  }
  note(opts, `threshold: ${threshold.source}${opts.sheet ? ` · sheet: ${opts.sheet}` : ''}`);
}
