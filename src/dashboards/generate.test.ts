import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DASHBOARDS, render } from './all.ts';
import { DASHBOARD_DIR, staleFiles } from './generate.ts';

describe('committed dashboards', () => {
  it('match what the builders produce (run `npm run dashboards` after changing a builder)', () => {
    assert.deepEqual(staleFiles(), []);
  });

  it('are exactly the generated ones: no hand-written or orphaned JSON in dashboards/', () => {
    const onDisk = readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json'));
    assert.deepEqual(onDisk.sort(), DASHBOARDS.map((d) => d.file).sort());
  });

  for (const { file, build } of DASHBOARDS) {
    it(`${file}: every panel has a unit, thresholds, a description and queries; ids and uids unique`, () => {
      const d = JSON.parse(render(build())) as {
        uid: string;
        panels: {
          id: number;
          title: string;
          description?: string;
          fieldConfig: { defaults: { unit?: string; thresholds?: { steps: unknown[] } } };
          targets: { expr: string; refId: string }[];
        }[];
      };
      assert.match(d.uid, /^rtcmon-/);
      assert.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length);
      assert.equal(new Set(d.panels.map((p) => p.title)).size, d.panels.length);
      for (const p of d.panels) {
        assert.ok(p.description && p.description.length > 10, `${p.title}: description`);
        assert.ok(p.fieldConfig.defaults.unit, `${p.title}: unit`);
        assert.ok((p.fieldConfig.defaults.thresholds?.steps.length ?? 0) > 0, `${p.title}: thresholds`);
        assert.ok(p.targets.length > 0, `${p.title}: queries`);
        for (const t of p.targets) assert.ok(t.expr.trim(), `${p.title}/${t.refId}: expr`);
      }
    });
  }
});
