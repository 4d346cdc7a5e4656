/**
 * Rebuilding beside a read model that lives in a target (another database): the shadow is built in
 * the target, and a promote (intent in `$checkpoint-<name>`, swap in the target, checkpoint) killed
 * after its intent or after its swap is finished by the next run of either version, with every event
 * applied exactly once (`strict_applied` has a primary key per event id).
 */
import { afterAll, expect, it } from 'vitest';
import { describeEach, targetKinds, type FreshTarget, type TargetKind } from '../support/backends.js';
import { cleanupTempDirs, es, readAll, tempDir, writeFile } from './helpers.js';

const EVENTS = 300;
const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const drop of drops.splice(0)) await drop().catch(() => {});
  cleanupTempDirs();
});

/** A store of EVENTS `Added` events and the `strict` projection in a fresh target, with its tables and a version from V. */
async function workspace(kind: TargetKind): Promise<{ dir: string; target: FreshTarget }> {
  const dir = tempDir('es-shadow-target-');
  const target = await kind.fresh(dir);
  drops.push(target.drop);
  const source = kind.projection('strict').replace("name: 'strict',", "name: 'strict', tables: ['strict_applied'], version: Number(process.env.V ?? 1),");
  writeFile(dir, 'projections/strict.mjs', source);
  writeFile(dir, 'es.config.json', JSON.stringify({ projectionOptions: { strict: { target: target.url } } }));
  const lines = Array.from({ length: EVENTS }, (_, i) => JSON.stringify({ id: `e-${i}`, streamId: `s-${i % 17}`, type: 'Added', data: { n: i } }));
  writeFile(dir, 'events.ndjson', `${lines.join('\n')}\n`);
  expect(es(dir, ['import', 'events.ndjson']).code).toBe(0);
  return { dir, target };
}

const v = (version: number, more: Record<string, string> = {}) => ({ env: { V: String(version), ...more } });

describeEach(targetKinds())('rebuild beside a read model in a target: %s', (kind) => {
  for (const step of ['promote-intent', 'promote-swapped']) {
    it(`a promote killed at ${step} is finished by the next run of the old version; each event applied once`, async () => {
      const { dir, target } = await workspace(kind);
      expect(es(dir, ['project', 'run'], v(1)).code).toBe(0);
      const built = es(dir, ['project', 'rebuild', 'strict', '--shadow', '--json'], v(2));
      expect(built.code, built.stderr).toBe(0);
      expect(JSON.parse(built.stdout).projections[0]).toMatchObject({ name: 'strict', shadow: true, state: 'up-to-date' });
      expect(es(dir, ['append', 's-late', 'Added', '{"n":-1}']).code).toBe(0);

      const killed = es(dir, ['project', 'promote', 'strict'], v(2, { ES_TEST_CRASH_AT: step }));
      expect(killed.signal).toBe('SIGKILL');
      // The old version finishes the promote it finds half done, then stands down for version 2.
      const old = es(dir, ['project', 'run', '--json'], v(1));
      expect(old.code, old.stderr).toBe(0);
      expect(JSON.parse(old.stdout).projections[0]).toMatchObject({ name: 'strict', state: 'superseded' });
      const fresh = es(dir, ['project', 'run', '--json'], v(2));
      expect(fresh.code, fresh.stderr).toBe(0);
      expect(JSON.parse(fresh.stdout).projections[0]).toMatchObject({ name: 'strict', state: 'up-to-date' });

      const rows = await target.query('SELECT event_id FROM strict_applied');
      const ids = rows.map((r) => String(r.event_id)).sort();
      const expected = readAll(dir)
        .filter((e) => e.type === 'Added')
        .map((e) => e.id)
        .sort();
      expect(ids).toEqual(expected);
      const verified = es(dir, ['project', 'verify', 'strict', '--json'], v(2));
      expect(verified.code, verified.stderr).toBe(0);
      expect(JSON.parse(verified.stdout).projections[0]).toMatchObject({ name: 'strict', identical: true });
      const status = JSON.parse(es(dir, ['project', 'status', '--json'], v(2)).stdout);
      expect(status.projections[0]).toMatchObject({ name: 'strict', version: 2, state: 'up-to-date', shadow: null });
      // Nothing of the shadow is left in the target, and no second promote is there to do.
      expect(es(dir, ['project', 'promote', 'strict'], v(2)).code).toBe(2);
    });
  }
});
