import { afterAll, describe, expect, it } from 'vitest';
import { pgServerUrl } from '../support/pg.js';
import { targetKinds, type TargetKind } from '../support/target-kinds.js';
import { cleanupTempDirs, es, esBackground, tempDir, waitFor, writeFile } from './helpers.js';

afterAll(() => cleanupTempDirs());

const tallyAt = (dir: string): number | undefined => {
  const { stdout } = es(dir, ['project', 'status', '--json']);
  try {
    return (JSON.parse(stdout) as { projections: { name: string; position: number }[] }).projections.find((p) => p.name === 'tally')?.position;
  } catch {
    return undefined;
  }
};

describe('where features meet: targets and many workers', () => {
  it('run --follow with an unreachable target: the others are followed, and the exit is 3 with the projection in --json', async () => {
    const dir = tempDir('es-follow-unreachable-');
    const kind = targetKinds(pgServerUrl)[0] as TargetKind;
    writeFile(dir, 'projections/strict.mjs', kind.projection('strict', 'postgres://es:pw@127.0.0.1:1/none'));
    writeFile(dir, 'projections/tally.mjs', kind.projection('tally', 'sqlite:tally.db'));
    expect(es(dir, ['append', 'a-1', 'Added', '{"n":1}']).code).toBe(0);
    const follower = esBackground(dir, ['project', 'run', '--follow', '--json', '--lease', '5s']);
    try {
      // The follower has caught tally up (its read model has the event), then it is stopped.
      expect(await waitFor(() => tallyAt(dir) === 1, 15_000)).toBe(true);
    } finally {
      follower.child.kill('SIGTERM');
    }
    const { code } = await follower.exited;
    const { stdout, stderr } = follower.output();
    expect(stderr).toMatch(/strict: target postgres:\/\/es:\*\*\*@127\.0\.0\.1:1\/none: cannot connect/);
    const doc = JSON.parse(stdout) as { projections: { name: string; error: unknown }[] };
    expect(doc.projections.map((p) => p.name).sort()).toEqual(['strict', 'tally']);
    expect(doc.projections.find((p) => p.name === 'strict')?.error).not.toBeNull();
    expect(code).toBe(3);
  }, 30_000);
});
