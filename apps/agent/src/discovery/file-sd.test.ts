import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compileRe2 } from '@fleet/pipeline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TargetGroup } from './discovery.js';
import { FileDiscoverer, globToRe2 } from './file-sd.js';

const matches = (glob: string, name: string): boolean => {
  const source = globToRe2(glob);
  if (source === undefined) throw new Error(`bad pattern ${glob}`);
  return compileRe2(source).test(name);
};

describe('file_sd patterns (Go filepath.Match)', () => {
  it('*, ?, classes, negation, escapes; whole name only', () => {
    expect(matches('*.json', 'targets.json')).toBe(true);
    expect(matches('*.json', 'targets.json.bak')).toBe(false);
    expect(matches('t?.yml', 'ta.yml')).toBe(true);
    expect(matches('t?.yml', 't.yml')).toBe(false);
    expect(matches('[ab]*.yaml', 'b-1.yaml')).toBe(true);
    expect(matches('[^ab]*.yaml', 'b-1.yaml')).toBe(false);
    expect(matches('[^ab]*.yaml', 'c-1.yaml')).toBe(true);
    expect(matches('node-[0-9].json', 'node-7.json')).toBe(true);
    expect(matches('a\\*.json', 'a*.json')).toBe(true);
    expect(matches('a\\*.json', 'ab.json')).toBe(false);
    expect(matches('a.(b)|c$.json', 'a.(b)|c$.json')).toBe(true); // regex characters are literal
    expect(matches('a.json', 'abjson')).toBe(false);
  });
  it('malformed patterns match nothing (Go: ErrBadPattern)', () => {
    for (const bad of ['[', '[]a]', '[a-]', '[z-a]', 'a\\', '[^']) expect(globToRe2(bad)).toBeUndefined();
  });
});

describe('FileDiscoverer', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-file-sd-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // A backtracking [^/]*a[^/]*a… regex is polynomial per `*`: this pattern took ~20 s on a
  // 205-character file name (1.5 s on 125 characters).
  it('expands a pattern with many * in linear time', async () => {
    await writeFile(path.join(dir, `${'a'.repeat(200)}.json`), '[]');
    await writeFile(path.join(dir, 'aaaab.json'), JSON.stringify([{ targets: ['127.0.0.1:9100'] }]));
    const d = new FileDiscoverer({ files: [path.join(dir, '*a*a*a*a*b.json')], refreshIntervalMs: 60_000 });
    const t0 = performance.now();
    const groups = await new Promise<TargetGroup[]>((resolve, reject) => d.start(resolve, (m) => reject(new Error(m))));
    const ms = performance.now() - t0;
    d.stop();
    // eslint-disable-next-line no-console -- the measured number, to quote
    console.log(`file_sd *a*a*a*a*b.json over a 205-character file name: first update after ${ms.toFixed(1)} ms`);
    expect(groups.map((g) => g.targets)).toEqual([['127.0.0.1:9100']]);
    expect(ms).toBeLessThan(250);
  });
});
