/**
 * Every example config in configs/ is valid as shipped (README and docs point users at them),
 * so a schema change that breaks one fails here rather than on a user's host.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allComponents } from '../../cli/commands/validate.js';
import { parseConfig } from '../../core/config/load.js';

const dir = new URL('../../configs/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

describe('example configs', () => {
  it('ships at least one example per role', () => {
    expect(files.some((f) => f.startsWith('agent'))).toBe(true);
    expect(files.some((f) => f.startsWith('collector'))).toBe(true);
  });

  it.each(files)('%s validates', async (file) => {
    let text = readFileSync(new URL(file, dir), 'utf8');
    // `up --config` takes only sources and supplies data_dir itself (README, "What tidewatch up runs").
    if (file === 'up.yaml') text += '\ndata_dir: /tmp/tidewatch-example\n';
    const config = await parseConfig(text, `configs/${file}`, { env: {}, components: allComponents() });
    expect(Object.keys(config.sources).length).toBeGreaterThan(0);
  });
});
