import { components } from '../../collector/components.js';
import { narrowStage } from '../../collector/sources/kafka.js';
import type { Stage } from '../../collector/sources/kafka.js';
import { TidewatchError } from '../../core/errors.js';
import { stringFlag } from '../args.js';
import type { CommandIO } from '../io.js';
import { runRole } from '../run-role.js';

const STAGES = ['all', 'ingest', 'rules', 'catalog'] as const;

/**
 * `tidewatch collector --config FILE [--stage ingest|rules|catalog|all]`: the stage flag narrows every
 * `kafka` source to that stage (DESIGN.md: both stages by default, or one per process).
 */
export function run(argv: string[], io: CommandIO): Promise<number> {
  return runRole('collector', argv, io, components, {
    flags: { stage: { value: true } },
    usage: ' [--stage ingest|rules|catalog|all]',
    prepare(config, flags) {
      const stage = stringFlag(flags, 'stage') ?? 'all';
      if (!(STAGES as readonly string[]).includes(stage)) throw new TidewatchError('TW_USAGE', `collector: --stage must be ingest, rules, catalog or all, not '${stage}'`);
      for (const src of Object.values(config.sources)) {
        const s = src as { type: string; stage?: Stage };
        if (s.type === 'kafka') s.stage = narrowStage(s.stage ?? 'all', stage as (typeof STAGES)[number]);
      }
    },
  });
}
