/** `facectl demo [--photos <dir>]`: detect, enroll and log in on photos that ship with the install, in a temporary store. */
import path from 'node:path';
import type { Command } from 'commander';
import type { DemoEvent } from '../app/demo.js';
import { DEFAULT_EMBEDDER } from '../models/registry.js';
import { action, fmt, loadPipeline, printJson, withDetectorOption, withGlobalOptions, type GlobalOptions } from './common.js';

interface DemoOpts extends GlobalOptions {
  photos?: string;
}

const line = (text: string): void => void process.stdout.write(`${text}\n`);
const short = (file: string) => path.basename(file);

function print(e: DemoEvent): void {
  switch (e.kind) {
    case 'store':
      return line(`store: ${e.dir} (temporary, mode ${e.mode.toString(8)}, removed at the end)`);
    case 'detected':
      return line(`detect  ${short(e.file)}: ${e.faces} face(s)`);
    case 'skipped':
      return line(`skip    ${short(e.file)}: ${e.reason}`);
    case 'enrolled':
      return line(e.refused ? `enroll  ${e.id}: refused (${e.refused})` : `enroll  ${e.id}`);
    case 'known':
      return line(`login   ${e.entry.id} (mirrored, 80 % copy of the enrolled photo): ${e.entry.decision} ${e.entry.matched ?? ''}  similarity ${fmt(e.entry.score, 4)}`);
    case 'stranger':
      return line(`login   ${short(e.entry.photo)} face ${e.entry.face} (not enrolled): ${e.entry.decision}  nearest ${e.entry.nearest ?? '-'} ${fmt(e.entry.score, 4)}`);
  }
}

export function registerDemo(program: Command): void {
  withDetectorOption(withGlobalOptions(
    program
      .command('demo')
      .description('the whole job on sample photos (face-api\'s, in a clone of facectl; --photos for yours): detect, enroll, log in (temporary store, removed after)')
      .option('--photos <dir>', "a folder of group photos to use instead of @vladmandic/face-api's demo samples")
      .option('--model <id>', `embedder (default ${DEFAULT_EMBEDDER})`),
  )).action(
    action(async (opts: DemoOpts) => {
      const { findDemoPhotos, runDemo } = await import('../app/demo.js');
      const files = findDemoPhotos(opts.photos);
      const pipeline = await loadPipeline(opts);
      if (!opts.json) line(`facectl demo on ${files.length} photos in ${path.dirname(files[0]!)} (first ${Math.ceil(files.length / 2)} enrolled, one id per face)`);
      const r = await runDemo(pipeline, files, opts.json ? undefined : print);
      if (opts.json) return printJson(r);
      const accepted = r.known.filter((k) => k.decision === 'ACCEPT' && k.matched === k.id).length;
      const rejected = r.strangers.filter((s) => s.decision === 'UNKNOWN').length;
      line(
        `summary: ${r.photos.reduce((n, p) => n + p.faces, 0)} faces found; ${r.known.length} enrolled; ${accepted}/${r.known.length} logged in as themselves; ` +
          `${rejected}/${r.strangers.length} never-enrolled faces answered UNKNOWN (threshold ${fmt(r.threshold.value, 4)}, ${r.threshold.source}); ` +
          `${r.skipped.length ? `${r.skipped.length} photo(s) skipped; ` : ''}store ${r.store.removed ? 'removed' : 'NOT removed'}`,
      );
    }),
  );
}
