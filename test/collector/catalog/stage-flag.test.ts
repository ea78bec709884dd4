/**
 * `tidewatch collector --stage catalog` runs only the catalog stage of a kafka source, and
 * `--stage ingest` / `rules` leave it out; `all` (the default) runs it with the others.
 */
import { describe, expect, it } from 'vitest';
import { narrowStage } from '../../../collector/sources/kafka.js';

describe('collector --stage catalog', () => {
  it('narrows kafka sources to the catalog stage, and other flags leave it out', () => {
    expect(narrowStage('all', 'catalog')).toBe('catalog');
    expect(narrowStage('catalog', 'catalog')).toBe('catalog');
    expect(narrowStage('catalog', 'all')).toBe('catalog');
    expect(narrowStage('ingest', 'catalog')).toBe('off');
    expect(narrowStage('catalog', 'ingest')).toBe('off');
    expect(narrowStage('catalog', 'rules')).toBe('off');
  });
});
