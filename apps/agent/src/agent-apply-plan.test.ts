import { parseAgentConfigYaml } from '@fleet/pipeline';
import { describe, expect, it } from 'vitest';
import { canonicalJson, checkDestinationName, desiredState, diffByFingerprint, jobKey } from './apply/plan.js';
import { StaleHandoff } from './apply/stale-handoff.js';
import { isStaleNaNAt, writeStaleNaN } from './series/stale.js';
import { allocColumns, type SampleColumns } from './wal/format.js';

const grafana = (body: string) => parseAgentConfigYaml(`metrics:\n${body}`);

describe('config apply plan', () => {
  it('compares configs by canonical JSON: key order and undefined members do not matter', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: undefined, w: 0 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"w":0,"y":1}]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(canonicalJson([{ a: 1 }, { a: 2 }])).not.toBe(canonicalJson([{ a: 2 }, { a: 1 }]));
  });

  it('keys jobs by instance and job name, and destinations by name', () => {
    const config = grafana(`  global: { remote_write: [{ name: shared, url: 'http://127.0.0.1:1/w' }] }
  configs:
    - name: a
      scrape_configs: [{ job_name: node, static_configs: [{ targets: ['127.0.0.1:9100'] }] }]
    - name: b
      scrape_configs: [{ job_name: node, static_configs: [{ targets: ['127.0.0.1:9100'] }] }]
      remote_write: [{ name: own, url: 'http://127.0.0.1:2/w' }, { name: shared, url: 'http://127.0.0.1:1/w' }]
`);
    const state = desiredState(config);
    expect([...state.destinations.keys()]).toEqual(['shared', 'own']);
    expect([...state.jobs.keys()]).toEqual([jobKey('a', 'node'), jobKey('b', 'node')]);
    expect(state.jobs.get(jobKey('b', 'node'))!.destinations).toEqual(['own', 'shared']);
    expect(state.jobs.get(jobKey('a', 'node'))!.destinations).toEqual(['shared']);
  });

  it('finds added, changed, removed and unchanged parts', () => {
    const before = desiredState(
      parseAgentConfigYaml(`global: { external_labels: { env: prod } }
scrape_configs:
  - { job_name: keep, static_configs: [{ targets: ['127.0.0.1:1'] }] }
  - { job_name: edit, static_configs: [{ targets: ['127.0.0.1:2'] }] }
  - { job_name: drop, static_configs: [{ targets: ['127.0.0.1:3'] }] }
remote_write:
  - { name: same, url: 'http://127.0.0.1:9/a' }
  - { name: moved, url: 'http://127.0.0.1:9/b' }
  - { name: old, url: 'http://127.0.0.1:9/c' }
`),
    );
    const after = desiredState(
      parseAgentConfigYaml(`global: { external_labels: { env: prod } }
scrape_configs:
  - { job_name: keep, static_configs: [{ targets: ['127.0.0.1:1'] }] }
  - { job_name: edit, static_configs: [{ targets: ['127.0.0.1:2', '127.0.0.1:4'] }] }
  - { job_name: new, static_configs: [{ targets: ['127.0.0.1:5'] }] }
remote_write:
  - { name: moved, url: 'http://127.0.0.1:9/b2' }
  - { name: same, url: 'http://127.0.0.1:9/a' }
  - { name: old, url: 'http://127.0.0.1:9/c' }
`),
    );
    expect(diffByFingerprint(before.destinations, after.destinations)).toEqual({ added: [], changed: ['moved'], removed: [], unchanged: ['same', 'old'] });
    // Same destination names in another order: jobs are unchanged unless their own config changed.
    expect(diffByFingerprint(before.jobs, after.jobs)).toEqual({
      added: [jobKey('default', 'new')],
      changed: [jobKey('default', 'edit')],
      removed: [jobKey('default', 'drop')],
      unchanged: [jobKey('default', 'keep')],
    });
  });

  it('treats new external labels as a change of every destination, and new destination names as a change of the jobs', () => {
    const doc = (labels: string, remotes: string) =>
      desiredState(
        parseAgentConfigYaml(`global: { external_labels: { ${labels} } }
scrape_configs: [{ job_name: j, static_configs: [{ targets: ['127.0.0.1:1'] }] }]
remote_write: [${remotes}]
`),
      );
    const base = doc('env: prod', "{ name: a, url: 'http://127.0.0.1:9/a' }");
    const relabelled = doc('env: dev', "{ name: a, url: 'http://127.0.0.1:9/a' }");
    expect(diffByFingerprint(base.destinations, relabelled.destinations).changed).toEqual(['a']);
    expect(diffByFingerprint(base.jobs, relabelled.jobs).unchanged).toEqual([jobKey('default', 'j')]);
    const more = doc('env: prod', "{ name: a, url: 'http://127.0.0.1:9/a' }, { name: b, url: 'http://127.0.0.1:9/b' }");
    expect(diffByFingerprint(base.jobs, more.jobs).changed).toEqual([jobKey('default', 'j')]);
  });

  it('refuses destination names that are not one plain directory name', () => {
    expect(() => checkDestinationName('..')).toThrow(/invalid destination name "\.\."/);
    expect(() => checkDestinationName('.')).toThrow(/invalid destination name/);
    expect(() => checkDestinationName('a/b')).toThrow(/invalid destination name/);
    expect(() => checkDestinationName('amp-prod_1.eu')).not.toThrow();
  });
});

function columns(samples: Array<[ref: number, ts: number, stale: boolean]>): SampleColumns {
  const c = allocColumns(samples.length);
  for (const [ref, ts, stale] of samples) {
    const i = c.count++;
    c.refs[i] = ref;
    c.timestamps[i] = ts;
    if (stale) writeStaleNaN(c.valueView, i * 8);
    else c.valueView.setFloat64(i * 8, 1, true);
  }
  return c;
}

const contents = (c: SampleColumns) => Array.from({ length: c.count }, (_, i) => [c.refs[i], c.timestamps[i], isStaleNaNAt(c.valueView, i * 8)]);

describe('staleness handoff across a job restart', () => {
  it('recognises the all-stale columns a stopping loop writes', () => {
    expect(StaleHandoff.onlyStale(columns([[1, 5, true], [2, 5, true]]))).toBe(true);
    expect(StaleHandoff.onlyStale(columns([[1, 5, true], [2, 5, false]]))).toBe(false);
    expect(StaleHandoff.onlyStale(columns([]))).toBe(false);
  });

  it('releases the held markers minus the series the new job produced, with their timestamps', () => {
    const h = new StaleHandoff(['kept', 'left'], new Set(['kept', 'joined']));
    const stopped = columns([[1, 100, true], [2, 100, true], [3, 101, true]]);
    h.hold(stopped);
    stopped.refs[0] = 99; // the loop reuses its columns: the handoff kept a copy
    expect(h.held).toBe(3);
    h.observe(columns([[1, 200, false], [7, 200, false]]));
    const out = h.release();
    // Series 1 continues in "kept"; "left" no longer gets the job's samples, so every series ends there.
    expect(out.map((o) => [o.destination, contents(o.columns)])).toEqual([
      ['kept', [[2, 100, true], [3, 101, true]]],
      ['left', [[1, 100, true], [2, 100, true], [3, 101, true]]],
    ]);
    expect(h.release()).toEqual([]);
  });

  it('yields nothing when the new job continues every series', () => {
    const h = new StaleHandoff(['d'], new Set(['d']));
    h.hold(columns([[1, 100, true]]));
    h.observe(columns([[1, 200, false]]));
    expect(h.release()).toEqual([]);
  });
});
